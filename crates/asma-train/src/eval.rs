//! Classification metrics from logits: top-1, top-5, mean-class and per-class accuracy, the
//! confusion matrix. Accuracies are exact sample accuracies (correct / samples), not PSTL's
//! mean of per-batch accuracies (docs/METHOD.md §7.2 notes the difference).

use std::path::Path;

use asma_skeleton::ClassNames;
use serde::Serialize;

use crate::error::TrainError;
use crate::svg::class_label;

/// Metrics of one evaluation.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Evaluation {
    pub samples: usize,
    pub top1: f64,
    /// Top-min(5, C).
    pub top5: f64,
    /// Mean over the classes present in the labels of the per-class top-1.
    pub mean_class: f64,
    /// Top-1 per class; `None` for a class without test samples.
    pub per_class: Vec<Option<f64>>,
    /// `confusion[true][predicted]` counts.
    #[serde(skip)]
    pub confusion: Vec<Vec<u64>>,
}

/// Metrics of `(N, C)` row-major `logits` against `labels` (each `< C`).
pub fn evaluate(logits: &[f32], num_classes: usize, labels: &[usize]) -> Evaluation {
    let c = num_classes;
    assert_eq!(logits.len(), labels.len() * c, "logits are (N, C)");
    let k = c.min(5);
    let mut confusion = vec![vec![0u64; c]; c];
    let (mut hit1, mut hit5) = (0usize, 0usize);
    for (row, &y) in logits.chunks_exact(c).zip(labels) {
        let pred = argmax(row);
        confusion[y][pred] += 1;
        hit1 += usize::from(pred == y);
        // Rank of the true class: classes scoring strictly higher (ties in its favour).
        let higher = row.iter().filter(|&&s| s > row[y]).count();
        hit5 += usize::from(higher < k);
    }
    let per_class: Vec<Option<f64>> = confusion
        .iter()
        .enumerate()
        .map(|(i, r)| {
            let n: u64 = r.iter().sum();
            (n > 0).then(|| r[i] as f64 / n as f64)
        })
        .collect();
    let present: Vec<f64> = per_class.iter().flatten().copied().collect();
    let n = labels.len().max(1) as f64;
    Evaluation {
        samples: labels.len(),
        top1: hit1 as f64 / n,
        top5: hit5 as f64 / n,
        mean_class: present.iter().sum::<f64>() / present.len().max(1) as f64,
        per_class,
        confusion,
    }
}

/// Index of the largest score (the first on ties, as `torch.argmax`).
pub fn argmax(row: &[f32]) -> usize {
    let mut best = 0;
    for (i, &s) in row.iter().enumerate() {
        if s > row[best] {
            best = i;
        }
    }
    best
}

impl Evaluation {
    /// The confusion matrix as CSV: a header of predicted classes, one row per true class,
    /// labelled by index, or by index and name when `names` are given.
    pub fn write_confusion_csv(
        &self,
        path: &Path,
        names: Option<&ClassNames>,
    ) -> Result<(), TrainError> {
        // A person reads this file: with names, each row and column says which action it is
        // (`"3 brushing hair"`, quoted as CSV wants).
        let label = |i: usize| match names {
            Some(_) => format!("\"{}\"", class_label(i, names).replace('"', "\"\"")),
            None => i.to_string(),
        };
        let c = self.confusion.len();
        let mut s = String::from("true\\predicted");
        for j in 0..c {
            s.push_str(&format!(",{}", label(j)));
        }
        s.push('\n');
        for (i, row) in self.confusion.iter().enumerate() {
            s.push_str(&label(i));
            for v in row {
                s.push_str(&format!(",{v}"));
            }
            s.push('\n');
        }
        Ok(asma_data::write_atomic(path, s.as_bytes())?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accuracies_and_confusion_on_a_hand_made_case() {
        // 4 samples, 6 classes.
        let logits = [
            // label 0, predicted 0
            5.0, 1.0, 0.0, 0.0, 0.0, 0.0, //
            // label 1, predicted 0, label ranked 2nd
            3.0, 2.0, 0.0, 0.0, 0.0, 0.0, //
            // label 2, predicted 2
            0.0, 0.0, 1.0, 0.0, 0.0, 0.0, //
            // label 5, ranked last: outside the top 5
            0.6, 0.5, 0.4, 0.3, 0.2, 0.1,
        ];
        let e = evaluate(&logits, 6, &[0, 1, 2, 5]);
        assert_eq!(e.samples, 4);
        assert_eq!(e.top1, 0.5);
        assert_eq!(e.top5, 0.75);
        assert_eq!(
            e.per_class,
            vec![Some(1.0), Some(0.0), Some(1.0), None, None, Some(0.0)]
        );
        assert_eq!(e.mean_class, 0.5);
        assert_eq!(e.confusion[1][0], 1);
        assert_eq!(e.confusion[5][0], 1);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("c.csv");
        e.write_confusion_csv(&p, None).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(text.starts_with("true\\predicted,0,1,2,3,4,5\n0,1,0,0,0,0,0\n1,1,0"));
        let names: Vec<String> = ["wave", "say \"hi\"", "c", "d", "e", "f"]
            .map(String::from)
            .to_vec();
        let names = ClassNames::new(names, 6, "test").unwrap();
        e.write_confusion_csv(&p, Some(&names)).unwrap();
        let text = std::fs::read_to_string(&p).unwrap();
        assert!(
            text.starts_with("true\\predicted,\"0 wave\",\"1 say \"\"hi\"\"\",\"2 c\","),
            "{text}"
        );
        assert!(
            text.contains("\n\"1 say \"\"hi\"\"\",1,0,0,0,0,0\n"),
            "{text}"
        );
    }

    #[test]
    fn top5_is_top_c_with_fewer_classes() {
        let e = evaluate(&[0.0, 1.0, 2.0], 3, &[0]);
        assert_eq!((e.top1, e.top5), (0.0, 1.0));
    }
}
