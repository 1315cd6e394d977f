//! The ST-GCN spatial-partition adjacency (docs/METHOD.md §3.1; ST-GCN's `graph.py` with
//! `strategy = "spatial"`, `max_hop = 1`, `dilation = 1`).
//!
//! Index convention: `a[k][v][w]` with `v` the *source* and `w` the *target* joint; the
//! graph product is `y[w] = Σ_v x[v] · a[k][v][w]`, so every target averages over itself
//! and its neighbours (column normalisation).

use crate::layout::Layout;

/// `K` stacked `V × V` matrices, row-major, `data[(k * V + v) * V + w]`.
#[derive(Debug, Clone, PartialEq)]
pub struct Adjacency {
    /// Number of partitions (3 for the spatial strategy).
    pub k: usize,
    /// Number of joints.
    pub v: usize,
    /// `k · v · v` values.
    pub data: Vec<f32>,
}

impl Adjacency {
    /// Entry `a[k][src][dst]`.
    pub fn get(&self, k: usize, src: usize, dst: usize) -> f32 {
        self.data[(k * self.v + src) * self.v + dst]
    }

    /// Non-zero entries of partition `k`.
    pub fn nonzeros(&self, k: usize) -> usize {
        let n = self.v * self.v;
        self.data[k * n..(k + 1) * n]
            .iter()
            .filter(|&&x| x != 0.0)
            .count()
    }

    /// The adjacency restricted to `keep` (ascending joint indices), rows and columns both,
    /// without re-normalising: the spatial mask of docs/METHOD.md §3.4 step 2.
    pub fn restrict(&self, keep: &[usize]) -> Adjacency {
        let v = keep.len();
        let mut data = Vec::with_capacity(self.k * v * v);
        for k in 0..self.k {
            for &src in keep {
                for &dst in keep {
                    data.push(self.get(k, src, dst));
                }
            }
        }
        Adjacency { k: self.k, v, data }
    }
}

/// Builds the three spatial-partition matrices A0 (self), A1 (root + centripetal) and
/// A2 (centrifugal) of `layout`. Hop distances beyond one are "infinite" (ST-GCN computes
/// them with `max_hop = 1`), and infinite distances compare equal.
pub fn spatial_adjacency(layout: &Layout) -> Adjacency {
    let v = layout.num_joints();
    let deg = layout.degrees();
    let hop = |a: usize, b: usize| layout.hop1(a, b).unwrap_or(usize::MAX);
    let mut data = vec![0.0f32; 3 * v * v];
    for src in 0..v {
        for dst in 0..v {
            let h = hop(src, dst);
            if h > 1 {
                continue;
            }
            let value = 1.0 / (deg[dst] as f32 + 1.0);
            let (d_src, d_dst) = (hop(src, layout.center), hop(dst, layout.center));
            let k = if h == 0 {
                0
            } else if d_src >= d_dst {
                1 // same distance to the centre ("root") or the source is further (centripetal)
            } else {
                2 // the source is closer to the centre (centrifugal)
            };
            data[(k * v + src) * v + dst] = value;
        }
    }
    Adjacency { k: 3, v, data }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::NTU25;

    #[test]
    fn partition_sizes_match_method_10() {
        let a = spatial_adjacency(&NTU25);
        assert_eq!((a.nonzeros(0), a.nonzeros(1), a.nonzeros(2)), (25, 40, 8));
    }

    #[test]
    fn every_column_sums_to_one() {
        let a = spatial_adjacency(&NTU25);
        for w in 0..25 {
            let s: f32 = (0..3)
                .flat_map(|k| (0..25).map(move |v| (k, v)))
                .map(|(k, v)| a.get(k, v, w))
                .sum();
            assert!((s - 1.0).abs() < 1e-6, "column {w} sums to {s}");
        }
    }

    #[test]
    fn a2_holds_exactly_the_eight_centrifugal_edges() {
        let a = spatial_adjacency(&NTU25);
        // (source → target), 1-based: 2→1, 3→4, 5→6, 9→10, 21→2, 21→3, 21→5, 21→9.
        let expected = [
            (2, 1),
            (3, 4),
            (5, 6),
            (9, 10),
            (21, 2),
            (21, 3),
            (21, 5),
            (21, 9),
        ];
        let deg = NTU25.degrees();
        for (s, t) in expected {
            let got = a.get(2, s - 1, t - 1);
            assert_eq!(got, 1.0 / (deg[t - 1] as f32 + 1.0), "A2[J{s}→J{t}]");
        }
        assert_eq!(a.nonzeros(2), expected.len());
    }

    #[test]
    fn diagonal_values() {
        let a = spatial_adjacency(&NTU25);
        assert_eq!(a.get(0, 20, 20), 0.2); // J21, degree 4
        assert_eq!(a.get(0, 3, 3), 0.5); // J4, degree 1
    }

    #[test]
    fn restrict_keeps_values_without_renormalising() {
        let a = spatial_adjacency(&NTU25);
        let keep: Vec<usize> = (0..25).filter(|j| ![3, 20].contains(j)).collect();
        let r = a.restrict(&keep);
        assert_eq!(r.v, 23);
        // J1 (index 0) keeps its self weight 1/4 even though J21 is gone.
        assert_eq!(r.get(0, 0, 0), 0.25);
        assert_eq!(r.get(1, 1, 0), a.get(1, 1, 0));
    }
}
