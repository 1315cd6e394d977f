//! Prepared samples → training batches: the three input streams ([`stream`]), augmentations
//! ([`augment`]), the ASMa masking operators ([`mask`]), label fractions ([`fraction`]) and
//! the batch loader that applies them per view ([`loader`]).

pub mod augment;
pub mod fraction;
pub mod loader;
pub mod mask;
pub mod stream;
