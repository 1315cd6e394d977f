//! The deployed path of asma (DESIGN.md, `asma-infer`): a trained classifier — the distilled
//! student or the ASMa teacher — loaded from its run directory by mmap, BatchNorm folded into
//! the convolutions, evaluated by fused CPU kernels with a chosen thread count, no autodiff.
//! The logits equal the burn forward of `asma_model` (tested to 1e-4).

mod encoder;
mod ensemble;
mod error;
mod head;
pub mod input;
mod kernels;
mod model;
mod onnx;
mod tensors;
pub mod window;

pub use ensemble::{top_k, Ensemble, Ranked};
pub use error::{InferError, Result};
pub use model::Classifier;
pub use onnx::ExportSummary;
