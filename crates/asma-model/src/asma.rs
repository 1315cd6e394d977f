//! The ASMa pre-training model (docs/METHOD.md §5–6): two branches f_θ and f_φ, each an ST-GCN
//! encoder with its own Barlow Twins projector. Each branch sees an anchor view, a
//! temporally masked view (fewer frames) and a spatially masked view (fewer joints) of the
//! same batch, and its loss is BT(anchor, temporal) + BT(anchor, spatial). The branches share
//! nothing, so the total loss L_θ + L_φ trains them independently (Adam is per parameter).
//!
//! Which frames and joints each branch masks is the data loader's choice
//! (`asma_data::pipeline::mask`); this module only consumes the shortened tensors and the kept joints.

use burn::module::Module;
use burn::tensor::{Device, Tensor};
use serde::{Deserialize, Serialize};

use crate::barlow::{BarlowTwinsConfig, BarlowTwinsHead};
use crate::stgcn::{StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};

/// Sizes of both branches.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AsmaModelConfig {
    pub encoder: StgcnEncoderConfig,
    pub projector: BarlowTwinsConfig,
}

impl AsmaModelConfig {
    /// Builds both branches.
    pub fn init(&self, device: &Device) -> AsmaPretrainModel {
        let branch = || PretrainBranch {
            encoder: self.encoder.init(device),
            projector: self.projector.init(device),
        };
        AsmaPretrainModel {
            theta: branch(),
            phi: branch(),
        }
    }
}

/// One encoder and its projector.
#[derive(Module, Debug)]
pub struct PretrainBranch {
    pub encoder: StgcnEncoder,
    pub projector: BarlowTwinsHead,
}

/// The three views of one branch for one batch, `(N, 3, T, 25, M)` each.
pub struct BranchViews {
    pub anchor: Tensor<5>,
    /// Fewer frames than the anchor.
    pub temporal: Tensor<5>,
    /// Same frames; `keep_joints` says which joints the encoder keeps.
    pub spatial: Tensor<5>,
    /// Ascending joint indices kept in the spatial view.
    pub keep_joints: Vec<usize>,
}

/// The loss terms of one branch.
pub struct BranchLoss {
    /// BT(anchor, temporal) + BT(anchor, spatial).
    pub total: Tensor<1>,
    pub anchor_temporal: Tensor<1>,
    pub anchor_spatial: Tensor<1>,
    /// Diagnostics, each the mean over the two pairs: Barlow Twins' on-diagonal term, its
    /// unweighted off-diagonal term and the cross-correlation's mean diagonal.
    pub on_diagonal: Tensor<1>,
    pub off_diagonal: Tensor<1>,
    pub mean_diagonal: Tensor<1>,
}

impl PretrainBranch {
    /// The branch's loss on its three views (each forward pass in the encoder's current mode;
    /// in training mode all three update the BatchNorm statistics, as in PSTL).
    pub fn loss(&self, v: BranchViews) -> BranchLoss {
        let z_a = self.projector.forward(self.encoder.forward(v.anchor, None));
        let z_t = self
            .projector
            .forward(self.encoder.forward(v.temporal, None));
        let z_s = self
            .projector
            .forward(self.encoder.forward(v.spatial, Some(&v.keep_joints)));
        let t = self.projector.terms(z_a.clone(), z_t);
        let s = self.projector.terms(z_a, z_s);
        let lambda = self.projector.lambda;
        let (anchor_temporal, anchor_spatial) = (t.loss(lambda), s.loss(lambda));
        let mean = |a: Tensor<1>, b: Tensor<1>| (a + b) * 0.5;
        BranchLoss {
            total: anchor_temporal.clone() + anchor_spatial.clone(),
            anchor_temporal,
            anchor_spatial,
            on_diagonal: mean(t.on_diagonal, s.on_diagonal),
            off_diagonal: mean(t.off_diagonal, s.off_diagonal),
            mean_diagonal: mean(t.mean_diagonal, s.mean_diagonal),
        }
    }
}

/// f_θ (low-degree joints + high-motion frames masked, by default) and f_φ (high-degree
/// joints + low-motion frames).
#[derive(Module, Debug)]
pub struct AsmaPretrainModel {
    pub theta: PretrainBranch,
    pub phi: PretrainBranch,
}
