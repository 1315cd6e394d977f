//! Training loops of asma: ASMa pre-training (two encoders, Barlow Twins) with a run
//! directory, atomic checkpoints, exact resume, JSONL metrics and a k-NN monitor.

pub mod checkpoint;
pub mod config;
pub mod error;
pub mod features;
pub mod knn;
pub mod metrics;
pub mod pretrain;
pub mod schedule;

pub use config::PretrainConfig;
pub use error::TrainError;
