//! SkeletonCLR (Li et al., *3D Human Action Representation Learning via Cross-View
//! Consistency Pursuit*, CVPR 2021; `LinguoLi/CrosSCLR`, `net/skeletonclr.py`): MoCo v2
//! (He et al., CVPR 2020) on skeletons. A query encoder and a momentum key encoder, each the
//! ST-GCN encoder followed by an MLP head to a 128-d embedding, and a queue of past keys as
//! negatives; the loss is InfoNCE with temperature `T`.
//!
//! One step, in the reference's order: the key encoder moves towards the query encoder
//! (`k ← m·k + (1−m)·q`, parameters only: BatchNorm statistics stay each encoder's own), the
//! keys are computed without gradient, the logits `[q·k, q·queue] / T` are scored with label
//! 0, and the keys replace the oldest queue columns.
//!
//! Parameter names are the reference's `state_dict` keys: `encoder_q.data_bn.*`,
//! `encoder_q.st_gcn_networks.*`, `encoder_q.fc.0.*`, `encoder_q.fc.2.*`, the same for
//! `encoder_k`, and `queue` (`(feature_dim, K)`); [`crate::weights`] maps them onto the
//! fields here (`encoder_q.encoder.*`, `encoder_q.fc.lin0.*`).
//!
//! AimCLR (Guo et al., *Contrastive Learning from Extremely Augmented Skeleton Sequences
//! for Self-supervised Action Recognition*, AAAI 2022; `Levigty/AimCLR`, `net/aimclr.py`,
//! `net/att_drop.py`) is the same model with an extremely augmented query, its
//! energy-based drop ([`energy_drop`]), the D³M distribution loss and nearest-neighbour
//! mining ([`ExtremeView`]).
//!
//! The plug-in of ASMa (docs/METHOD.md §6.5) adds query views that the masks shortened; each is
//! scored against the same keys and queue ([`MocoModel::loss`]).

use burn::module::{Module, ModuleMapper, ModuleVisitor, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, relu, sigmoid, softmax};
use burn::tensor::{Device, Distribution, IndexingUpdateOp, Tensor};
use serde::{Deserialize, Serialize};

use crate::stgcn::{pool, StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};

/// MoCo's sizes and constants; the defaults are SkeletonCLR's (`crossclr_3views_xview.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MocoConfig {
    /// Embedding size of the head (`feature_dim`).
    pub feature_dim: usize,
    /// Negatives kept (`queue_size`); a multiple of the batch size, as the reference asserts.
    pub queue_size: usize,
    /// Key encoder momentum `m`.
    pub momentum: f64,
    /// Softmax temperature `T`.
    pub temperature: f64,
    /// Linear → ReLU → Linear head (`mlp = True`, the reference's `fc.0`, `fc.2`); a single
    /// Linear otherwise (asma names it `fc.2` too, where the reference has `fc`).
    pub mlp: bool,
}

impl MocoConfig {
    /// The head on `d`-wide features: Linear(d, d) → ReLU → Linear(d, feature_dim) with
    /// `mlp`, Linear(d, feature_dim) otherwise.
    pub fn head(&self, d: usize, device: &Device) -> MocoHead {
        MocoHead {
            lin0: self.mlp.then(|| LinearConfig::new(d, d).init(device)),
            lin2: LinearConfig::new(d, self.feature_dim).init(device),
        }
    }

    /// `(feature_dim, queue_size)` unit-norm Gaussian columns, not trained.
    pub fn queue(&self, device: &Device) -> Param<Tensor<2>> {
        let q = Tensor::<2>::random(
            [self.feature_dim, self.queue_size],
            Distribution::Normal(0.0, 1.0),
            device,
        );
        Param::from_tensor(l2_normalise(q, 0).detach()).set_require_grad(false)
    }
}

impl Default for MocoConfig {
    fn default() -> Self {
        MocoConfig {
            feature_dim: 128,
            queue_size: 32768,
            momentum: 0.999,
            temperature: 0.07,
            mlp: true,
        }
    }
}

