//! Collapse and learning diagnostics of frozen features, cheap enough to run at every k-NN
//! evaluation: the spread of the L2-normalised features (mean per-dimension standard
//! deviation: 0 when every sample maps to the same direction, the complete collapse) and
//! their effective rank (RankMe, Garrido et al., ICML 2023: `exp` of the entropy of the
//! normalised singular values; 1 when the features span one direction, up to the dimension
//! when they use every direction equally — the dimensional collapse Barlow Twins prevents).

use serde::Serialize;

use crate::knn::normalise;

/// The diagnostics of one encoder's features on a split.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct FeatureDiagnostics {
    /// Mean over dimensions of the standard deviation over samples, of L2-normalised rows.
    pub spread: f64,
    /// RankMe effective rank of the L2-normalised `(N, D)` feature matrix.
    pub effective_rank: f64,
}

impl FeatureDiagnostics {
    /// Both diagnostics of `rows` (`N` rows of `D` values).
    pub fn of(rows: &[Vec<f32>]) -> FeatureDiagnostics {
        let mut rows = rows.to_vec();
        normalise(&mut rows);
        FeatureDiagnostics {
            spread: spread(&rows),
            effective_rank: effective_rank(&rows),
        }
    }
}

fn spread(rows: &[Vec<f32>]) -> f64 {
    let (n, d) = (rows.len(), rows.first().map_or(0, Vec::len));
    if n == 0 || d == 0 {
        return 0.0;
    }
    let mut total = 0.0;
    for j in 0..d {
        let mean = rows.iter().map(|r| r[j] as f64).sum::<f64>() / n as f64;
        let var = rows
            .iter()
            .map(|r| (r[j] as f64 - mean).powi(2))
            .sum::<f64>()
            / n as f64;
        total += var.sqrt();
    }
    total / d as f64
}

/// `exp(−Σ p_k ln p_k)`, `p_k = σ_k / Σ σ`, from the eigenvalues of the Gram matrix `XᵀX`
/// (`σ_k²`).
fn effective_rank(rows: &[Vec<f32>]) -> f64 {
    let d = rows.first().map_or(0, Vec::len);
    if d == 0 {
        return 0.0;
    }
    let mut gram = vec![0f64; d * d];
    for r in rows {
        for i in 0..d {
            let ri = r[i] as f64;
            for j in i..d {
                gram[i * d + j] += ri * r[j] as f64;
            }
        }
    }
    for i in 0..d {
        for j in 0..i {
            gram[i * d + j] = gram[j * d + i];
        }
    }
    let eigen = symmetric_eigenvalues(gram, d);
    // Eigenvalues below 1e-12 of the largest are the f32 rounding of the features, not
    // directions they use.
    let floor = 1e-12 * eigen.iter().cloned().fold(0.0, f64::max);
    let sigma: Vec<f64> = eigen
        .into_iter()
        .map(|l| if l > floor { l.sqrt() } else { 0.0 })
        .collect();
    let total: f64 = sigma.iter().sum();
    if total <= 0.0 {
        return 0.0;
    }
    let entropy: f64 = sigma
        .iter()
        .map(|s| s / total)
        .filter(|&p| p > 0.0)
        .map(|p| -p * p.ln())
        .sum();
    entropy.exp()
}

