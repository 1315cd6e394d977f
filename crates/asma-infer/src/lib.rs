//! The deployed path of asma (DESIGN.md, `asma-infer`): a trained classifier — the distilled
//! student or the ASMa teacher — loaded from its run directory by mmap, BatchNorm folded into
//! the convolutions, evaluated by fused CPU kernels with a chosen thread count, no autodiff.
//! The logits equal the burn forward of `asma_model` (tested to 1e-4).

pub mod encoder;
pub mod ensemble;
pub mod error;
pub mod head;
pub mod input;
pub mod kernels;
pub mod model;
pub mod onnx;
pub mod tensors;
pub mod window;

pub use ensemble::{top_k, Ensemble, Ranked};
pub use error::{InferError, Result};
pub use model::Classifier;
pub use onnx::ExportSummary;
