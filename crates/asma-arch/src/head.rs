//! The classifier's choice of how the two encoders' features meet (docs/METHOD.md §7).

use serde::{Deserialize, Serialize};

/// How the two encoders' features are combined.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Fusion {
    /// Bi-directional cross-attention on the block-10 tokens (the paper's module).
    #[default]
    CrossAttention,
    /// The mean of the two pooled features (the paper's ablation).
    Average,
}
