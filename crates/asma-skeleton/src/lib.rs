//! The skeleton domain of asma, with no ML dependency.
//!
//! * [`layout`]: joint layouts (the 25-joint Kinect v2 layout of NTU RGB+D and PKU-MMD),
//!   their edges, degrees, bone pairs and left/right flip permutation.
//! * `graph`: the ST-GCN "spatial" partition adjacency (docs/METHOD.md §3.1).
//! * `sequence`: one skeleton sequence as a dense `(C=3, T, V, M)` f32 tensor.
//! * [`actions`]: the action names of NTU RGB+D 60/120 and PKU-MMD, and a model's own list.
//!
//! Joints are 0-based in code; 1-based ids (J1..J25) appear only in names and docs.

pub mod actions;
mod graph;
pub mod layout;
mod sequence;

pub use actions::{ActionSet, ClassNames, ClassNamesError};
pub use graph::{spatial_adjacency, Adjacency};
pub use layout::{Layout, NTU25};
pub use sequence::{Sequence, SequenceError};

/// Coordinates per joint (x, y, z).
pub const CHANNELS: usize = 3;
/// Body slots per frame kept by every NTU pipeline.
pub const MAX_BODIES: usize = 2;
