//! Per-sample score files and their fusion (docs/METHOD.md §7.5).
//!
//! Every evaluation writes `scores_*.csv`: a header `sample,label,score_0,…,score_{C−1}`, then
//! one row per test sample with its name (e.g. `S001C001P001R001A001`), its label and its raw
//! logits. Keyed by name, so the streams of one benchmark fuse whatever order they were
//! written in; [`fuse`] refuses files whose sample sets or labels differ.

use std::collections::HashMap;
use std::path::Path;

use crate::error::TrainError;
use crate::eval::{evaluate, Evaluation};

/// Raw logits of a set of named samples.
#[derive(Debug, Clone, PartialEq)]
pub struct Scores {
    pub names: Vec<String>,
    pub labels: Vec<usize>,
    pub num_classes: usize,
    /// `(N, C)` row-major.
    pub logits: Vec<f32>,
}

impl Scores {
    /// The metrics of these scores.
    pub fn evaluate(&self) -> Evaluation {
        evaluate(&self.logits, self.num_classes, &self.labels)
    }

    /// Writes the CSV (atomically).
    pub fn write_csv(&self, path: &Path) -> Result<(), TrainError> {
        let c = self.num_classes;
        let mut s = String::from("sample,label");
        for j in 0..c {
            s.push_str(&format!(",score_{j}"));
        }
        s.push('\n');
        for ((name, label), row) in self
            .names
            .iter()
            .zip(&self.labels)
            .zip(self.logits.chunks_exact(c))
        {
            s.push_str(&format!("{name},{label}"));
            for v in row {
                // Shortest representation that reads back to the same f32.
                s.push_str(&format!(",{v}"));
            }
            s.push('\n');
        }
        Ok(asma_data::write_atomic(path, s.as_bytes())?)
    }

    /// Reads a CSV written by [`Scores::write_csv`]; errors name the file and line.
    pub fn read_csv(path: &Path) -> Result<Scores, TrainError> {
        let text = std::fs::read_to_string(path).map_err(|e| TrainError::io(path, e))?;
        let bad = |line: usize, msg: String| TrainError::Scores {
            path: path.to_path_buf(),
            msg: format!("line {line}: {msg}"),
        };
        let mut lines = text.lines();
        let header = lines.next().ok_or_else(|| bad(1, "empty file".into()))?;
        let cols: Vec<&str> = header.split(',').collect();
        if cols.len() < 3 || cols[0] != "sample" || cols[1] != "label" {
            return Err(bad(
                1,
                "not a score file (expected the header `sample,label,score_0,…`)".into(),
            ));
        }
        let c = cols.len() - 2;
        let mut out = Scores {
            names: Vec::new(),
            labels: Vec::new(),
            num_classes: c,
            logits: Vec::new(),
        };
        for (i, line) in lines.enumerate() {
            let n = i + 2;
            if line.is_empty() {
                continue;
            }
            let f: Vec<&str> = line.split(',').collect();
            if f.len() != c + 2 {
                return Err(bad(
                    n,
                    format!("{} fields, the header has {}", f.len(), c + 2),
                ));
            }
            let label: usize = f[1]
                .parse()
                .map_err(|_| bad(n, format!("label '{}' is not a class index", f[1])))?;
            if label >= c {
                return Err(bad(n, format!("label {label} but only {c} classes")));
            }
            for v in &f[2..] {
                let x: f32 = v
                    .parse()
                    .map_err(|_| bad(n, format!("score '{v}' is not a number")))?;
                if !x.is_finite() {
                    return Err(bad(n, format!("score {x} is not finite")));
                }
                out.logits.push(x);
            }
            out.names.push(f[0].to_string());
            out.labels.push(label);
        }
        if out.names.is_empty() {
            return Err(bad(2, "no samples".into()));
        }
        Ok(out)
    }
}

