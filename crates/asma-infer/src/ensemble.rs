//! Several classifiers over the same sample, fused as in the paper's 3-stream tables
//! (docs/METHOD.md §7.5): each model gets its own stream of the joint positions, and the fused
//! score is `Σ w_i · logits_i` (the weighted sum `asma fuse` computes on score files).

use asma_skeleton::{ClassNames, Sequence};

use crate::error::{InferError, Result};
use crate::input::to_stream;
use crate::model::{pool, Classifier};

pub struct Ensemble {
    models: Vec<(Classifier, f32)>,
    /// Runs the models side by side when there are several and more than one thread.
    pool: Option<rayon::ThreadPool>,
}

impl Ensemble {
    /// Models with their weights (all with the same classes), on `threads` threads: one model
    /// uses them inside its GEMMs; several run side by side on one thread each, which keeps
    /// every core busy on the small matrices of batch-1 inference.
    pub fn new(models: Vec<(Classifier, f32)>, threads: usize) -> Result<Self> {
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
        if let Some(m) = models
            .iter()
            .find(|(m, _)| m.classes.is_some() && m.classes != first.0.classes)
        {
            return Err(InferError::Config(format!(
                "the models name their classes differently ({} and {}); fusing them would \
                 add scores of different actions",
                describe_names(&first.0.classes),
                describe_names(&m.0.classes)
            )));
        }
        let threads = threads.max(1);
        let side_by_side = models.len() > 1 && threads > 1;
        let per_model = if side_by_side { 1 } else { threads };
        let models = models
            .into_iter()
            .map(|(m, w)| m.with_threads(per_model).map(|m| (m, w)))
            .collect::<Result<Vec<_>>>()?;
        let pool = side_by_side.then(|| pool(threads)).transpose()?;
        Ok(Ensemble { models, pool })
    }

    pub fn num_classes(&self) -> usize {
        self.models[0].0.num_classes
    }

    /// The classes' names (the models agree on them), if known.
    pub fn classes(&self) -> Option<&ClassNames> {
        self.models[0].0.classes.as_ref()
    }

    pub fn models(&self) -> impl Iterator<Item = &Classifier> {
        self.models.iter().map(|(m, _)| m)
    }

    /// Fused logits of a `(3, T, 25, M)` sequence of joint positions.
    pub fn logits(&self, seq: &Sequence) -> Result<Vec<f32>> {
        let inputs: Vec<Vec<f32>> = self.models().map(|m| to_stream(seq, m.stream)).collect();
        self.logits_of(&inputs, seq.frames, seq.bodies)
    }

    /// Fused logits from each model's own input `(3, T, 25, M)` (already in its stream).
    pub fn logits_of(&self, inputs: &[Vec<f32>], t: usize, m: usize) -> Result<Vec<f32>> {
        let run = |i: usize| self.models[i].0.logits(&inputs[i], t, m);
        let each: Vec<Result<Vec<f32>>> = match &self.pool {
            Some(pool) => {
                use rayon::prelude::*;
                pool.install(|| (0..self.models.len()).into_par_iter().map(run).collect())
            }
            None => (0..self.models.len()).map(run).collect(),
        };
        let mut fused = vec![0.0; self.num_classes()];
        for (logits, (_, w)) in each.into_iter().zip(&self.models) {
            for (f, l) in fused.iter_mut().zip(logits?) {
                *f += w * l;
            }
        }
        Ok(fused)
    }
}

/// A class and its scores.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Ranked {
    /// 0-based class index.
    pub class: usize,
    /// NTU action id, `A001` for class 0.
    pub action: String,
    /// The class's name, when the model's classes are named.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Softmax of the fused logits.
    pub prob: f32,
    pub logit: f32,
}

/// The `k` best classes of `logits`, named from `names` when given.
pub fn top_k(logits: &[f32], k: usize, names: Option<&ClassNames>) -> Vec<Ranked> {
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
            name: names.and_then(|n| n.name(class)).map(String::from),
            prob: (logits[class] - max).exp() / sum,
            logit: logits[class],
        })
        .collect()
}

/// "the first names (wave, …)" or "no names", for errors.
fn describe_names(names: &Option<ClassNames>) -> String {
    match names {
        Some(n) => format!("{}, …", n.name(0).unwrap_or_default()),
        None => "no names".into(),
    }
}
