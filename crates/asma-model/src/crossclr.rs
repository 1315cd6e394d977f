//! CrosSCLR (Li et al., *3D Human Action Representation Learning via Cross-View Consistency
//! Pursuit*, CVPR 2021; `LinguoLi/CrosSCLR`, `net/crossclr.py`, `net/crossclr_3views.py`,
//! `processor/pretrain_crossclr*.py`): one SkeletonCLR model ([`crate::moco`]) per stream
//! (joint, motion and, with three views, bone), each with its own query and momentum key
//! encoder and queue, trained jointly; then, in the epochs after `cross_epoch`, cross-view
//! consistent knowledge mining.
//!
//! As the reference: the motion and bone inputs are computed from the augmented joint clips
//! inside the model (`x[t+1] − x[t]` with the last frame zero; joint minus parent over the
//! NTU-25 bones). Each stream's InfoNCE is scored against its own keys and queue. In the
//! cross phase, for each ordered pair of streams `(a, b)`, stream `a`'s logits
//! `[q·k, q·queue_a, (q·queue_a) ⊙ (q_b·queue_b)] / T` (the last block, the "context", when
//! `context`) count as positives the key and the `topk` queue entries that stream `b` finds
//! most similar to its own query; a stream's loss is the mean over its partners.
//!
//! Two details of the reference are kept as it has them (each a config value here):
//! - `mlp` "hack": each later stream's head is its own Linear + ReLU followed by the joint
//!   stream's head (`fc.2` of `encoder_q_motion` *is* `encoder_q.fc`), so the joint head is
//!   trained by every stream and, as a part of every key encoder, momentum-updated once per
//!   stream per step (`shared_head`);
//! - in the cross phase only the motion stream's key encoder is momentum-updated (with the
//!   shared head, the joint key head with it) (`cross_momentum_all = false`).
//!
//! Parameter names are the reference's `state_dict` keys: `encoder_q`, `encoder_k`,
//! `encoder_q_motion`, `encoder_k_motion`, `encoder_q_bone`, `encoder_k_bone`, `queue`,
//! `queue_motion`, `queue_bone`; a later stream's `fc.0` is its own layer (the reference's
//! `fc.2.*` entries of those streams repeat the joint head's and are not stored twice).

use asma_skeleton::NTU25;
use burn::module::{Module, Param};
use burn::nn::{Linear, LinearConfig};
use burn::tensor::activation::relu;
use burn::tensor::{Device, IndexingUpdateOp, Int, Tensor, TensorData};
use serde::{Deserialize, Serialize};

use crate::moco::{
    copy_parameters, info_nce, l2_normalise, multi_positive_nce, positive_is_top, MocoConfig,
    MocoEncoder, QueryView,
};
use crate::stgcn::{StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};

/// CrosSCLR's settings; the defaults are its authors' (`crossclr_3views_xview.yaml`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossclrConfig {
    /// Streams: 2 = joint and motion (`net/crossclr.py`), 3 = joint, motion and bone
    /// (`net/crossclr_3views.py`).
    pub views: usize,
    /// Cross-view mining in the reference's 1-based epochs after this one, i.e. from the
    /// 0-based epoch `cross_epoch` on (`cross_epoch`).
    pub cross_epoch: usize,
    /// Queue entries mined per query from the other stream (`topk`).
    pub topk: usize,
    /// The context block `l_neg_a ⊙ l_neg_b` in the cross-phase logits (`context`).
    pub context: bool,
    /// The reference's head sharing (see the module text); `false`: every stream its own
    /// MoCo head.
    pub shared_head: bool,
    /// Momentum-update every stream's key encoder in the cross phase; the reference updates
    /// the motion stream's only.
    pub cross_momentum_all: bool,
}

impl Default for CrossclrConfig {
    fn default() -> Self {
        CrossclrConfig {
            views: 3,
            cross_epoch: 150,
            topk: 1,
            context: true,
            shared_head: true,
            cross_momentum_all: false,
        }
    }
}

/// The model's sizes: the encoder, MoCo's head and queue, the streams and head sharing.
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CrossclrModelConfig {
    pub encoder: StgcnEncoderConfig,
    pub moco: MocoConfig,
    pub crossclr: CrossclrConfig,
}

