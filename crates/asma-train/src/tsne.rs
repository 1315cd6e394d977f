//! Exact t-SNE (van der Maaten & Hinton 2008) for the "teacher vs student features" figure.
//! In-house because the figure needs the exact method, deterministic for a seed at any thread
//! count, in f64, with no native library.
//!
//! O(n²) time and memory: the conditional probabilities are calibrated by a per-point binary
//! search on the Gaussian precision, symmetrised, and the 2-D map is found by gradient descent
//! with momentum, early exaggeration and per-parameter gains, as in the authors' reference
//! implementation. Everything is `f64` inside (the gradients of far-apart points are tiny sums
//! of many terms), and the result is identical for a fixed seed whatever the thread count:
//! each row's sums are serial, and rows are combined in order.

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// t-SNE settings; the defaults are those of the paper and of scikit-learn's exact method.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct TsneConfig {
    /// Effective number of neighbours of each point. 30 is the usual default (sklearn,
    /// bhtsne); the paper recommends 5–50 and finds the map robust within that range.
    pub perplexity: f64,
    /// Gradient-descent steps. 1000 as in the paper and sklearn: enough for the map to settle
    /// for a few thousand points.
    pub iterations: usize,
    /// Step size for the true KL gradient (with its factor 4). 200 is sklearn's long-standing
    /// default for the exact method; the paper's 100 was for a gradient without exaggeration.
    pub learning_rate: f64,
    /// Factor on P during the first phase, so that clusters form tight and far apart before
    /// the fine structure is fitted. 12 as in bhtsne and sklearn.
    pub early_exaggeration: f64,
    /// Length of the exaggeration phase; momentum also goes from 0.5 to 0.8 there. 250 as in
    /// bhtsne and sklearn.
    pub exaggeration_iterations: usize,
    /// Seed of the initial map, so that a figure can be redrawn identically.
    pub seed: u64,
}

impl Default for TsneConfig {
    fn default() -> Self {
        TsneConfig {
            perplexity: 30.0,
            iterations: 1000,
            learning_rate: 200.0,
            early_exaggeration: 12.0,
            exaggeration_iterations: 250,
            seed: 1,
        }
    }
}

/// Embeds the `n` rows of `x` (row-major, `d` columns) in 2-D.
pub fn tsne(x: &[f32], n: usize, d: usize, cfg: &TsneConfig) -> Result<Vec<[f32; 2]>, TrainError> {
    check(x, n, d, cfg)?;
    let p = joint_probabilities(x, n, d, cfg.perplexity);
    let y = descend(&p, n, cfg);
    if let Some(i) = y.iter().position(|r| !r.iter().all(|v| v.is_finite())) {
        return Err(TrainError::Config(format!(
            "t-SNE diverged (point {i} is not finite); lower the learning rate"
        )));
    }
    Ok(y.iter().map(|r| [r[0] as f32, r[1] as f32]).collect())
}

fn check(x: &[f32], n: usize, d: usize, cfg: &TsneConfig) -> Result<(), TrainError> {
    let err = |m: String| Err(TrainError::Config(format!("t-SNE: {m}")));
    if n < 2 {
        return err(format!("needs at least 2 points, got {n}"));
    }
    if n.checked_mul(d) != Some(x.len()) {
        return err(format!("{} values are not {n} rows of {d}", x.len()));
    }
    if d > 0 {
        if let Some(i) = x
            .chunks_exact(d)
            .position(|r| !r.iter().all(|v| v.is_finite()))
        {
            return err(format!("row {i} of the input has a non-finite value"));
        }
    }
    // sklearn's rule: at perplexity ≥ n even the uniform distribution is too narrow.
    if !(cfg.perplexity > 0.0 && cfg.perplexity < n as f64) {
        return err(format!(
            "perplexity {} must be positive and below the number of points ({n})",
            cfg.perplexity
        ));
    }
    if !(cfg.learning_rate.is_finite() && cfg.learning_rate > 0.0) {
        return err(format!(
            "learning rate {} must be positive",
            cfg.learning_rate
        ));
    }
    if !(cfg.early_exaggeration.is_finite() && cfg.early_exaggeration > 0.0) {
        return err(format!(
            "early exaggeration {} must be positive",
            cfg.early_exaggeration
        ));
    }
    Ok(())
}

