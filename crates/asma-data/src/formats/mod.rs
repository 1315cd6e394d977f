//! File formats, read and written: NTU RGB+D `.skeleton` ([`ntu`]), PKU-MMD ([`pku`]), NumPy
//! `.npy` ([`npy`]) and `.npz` ([`npz`]), Python pickles through a VM that never runs code
//! ([`pickle`]), and the label and annotation pickles built on it ([`labels`], [`pyskl`]).
//! Every parser takes untrusted bytes: malformed input is a [`crate::DataError`] naming the
//! file, never a panic (the `fuzz/` targets hold them to it).

pub mod ctrgcn;
pub mod labels;
pub mod npy;
pub mod npz;
pub mod ntu;
pub mod pickle;
pub mod pku;
pub mod pyskl;
