//! MS²L (Lin et al., *MS²L: Multi-Task Self-Supervised Learning for Skeleton Based Action
//! Recognition*, ACM MM 2020; `LanglandsLin/MS2L`, `model.py`, `procedure.py`, `config.py`):
//! one encoder trained on three tasks at once, from three views of each clip: the clip, the
//! clip with its last `mask_ratio` of frames zeroed ("motion prediction": a GRU decoder
//! reconstructs the whole clip from the masked clip's per-frame features, MSE), the clip with
//! its first `seg_num` segments shuffled by one of the `seg_num!` permutations ("jigsaw": a
//! projector classifies the permutation), and all three for contrastive learning (a
//! projector embeds each view; each is scored against the views' mean with MS²L's loss at
//! temperature `temp`). The loss is the sum of the three terms.
//!
//! **\[CHOICE\] The encoder is asma's ST-GCN, not MS²L's bidirectional GRU**, so that MS²L's
//! encoders go through the same downstream commands as every other method's and compare on
//! one backbone. What that changes, each the closest equivalent:
//! - per-frame features (the decoder's input) are the block-10 map averaged over joints and
//!   persons, `(N, T', 256)`, each of the `T'` steps repeated for the frames it covers (frame
//!   `t` reads step `⌊t·T'/T⌋`), so the decoder still runs over, and reconstructs, every frame;
//! - clip features (the jigsaw and contrastive heads' input) are the encoder's pooled feature
//!   (MS²L: the mean of the per-frame features over the valid frames);
//! - the decoder's width is the encoder's (MS²L: 600, its GRU's output width).
//!
//! Every clip counts as `T` valid frames (asma's clips are resampled to a fixed length; MS²L
//! reads the true lengths from `*_frame.npy`).
//!
//! Parameter names follow MS²L's modules: `encoder.*`, `motion_head.decoder` (the GRU layers,
//! burn's gate layout: `decoder.{l}.{reset,update,new}_gate.{input,hidden}_transform.*` for
//! PyTorch's `weight_ih_l{l}` / `weight_hh_l{l}` rows `r, z, n`), `motion_head.reconstruction`,
//! `jigsaw_head.classifier.{0,1,3}`, `contra_head.classifier.{0,1,3}` (mapped by
//! [`crate::weights`] onto `lin0`, `bn1`, `lin3`).
//!
//! The plug-in of ASMa (docs/METHOD.md §6.5): its masked views join the contrastive task as
//! further views (in the views' mean, each scored against it).

use burn::module::Module;
use burn::nn::gru::{Gru, GruConfig};
use burn::nn::{BatchNorm, BatchNormConfig, Initializer, Linear, LinearConfig};
use burn::tensor::activation::{log_softmax, relu};
use burn::tensor::{Device, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::moco::{l2_normalise, QueryView};
use crate::stgcn::{pool, StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};

/// MS²L's settings; the defaults are its authors' (`config.py`, `model.py`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ms2lConfig {
    /// Share of the frames zeroed at the end of the motion-prediction view (`mask_ratio`).
    pub mask_ratio: f64,
    /// Segments the jigsaw view shuffles (`seg_num`; `seg_num!` classes).
    pub seg_num: usize,
    /// Temperature of the contrastive loss (`temp`).
    pub temperature: f64,
    /// Hidden width of the jigsaw and contrastive projectors (Linear → BN → ReLU → Linear).
    pub projector_hidden: usize,
    /// Output width of the contrastive projector (`feature_num`).
    pub feature_dim: usize,
    /// GRU layers of the decoder.
    pub decoder_layers: usize,
    /// Values per frame the decoder reconstructs, `3 · 25 · persons` (`input_size`).
    pub input_size: usize,
    /// Gradient norm limit, per module (`clip_gradient`, `clip_grad_norm_` of the encoder and
    /// of each head).
    pub clip_gradient: f64,
}