impl CrossclrModelConfig {
    /// Every stream's query encoder, its key encoder a copy with its own parameter ids, and
    /// a queue of unit-norm Gaussian columns per stream, in the reference's order.
    pub fn init(&self, device: &Device) -> CrossclrModel {
        let d = self.encoder.hidden_dim;
        let shared = self.moco.mlp && self.crossclr.shared_head;
        let head = || self.moco.head(d, device);
        let joint = || MocoEncoder {
            encoder: self.encoder.init(device),
            fc: head(),
        };
        let later = || StreamEncoder {
            encoder: self.encoder.init(device),
            fc: match shared {
                true => StreamHead {
                    lin0: Some(LinearConfig::new(d, d).init(device)),
                    lin2: None,
                },
                false => {
                    let h = head();
                    StreamHead {
                        lin0: h.lin0,
                        lin2: Some(h.lin2),
                    }
                }
            },
        };
        let queue = || self.moco.queue(device);
        let encoder_q = joint();
        let encoder_k = copy_parameters(&encoder_q, joint(), 0.0);
        let encoder_q_motion = later();
        let encoder_k_motion = copy_parameters(&encoder_q_motion, later(), 0.0);
        let (encoder_q_bone, encoder_k_bone) = match self.crossclr.views {
            3 => {
                let q = later();
                let k = copy_parameters(&q, later(), 0.0);
                (Some(q), Some(k))
            }
            _ => (None, None),
        };
        CrossclrModel {
            encoder_q,
            encoder_k,
            encoder_q_motion,
            encoder_k_motion,
            encoder_q_bone,
            encoder_k_bone,
            queue: queue(),
            queue_motion: queue(),
            queue_bone: (self.crossclr.views == 3).then(queue),
            momentum: self.moco.momentum,
            temperature: self.moco.temperature,
        }
    }
}

/// A later stream's head (the reference's `fc`).
#[derive(Module, Debug)]
pub struct StreamHead {
    /// `fc.0`, then ReLU (with `mlp`).
    pub lin0: Option<Linear>,
    /// The last Linear (`fc.2`); `None` with the shared head, where the joint stream's whole
    /// head follows instead.
    pub lin2: Option<Linear>,
}

/// A later stream's encoder and head.
#[derive(Module, Debug)]
pub struct StreamEncoder {
    pub encoder: StgcnEncoder,
    pub fc: StreamHead,
}

/// The cross phase's settings for one step.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct CrossMining {
    pub topk: usize,
    pub context: bool,
    /// Momentum-update every stream's key encoder, not the motion stream's alone.
    pub momentum_all: bool,
}

/// One step's loss and what the loop logs.
pub struct CrossclrLoss {
    /// Σ over streams of the stream's loss, plus the plug-in's InfoNCE terms.
    pub total: Tensor<1>,
    /// Each stream's loss (joint, motion, bone), then the plug-in's views stream by stream.
    pub per_view: Vec<Tensor<1>>,
    /// Share of the joint stream's queries whose own key has the largest logit.
    pub accuracy: Tensor<1>,
    /// Each stream's keys `(N, feature_dim)`, detached, for [`CrossclrModel::enqueue`].
    pub keys: Vec<Tensor<2>>,
}

/// The streams' query and key encoders and queues.
#[derive(Module, Debug)]
pub struct CrossclrModel {
    pub encoder_q: MocoEncoder,
    pub encoder_k: MocoEncoder,
    pub encoder_q_motion: StreamEncoder,
    pub encoder_k_motion: StreamEncoder,
    pub encoder_q_bone: Option<StreamEncoder>,
    pub encoder_k_bone: Option<StreamEncoder>,
    /// `(feature_dim, K)` per stream, unit-norm columns; not trained.
    pub queue: Param<Tensor<2>>,
    pub queue_motion: Param<Tensor<2>>,
    pub queue_bone: Option<Param<Tensor<2>>>,
    pub momentum: f64,
    pub temperature: f64,
}

/// `(N, C, T, V, M)` → the motion stream: `x[t+1] − x[t]`, the last frame zero.
pub fn motion_of(x: Tensor<5>) -> Tensor<5> {
    let [n, c, t, v, m] = x.dims();
    if t < 2 {
        return x.zeros_like();
    }
    let diff = x.clone().slice([0..n, 0..c, 1..t]) - x.slice([0..n, 0..c, 0..t - 1]);
    let device = diff.device();
    Tensor::cat(vec![diff, Tensor::zeros([n, c, 1, v, m], &device)], 2)
}

/// `(N, C, T, 25, M)` → the bone stream: each joint minus its parent over the NTU-25 bones,
/// the centre joint zero.
pub fn bone_of(x: Tensor<5>) -> Tensor<5> {
    let v = x.dims()[3];
    assert_eq!(
        v,
        NTU25.num_joints(),
        "the bone stream needs the 25 NTU joints"
    );
    let mut parent: Vec<i64> = (0..v as i64).collect();
    for &(child, p) in NTU25.bone_pairs {
        parent[child] = p as i64;
    }
    let index = Tensor::<1, Int>::from_data(TensorData::new(parent, [v]), &x.device());
    x.clone() - x.select(3, index)
}

