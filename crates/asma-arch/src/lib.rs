//! The architecture of asma's networks as plain configuration data, with no ML dependency.
//!
//! Training builds burn modules from these types (`asma-model`); the deployed path
//! (`asma-infer`, the `asma-edge` binary) reads the same types from a run's `config.json` to
//! lay out its own kernels. Keeping them here is what lets the deployed path build without
//! burn: one definition of each layer table, two consumers.

mod encoder;
mod forms;
mod head;

pub use encoder::{BlockSpec, StgcnEncoderConfig, StudentConfig};
pub use forms::{ConvImpl, NormImpl};
pub use head::Fusion;