impl Default for Ms2lConfig {
    fn default() -> Self {
        Ms2lConfig {
            mask_ratio: 0.3,
            seg_num: 3,
            temperature: 0.9,
            projector_hidden: 2048,
            feature_dim: 1024,
            decoder_layers: 2,
            input_size: 150,
            clip_gradient: 10.0,
        }
    }
}

/// The model's sizes: the encoder and MS²L's heads.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Ms2lModelConfig {
    pub encoder: StgcnEncoderConfig,
    pub ms2l: Ms2lConfig,
}

impl Ms2lModelConfig {
    /// The encoder and the three heads, initialised as MS²L's (`init_weights`: Xavier-normal
    /// Linear weights and zero biases in the projectors; PyTorch's defaults in the decoder).
    pub fn init(&self, device: &Device) -> Ms2lModel {
        let d = self.encoder.hidden_dim;
        let c = &self.ms2l;
        let xavier = Initializer::XavierNormal { gain: 1.0 };
        let projector = |out: usize| Ms2lProjector {
            lin0: zero_bias(
                LinearConfig::new(d, c.projector_hidden)
                    .with_initializer(xavier.clone())
                    .init(device),
                c.projector_hidden,
                device,
            ),
            bn1: BatchNormConfig::new(c.projector_hidden).init(device),
            lin3: zero_bias(
                LinearConfig::new(c.projector_hidden, out)
                    .with_initializer(xavier.clone())
                    .init(device),
                out,
                device,
            ),
        };
        // The encoder's random draws first, in the order SkeletonCLR's and CrosSCLR's take
        // them (burn draws a parameter when it is first read): the same seed then gives every
        // compared method the same random encoder, and the same fair-baseline rows.
        let encoder = self.encoder.init(device);
        crate::moco::materialise(&encoder);
        // PyTorch's GRU and Linear: uniform in ±1/√fan.
        let k = 1.0 / (d as f64).sqrt();
        let uniform = Initializer::Uniform { min: -k, max: k };
        Ms2lModel {
            encoder,
            motion_head: Ms2lDecoder {
                decoder: (0..c.decoder_layers)
                    .map(|_| {
                        GruConfig::new(d, d, true)
                            .with_initializer(uniform.clone())
                            .init(device)
                    })
                    .collect(),
                reconstruction: LinearConfig::new(d, c.input_size)
                    .with_initializer(uniform)
                    .init(device),
            },
            jigsaw_head: projector(factorial(c.seg_num)),
            contra_head: projector(c.feature_dim),
            temperature: c.temperature,
            mask_ratio: c.mask_ratio,
            seg_num: c.seg_num,
        }
    }
}

/// `linear` with its `out` biases zero (set without drawing the random ones first).
fn zero_bias(mut linear: Linear, out: usize, device: &Device) -> Linear {
    linear.bias = Some(burn::module::Param::from_tensor(Tensor::zeros(
        [out],
        device,
    )));
    linear
}

fn factorial(n: usize) -> usize {
    (1..=n).product()
}

/// MS²L's `Projector`: Linear → BatchNorm1d → ReLU → Linear.
#[derive(Module, Debug)]
pub struct Ms2lProjector {
    pub lin0: Linear,
    pub bn1: BatchNorm,
    pub lin3: Linear,
}

impl Ms2lProjector {
    /// `(N, d)` → `(N, out)`.
    pub fn forward(&self, h: Tensor<2>) -> Tensor<2> {
        self.lin3
            .forward(relu(self.bn1.forward(self.lin0.forward(h))))
    }
}

/// MS²L's `Decoder`: stacked GRUs over the frames, then a Linear to the frame's values.
#[derive(Module, Debug)]
pub struct Ms2lDecoder {
    pub decoder: Vec<Gru>,
    pub reconstruction: Linear,
}

impl Ms2lDecoder {
    /// `(N, T, d)` → `(N, T, input_size)`.
    pub fn forward(&self, x: Tensor<3>) -> Tensor<3> {
        let h = self.decoder.iter().fold(x, |h, g| g.forward(h, None));
        self.reconstruction.forward(h)
    }
}

