//! Everything in asma that touches files and samples, with no ML dependency: readers and
//! writers for every format of docs/DATA.md, the standard splits, the AimCLR "frame50"
//! preparation, the three streams, PSTL's augmentations, the ASMa masking operators, the
//! batch loader and the synthetic NTU-format generator.

pub mod atomic;
pub mod augment;
pub mod error;
pub mod fraction;
pub mod frame50;
pub mod inspect;
pub mod labels;
pub mod loader;
pub mod manifest;
pub mod mask;
pub mod npy;
pub mod npz;
pub mod ntu;
pub mod pickle;
pub mod pku;
pub mod prepare;
pub mod pyskl;
pub mod rng;
pub mod splits;
pub mod stream;
pub mod synth;

pub use atomic::write_atomic;
pub use error::{DataError, Result};
