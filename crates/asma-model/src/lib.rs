//! burn modules of ASMa (Anand et al., *Asymmetric Spatio-temporal Masking for Skeleton
//! Action Representation Learning*, TMLR 2026): the ST-GCN encoder of PSTL/AimCLR, the
//! Barlow Twins projector and loss, the feature alignment module and classifier, and loading PyTorch weights by their `state_dict` names.
//!
//! Tensors are `(N, C, T, V, M)`: batch, 3 coordinates, frames, 25 joints, 2 persons.

pub mod align;
pub mod asma;
pub mod barlow;
pub mod classifier;
pub mod conv;
pub mod crossclr;
pub mod device;
pub mod dropout;
mod error;
pub mod graph;
pub mod host;
pub mod moco;
pub mod ms2l;
pub mod norm;
pub mod stgcn;
pub mod student;
#[cfg(test)]
mod test_support;
pub mod weights;

pub use burn;
pub use classifier::{AsmaClassifier, ClassifierConfig, ClassifierHead, Encoded, Fusion};
pub use error::ModelError;
pub use stgcn::{StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};
pub use student::StudentInit;