/// The encoder and MS²L's three heads.
#[derive(Module, Debug)]
pub struct Ms2lModel {
    pub encoder: StgcnEncoder,
    pub motion_head: Ms2lDecoder,
    pub jigsaw_head: Ms2lProjector,
    pub contra_head: Ms2lProjector,
    pub temperature: f64,
    pub mask_ratio: f64,
    pub seg_num: usize,
}

/// One step's loss and what the loop logs.
pub struct Ms2lLoss {
    /// `motion + jigsaw + contrastive`.
    pub total: Tensor<1>,
    /// The motion-prediction MSE.
    pub motion: Tensor<1>,
    /// The jigsaw cross-entropy.
    pub jigsaw: Tensor<1>,
    /// The mean over views of the contrastive loss against the views' mean.
    pub contrastive: Tensor<1>,
    /// The contrastive task's accuracy (mean over views).
    pub accuracy: Tensor<1>,
}

/// The `n!` orderings of `0..n`, in `itertools.permutations` order (lexicographic).
pub fn permutations(n: usize) -> Vec<Vec<usize>> {
    fn extend(prefix: &mut Vec<usize>, n: usize, out: &mut Vec<Vec<usize>>) {
        if prefix.len() == n {
            out.push(prefix.clone());
            return;
        }
        for i in 0..n {
            if !prefix.contains(&i) {
                prefix.push(i);
                extend(prefix, n, out);
                prefix.pop();
            }
        }
    }
    let mut out = Vec::new();
    extend(&mut Vec::new(), n, &mut out);
    out
}

/// MS²L's `TemporalJigsaw` frame order for a clip of `t` valid frames and permutation
/// `label`: segments of `⌊t / seg_num⌋` frames, the first `seg_num` in the permutation's
/// order, the frames after them in place.
pub fn jigsaw_order(t: usize, seg_num: usize, label: usize) -> Vec<usize> {
    let len = (t / seg_num).max(1);
    let perm = &permutations(seg_num)[label];
    let mut order: Vec<usize> = perm
        .iter()
        .flat_map(|&s| (s * len..((s + 1) * len).min(t)).collect::<Vec<_>>())
        .collect();
    let shuffled = order.len();
    order.extend(shuffled..t);
    order
}

/// `(N, C, T, V, M)` with the frames `t ≥ T·(1 − ratio)` zeroed (MS²L's `TemporalMask`).
pub fn temporal_mask(x: Tensor<5>, ratio: f64) -> Tensor<5> {
    let t = x.dims()[2];
    let keep: Vec<f32> = (0..t)
        .map(|i| ((i as f64) < t as f64 * (1.0 - ratio)) as u8 as f32)
        .collect();
    let mask = Tensor::<5>::from_data(TensorData::new(keep, [1, 1, t, 1, 1]), &x.device());
    x * mask
}

/// `(N, C, T, V, M)` with each clip's frames in [`jigsaw_order`] of its label.
pub fn temporal_jigsaw(x: Tensor<5>, labels: &[usize], seg_num: usize) -> Tensor<5> {
    let [n, c, t, v, m] = x.dims();
    let index: Vec<i64> = labels
        .iter()
        .enumerate()
        .flat_map(|(i, &l)| {
            jigsaw_order(t, seg_num, l)
                .into_iter()
                .map(move |f| (i * t + f) as i64)
        })
        .collect();
    let index = Tensor::<1, Int>::from_data(TensorData::new(index, [n * t]), &x.device());
    x.permute([0, 2, 1, 3, 4])
        .reshape([n * t, c * v * m])
        .select(0, index)
        .reshape([n, t, c, v, m])
        .permute([0, 2, 1, 3, 4])
}

