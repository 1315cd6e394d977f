//! The commands a device needs, shared by two binaries: `asma-edge` (this crate's, built
//! without burn: small, and cross-compiled for 64-bit ARM) and the full `asma`, whose `infer`,
//! `export` and `bench edge` run this same code. A command layer over `asma-infer`, so its
//! errors are `anyhow`'s, as in a binary.

pub mod bench;
pub mod infer;
pub mod proc_status;

pub use bench::{EdgeWorkerArgs, Reference, Row, Timing};
pub use infer::{ExportArgs, InferArgs};

/// How both binaries end: success, or the error and its cause chain on stderr and exit code 2.
pub fn exit_code(result: anyhow::Result<()>) -> std::process::ExitCode {
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            for cause in e.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            std::process::ExitCode::from(2)
        }
    }
}
