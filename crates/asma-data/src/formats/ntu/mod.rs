//! NTU RGB+D 60/120: sample names, the raw `.skeleton` format, body selection and the
//! official list of samples with missing skeletons.

pub mod bodies;
pub mod missing;
pub mod name;
pub mod skeleton;

pub use bodies::{to_sequence, BodyPolicy};
pub use missing::{is_missing, missing_list, MissingList};
pub use name::NtuName;
pub use skeleton::{
    parse_skeleton, read_skeleton, write_skeleton, Body, BodyInfo, Frame, Joint, SkeletonFile,
};