impl CrossclrModel {
    /// Streams trained (2 or 3).
    pub fn views(&self) -> usize {
        2 + self.encoder_q_bone.is_some() as usize
    }

    /// Stream `s`'s input from the joint clips, or for motion the clips' own motion when
    /// the view brings it (taken before a frame mask removed frames).
    fn input(s: usize, x: Tensor<5>, motion: Option<Tensor<5>>) -> Tensor<5> {
        match s {
            0 => x,
            1 => motion.unwrap_or_else(|| motion_of(x)),
            _ => bone_of(x),
        }
    }

    fn later(&self, s: usize, key: bool) -> &StreamEncoder {
        let e = match (s, key) {
            (1, false) => Some(&self.encoder_q_motion),
            (1, true) => Some(&self.encoder_k_motion),
            (_, false) => self.encoder_q_bone.as_ref(),
            (_, true) => self.encoder_k_bone.as_ref(),
        };
        e.expect("a stream the model has")
    }

    /// Stream `s`'s unit-norm embeddings of the view `v` (joint clips `(N, 3, T, 25, M)`,
    /// kept joints, the motion it brings) by its query (`key = false`) or key encoder.
    pub fn embed(&self, s: usize, key: bool, v: &QueryView) -> Tensor<2> {
        let keep = v.keep_joints.as_deref();
        let x = Self::input(s, v.x.clone(), v.motion.clone());
        let joint = if key {
            &self.encoder_k
        } else {
            &self.encoder_q
        };
        if s == 0 {
            return joint.embed(x, keep);
        }
        let e = self.later(s, key);
        let mut h = e.encoder.forward(x, keep);
        if let Some(l) = &e.fc.lin0 {
            h = relu(l.forward(h));
        }
        let out = match &e.fc.lin2 {
            Some(l) => l.forward(h),
            None => joint.fc.forward(h),
        };
        l2_normalise(out, 1)
    }

    /// The key encoders after the momentum update `k ← m·k + (1−m)·q`, as the reference
    /// does it: every stream in the first phase; in the cross phase (`cross`) the motion
    /// stream's only, unless `all`. With the shared head, a later stream's update moves the
    /// joint key head too (once per updated stream).
    pub fn momentum_update(mut self, cross: bool, all: bool) -> Self {
        let m = self.momentum;
        let shared = self.encoder_q_motion.fc.lin2.is_none();
        let updated: Vec<usize> = match cross && !all {
            true => vec![1],
            false => (0..self.views()).collect(),
        };
        for s in updated {
            match s {
                0 => self.encoder_k = copy_parameters(&self.encoder_q, self.encoder_k, m),
                1 => {
                    self.encoder_k_motion =
                        copy_parameters(&self.encoder_q_motion, self.encoder_k_motion, m)
                }
                _ => {
                    let (q, k) = (self.encoder_q_bone.as_ref(), self.encoder_k_bone.take());
                    self.encoder_k_bone = Some(copy_parameters(q.unwrap(), k.unwrap(), m));
                }
            }
            if s > 0 && shared {
                self.encoder_k.fc = copy_parameters(&self.encoder_q.fc, self.encoder_k.fc, m);
            }
        }
        self
    }

    fn queue_of(&self, s: usize) -> Tensor<2> {
        match s {
            0 => self.queue.val(),
            1 => self.queue_motion.val(),
            _ => self.queue_bone.as_ref().expect("three views").val(),
        }
        .detach()
    }