/// The model's sizes: the encoder and MoCo's head and queue.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MocoModelConfig {
    pub encoder: StgcnEncoderConfig,
    pub moco: MocoConfig,
}

impl MocoModelConfig {
    /// Both encoders (the key encoder a copy of the query encoder with its own parameter ids
    /// and no gradient) and a queue of unit-norm Gaussian columns, as the reference.
    pub fn init(&self, device: &Device) -> MocoModel {
        let d = self.encoder.hidden_dim;
        let head = || self.moco.head(d, device);
        let encoder_q = MocoEncoder {
            encoder: self.encoder.init(device),
            fc: head(),
        };
        // Fresh ids: a `clone` would share them, and the optimiser and the gradients are
        // keyed by id (the key encoder would receive the query encoder's gradient).
        let encoder_k = MocoEncoder {
            encoder: self.encoder.init(device),
            fc: head(),
        };
        let encoder_k = copy_parameters(&encoder_q, encoder_k, 0.0);
        MocoModel {
            encoder_q,
            encoder_k,
            queue: self.moco.queue(device),
            momentum: self.moco.momentum,
            temperature: self.moco.temperature,
        }
    }
}

/// The head the reference puts in the encoder's `fc`.
#[derive(Module, Debug)]
pub struct MocoHead {
    /// `fc.0` (with `mlp`).
    pub lin0: Option<Linear>,
    /// `fc.2` (or the plain `fc` without `mlp`).
    pub lin2: Linear,
}

impl MocoHead {
    /// `(N, d)` → `(N, feature_dim)`.
    pub fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        let h = match &self.lin0 {
            Some(l) => relu(l.forward(h)),
            None => h,
        };
        self.lin2.forward(h)
    }
}

/// The ST-GCN encoder and its head.
#[derive(Module, Debug)]
pub struct MocoEncoder {
    pub encoder: StgcnEncoder,
    pub fc: MocoHead,
}

impl MocoEncoder {
    /// `(N, 3, T, 25, M)` → unit-norm `(N, feature_dim)` embeddings.
    pub fn embed(&self, x: Tensor<5>, keep: Option<&[usize]>) -> Tensor<2> {
        l2_normalise(self.fc.forward(self.encoder.forward(x, keep)), 1)
    }

    /// AimCLR's `forward(x, drop=True)`: the unit-norm embeddings of `x` and of its block-10
    /// map after [`energy_drop`], from one pass of the encoder.
    pub fn embed_with_drop(&self, x: Tensor<5>, drop: &EnergyDrop) -> (Tensor<2>, Tensor<2>) {
        let [n, _, _, _, m] = x.dims();
        let map = self.encoder.forward_map(x, None);
        let dropped = energy_drop(map.clone(), drop);
        let embed = |y: Tensor<4>| l2_normalise(self.fc.forward(pool(y, n, m)), 1);
        (embed(map), embed(dropped))
    }
}

/// AimCLR's energy-based attention-guided drop (`net/att_drop.py`, `Simam_Drop`).
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct EnergyDrop {
    /// Joints and (channel, joint, frame) entries whose attention reaches this are dropped
    /// (`keep_prob`, 0.7 in AimCLR's encoder).
    pub keep_prob: f64,
    /// The energy's regulariser λ (`e_lambda`, 1e-4).
    pub e_lambda: f64,
}