/// `Σ w_i · s_i` per sample, in the sample order of the first file. Every file must hold the
/// same samples with the same labels and class count.
pub fn fuse(parts: &[(&Path, &Scores, f64)]) -> Result<Scores, TrainError> {
    let (first_path, first, _) = parts
        .first()
        .ok_or_else(|| TrainError::Config("nothing to fuse".into()))?;
    let c = first.num_classes;
    let mut out = Scores {
        names: first.names.clone(),
        labels: first.labels.clone(),
        num_classes: c,
        logits: vec![0.0; first.logits.len()],
    };
    let position: HashMap<&str, usize> = first
        .names
        .iter()
        .enumerate()
        .map(|(i, n)| (n.as_str(), i))
        .collect();
    if position.len() != first.names.len() {
        return Err(TrainError::Scores {
            path: first_path.to_path_buf(),
            msg: "a sample name appears twice".into(),
        });
    }
    for (path, s, w) in parts {
        let err = |msg: String| TrainError::Scores {
            path: path.to_path_buf(),
            msg,
        };
        if s.num_classes != c {
            return Err(err(format!(
                "{} classes, {} has {c}",
                s.num_classes,
                first_path.display()
            )));
        }
        let mut seen = vec![false; first.names.len()];
        let mut extra = Vec::new();
        for (k, name) in s.names.iter().enumerate() {
            let Some(&i) = position.get(name.as_str()) else {
                extra.push(name.as_str());
                continue;
            };
            if s.labels[k] != first.labels[i] {
                return Err(err(format!(
                    "sample {name} has label {}, {} says {}",
                    s.labels[k],
                    first_path.display(),
                    first.labels[i]
                )));
            }
            seen[i] = true;
            for j in 0..c {
                out.logits[i * c + j] += (*w as f32) * s.logits[k * c + j];
            }
        }
        let missing: Vec<&str> = first
            .names
            .iter()
            .zip(&seen)
            .filter(|(_, &s)| !s)
            .map(|(n, _)| n.as_str())
            .collect();
        if !missing.is_empty() || !extra.is_empty() {
            return Err(err(format!(
                "the sample sets differ from {}: {} missing ({}), {} not in it ({})",
                first_path.display(),
                missing.len(),
                preview(&missing),
                extra.len(),
                preview(&extra)
            )));
        }
    }
    Ok(out)
}

fn preview(names: &[&str]) -> String {
    let mut v: Vec<&str> = names.iter().take(3).copied().collect();
    if names.len() > 3 {
        v.push("…");
    }
    v.join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scores(names: &[&str], labels: &[usize], logits: &[f32]) -> Scores {
        Scores {
            names: names.iter().map(|s| s.to_string()).collect(),
            labels: labels.to_vec(),
            num_classes: 2,
            logits: logits.to_vec(),
        }
    }

    #[test]
    fn csv_round_trips_exactly() {
        let s = scores(&["A", "B"], &[0, 1], &[0.1, -3.25e-7, 1.0 / 3.0, 7.5]);
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        s.write_csv(&p).unwrap();
        assert_eq!(Scores::read_csv(&p).unwrap(), s);
    }

    #[test]
    fn bad_rows_are_reported_with_their_line() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("s.csv");
        for (body, want) in [
            (
                "sample,label,score_0,score_1\nA,0,1.0\n",
                "line 2: 3 fields",
            ),
            (
                "sample,label,score_0,score_1\nA,0,1,2\nB,2,1,2\n",
                "line 3: label 2",
            ),
            ("sample,label,score_0,score_1\nA,0,NaN,2\n", "not finite"),
            ("name,x\n", "not a score file"),
        ] {
            std::fs::write(&p, body).unwrap();
            let e = Scores::read_csv(&p).unwrap_err().to_string();
            assert!(e.contains(want) && e.contains("s.csv"), "{e}");
        }
    }

    #[test]
    fn fusion_is_weighted_by_name_and_refuses_other_sample_sets() {
        let a = scores(&["A", "B"], &[0, 1], &[1.0, 0.0, 0.0, 1.0]);
        // Same samples in another order.
        let b = scores(&["B", "A"], &[1, 0], &[2.0, 0.0, 0.0, 2.0]);
        let (pa, pb) = (Path::new("a.csv"), Path::new("b.csv"));
        let f = fuse(&[(pa, &a, 0.5), (pb, &b, 1.0)]).unwrap();
        assert_eq!(f.names, vec!["A", "B"]);
        assert_eq!(f.logits, vec![0.5, 2.0, 2.0, 0.5]);
        assert_eq!(f.evaluate().top1, 0.0);

        let missing = scores(&["A", "C"], &[0, 1], &[1.0, 0.0, 0.0, 1.0]);
        let e = fuse(&[(pa, &a, 1.0), (Path::new("m.csv"), &missing, 1.0)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("m.csv") && e.contains("1 missing (B)") && e.contains("(C)"),
            "{e}"
        );
        let relabelled = scores(&["A", "B"], &[1, 1], &[1.0, 0.0, 0.0, 1.0]);
        assert!(fuse(&[(pa, &a, 1.0), (pb, &relabelled, 1.0)]).is_err());
    }
}