    /// The loss of one step: every stream's query view `queries[0]` against its keys of
    /// `key` (computed without gradient) and its queue, with `cross` the cross-view mined
    /// positives and context; the plug-in's views (`queries[1..]`) add plain InfoNCE per
    /// stream. Views are joint clips `(N, 3, T, 25, M)`. Call [`Self::momentum_update`]
    /// before, as the reference does.
    pub fn loss(
        &self,
        queries: Vec<QueryView>,
        key: Tensor<5>,
        cross: Option<CrossMining>,
    ) -> CrossclrLoss {
        let views = self.views();
        let key = QueryView::plain(key);
        let keys: Vec<Tensor<2>> = (0..views)
            .map(|s| self.embed(s, true, &key).detach())
            .collect();
        // (l_pos (N, 1), l_neg (N, K)) of query embeddings `q` of stream `s`.
        let scores = |s: usize, q: Tensor<2>| {
            let l_pos = (q.clone() * keys[s].clone()).sum_dim(1);
            (l_pos, q.matmul(self.queue_of(s)))
        };
        let mut queries = queries.into_iter();
        let first = queries.next().expect("at least one query view");
        let main: Vec<(Tensor<2>, Tensor<2>)> = (0..views)
            .map(|s| {
                let q = self.embed(s, false, &first);
                scores(s, q)
            })
            .collect();
        let t = self.temperature;
        let plain = |(l_pos, l_neg): &(Tensor<2>, Tensor<2>)| {
            Tensor::cat(vec![l_pos.clone(), l_neg.clone()], 1) / t
        };
        let accuracy = positive_is_top(plain(&main[0]).detach());
        let mut per_view: Vec<Tensor<1>> = match cross {
            None => main.iter().map(|sc| info_nce(plain(sc))).collect(),
            Some(c) => cross_losses(&main, c, t),
        };
        for v in queries {
            for s in 0..views {
                let q = self.embed(s, false, &v);
                per_view.push(info_nce(plain(&scores(s, q))));
            }
        }
        let total = per_view
            .iter()
            .cloned()
            .reduce(|a, b| a + b)
            .expect("at least one stream");
        CrossclrLoss {
            total,
            per_view,
            accuracy,
            keys,
        }
    }

    /// Every stream's queue with its keys `(N, feature_dim)` written into columns
    /// `ptr..ptr + N`.
    pub fn enqueue(mut self, keys: Vec<Tensor<2>>, ptr: usize) -> Self {
        let write = |q: &Param<Tensor<2>>, k: Tensor<2>| {
            let [n, f] = k.dims();
            let updated = q
                .val()
                .detach()
                .slice_assign([0..f, ptr..ptr + n], k.transpose().detach());
            Param::initialized(q.id, updated)
        };
        let mut keys = keys.into_iter();
        self.queue = write(&self.queue, keys.next().expect("joint keys"));
        self.queue_motion = write(&self.queue_motion, keys.next().expect("motion keys"));
        if let (Some(q), Some(k)) = (&self.queue_bone, keys.next()) {
            self.queue_bone = Some(write(q, k));
        }
        self
    }

    /// Queue length `K`.
    pub fn queue_size(&self) -> usize {
        self.queue.val().dims()[1]
    }
}