/// `(NM, C, T, V)` → the same map with its most salient joints, then its most salient
/// (channel, frame, joint) entries zeroed and the rest rescaled to keep the mean. Attention is
/// `sigmoid((x − μ)² / (4(σ² + λ)) + ½)` with μ and σ² (over `V·T − 1`) per (sample, channel);
/// a joint drops when its attention averaged over channels and frames reaches `keep_prob`,
/// an entry when its own does. The masks are constants (the reference overwrites the
/// attention in place), so the gradient flows through the kept entries only.
pub fn energy_drop(x: Tensor<4>, drop: &EnergyDrop) -> Tensor<4> {
    let [nm, c, t, v] = x.dims();
    let a = x.clone().detach();
    let mu = a.clone().mean_dim(2).mean_dim(3);
    let d = (a - mu).powi_scalar(2);
    let var = d.clone().sum_dim(2).sum_dim(3) / (v * t - 1) as f64;
    let att = sigmoid(d / ((var + drop.e_lambda) * 4.0) + 0.5);
    let keep = |att: Tensor<4>| {
        let mask = att.lower_elem(drop.keep_prob).float();
        let count = mask.dims().iter().product::<usize>() as f64;
        let scale = mask.clone().sum().recip().mul_scalar(count);
        mask * scale.reshape([1, 1, 1, 1])
    };
    let joints = keep(att.clone().mean_dim(1).mean_dim(2));
    debug_assert_eq!(joints.dims(), [nm, 1, 1, v]);
    let entries = keep(att);
    debug_assert_eq!(entries.dims(), [nm, c, t, v]);
    x * joints * entries
}

/// AimCLR's extreme view of a batch and how it is scored.
pub struct ExtremeView {
    /// `(N, 3, T, 25, M)`, extremely augmented.
    pub x: Tensor<5>,
    pub drop: EnergyDrop,
    /// Nearest-neighbour mining: the `k` queue entries closest to each of the three queries
    /// (normal, extreme, extreme-dropped) join the positives (AimCLR after `mining_epoch`).
    pub mining_topk: Option<usize>,
}

/// A query view: the batch, shortened or not, and the joints its encoder keeps.
pub struct QueryView {
    /// `(N, 3, T', 25, M)`.
    pub x: Tensor<5>,
    /// Ascending kept joints (`None`: all).
    pub keep_joints: Option<Vec<usize>>,
    /// The view's motion stream `(N, 3, T', 25, M)` taken before its frame mask, for a model
    /// that derives motion from joint clips (CrosSCLR); `None`: derived from `x`. Unused by
    /// single-stream models, whose loader delivers the stream itself.
    pub motion: Option<Tensor<5>>,
}

impl QueryView {
    /// A view of all joints, its motion derived from `x` where a model needs it.
    pub fn plain(x: Tensor<5>) -> Self {
        QueryView {
            x,
            keep_joints: None,
            motion: None,
        }
    }
}

/// One step's loss and what the loop logs.
pub struct MocoLoss {
    /// Σ over query views of InfoNCE against the keys (the first view is MoCo's own), plus
    /// AimCLR's distribution term.
    pub total: Tensor<1>,
    /// Each query view's InfoNCE, in order (with mining, the first view's multi-positive
    /// form).
    pub per_view: Vec<Tensor<1>>,
    /// AimCLR's D³M term `½(CE(p, p_e) + CE(p, p_ed))`, with an extreme view.
    pub ddm: Option<Tensor<1>>,
    /// Share of the first view's samples whose positive has the largest logit.
    pub accuracy: Tensor<1>,
    /// The keys `(N, feature_dim)`, detached, for [`MocoModel::enqueue`].
    pub keys: Tensor<2>,
}

/// Query and key encoder, queue.
#[derive(Module, Debug)]
pub struct MocoModel {
    pub encoder_q: MocoEncoder,
    pub encoder_k: MocoEncoder,
    /// `(feature_dim, K)`, unit-norm columns; not trained.
    pub queue: Param<Tensor<2>>,
    pub momentum: f64,
    pub temperature: f64,
}

impl MocoModel {
    /// The key encoder after the momentum update `k ← m·k + (1−m)·q` (parameters only).
    pub fn momentum_update(mut self) -> Self {
        self.encoder_k = copy_parameters(&self.encoder_q, self.encoder_k, self.momentum);
        self
    }

