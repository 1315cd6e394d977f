//! Several classifiers over the same sample, fused as in the paper's 3-stream tables
//! (METHOD.md §7.5): each model gets its own stream of the joint positions, and the fused
//! score is `Σ w_i · logits_i` (the weighted sum `asma fuse` computes on score files).

use asma_skeleton::Sequence;

use crate::error::{InferError, Result};
use crate::input::to_stream;
use crate::model::Classifier;

pub struct Ensemble {
    pub models: Vec<(Classifier, f32)>,
}

/// A class and its scores.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ranked {
    /// 0-based class index.
    pub class: usize,
    /// NTU action id, `A001` for class 0.
    pub action: String,
    /// Softmax of the fused logits.
    pub prob: f32,
    pub logit: f32,
}

impl Ensemble {
    /// Models with their weights; all must have the same classes.
    pub fn new(models: Vec<(Classifier, f32)>) -> Result<Self> {
        let first = models
            .first()
            .ok_or_else(|| InferError::Config("no model given".into()))?;
        let c = first.0.num_classes;
        if let Some((m, _)) = models.iter().find(|(m, _)| m.num_classes != c) {
            return Err(InferError::Config(format!(
                "models of {c} and {} classes cannot be fused",
                m.num_classes
            )));
        }
        Ok(Ensemble { models })
    }

    pub fn num_classes(&self) -> usize {
        self.models[0].0.num_classes
    }

    /// Fused logits of a `(3, T, 25, M)` sequence of joint positions.
    pub fn logits(&self, seq: &Sequence) -> Result<Vec<f32>> {
        let mut fused = vec![0.0; self.num_classes()];
        for (model, w) in &self.models {
            let x = to_stream(seq, model.stream);
            let logits = model.logits(&x, seq.frames, seq.bodies)?;
            for (f, l) in fused.iter_mut().zip(logits) {
                *f += w * l;
            }
        }
        Ok(fused)
    }
}

/// The `k` best classes of `logits`.
pub fn top_k(logits: &[f32], k: usize) -> Vec<Ranked> {
    let max = logits.iter().copied().fold(f32::NEG_INFINITY, f32::max);
    let sum: f32 = logits.iter().map(|l| (l - max).exp()).sum();
    let mut order: Vec<usize> = (0..logits.len()).collect();
    order.sort_by(|&a, &b| logits[b].total_cmp(&logits[a]));
    order
        .into_iter()
        .take(k)
        .map(|class| Ranked {
            class,
            action: format!("A{:03}", class + 1),
            prob: (logits[class] - max).exp() / sum,
            logit: logits[class],
        })
        .collect()
}
