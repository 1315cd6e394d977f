//! asma's benchmarks as a library, each returning its figures as a serialisable struct with a
//! Markdown rendering, and each with its baseline in the same run where one exists:
//! * [`data`]: `.skeleton` parse MB/s and `prepare` samples/s, against the NumPy reader;
//! * [`pretrain_step`]: one ASMa encoder pre-training step in every convolution and
//!   BatchNorm form, against PyTorch (on the CPU or a GPU);
//! * [`ops`]: forward and backward of each operation of an ST-GCN block, against PyTorch;
//! * [`loader`]: the pre-training loader alone over an epoch, samples/s and memory, against
//!   what a GPU step consumes.
//!
//! The edge table is `asma_edge::bench` (it must run without burn on a device). The `asma`
//! binary parses the options (feature `clap`) and prints; [`mod@reference`] runs the Python
//! baselines of `tools/reference/`.

pub mod data;
mod error;
pub mod loader;
pub mod ops;
pub mod pretrain_step;
pub mod reference;

pub use error::{BenchError, Result};