    /// InfoNCE of every query view against the keys of `key` (computed without gradient)
    /// and the queue as negatives; `queries[0]` is MoCo's own query view, the others the
    /// plug-in's. Call [`Self::momentum_update`] before, as the reference does.
    ///
    /// With `extreme` (AimCLR, `net/aimclr.py`): the extreme view and its dropped form are
    /// scored as distributions over `[key, queue]` against the normal query's (detached)
    /// distribution, `½(CE(p, p_e) + CE(p, p_ed))`; with mining, the first query's loss
    /// counts the mined queue entries as positives too.
    pub fn loss(
        &self,
        queries: Vec<QueryView>,
        key: Tensor<5>,
        extreme: Option<ExtremeView>,
    ) -> MocoLoss {
        let keys = self.encoder_k.embed(key, None).detach();
        let queue = self.queue.val().detach();
        let logits_of = |q: Tensor<2>| {
            let l_pos = (q.clone() * keys.clone()).sum_dim(1);
            let l_neg = q.matmul(queue.clone());
            Tensor::cat(vec![l_pos, l_neg], 1) / self.temperature
        };
        // Forward passes in the reference's order (the query encoder's BatchNorm statistics
        // follow it): the query, the extreme view, the plug-in's views.
        let mut queries = queries.into_iter();
        let first = queries.next().expect("at least one query view");
        let logits = logits_of(self.encoder_q.embed(first.x, first.keep_joints.as_deref()));
        let accuracy = positive_is_top(logits.clone().detach());
        let (first_loss, ddm) = match extreme {
            None => (info_nce(logits), None),
            Some(e) => {
                let (q_e, q_ed) = self.encoder_q.embed_with_drop(e.x, &e.drop);
                let (logits_e, logits_ed) = (logits_of(q_e), logits_of(q_ed));
                let target = softmax(logits.clone().detach(), 1);
                let ddm = (soft_cross_entropy(target.clone(), logits_e.clone())
                    + soft_cross_entropy(target, logits_ed.clone()))
                    * 0.5;
                let first_loss = match e.mining_topk {
                    None => info_nce(logits),
                    Some(k) => {
                        let positives = mined_positives(
                            [logits.clone(), logits_e, logits_ed].map(|l| l.detach()),
                            k,
                        );
                        multi_positive_nce(logits, positives)
                    }
                };
                (first_loss, Some(ddm))
            }
        };
        let mut per_view = vec![first_loss];
        for v in queries {
            let q = self.encoder_q.embed(v.x, v.keep_joints.as_deref());
            per_view.push(info_nce(logits_of(q)));
        }
        let mut total = per_view
            .iter()
            .cloned()
            .reduce(|a, b| a + b)
            .expect("at least one query view");
        if let Some(d) = &ddm {
            total = total + d.clone();
        }
        MocoLoss {
            total,
            per_view,
            ddm,
            accuracy,
            keys,
        }
    }

    /// The queue with `keys` `(N, feature_dim)` written into columns `ptr..ptr + N` (the
    /// caller keeps `ptr`, `(step · N) mod K` with full batches).
    pub fn enqueue(mut self, keys: Tensor<2>, ptr: usize) -> Self {
        let [n, f] = keys.dims();
        let queue = self.queue.val().detach();
        let updated = queue.slice_assign([0..f, ptr..ptr + n], keys.transpose().detach());
        self.queue = Param::initialized(self.queue.id, updated);
        self
    }

    /// Queue length `K`.
    pub fn queue_size(&self) -> usize {
        self.queue.val().dims()[1]
    }
}

/// Mean over rows of `−log softmax(logits)[0]` (cross-entropy with label 0).
pub(crate) fn info_nce(logits: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    log_softmax(logits, 1)
        .slice([0..n, 0..1])
        .mean()
        .neg()
        .reshape([1])
}

/// `−mean_n Σ_k target[n,k] · log softmax(logits)[n,k]` (AimCLR's D³M loss).
fn soft_cross_entropy(target: Tensor<2>, logits: Tensor<2>) -> Tensor<1> {
    (target * log_softmax(logits, 1))
        .sum_dim(1)
        .mean()
        .neg()
        .reshape([1])
}

