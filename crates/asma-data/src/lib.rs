//! Everything in asma that touches files and samples, with no ML dependency, in three layers:
//! * [`formats`]: readers and writers of every file format of docs/DATA.md (NTU `.skeleton`,
//!   PKU-MMD, `.npy`/`.npz`, the pickles of AimCLR/PSTL and pyskl), parsers of untrusted
//!   input that never panic;
//! * [`prepare`]: raw files → the packed split folders training reads (the AimCLR "frame50"
//!   preparation, the standard splits, the manifest);
//! * [`pipeline`]: prepared samples → training batches (the three streams, PSTL's and
//!   AimCLR's augmentations, the ASMa masking operators, label fractions, the loader);
//!
//! and [`inspect`] over all of them. The synthetic NTU-format generator is the `asma-synth`
//! crate.

mod atomic;
pub mod error;
pub mod formats;
pub mod inspect;
pub mod pipeline;
pub mod prepare;
pub mod rng;

pub use atomic::write_atomic;
pub use error::{DataError, Result};