/// The symmetrised P as a dense n×n matrix (zero diagonal, sums to 1).
fn joint_probabilities(x: &[f32], n: usize, d: usize, perplexity: f64) -> Vec<f64> {
    let mut p = vec![0f64; n * n];
    p.par_chunks_mut(n).enumerate().for_each(|(i, row)| {
        let xi = &x[i * d..(i + 1) * d];
        for (j, out) in row.iter_mut().enumerate() {
            let xj = &x[j * d..(j + 1) * d];
            *out = xi
                .iter()
                .zip(xj)
                .map(|(&a, &b)| (a as f64 - b as f64).powi(2))
                .sum();
        }
        // The row's squared distances are overwritten by P_j|i.
        let d2 = row.to_vec();
        conditional_row(&d2, i, perplexity, row);
    });
    // P_ij = (P_j|i + P_i|j) / 2n: every point then gets at least 1/2n of the mass, so
    // outliers still have a say in the map (the reason the paper symmetrises).
    let scale = 1.0 / (2.0 * n as f64);
    for i in 0..n {
        for j in i + 1..n {
            let s = (p[i * n + j] + p[j * n + i]) * scale;
            p[i * n + j] = s;
            p[j * n + i] = s;
        }
    }
    p
}

/// Writes P_j|i into `out` for the squared distances `d2` from point `skip` to every point:
/// a Gaussian whose precision β is binary-searched until the entropy (nats) is ln(perplexity)
/// within 1e-5, at most 50 steps (the reference implementation's rule). Returns the entropy
/// reached.
fn conditional_row(d2: &[f64], skip: usize, perplexity: f64, out: &mut [f64]) -> f64 {
    let target = perplexity.ln();
    // Distances relative to the nearest neighbour: P is unchanged, and the nearest term is
    // exp(0) = 1, so the sum never underflows however far apart the points are.
    let others = || {
        d2.iter()
            .enumerate()
            .filter(move |&(j, _)| j != skip)
            .map(|(_, &v)| v)
    };
    let min = others().fold(f64::INFINITY, f64::min);
    let mean = others().map(|v| v - min).sum::<f64>() / (d2.len() - 1) as f64;
    // Starting at the distance scale (the reference starts at β = 1) saves most of the
    // doubling/halving steps on features whose norms are far from 1.
    let mut beta = if mean > 0.0 { 1.0 / mean } else { 1.0 };
    let (mut lo, mut hi) = (0.0f64, f64::INFINITY);
    let mut entropy = 0.0;
    for _ in 0..50 {
        let (mut sum, mut dot) = (0.0, 0.0);
        for (j, (&v, o)) in d2.iter().zip(out.iter_mut()).enumerate() {
            *o = if j == skip {
                0.0
            } else {
                (-(v - min) * beta).exp()
            };
            sum += *o;
            dot += (v - min) * *o;
        }
        // H = ln Σp + β Σ d p / Σp for p = exp(-β d), unnormalised.
        entropy = sum.ln() + beta * dot / sum;
        out.iter_mut().for_each(|o| *o /= sum);
        let diff = entropy - target;
        if diff.abs() < 1e-5 {
            break;
        }
        // Too flat (entropy too high) → sharpen (raise β), and vice versa.
        if diff > 0.0 {
            lo = beta;
            beta = if hi.is_finite() {
                (beta + hi) / 2.0
            } else {
                beta * 2.0
            };
        } else {
            hi = beta;
            beta = (beta + lo) / 2.0;
        }
    }
    entropy
}