/// AimCLR's positive mask `(N, 1 + K)`: the key, and for each of the three logit sets the
/// `k` queue entries with the largest logits (a union).
fn mined_positives(logits: [Tensor<2>; 3], k: usize) -> Tensor<2> {
    let [n, width] = logits[0].dims();
    let device = logits[0].device();
    let mut hits = Tensor::<2>::zeros([n, width - 1], &device);
    for l in logits {
        let (_, idx) = l.slice([0..n, 1..width]).topk_with_indices(k, 1);
        hits = hits.scatter(1, idx, Tensor::ones([n, k], &device), IndexingUpdateOp::Add);
    }
    let mined = hits.greater_elem(0.0).float();
    Tensor::cat(vec![Tensor::ones([n, 1], &device), mined], 1)
}

/// `mean_n −Σ_j mask[n,j] log softmax(logits)[n,j] / Σ_j mask[n,j]`.
pub(crate) fn multi_positive_nce(logits: Tensor<2>, mask: Tensor<2>) -> Tensor<1> {
    let per_row = (log_softmax(logits, 1) * mask.clone()).sum_dim(1) / mask.sum_dim(1);
    per_row.mean().neg().reshape([1])
}

/// Share of rows whose column 0 is (one of) the largest.
pub(crate) fn positive_is_top(logits: Tensor<2>) -> Tensor<1> {
    let [n, _] = logits.dims();
    let pos = logits.clone().slice([0..n, 0..1]);
    pos.greater_equal(logits.max_dim(1))
        .float()
        .mean()
        .reshape([1])
}

/// `x / max(‖x‖₂, 1e-12)` along `dim` (PyTorch's `F.normalize`).
pub fn l2_normalise(x: Tensor<2>, dim: usize) -> Tensor<2> {
    let norm = x
        .clone()
        .powi_scalar(2)
        .sum_dim(dim)
        .sqrt()
        .clamp_min(1e-12);
    x / norm
}

/// Draws every parameter of `module` that burn has not drawn yet (it draws one when first
/// read), in visiting order, so that what is built after it cannot change its values.
pub fn materialise<M: Module>(module: &M) {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
}

/// Every float parameter value of `module`, in visiting order (for comparisons in tests).
pub fn parameter_values<M: Module>(module: &M) -> Vec<f32> {
    let mut c = Collect(Vec::new());
    module.visit(&mut c);
    c.0.into_iter()
        .flat_map(|t| t.into_data().try_into_vec::<f32>().unwrap())
        .collect()
}

/// The float parameters of a module, detached, in visiting order.
struct Collect(Vec<Tensor<1>>);

impl ModuleVisitor for Collect {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push(p.val().detach().flatten::<1>(0, D - 1));
    }
}

/// Replaces each parameter `k` with `m·k + (1 − m)·q`, detached and without gradient, `q`
/// the next collected parameter of the same shape.
struct Blend {
    from: std::vec::IntoIter<Tensor<1>>,
    momentum: f64,
}

impl ModuleMapper for Blend {
    fn map_float<const D: usize>(&mut self, p: Param<Tensor<D>>) -> Param<Tensor<D>> {
        let q = self
            .from
            .next()
            .expect("the two modules have the same parameters");
        let k = p.val().detach();
        let q: Tensor<D> = q.reshape(k.dims());
        let value = if self.momentum == 0.0 {
            q
        } else {
            k * self.momentum + q * (1.0 - self.momentum)
        };
        Param::initialized(p.id, value.detach())
    }
}