/// Eigenvalues of the symmetric `d × d` matrix `a` (row-major) by cyclic Jacobi rotations,
/// until the off-diagonal mass is below 1e-12 of the total (a few sweeps for `d` = 256).
fn symmetric_eigenvalues(mut a: Vec<f64>, d: usize) -> Vec<f64> {
    let norm: f64 = a.iter().map(|x| x * x).sum();
    for _sweep in 0..60 {
        let off: f64 = (0..d)
            .flat_map(|i| (0..d).filter(move |&j| j != i).map(move |j| (i, j)))
            .map(|(i, j)| a[i * d + j].powi(2))
            .sum();
        if off <= 1e-24 * norm.max(1e-300) {
            break;
        }
        for p in 0..d {
            for q in p + 1..d {
                let apq = a[p * d + q];
                if apq == 0.0 {
                    continue;
                }
                let (app, aqq) = (a[p * d + p], a[q * d + q]);
                let theta = (aqq - app) / (2.0 * apq);
                let sign = if theta >= 0.0 { 1.0 } else { -1.0 };
                let t = sign / (theta.abs() + (theta * theta + 1.0).sqrt());
                let c = 1.0 / (t * t + 1.0).sqrt();
                let s = t * c;
                // A ← Jᵀ A J on rows/columns p and q.
                for k in 0..d {
                    let (akp, akq) = (a[k * d + p], a[k * d + q]);
                    a[k * d + p] = c * akp - s * akq;
                    a[k * d + q] = s * akp + c * akq;
                }
                for k in 0..d {
                    let (apk, aqk) = (a[p * d + k], a[q * d + k]);
                    a[p * d + k] = c * apk - s * aqk;
                    a[q * d + k] = s * apk + c * aqk;
                }
            }
        }
    }
    (0..d).map(|i| a[i * d + i]).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jacobi_finds_known_eigenvalues() {
        // [[2,1,0],[1,2,0],[0,0,5]]: eigenvalues 1, 3, 5.
        let a = vec![2.0, 1.0, 0.0, 1.0, 2.0, 0.0, 0.0, 0.0, 5.0];
        let mut ev = symmetric_eigenvalues(a, 3);
        ev.sort_by(f64::total_cmp);
        for (got, want) in ev.iter().zip([1.0, 3.0, 5.0]) {
            assert!((got - want).abs() < 1e-9, "{ev:?}");
        }
        // A random symmetric matrix: the eigenvalues keep its trace and Frobenius norm.
        let mut rng = asma_data::rng::Rng::new(5);
        let d = 12;
        let mut m = vec![0f64; d * d];
        for i in 0..d {
            for j in i..d {
                let x = rng.normal();
                m[i * d + j] = x;
                m[j * d + i] = x;
            }
        }
        let trace: f64 = (0..d).map(|i| m[i * d + i]).sum();
        let frob: f64 = m.iter().map(|x| x * x).sum();
        let ev = symmetric_eigenvalues(m, d);
        assert!((ev.iter().sum::<f64>() - trace).abs() < 1e-9);
        assert!((ev.iter().map(|x| x * x).sum::<f64>() - frob).abs() < 1e-8);
    }

    #[test]
    fn collapsed_features_score_rank_one_and_no_spread_and_spread_ones_score_high() {
        let mut rng = asma_data::rng::Rng::new(9);
        let d = 16;
        // Every sample the same direction, scaled: complete collapse.
        let base: Vec<f32> = (0..d).map(|_| rng.normal() as f32).collect();
        let collapsed: Vec<Vec<f32>> = (1..50)
            .map(|k| base.iter().map(|x| x * k as f32).collect())
            .collect();
        let c = FeatureDiagnostics::of(&collapsed);
        assert!(c.spread < 1e-6, "{c:?}");
        assert!((c.effective_rank - 1.0).abs() < 1e-6, "{c:?}");
        // Isotropic Gaussian rows: close to full rank.
        let iso: Vec<Vec<f32>> = (0..2000)
            .map(|_| (0..d).map(|_| rng.normal() as f32).collect())
            .collect();
        let g = FeatureDiagnostics::of(&iso);
        assert!(g.effective_rank > 0.95 * d as f64, "{g:?}");
        // Unit rows in 16-d: per-dimension std ≈ 1/4.
        assert!((g.spread - 0.25).abs() < 0.02, "{g:?}");
        // Two directions only: effective rank ≈ 2.
        let two: Vec<Vec<f32>> = (0..400)
            .map(|i| (0..d).map(|j| ((j == i % 2) as u8) as f32).collect())
            .collect();
        assert!((FeatureDiagnostics::of(&two).effective_rank - 2.0).abs() < 1e-6);
    }
}