/// Gradient descent on KL(P‖Q) from a seeded N(0, 1e-4 I) start (the paper's initialisation).
fn descend(p: &[f64], n: usize, cfg: &TsneConfig) -> Vec<[f64; 2]> {
    let mut rng = SplitMix64(cfg.seed);
    let mut y: Vec<[f64; 2]> = (0..n)
        .map(|_| [rng.normal() * 1e-2, rng.normal() * 1e-2])
        .collect();
    let mut velocity = vec![[0f64; 2]; n];
    let mut gains = vec![[1f64; 2]; n];
    for it in 0..cfg.iterations {
        let early = it < cfg.exaggeration_iterations;
        let exaggeration = if early { cfg.early_exaggeration } else { 1.0 };
        let momentum = if early { 0.5 } else { 0.8 };
        // One pass per row gives, with w_ij = 1/(1+|y_i−y_j|²) and Z = Σ w:
        // ∂C/∂y_i = 4 Σ_j (P_ij − w_ij/Z) w_ij (y_i − y_j)
        //         = 4 (Σ P_ij w_ij Δ − (1/Z) Σ w_ij² Δ), so Q is never stored.
        let parts: Vec<([f64; 2], [f64; 2], f64)> = (0..n)
            .into_par_iter()
            .map(|i| {
                let (yi, prow) = (y[i], &p[i * n..(i + 1) * n]);
                let (mut attract, mut repel, mut z) = ([0f64; 2], [0f64; 2], 0.0);
                for (j, (yj, &pij)) in y.iter().zip(prow).enumerate() {
                    if j == i {
                        continue;
                    }
                    let dx = [yi[0] - yj[0], yi[1] - yj[1]];
                    let w = 1.0 / (1.0 + dx[0] * dx[0] + dx[1] * dx[1]);
                    z += w;
                    let (a, r) = (pij * w, w * w);
                    for k in 0..2 {
                        attract[k] += a * dx[k];
                        repel[k] += r * dx[k];
                    }
                }
                (attract, repel, z)
            })
            .collect();
        let z: f64 = parts.iter().map(|t| t.2).sum();
        for (i, (attract, repel, _)) in parts.iter().enumerate() {
            for k in 0..2 {
                let g = 4.0 * (exaggeration * attract[k] - repel[k] / z);
                // Gains (Jacobs 1988, as in the reference code): grow the step while the
                // gradient keeps pointing against the velocity, shrink it when it flips.
                gains[i][k] = if (g > 0.0) != (velocity[i][k] > 0.0) {
                    gains[i][k] + 0.2
                } else {
                    (gains[i][k] * 0.8).max(0.01)
                };
                velocity[i][k] = momentum * velocity[i][k] - cfg.learning_rate * gains[i][k] * g;
                y[i][k] += velocity[i][k];
            }
        }
        // The cost is translation-invariant; centring keeps the numbers from drifting.
        let mean = y.iter().fold([0.0; 2], |m, r| [m[0] + r[0], m[1] + r[1]]);
        y.iter_mut().for_each(|r| {
            r[0] -= mean[0] / n as f64;
            r[1] -= mean[1] / n as f64;
        });
    }
    y
}

/// splitmix64 (Steele et al.): a tiny, well-mixed generator, enough for a random start
/// without a new dependency.
struct SplitMix64(u64);