/// `to` with each parameter replaced by `m·to + (1 − m)·from` (`m = 0`: a copy), detached.
/// Both modules have the same structure; BatchNorm statistics are not parameters and stay.
pub(crate) fn copy_parameters<M: Module>(from: &M, to: M, momentum: f64) -> M {
    let mut c = Collect(Vec::new());
    from.visit(&mut c);
    let mut blend = Blend {
        from: c.0.into_iter(),
        momentum,
    };
    let out = to.map(&mut blend);
    assert!(
        blend.from.next().is_none(),
        "the two modules have the same parameters"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn small() -> MocoModelConfig {
        MocoModelConfig {
            encoder: StgcnEncoderConfig {
                hidden_channels: 4,
                hidden_dim: 16,
                ..StgcnEncoderConfig::pstl()
            },
            moco: MocoConfig {
                feature_dim: 8,
                queue_size: 12,
                ..Default::default()
            },
        }
    }

    fn params(m: &MocoEncoder) -> Vec<f32> {
        parameter_values(m)
    }

    #[test]
    fn the_key_encoder_starts_as_a_copy_with_its_own_ids_and_no_gradient() {
        let device = Device::flex().autodiff();
        let m = small().init(&device);
        assert_eq!(params(&m.encoder_q), params(&m.encoder_k));
        let mut ids = Vec::new();
        struct Ids<'a>(&'a mut Vec<burn::module::ParamId>, bool);
        impl ModuleVisitor for Ids<'_> {
            fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
                self.0.push(p.id);
                self.1 &= !p.val().is_require_grad();
            }
        }
        m.encoder_q.visit(&mut Ids(&mut ids, false));
        let q_ids = ids.clone();
        let mut none_require_grad = Ids(&mut ids, true);
        m.encoder_k.visit(&mut none_require_grad);
        assert!(
            none_require_grad.1,
            "key parameters must not require a gradient"
        );
        assert!(ids[q_ids.len()..].iter().all(|id| !q_ids.contains(id)));
        // Unit-norm queue columns.
        let norms = m.queue.val().powi_scalar(2).sum_dim(0).sqrt();
        for v in norms.into_data().try_into_vec::<f32>().unwrap() {
            assert!((v - 1.0).abs() < 1e-5, "{v}");
        }
    }

    #[test]
    fn momentum_update_blends_and_enqueue_writes_columns() {
        let device = Device::flex();
        let mut m = small().init(&device);
        m.encoder_q.fc.lin2.weight = Param::from_tensor(m.encoder_q.fc.lin2.weight.val() + 1.0);
        let before = params(&m.encoder_k);
        let q = params(&m.encoder_q);
        let m = m.momentum_update();
        let after = params(&m.encoder_k);
        for ((a, b), q) in after.iter().zip(&before).zip(&q) {
            let want = 0.999 * b + 0.001 * q;
            assert!((a - want).abs() < 1e-6, "{a} vs {want}");
        }
        let keys = Tensor::<2>::ones([4, 8], &device);
        let m = m.enqueue(keys, 8);
        let queue = m.queue.val().into_data().try_into_vec::<f32>().unwrap();
        for row in queue.chunks(12) {
            assert!(row[8..].iter().all(|&v| v == 1.0));
            assert!(row[..8].iter().all(|&v| v != 1.0));
        }
    }

    #[test]
    fn loss_is_log_of_the_logit_count_for_uninformative_embeddings() {
        // Every logit equal: InfoNCE is ln(1 + K).
        let logits = Tensor::<2>::zeros([3, 13], &Device::flex());
        let l = info_nce(logits).into_scalar::<f32>();
        assert!((l - 13f32.ln()).abs() < 1e-5, "{l}");
    }

    #[test]
    fn energy_drop_removes_the_outlying_joint_and_entry_and_rescales() {
        // One sample, one channel, 4 frames × 5 joints of ones but for one large entry (frame
        // 1, joint 2). Its joint's attention averages ≥ 0.7, so joint 2 goes (the others × 5/4);
        // then the entry itself reaches 0.7 (the others × 20/19). The reference
        // (`moco_reference.SimamDrop`) gives 1.3158 everywhere but joint 2.
        let device = Device::flex();
        let mut v = vec![1.0f32; 20];
        v[5 + 2] = 10.0;
        let x = Tensor::<4>::from_data(burn::tensor::TensorData::new(v, [1, 1, 4, 5]), &device);
        let drop = EnergyDrop {
            keep_prob: 0.7,
            e_lambda: 1e-4,
        };
        let y = energy_drop(x, &drop)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        for (i, &e) in y.iter().enumerate() {
            let want = if i % 5 == 2 { 0.0 } else { 1.25 * 20.0 / 19.0 };
            assert!((e - want).abs() < 1e-5, "{i}: {e}");
        }
    }
}