/// The cross phase's stream losses from each stream's `(l_pos, l_neg)`: for stream `a`, the
/// mean over partners `b` of the multi-positive InfoNCE whose positives are the key and the
/// queue entries of `b`'s top-`k` negatives (in the context block too).
fn cross_losses(main: &[(Tensor<2>, Tensor<2>)], c: CrossMining, t: f64) -> Vec<Tensor<1>> {
    let [n, k] = main[0].1.dims();
    let device = main[0].1.device();
    let mined: Vec<Tensor<2>> = main
        .iter()
        .map(|(_, l_neg)| {
            let (_, idx) = l_neg.clone().detach().topk_with_indices(c.topk, 1);
            Tensor::<2>::zeros([n, k], &device).scatter(
                1,
                idx,
                Tensor::ones([n, c.topk], &device),
                IndexingUpdateOp::Add,
            )
        })
        .collect();
    let ones = Tensor::<2>::ones([n, 1], &device);
    (0..main.len())
        .map(|a| {
            let (l_pos, l_neg) = &main[a];
            let partners: Vec<Tensor<1>> = (0..main.len())
                .filter(|&b| b != a)
                .map(|b| {
                    let mut logits = vec![l_pos.clone(), l_neg.clone()];
                    let mut mask = vec![ones.clone(), mined[b].clone()];
                    if c.context {
                        logits.push(l_neg.clone() * main[b].1.clone());
                        mask.push(mined[b].clone());
                    }
                    multi_positive_nce(Tensor::cat(logits, 1) / t, Tensor::cat(mask, 1))
                })
                .collect();
            let count = partners.len() as f64;
            partners.into_iter().reduce(|x, y| x + y).unwrap() / count
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn clip(values: Vec<f32>, shape: [usize; 5]) -> Tensor<5> {
        Tensor::from_data(TensorData::new(values, shape), &Device::flex())
    }

    #[test]
    fn motion_and_bone_streams_match_the_data_crate() {
        let shape = [2, 3, 4, 25, 2];
        let len: usize = shape.iter().product();
        let values: Vec<f32> = (0..len).map(|i| ((i * 37) % 101) as f32 * 0.1).collect();
        let bs = asma_data::pipeline::stream::BatchShape::new(2, 3, 4, 25, 2);
        for (stream, ours) in [
            (
                asma_data::pipeline::stream::Stream::Motion,
                motion_of(clip(values.clone(), shape)),
            ),
            (
                asma_data::pipeline::stream::Stream::Bone,
                bone_of(clip(values.clone(), shape)),
            ),
        ] {
            let want = asma_data::pipeline::stream::apply_stream(stream, &bs, &values);
            let got = ours.into_data().try_into_vec::<f32>().unwrap();
            assert_eq!(got, want, "{stream:?}");
        }
    }

    fn small(shared_head: bool) -> CrossclrModelConfig {
        CrossclrModelConfig {
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
            crossclr: CrossclrConfig {
                shared_head,
                ..Default::default()
            },
        }
    }

    fn values<M: Module>(m: &M) -> Vec<f32> {
        crate::moco::parameter_values(m)
    }

    #[test]
    fn with_the_shared_head_each_later_stream_update_moves_the_joint_key_head_again() {
        let device = Device::flex();
        let mut m = small(true).init(&device);
        assert_eq!(m.views(), 3);
        assert!(m.encoder_q_bone.as_ref().unwrap().fc.lin2.is_none());
        // The query head moves by +1: the key head's distance to it shrinks by m per update.
        m.encoder_q.fc.lin2.weight = Param::from_tensor(m.encoder_q.fc.lin2.weight.val() + 1.0);
        let gap = |m: &CrossclrModel| {
            let q = values(&m.encoder_q.fc.lin2.weight);
            let k = values(&m.encoder_k.fc.lin2.weight);
            q.iter().zip(&k).map(|(a, b)| a - b).sum::<f32>() / q.len() as f32
        };
        let m = m.momentum_update(false, false);
        // Three updates (joint, motion, bone): 0.999³ of the gap remains.
        assert!((gap(&m) - 0.999f32.powi(3)).abs() < 1e-4, "{}", gap(&m));
        let bone_k = values(m.encoder_k_bone.as_ref().unwrap());
        let m = m.momentum_update(true, false);
        // The cross phase: the motion update alone (and the head with it); bone untouched.
        assert!((gap(&m) - 0.999f32.powi(4)).abs() < 1e-4, "{}", gap(&m));
        assert_eq!(values(m.encoder_k_bone.as_ref().unwrap()), bone_k);
    }

    #[test]
    fn a_view_that_brings_its_motion_is_embedded_from_it() {
        let device = Device::flex();
        let m = small(true).init(&device);
        let n = 2 * 3 * 6 * 25 * 2;
        let x = clip(
            (0..n).map(|i| (i as f32 * 0.37).sin()).collect(),
            [2, 3, 6, 25, 2],
        );
        let other = clip(
            (0..n).map(|i| (i as f32 * 0.11).cos()).collect(),
            [2, 3, 6, 25, 2],
        );
        let view = |motion: Option<Tensor<5>>| QueryView {
            motion,
            ..QueryView::plain(x.clone())
        };
        let values = |t: Tensor<2>| t.into_data().try_into_vec::<f32>().unwrap();
        let derived = values(m.embed(1, false, &view(None)));
        // The motion the view brings is the one embedded; the same motion gives the same
        // embedding as deriving it, another motion another embedding.
        assert_eq!(
            values(m.embed(1, false, &view(Some(motion_of(x.clone()))))),
            derived
        );
        assert_ne!(
            values(m.embed(1, false, &view(Some(other.clone())))),
            derived
        );
        // The joint and bone streams read the joints alone.
        for s in [0, 2] {
            assert_eq!(
                values(m.embed(s, false, &view(Some(other.clone())))),
                values(m.embed(s, false, &view(None)))
            );
        }
    }

    #[test]
    fn without_the_shared_head_streams_are_independent_moco_models() {
        let device = Device::flex();
        let m = small(false).init(&device);
        assert!(m.encoder_q_motion.fc.lin2.is_some());
        let x = clip(vec![0.5; 2 * 3 * 4 * 25 * 2], [2, 3, 4, 25, 2]);
        let loss = m.loss(
            vec![QueryView::plain(x.clone())],
            x,
            Some(CrossMining {
                topk: 1,
                context: true,
                momentum_all: false,
            }),
        );
        assert_eq!(loss.per_view.len(), 3);
        assert_eq!(loss.keys.len(), 3);
        let m = m.enqueue(loss.keys, 4);
        assert_eq!(m.queue_size(), 12);
    }
}