impl SplitMix64 {
    fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: 53 random bits, never 0 so that the logarithm below is finite.
    fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal by Box–Muller (one of the pair is dropped: simplicity over speed).
    fn normal(&mut self) -> f64 {
        let (u, v) = (self.uniform(), self.uniform());
        (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// `k` clusters of `m` points in `d` dims, centres 20 apart on the axes, unit noise.
    fn clusters(k: usize, m: usize, d: usize, seed: u64) -> (Vec<f32>, Vec<usize>) {
        let mut rng = SplitMix64(seed);
        let (mut x, mut labels) = (Vec::new(), Vec::new());
        for c in 0..k {
            for _ in 0..m {
                for j in 0..d {
                    let centre = if j == c { 20.0 } else { 0.0 };
                    x.push((centre + rng.normal()) as f32);
                }
                labels.push(c);
            }
        }
        (x, labels)
    }

    #[test]
    fn tsne_separates_three_gaussian_clusters() {
        let (x, labels) = clusters(3, 30, 10, 7);
        let y = tsne(&x, 90, 10, &TsneConfig::default()).unwrap();
        let nearest = |i: usize| {
            (0..y.len())
                .filter(|&j| j != i)
                .min_by(|&a, &b| {
                    let d = |j: usize| (y[i][0] - y[j][0]).powi(2) + (y[i][1] - y[j][1]).powi(2);
                    d(a).total_cmp(&d(b))
                })
                .unwrap()
        };
        let same = (0..90).filter(|&i| labels[nearest(i)] == labels[i]).count();
        assert!(
            same as f64 >= 0.95 * 90.0,
            "{same}/90 neighbours in the same cluster"
        );
        // And visibly apart: centroids farther from each other than 3× a cluster's spread
        // (a map without repulsion would pass the neighbour check by collapsing).
        let centroid = |c: usize| {
            let m = (0..90).filter(|&i| labels[i] == c).fold([0f32; 2], |a, i| {
                [a[0] + y[i][0] / 30.0, a[1] + y[i][1] / 30.0]
            });
            let spread = (0..90)
                .filter(|&i| labels[i] == c)
                .map(|i| ((y[i][0] - m[0]).powi(2) + (y[i][1] - m[1]).powi(2)).sqrt())
                .sum::<f32>()
                / 30.0;
            (m, spread)
        };
        let cs: Vec<_> = (0..3).map(centroid).collect();
        let spread = cs.iter().map(|c| c.1).fold(0f32, f32::max);
        for a in 0..3 {
            for b in 0..a {
                let (ma, mb) = (cs[a].0, cs[b].0);
                let gap = ((ma[0] - mb[0]).powi(2) + (ma[1] - mb[1]).powi(2)).sqrt();
                assert!(
                    gap > 3.0 * spread,
                    "clusters {a}, {b}: gap {gap}, spread {spread}"
                );
            }
        }
    }

    /// `cargo test --release -p asma-train tsne_3000 -- --ignored --nocapture`: the size of
    /// a figure (3000 points of 256-D features) must stay well under a minute.
    #[test]
    #[ignore]
    fn tsne_3000_points_timing() {
        let (x, _) = clusters(10, 300, 256, 1);
        let t = std::time::Instant::now();
        let y = tsne(&x, 3000, 256, &TsneConfig::default()).unwrap();
        eprintln!("t-SNE of 3000 × 256: {:.1} s", t.elapsed().as_secs_f64());
        assert_eq!(y.len(), 3000);
    }

    #[test]
    fn tsne_is_deterministic_for_a_seed() {
        let (x, _) = clusters(2, 10, 4, 3);
        let cfg = TsneConfig {
            perplexity: 5.0,
            iterations: 200,
            ..TsneConfig::default()
        };
        let a = tsne(&x, 20, 4, &cfg).unwrap();
        assert_eq!(a, tsne(&x, 20, 4, &cfg).unwrap());
        let other = tsne(&x, 20, 4, &TsneConfig { seed: 2, ..cfg }).unwrap();
        assert_ne!(a, other);
    }

    #[test]
    fn tsne_rejects_bad_input() {
        let cfg = TsneConfig {
            perplexity: 1.5,
            ..TsneConfig::default()
        };
        let msg = |r: Result<Vec<[f32; 2]>, TrainError>| r.unwrap_err().to_string();
        assert!(msg(tsne(&[1.0, 2.0], 1, 2, &cfg)).contains("at least 2 points"));
        assert!(msg(tsne(&[1.0, 2.0, 3.0], 2, 2, &cfg)).contains("not 2 rows of 2"));
        let nan = [0.0, 1.0, 2.0, f32::NAN, 1.0, 1.0];
        assert!(msg(tsne(&nan, 3, 2, &cfg)).contains("row 1"));
        let x = [0.0, 1.0, 2.0, 3.0, 4.0, 5.0];
        let high = TsneConfig {
            perplexity: 3.0,
            ..TsneConfig::default()
        };
        assert!(msg(tsne(&x, 3, 2, &high)).contains("perplexity 3"));
        assert!(tsne(&x, 3, 2, &cfg).is_ok());
    }

    #[test]
    fn tsne_calibrates_each_row_to_the_perplexity() {
        let mut rng = SplitMix64(11);
        let (n, d) = (60, 5);
        // Widely varying scales: the search must work for dense and sparse rows alike.
        let x: Vec<f64> = (0..n * d)
            .map(|k| rng.normal() * if k / d % 2 == 0 { 0.01 } else { 100.0 })
            .collect();
        for perplexity in [2.0, 10.0, 30.0] {
            for i in 0..n {
                let d2: Vec<f64> = (0..n)
                    .map(|j| (0..d).map(|k| (x[i * d + k] - x[j * d + k]).powi(2)).sum())
                    .collect();
                let mut row = vec![0.0; n];
                conditional_row(&d2, i, perplexity, &mut row);
                assert_eq!(row[i], 0.0);
                assert!((row.iter().sum::<f64>() - 1.0).abs() < 1e-12);
                let h: f64 = row.iter().filter(|&&p| p > 0.0).map(|p| -p * p.ln()).sum();
                assert!(
                    (h - perplexity.ln()).abs() < 1e-3,
                    "row {i}, perplexity {perplexity}: entropy {h}"
                );
            }
        }
    }

    #[test]
    fn tsne_joint_probabilities_are_symmetric_and_sum_to_one() {
        let (x, _) = clusters(2, 8, 3, 5);
        let p = joint_probabilities(&x, 16, 3, 4.0);
        assert!((p.iter().sum::<f64>() - 1.0).abs() < 1e-9);
        for i in 0..16 {
            assert_eq!(p[i * 16 + i], 0.0);
            for j in 0..16 {
                assert_eq!(p[i * 16 + j], p[j * 16 + i]);
            }
        }
    }
}
