//! Training loops of asma: ASMa pre-training (two encoders, Barlow Twins) and SkeletonCLR
//! (MoCo v2, with ASMa's masks as an optional plug-in) with a k-NN monitor; linear evaluation, fine-tuning and transfer of the two-encoder classifier; metrics,
//! per-sample scores and their fusion. Every loop has a run directory, atomic checkpoints,
//! exact resume and JSONL metrics.

pub mod bn_stats;
pub mod checkpoint;
pub mod config;
mod diagnostics;
pub mod downstream;
mod error;
mod eval;
pub mod experiment;
mod features;
mod grad_clip;
mod knn;
mod metrics;
mod parallel;
#[cfg(test)]
mod parallel_tests;
mod plot;
pub mod pretrain;
pub mod pretrain_crossclr;
pub mod pretrain_moco;
pub mod pretrain_ms2l;
pub mod quickstart;
mod schedule;
pub mod scores;
mod seed;
mod svg;
mod tsne;
pub mod tsne_figure;

pub use config::PretrainConfig;
pub use error::TrainError;
