//! Training loops of asma: ASMa pre-training (two encoders, Barlow Twins) and SkeletonCLR
//! (MoCo v2, with ASMa's masks as an optional plug-in) with a k-NN monitor; linear evaluation, fine-tuning and transfer of the two-encoder classifier; metrics,
//! per-sample scores and their fusion. Every loop has a run directory, atomic checkpoints,
//! exact resume and JSONL metrics.

pub mod bn_stats;
pub mod checkpoint;
pub mod config;
pub mod diagnostics;
pub mod downstream;
pub mod error;
pub mod eval;
pub mod experiment;
pub mod features;
pub mod grad_clip;
pub mod knn;
pub mod metrics;
pub mod parallel;
#[cfg(test)]
mod parallel_tests;
pub mod plot;
pub mod pretrain;
pub mod pretrain_crossclr;
pub mod pretrain_moco;
pub mod pretrain_ms2l;
pub mod quickstart;
pub mod schedule;
pub mod scores;
pub mod seed;
pub mod svg;
pub mod tsne;
pub mod tsne_figure;

pub use config::PretrainConfig;
pub use error::TrainError;
