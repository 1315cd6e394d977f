//! A stand-in for `cubecl-llvm` 0.11.3 (CubeCL's LLVM/pliron compiler), so that burn's `cuda`
//! backend builds without the LLVM bundle the real crate's build script downloads.
//!
//! `cubecl-cuda` 0.11.3 always links both of its kernel compilers and picks one at run time:
//! CUDA C++ through NVRTC when its `cpp` feature is on (asma's `cuda` feature turns it on via
//! `cubecl/cuda-cpp`), LLVM otherwise. With `cpp` on, nothing here is ever called: this crate
//! only provides the names `cubecl-cuda` refers to, with the same shapes. Should the LLVM
//! backend be selected anyway, [`PlironCompiler::compile`] returns a compilation error (the
//! kernel fails to build, with a message saying why) instead of producing PTX.

use cubecl_core::ir::amd::GfxArch;
use cubecl_core::prelude::KernelDefinition;
use cubecl_environment::backtrace::BackTrace;
use cubecl_runtime::compiler::CompilationError;
use cubecl_runtime::kernel::BufferIOAttr;

#[cfg(feature = "nvptx")]
use cubecl_core::ir::nvidia::SmArch;

/// Why every entry point here fails.
const NO_LLVM: &str = "this build of cubecl has no LLVM backend (asma's cubecl-llvm stand-in, \
     vendor/cubecl-llvm-stub): compile CUDA kernels with NVRTC (cubecl feature `cuda-cpp`)";

/// Compilation targets of the real crate.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum LlvmTarget {
    #[default]
    Cpu,
    #[cfg(feature = "amdgpu")]
    AmdGpu,
    #[cfg(feature = "nvptx")]
    Nvptx,
}

/// The compiler `cubecl-cuda` holds for its LLVM backend; it compiles nothing.
#[derive(Clone, Debug, Default)]
pub struct PlironCompiler {
    pub target: LlvmTarget,
}

impl PlironCompiler {
    /// Always an error: there is no LLVM here.
    pub fn compile(
        &mut self,
        _kernel: KernelDefinition,
        _options: &PlironOptions,
    ) -> Result<PlironArtifact, CompilationError> {
        Err(CompilationError::Generic {
            reason: NO_LLVM.to_string(),
            backtrace: BackTrace::capture(),
        })
    }

    /// The language tag of the backend's output, for kernel logs.
    pub fn lang_tag(&self) -> &'static str {
        "llvm"
    }

    /// The file extension of the backend's output, for kernel logs.
    pub fn extension(&self) -> &'static str {
        "ll"
    }
}

/// The options `cubecl-cuda` fills in for the LLVM backend.
#[derive(Clone, Debug, Default)]
pub struct PlironOptions {
    pub cpu_buffer_alignment: Option<u32>,
    pub arch: Option<GfxArch>,
    #[cfg(feature = "nvptx")]
    pub sm_arch: Option<SmArch>,
    #[cfg(feature = "nvptx")]
    pub ptx_version: Option<nvptx::ptx_version::PtxVersion>,
    pub grid_constants: bool,
}

/// A PTX module as the real crate returns it (never produced here).
#[cfg(feature = "nvptx")]
#[derive(Clone, Debug)]
pub struct NvptxModule {
    /// NUL-terminated PTX.
    pub ptx: Vec<core::ffi::c_char>,
    pub entrypoint: String,
    pub ir: String,
    pub shared_memory_size: usize,
    pub io: Vec<BufferIOAttr>,
}

/// What a compilation yields in the real crate (never produced here).
#[derive(Clone, Debug)]
pub enum PlironArtifact {
    /// The real crate's CPU JIT engine; nothing here.
    Jit,
    #[cfg(feature = "nvptx")]
    NvptxCode(NvptxModule),
}

#[cfg(feature = "nvptx")]
pub mod nvptx {
    pub mod ptx_version {
        use core::fmt;

        /// A PTX ISA version, `ptx{N}`: `cubecl-cuda` keys its kernel cache on it.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
        pub struct PtxVersion(u32);

        impl PtxVersion {
            /// The PTX version the LLVM backend would emit for a driver: none here, since
            /// this crate emits no PTX (`cubecl-cuda` reads it only on that backend's path).
            pub fn for_driver(_driver: i32) -> Option<Self> {
                None
            }
        }

        impl fmt::Display for PtxVersion {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "ptx{}", self.0)
            }
        }
    }
}

#[cfg(feature = "nvptx")]
pub mod shared {
    pub mod lowered_features {
        use cubecl_core::ir::DeviceProperties;

        /// The GPU targets of the real crate's LLVM backend.
        #[derive(Clone, Copy, Debug, PartialEq, Eq)]
        pub enum GpuTarget {
            Nvptx,
        }

        /// The real crate narrows the advertised features to what its LLVM backend lowers;
        /// `cubecl-cuda` calls this only when that backend is selected, and it cannot compile
        /// here at all, so the properties stay as the device reported them.
        pub fn restrict_features(_props: &mut DeviceProperties, _target: GpuTarget) {}
    }
}