/// `(N, C, T, V, M)` → `(N, T, C·V·M)`, MS²L's frame layout (`transpose(0, 2, 1, 3, 4)`).
pub fn frames(x: Tensor<5>) -> Tensor<3> {
    let [n, c, t, v, m] = x.dims();
    x.permute([0, 2, 1, 3, 4]).reshape([n, t, c * v * m])
}

/// A block-10 map `(N·M, d, T', V)` → per-frame features `(N, t, d)`: the mean over joints and
/// persons, step `⌊i·T'/t⌋` for frame `i`.
pub fn frame_features(map: Tensor<4>, n: usize, m: usize, t: usize) -> Tensor<3> {
    let [_, d, steps, _] = map.dims();
    let per_step = map
        .mean_dim(3)
        .reshape([n, m, d, steps])
        .mean_dim(1)
        .reshape([n, d, steps])
        .swap_dims(1, 2);
    let index: Vec<i64> = (0..t).map(|i| (i * steps / t) as i64).collect();
    let index = Tensor::<1, Int>::from_data(TensorData::new(index, [t]), &per_step.device());
    per_step.select(1, index)
}

/// MS²L's `contrastive_loss(X, Y)`: with unit rows, the `2N × 2N` logits
/// `[[X·Yᵀ, X·Xᵀ], [Y·Yᵀ, Y·Xᵀ]] / temp`, the self-similarities on the diagonals set to −1,
/// scored by cross-entropy with row `i`'s positive at column `i`; and that accuracy.
pub fn contrastive_loss(x: Tensor<2>, y: Tensor<2>, temp: f64) -> (Tensor<1>, Tensor<1>) {
    let [n, _] = x.dims();
    let device = x.device();
    let (x, y) = (l2_normalise(x, 1), l2_normalise(y, 1));
    let eye = Tensor::<2>::eye(n, &device);
    let off_diagonal = |s: Tensor<2>| s * (eye.clone().neg() + 1.0) - eye.clone();
    let s12 = x.clone().matmul(y.clone().transpose());
    let s21 = s12.clone().transpose();
    let s11 = off_diagonal(x.clone().matmul(x.transpose()));
    let s22 = off_diagonal(y.clone().matmul(y.transpose()));
    let s = Tensor::cat(
        vec![
            Tensor::cat(vec![s12, s11], 1),
            Tensor::cat(vec![s22, s21], 1),
        ],
        0,
    ) / temp;
    let labels: Vec<usize> = (0..2 * n).collect();
    let accuracy = argmax_is(s.clone().detach(), &labels);
    (cross_entropy(s, &labels), accuracy)
}

/// Mean over rows of `−log softmax(logits)[label]`.
pub fn cross_entropy(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let one_hot = one_hot(labels, logits.dims()[1], &logits.device());
    (log_softmax(logits, 1) * one_hot)
        .sum_dim(1)
        .mean()
        .neg()
        .reshape([1])
}

fn one_hot(labels: &[usize], classes: usize, device: &Device) -> Tensor<2> {
    let mut v = vec![0f32; labels.len() * classes];
    for (i, &l) in labels.iter().enumerate() {
        v[i * classes + l] = 1.0;
    }
    Tensor::from_data(TensorData::new(v, [labels.len(), classes]), device)
}

/// Share of rows whose largest logit is at their label.
fn argmax_is(logits: Tensor<2>, labels: &[usize]) -> Tensor<1> {
    let at_label =
        (logits.clone() * one_hot(labels, logits.dims()[1], &logits.device())).sum_dim(1);
    at_label
        .greater_equal(logits.max_dim(1))
        .float()
        .mean()
        .reshape([1])
}

impl Ms2lModel {
    /// The loss of one step on the clips `x` `(N, 3, T, 25, M)`, the jigsaw view's
    /// permutation per clip (`labels`, each below `seg_num!`), and the plug-in's views
    /// (`extra`, shortened or with joints removed). Encoder passes in MS²L's order: the clip,
    /// the masked clip, the jigsaw clip, then the plug-in's views.
    pub fn loss(&self, x: Tensor<5>, labels: &[usize], extra: Vec<QueryView>) -> Ms2lLoss {
        let [n, _, t, _, m] = x.dims();
        let masked = temporal_mask(x.clone(), self.mask_ratio);
        let jigsaw = temporal_jigsaw(x.clone(), labels, self.seg_num);
        let map = self.encoder.forward_map(x.clone(), None);
        let map_masked = self.encoder.forward_map(masked, None);
        let map_jigsaw = self.encoder.forward_map(jigsaw, None);
        let mut clips = vec![
            pool(map, n, m),
            pool(map_masked.clone(), n, m),
            pool(map_jigsaw, n, m),
        ];
        for v in extra {
            clips.push(self.encoder.forward(v.x, v.keep_joints.as_deref()));
        }

        let predicted = self
            .motion_head
            .forward(frame_features(map_masked, n, m, t));
        let motion = (predicted - frames(x)).powi_scalar(2).mean().reshape([1]);
        let jigsaw = cross_entropy(self.jigsaw_head.forward(clips[2].clone()), labels);
        let embedded: Vec<Tensor<2>> = clips
            .into_iter()
            .map(|h| self.contra_head.forward(h))
            .collect();
        let views = embedded.len() as f64;
        let mean = embedded.iter().cloned().reduce(|a, b| a + b).unwrap() / views;
        let (losses, accuracies): (Vec<_>, Vec<_>) = embedded
            .into_iter()
            .map(|e| contrastive_loss(e, mean.clone(), self.temperature))
            .unzip();
        let contrastive = Tensor::cat(losses, 0).mean().reshape([1]);
        let accuracy = Tensor::cat(accuracies, 0).mean().reshape([1]);
        Ms2lLoss {
            total: motion.clone() + jigsaw.clone() + contrastive.clone(),
            motion,
            jigsaw,
            contrastive,
            accuracy,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn permutations_are_lexicographic_as_itertools_gives_them() {
        let p = permutations(3);
        assert_eq!(
            p,
            [
                [0, 1, 2],
                [0, 2, 1],
                [1, 0, 2],
                [1, 2, 0],
                [2, 0, 1],
                [2, 1, 0]
            ]
        );
    }

    #[test]
    fn jigsaw_moves_whole_segments_and_keeps_the_remainder_in_place() {
        // 50 frames, 3 segments of 16: permutation 5 is (2, 1, 0); frames 48, 49 stay.
        let o = jigsaw_order(50, 3, 5);
        assert_eq!(o.len(), 50);
        assert_eq!(&o[..3], &[32, 33, 34]);
        assert_eq!(&o[16..18], &[16, 17]);
        assert_eq!(&o[32..34], &[0, 1]);
        assert_eq!(&o[48..], &[48, 49]);
        assert_eq!(jigsaw_order(7, 3, 0), (0..7).collect::<Vec<_>>());
    }

    #[test]
    fn temporal_mask_zeroes_the_last_share_of_frames() {
        let x = Tensor::<5>::ones([1, 1, 10, 1, 1], &Device::flex());
        let y = temporal_mask(x, 0.3)
            .into_data()
            .try_into_vec::<f32>()
            .unwrap();
        assert_eq!(y, [1., 1., 1., 1., 1., 1., 1., 0., 0., 0.]);
    }

    #[test]
    fn contrastive_loss_of_orthogonal_pairs_prefers_the_partner() {
        // Identical X and Y with orthogonal rows: each row's partner has similarity 1, the
        // others 0, the masked self −1.
        let device = Device::flex();
        let x = Tensor::<2>::eye(3, &device);
        let (loss, acc) = contrastive_loss(x.clone(), x, 1.0);
        let e = std::f32::consts::E;
        let want = -(e / (e + 4.0 + 1.0 / e)).ln();
        let got = loss.into_scalar::<f32>();
        assert!((got - want).abs() < 1e-5, "{got} vs {want}");
        assert_eq!(acc.into_scalar::<f32>(), 1.0);
    }
}
