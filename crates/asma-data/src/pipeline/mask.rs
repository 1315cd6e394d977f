//! The masking operators of ASMa (docs/METHOD.md §5.2) and its ablation (§5.3), which include
//! PSTL's CSM and MATM (§4.1, §4.2) as `High` variants.
//!
//! The operators only *choose*: joint operators return the joints to remove and to keep,
//! frame operators the frames to keep per sample. Removing the joints from the graph is
//! the encoder's business; [`gather_frames`] and [`gather_joints`] cut the buffer.
//!
//! Granularity follows PSTL: one joint set per mini-batch; for frames, a per-sample motion
//! ranking followed by one random choice of positions per mini-batch.

use std::str::FromStr;

use serde::{Deserialize, Serialize};

use crate::error::{DataError, Result};
use crate::pipeline::stream::BatchShape;
use crate::rng::Rng;

/// Mask sizes (PSTL's `mask_joint` and `mask_frame`, and the frames the encoder sees).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct MaskConfig {
    /// Entries drawn from the joint multiset (or distinct joints for `Random`): 8.
    pub mask_joints: usize,
    /// Frames dropped by the motion ranking: 10.
    pub mask_frames: usize,
    /// Frames kept after the random stage: 30.
    pub keep_frames: usize,
}

impl Default for MaskConfig {
    fn default() -> Self {
        MaskConfig {
            mask_joints: 8,
            mask_frames: 10,
            keep_frames: 30,
        }
    }
}

/// Spatial masking operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum JointMask {
    /// HighDegJoint = PSTL's CSM: draws weighted by degree, favouring the torso.
    High,
    /// LowDegJoint: draws weighted by 1/degree, favouring hands and feet.
    Low,
    /// RandomJoint: distinct joints drawn uniformly.
    Random,
    /// No spatial masking.
    None,
}

/// Temporal masking operator.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum FrameMask {
    /// HighMotionFrame = PSTL's MATM: drop the highest-motion frames, then a random subset.
    High,
    /// LowMotionFrame: drop the lowest-motion frames, then a random subset.
    Low,
    /// RandomFrame: a uniformly random subset of all frames.
    Random,
    /// No temporal masking.
    None,
}

/// Parses the lower-case config names shared by both mask enums.
fn parse_mask_name(kind: &str, s: &str) -> Result<usize> {
    match s.to_ascii_lowercase().as_str() {
        "high" => Ok(0),
        "low" => Ok(1),
        "random" => Ok(2),
        "none" => Ok(3),
        _ => Err(DataError::Config(format!(
            "unknown {kind} mask '{s}' (expected high, low, random or none)"
        ))),
    }
}

impl FromStr for JointMask {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        Ok([
            JointMask::High,
            JointMask::Low,
            JointMask::Random,
            JointMask::None,
        ][parse_mask_name("joint", s)?])
    }
}

impl FromStr for FrameMask {
    type Err = DataError;
    fn from_str(s: &str) -> Result<Self> {
        Ok([
            FrameMask::High,
            FrameMask::Low,
            FrameMask::Random,
            FrameMask::None,
        ][parse_mask_name("frame", s)?])
    }
}

/// The outcome of a joint operator: a partition of `0..V` into two sorted lists.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct JointSelection {
    /// Joints to remove, sorted, distinct.
    pub removed: Vec<usize>,
    /// The other joints, sorted.
    pub kept: Vec<usize>,
}

impl JointSelection {
    /// The partition for `removed` (any order, repeats allowed) among `num_joints`.
    pub fn from_removed(mut removed: Vec<usize>, num_joints: usize) -> Self {
        removed.sort_unstable();
        removed.dedup();
        let kept = (0..num_joints)
            .filter(|j| removed.binary_search(j).is_err())
            .collect();
        JointSelection { removed, kept }
    }
}

impl JointMask {
    /// Draws the joint set of one mini-batch.
    ///
    /// * `degrees`: graph degree of each joint (`NTU25.degrees()`), which also gives `V`.
    /// * `cfg.mask_joints`: draws from the multiset (`High`, `Low`) or distinct joints
    ///   (`Random`). `None` draws nothing and removes nothing.
    pub fn select(
        self,
        degrees: &[usize],
        cfg: &MaskConfig,
        rng: &mut Rng,
    ) -> Result<JointSelection> {
        let removed = match self {
            JointMask::High => high_degree_joints(degrees, cfg.mask_joints, rng)?,
            JointMask::Low => low_degree_joints(degrees, cfg.mask_joints, rng)?,
            JointMask::Random => random_joints(degrees.len(), cfg.mask_joints, rng)?,
            JointMask::None => Vec::new(),
        };
        Ok(JointSelection::from_removed(removed, degrees.len()))
    }
}

/// PSTL's CSM multiset: joint `i` appears `deg(i)` times (48 entries for NTU-25).
pub fn degree_multiset(degrees: &[usize]) -> Vec<usize> {
    degrees
        .iter()
        .enumerate()
        .flat_map(|(j, &d)| std::iter::repeat_n(j, d))
        .collect()
}

/// The mirrored multiset: joint `i` appears `L / deg(i)` times with `L` the least common
/// multiple of the degrees, i.e. weight ∝ 1/degree (for NTU-25 `L = 12`: 12, 6, 4 and 3
/// copies for degrees 1–4, 175 entries). A joint of degree 0 has no finite weight.
pub fn inverse_degree_multiset(degrees: &[usize]) -> Result<Vec<usize>> {
    if let Some(j) = degrees.iter().position(|&d| d == 0) {
        return Err(DataError::Config(format!(
            "inverse-degree masking: joint {j} has degree 0"
        )));
    }
    let lcm = degrees.iter().fold(1, |l, &d| l / gcd(l, d) * d);
    Ok(degrees
        .iter()
        .enumerate()
        .flat_map(|(j, &d)| std::iter::repeat_n(j, lcm / d))
        .collect())
}

fn gcd(a: usize, b: usize) -> usize {
    if b == 0 {
        a
    } else {
        gcd(b, a % b)
    }
}

/// `draws` entries of `multiset` without replacement of entries; returns the distinct
/// joints drawn, sorted (1 to `draws` of them).
fn draw_from_multiset(multiset: &[usize], draws: usize, rng: &mut Rng) -> Result<Vec<usize>> {
    if draws > multiset.len() {
        return Err(DataError::Config(format!(
            "cannot draw {draws} entries from a multiset of {}",
            multiset.len()
        )));
    }
    let mut joints: Vec<usize> = rng
        .sample_indices(multiset.len(), draws)
        .into_iter()
        .map(|e| multiset[e])
        .collect();
    joints.sort_unstable();
    joints.dedup();
    Ok(joints)
}

/// HighDegJoint (PSTL CSM, docs/METHOD.md §4.1): `draws` entries of [`degree_multiset`],
/// distinct joints, sorted.
pub fn high_degree_joints(degrees: &[usize], draws: usize, rng: &mut Rng) -> Result<Vec<usize>> {
    draw_from_multiset(&degree_multiset(degrees), draws, rng)
}

/// LowDegJoint (docs/METHOD.md §5.2): `draws` entries of [`inverse_degree_multiset`], distinct
/// joints, sorted.
pub fn low_degree_joints(degrees: &[usize], draws: usize, rng: &mut Rng) -> Result<Vec<usize>> {
    draw_from_multiset(&inverse_degree_multiset(degrees)?, draws, rng)
}

/// RandomJoint (docs/METHOD.md §5.3): `count` distinct joints of `0..num_joints`, uniformly,
/// sorted.
pub fn random_joints(num_joints: usize, count: usize, rng: &mut Rng) -> Result<Vec<usize>> {
    if count > num_joints {
        return Err(DataError::Config(format!(
            "cannot mask {count} of {num_joints} joints"
        )));
    }
    let mut joints = rng.sample_indices(num_joints, count);
    joints.sort_unstable();
    Ok(joints)
}

/// Which end of the motion ranking a motion-aware frame operator drops.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MotionEnd {
    /// Drop the highest-motion frames (MATM).
    Highest,
    /// Drop the lowest-motion frames (LowMotionFrame).
    Lowest,
}

/// Motion energy `e[n, t] = mean over (c, v, m) of d²` with `d[t] = x[t+1] − x[t]` and
/// `d[T−1] = 0`. PSTL's score is `a = −e`.
///
/// * `data`: `(N, C, T, V, M)`, whatever stream is being trained.
/// * returns: `(N, T)` row-major.
pub fn motion_energy(shape: &BatchShape, data: &[f32]) -> Vec<f64> {
    shape.assert_len(data.len());
    let (t_len, fl) = (shape.t, shape.frame_len());
    let mut energy = vec![0.0f64; shape.n * t_len];
    if t_len < 2 || fl == 0 {
        return energy;
    }
    for (n, sample) in data.chunks_exact(shape.sample_len()).enumerate() {
        let row = &mut energy[n * t_len..(n + 1) * t_len];
        for slab in sample.chunks_exact(shape.channel_len()) {
            for (t, e) in row.iter_mut().take(t_len - 1).enumerate() {
                let now = &slab[t * fl..(t + 1) * fl];
                let next = &slab[(t + 1) * fl..(t + 2) * fl];
                // Difference in f32 as the reference computes it, sum in f64.
                *e += now
                    .iter()
                    .zip(next)
                    .map(|(a, b)| f64::from(b - a).powi(2))
                    .sum::<f64>();
            }
        }
        let count = (shape.c * fl) as f64;
        row.iter_mut().for_each(|e| *e /= count);
    }
    energy
}

/// The deterministic stage of the motion-aware operators: per sample, drop the `drop`
/// frames at the `end` of the motion ranking and return the other `T − drop` frames in time
/// order. Equal energies rank by frame index, lower first, for either end.
///
/// * `data`: `(N, C, T, V, M)`; returns `N` lists of `T − drop` frame indices.
///
/// # Panics
/// If `drop > T` or `data` does not match `shape`.
pub fn motion_ranked_frames(
    shape: &BatchShape,
    data: &[f32],
    drop: usize,
    end: MotionEnd,
) -> Vec<Vec<usize>> {
    assert!(drop <= shape.t, "cannot drop {drop} of {} frames", shape.t);
    let energy = motion_energy(shape, data);
    let keep = shape.t - drop;
    energy
        .chunks_exact(shape.t.max(1))
        .take(shape.n)
        .map(|row| {
            // Order frames from most to least wanted; the stable sort keeps ties in index
            // order, so the lower frame index wins a tie.
            let mut order: Vec<usize> = (0..shape.t).collect();
            match end {
                MotionEnd::Highest => order.sort_by(|&a, &b| row[a].total_cmp(&row[b])),
                MotionEnd::Lowest => order.sort_by(|&a, &b| row[b].total_cmp(&row[a])),
            }
            order.truncate(keep);
            order.sort_unstable();
            order
        })
        .collect()
}

impl FrameMask {
    /// Chooses the frames each sample keeps.
    ///
    /// * `data`: `(N, C, T, V, M)` of the stream being trained (after augmentation); read
    ///   only by `High` and `Low`.
    /// * returns: `N` sorted lists of kept frame indices, `cfg.keep_frames` each (`T` for
    ///   `None`).
    ///
    /// `High`/`Low`: per-sample ranking ([`motion_ranked_frames`], dropping
    /// `cfg.mask_frames`), then one draw per batch of `keep_frames` of the `T −
    /// mask_frames` *positions*, applied to every sample's list. `Random`: one draw per
    /// batch of `keep_frames` of the `T` frames. `None` draws nothing.
    pub fn select(
        self,
        shape: &BatchShape,
        data: &[f32],
        cfg: &MaskConfig,
        rng: &mut Rng,
    ) -> Result<Vec<Vec<usize>>> {
        shape.assert_len(data.len());
        let t = shape.t;
        let end = match self {
            FrameMask::None => return Ok(vec![(0..t).collect(); shape.n]),
            FrameMask::Random => {
                let frames = random_subset(t, cfg.keep_frames, rng)?;
                return Ok(vec![frames; shape.n]);
            }
            FrameMask::High => MotionEnd::Highest,
            FrameMask::Low => MotionEnd::Lowest,
        };
        if cfg.mask_frames > t {
            return Err(DataError::Config(format!(
                "cannot drop {} of {t} frames",
                cfg.mask_frames
            )));
        }
        // Validate before ranking so a bad config costs nothing.
        let positions = random_subset(t - cfg.mask_frames, cfg.keep_frames, rng)?;
        let ranked = motion_ranked_frames(shape, data, cfg.mask_frames, end);
        // Both lists are sorted, so picking sorted positions keeps time order.
        Ok(ranked
            .into_iter()
            .map(|frames| positions.iter().map(|&p| frames[p]).collect())
            .collect())
    }
}

/// `k` distinct sorted indices of `0..n`, uniformly.
fn random_subset(n: usize, k: usize, rng: &mut Rng) -> Result<Vec<usize>> {
    if k > n {
        return Err(DataError::Config(format!("cannot keep {k} of {n} frames")));
    }
    let mut idx = rng.sample_indices(n, k);
    idx.sort_unstable();
    Ok(idx)
}

/// Keeps, for each sample `n`, the frames `frames[n]` in the given order.
///
/// * `data`: `(N, C, T, V, M)`; `frames`: `N` lists of one common length `K`.
/// * returns: the shape `(N, C, K, V, M)` and its buffer.
pub fn gather_frames(
    shape: &BatchShape,
    data: &[f32],
    frames: &[Vec<usize>],
) -> Result<(BatchShape, Vec<f32>)> {
    shape.assert_len(data.len());
    if frames.len() != shape.n {
        return Err(DataError::Config(format!(
            "{} frame lists for {} samples",
            frames.len(),
            shape.n
        )));
    }
    let k = frames.first().map_or(0, Vec::len);
    if let Some(bad) = frames.iter().find(|f| f.len() != k) {
        return Err(DataError::Config(format!(
            "frame lists differ in length ({k} and {})",
            bad.len()
        )));
    }
    if let Some(&f) = frames.iter().flatten().find(|&&f| f >= shape.t) {
        return Err(DataError::Config(format!(
            "frame {f} out of range for T = {}",
            shape.t
        )));
    }
    let out_shape = shape.with_t(k);
    let fl = shape.frame_len();
    let mut out = Vec::with_capacity(out_shape.len());
    for (sample, list) in data.chunks_exact(shape.sample_len()).zip(frames) {
        for slab in sample.chunks_exact(shape.channel_len()) {
            for &f in list {
                out.extend_from_slice(&slab[f * fl..(f + 1) * fl]);
            }
        }
    }
    Ok((out_shape, out))
}

/// Keeps the joints `joints` (e.g. [`JointSelection::kept`]) in the given order.
///
/// * `data`: `(N, C, T, V, M)`; returns the shape `(N, C, T, K, M)` and its buffer.
pub fn gather_joints(
    shape: &BatchShape,
    data: &[f32],
    joints: &[usize],
) -> Result<(BatchShape, Vec<f32>)> {
    shape.assert_len(data.len());
    if let Some(&j) = joints.iter().find(|&&j| j >= shape.v) {
        return Err(DataError::Config(format!(
            "joint {j} out of range for V = {}",
            shape.v
        )));
    }
    let out_shape = shape.with_v(joints.len());
    let m = shape.m;
    let mut out = Vec::with_capacity(out_shape.len());
    for frame in data.chunks_exact(shape.frame_len()) {
        for &j in joints {
            out.extend_from_slice(&frame[j * m..(j + 1) * m]);
        }
    }
    Ok((out_shape, out))
}

#[cfg(test)]
mod tests {
    use super::*;
    use asma_skeleton::layout::NTU25;

    /// Exact inclusion probability of a joint with `w` of `total` entries when `k` entries
    /// are drawn without replacement: `1 − C(total − w, k) / C(total, k)`.
    fn exact_inclusion(total: usize, w: usize, k: usize) -> f64 {
        let miss: f64 = (0..k)
            .map(|i| (total - w - i) as f64 / (total - i) as f64)
            .product();
        1.0 - miss
    }

    /// Per-joint inclusion frequencies and mean set size over `draws` batches.
    fn monte_carlo(mask: JointMask, draws: usize, seed: u64) -> (Vec<f64>, f64) {
        let deg = NTU25.degrees();
        let cfg = MaskConfig::default();
        let mut rng = Rng::new(seed);
        let mut hits = [0usize; 25];
        let mut total = 0usize;
        for _ in 0..draws {
            let sel = mask.select(&deg, &cfg, &mut rng).unwrap();
            assert!(sel.removed.windows(2).all(|w| w[0] < w[1]));
            assert_eq!(sel.removed.len() + sel.kept.len(), 25);
            total += sel.removed.len();
            for &j in &sel.removed {
                hits[j] += 1;
            }
        }
        let freq = hits.iter().map(|&h| h as f64 / draws as f64).collect();
        (freq, total as f64 / draws as f64)
    }

    fn assert_near(got: f64, want: f64, tol: f64, what: &str) {
        assert!((got - want).abs() < tol, "{what}: got {got}, want {want}");
    }

    // Joint indices: J1 = 0, a degree-2 joint J2 = 1, J4 = 3, J21 = 20.
    const J1: usize = 0;
    const J2: usize = 1;
    const J4: usize = 3;
    const J21: usize = 20;

    #[test]
    fn multisets_have_the_spec_sizes() {
        let deg = NTU25.degrees();
        let high = degree_multiset(&deg);
        assert_eq!(high.len(), 48);
        assert_eq!(high.iter().filter(|&&j| j == J21).count(), 4);
        let low = inverse_degree_multiset(&deg).unwrap();
        assert_eq!(low.len(), 175);
        let copies = |j| low.iter().filter(|&&e| e == j).count();
        assert_eq!(
            (copies(J4), copies(J2), copies(J1), copies(J21)),
            (12, 6, 4, 3)
        );
        assert!(inverse_degree_multiset(&[1, 0, 2]).is_err());
    }

    #[test]
    fn exact_inclusion_matches_the_spec_table() {
        // docs/METHOD.md §4.1 and §5.2, three decimals.
        for (total, w, want) in [
            (48, 4, 0.530),
            (48, 3, 0.429),
            (48, 2, 0.309),
            (48, 1, 0.167),
            (175, 12, 0.440),
            (175, 6, 0.248),
            (175, 4, 0.172),
            (175, 3, 0.132),
        ] {
            assert_near(exact_inclusion(total, w, 8), want, 5e-4, "exact");
        }
    }

    #[test]
    fn high_degree_inclusion_frequencies() {
        let (f, mean) = monte_carlo(JointMask::High, 100_000, 1);
        assert_near(f[J21], 0.530, 0.01, "J21");
        assert_near(f[J1], 0.429, 0.01, "J1");
        assert_near(f[J2], 0.309, 0.01, "deg 2");
        assert_near(f[J4], 0.167, 0.01, "J4");
        assert_near(mean, 7.35, 0.02, "distinct joints");
    }

    #[test]
    fn low_degree_inclusion_frequencies() {
        let (f, mean) = monte_carlo(JointMask::Low, 100_000, 2);
        assert_near(f[J4], 0.440, 0.01, "J4");
        assert_near(f[J2], 0.248, 0.01, "deg 2");
        assert_near(f[J1], 0.172, 0.01, "J1");
        assert_near(f[J21], 0.132, 0.01, "J21");
        assert_near(mean, 6.97, 0.02, "distinct joints");
    }

    #[test]
    fn random_joint_frequencies_and_count() {
        let (f, mean) = monte_carlo(JointMask::Random, 50_000, 3);
        for (j, &p) in f.iter().enumerate() {
            assert_near(p, 8.0 / 25.0, 0.01, &format!("joint {j}"));
        }
        assert_eq!(mean, 8.0);
    }

    #[test]
    fn no_joint_mask_keeps_everything_and_draws_nothing() {
        let mut rng = Rng::new(4);
        let sel = JointMask::None
            .select(&NTU25.degrees(), &MaskConfig::default(), &mut rng)
            .unwrap();
        assert!(sel.removed.is_empty());
        assert_eq!(sel.kept, (0..25).collect::<Vec<_>>());
        assert_eq!(rng.next_u64(), Rng::new(4).next_u64());
    }

    #[test]
    fn too_many_joint_draws_are_errors() {
        let deg = NTU25.degrees();
        let mut rng = Rng::new(0);
        let cfg = |mask_joints| MaskConfig {
            mask_joints,
            ..MaskConfig::default()
        };
        assert!(JointMask::High.select(&deg, &cfg(49), &mut rng).is_err());
        assert!(JointMask::High.select(&deg, &cfg(48), &mut rng).is_ok());
        assert!(JointMask::Low.select(&deg, &cfg(176), &mut rng).is_err());
        assert!(JointMask::Random.select(&deg, &cfg(26), &mut rng).is_err());
    }

    /// Sample 0: `d[t] = t + 1` on one coordinate for t = 0..48, so the energy rises
    /// strictly and frame 49 has 0. Sample 1: `d[t] = 49 − t`, falling to 1 at t = 48.
    fn ramp_batch() -> (BatchShape, Vec<f32>) {
        let s = BatchShape::frame50(2);
        let mut x = vec![0.0; s.len()];
        let (mut up, mut down) = (0.0, 0.0);
        for t in 1..50 {
            up += t as f32;
            down += (50 - t) as f32;
            x[s.index(0, 0, t, 7, 1)] = up;
            x[s.index(1, 2, t, 20, 0)] = down;
        }
        (s, x)
    }

    #[test]
    fn motion_energy_by_hand() {
        let (s, x) = ramp_batch();
        let e = motion_energy(&s, &x);
        // One coordinate of 3·25·2 = 150 moves.
        assert_near(e[0], 1.0 / 150.0, 1e-12, "e[0,0]");
        assert_near(e[48], 49.0 * 49.0 / 150.0, 1e-9, "e[0,48]");
        assert_eq!(e[49], 0.0);
        assert_near(e[50], 49.0 * 49.0 / 150.0, 1e-9, "e[1,0]");
        assert_eq!(e[99], 0.0);
    }

    #[test]
    fn matm_checklist_example() {
        let (s, x) = ramp_batch();
        let high = motion_ranked_frames(&s, &x, 10, MotionEnd::Highest);
        let want: Vec<usize> = (0..39).chain([49]).collect();
        assert_eq!(high[0], want);
        assert_eq!(high[1], (10..50).collect::<Vec<_>>());
        let low = motion_ranked_frames(&s, &x, 10, MotionEnd::Lowest);
        assert_eq!(low[0], (9..49).collect::<Vec<_>>());
        assert_eq!(low[1], (0..40).collect::<Vec<_>>());
    }

    #[test]
    fn keeping_all_forty_positions_reproduces_the_ranking() {
        let (s, x) = ramp_batch();
        let cfg = MaskConfig {
            keep_frames: 40,
            ..MaskConfig::default()
        };
        let mut rng = Rng::new(0);
        let high = FrameMask::High.select(&s, &x, &cfg, &mut rng).unwrap();
        assert_eq!(high[0], (0..39).chain([49]).collect::<Vec<_>>());
        let low = FrameMask::Low.select(&s, &x, &cfg, &mut rng).unwrap();
        assert_eq!(low[0], (9..49).collect::<Vec<_>>());
    }

    #[test]
    fn ties_go_to_the_lower_frame_index() {
        let s = BatchShape::frame50(1);
        let still = vec![0.0; s.len()];
        for end in [MotionEnd::Highest, MotionEnd::Lowest] {
            let kept = motion_ranked_frames(&s, &still, 10, end);
            assert_eq!(kept[0], (0..40).collect::<Vec<_>>(), "{end:?}");
        }
    }

    #[test]
    fn motion_operators_share_positions_across_the_batch() {
        let (s, x) = ramp_batch();
        for (mask, end) in [
            (FrameMask::High, MotionEnd::Highest),
            (FrameMask::Low, MotionEnd::Lowest),
        ] {
            let ranked = motion_ranked_frames(&s, &x, 10, end);
            let mut rng = Rng::new(5);
            let kept = mask
                .select(&s, &x, &MaskConfig::default(), &mut rng)
                .unwrap();
            let positions: Vec<Vec<usize>> = (0..2)
                .map(|n| {
                    kept[n]
                        .iter()
                        .map(|f| ranked[n].iter().position(|r| r == f).unwrap())
                        .collect()
                })
                .collect();
            assert_eq!(kept[0].len(), 30);
            assert_eq!(positions[0], positions[1]);
            assert!(positions[0].windows(2).all(|w| w[0] < w[1]));
            assert_ne!(kept[0], kept[1]);
            for k in &kept {
                assert!(k.windows(2).all(|w| w[0] < w[1]));
            }
        }
    }

    #[test]
    fn random_frames_are_uniform_and_shared() {
        let (s, x) = ramp_batch();
        let mut rng = Rng::new(6);
        let mut hits = [0usize; 50];
        let draws = 20_000;
        for _ in 0..draws {
            let kept = FrameMask::Random
                .select(&s, &x, &MaskConfig::default(), &mut rng)
                .unwrap();
            assert_eq!(kept[0], kept[1]);
            assert_eq!(kept[0].len(), 30);
            assert!(kept[0].windows(2).all(|w| w[0] < w[1]));
            for &f in &kept[0] {
                hits[f] += 1;
            }
        }
        for (f, &h) in hits.iter().enumerate() {
            assert_near(h as f64 / draws as f64, 0.6, 0.02, &format!("frame {f}"));
        }
    }

    #[test]
    fn no_frame_mask_keeps_every_frame() {
        let (s, x) = ramp_batch();
        let kept = FrameMask::None
            .select(&s, &x, &MaskConfig::default(), &mut Rng::new(0))
            .unwrap();
        assert_eq!(kept, vec![(0..50).collect::<Vec<_>>(); 2]);
    }

    #[test]
    fn frame_masks_are_deterministic_by_seed() {
        let (s, x) = ramp_batch();
        for mask in [FrameMask::High, FrameMask::Low, FrameMask::Random] {
            let run = |seed| {
                mask.select(&s, &x, &MaskConfig::default(), &mut Rng::new(seed))
                    .unwrap()
            };
            assert_eq!(run(7), run(7));
            assert_ne!(run(7), run(8));
        }
    }

    #[test]
    fn impossible_frame_sizes_are_errors() {
        let (s, x) = ramp_batch();
        let mut rng = Rng::new(0);
        let too_many = MaskConfig {
            keep_frames: 41,
            ..MaskConfig::default()
        };
        assert!(FrameMask::High.select(&s, &x, &too_many, &mut rng).is_err());
        assert!(FrameMask::Random
            .select(&s, &x, &too_many, &mut rng)
            .is_ok());
        let drop_all = MaskConfig {
            mask_frames: 51,
            keep_frames: 0,
            ..MaskConfig::default()
        };
        assert!(FrameMask::Low.select(&s, &x, &drop_all, &mut rng).is_err());
    }

    #[test]
    fn gather_frames_cuts_the_time_axis() {
        // N=2, C=2, T=4, V=1, M=2; value = 100 n + 10 c + t + 0.5 m.
        let s = BatchShape::new(2, 2, 4, 1, 2);
        let mut x = vec![0.0; s.len()];
        for n in 0..2 {
            for c in 0..2 {
                for t in 0..4 {
                    for m in 0..2 {
                        x[s.index(n, c, t, 0, m)] = (100 * n + 10 * c + t) as f32 + 0.5 * m as f32;
                    }
                }
            }
        }
        let (out_s, y) = gather_frames(&s, &x, &[vec![0, 3], vec![1, 2]]).unwrap();
        assert_eq!(out_s, BatchShape::new(2, 2, 2, 1, 2));
        #[rustfmt::skip]
        let want = [
            0.0, 0.5, 3.0, 3.5,  10.0, 10.5, 13.0, 13.5,
            101.0, 101.5, 102.0, 102.5,  111.0, 111.5, 112.0, 112.5,
        ];
        assert_eq!(y, want);
        assert!(gather_frames(&s, &x, &[vec![0, 3], vec![1]]).is_err());
        assert!(gather_frames(&s, &x, &[vec![0], vec![4]]).is_err());
        assert!(gather_frames(&s, &x, &[vec![0]]).is_err());
    }

    #[test]
    fn gather_joints_cuts_the_joint_axis() {
        let s = BatchShape::new(1, 2, 2, 4, 2);
        let x: Vec<f32> = (0..s.len()).map(|i| i as f32).collect();
        let sel = JointSelection::from_removed(vec![2, 0, 2], 4);
        assert_eq!(sel.kept, [1, 3]);
        let (out_s, y) = gather_joints(&s, &x, &sel.kept).unwrap();
        assert_eq!(out_s, BatchShape::new(1, 2, 2, 2, 2));
        for c in 0..2 {
            for t in 0..2 {
                for (k, &v) in sel.kept.iter().enumerate() {
                    for m in 0..2 {
                        assert_eq!(y[out_s.index(0, c, t, k, m)], x[s.index(0, c, t, v, m)]);
                    }
                }
            }
        }
        assert!(gather_joints(&s, &x, &[4]).is_err());
    }

    #[test]
    fn config_and_names_through_serde() {
        let cfg: MaskConfig = serde_json::from_str("{}").unwrap();
        assert_eq!(cfg, MaskConfig::default());
        let cfg: MaskConfig = serde_json::from_str(r#"{"keep_frames": 20}"#).unwrap();
        assert_eq!(
            (cfg.mask_joints, cfg.mask_frames, cfg.keep_frames),
            (8, 10, 20)
        );
        assert!(serde_json::from_str::<MaskConfig>(r#"{"mask_joint": 8}"#).is_err());
        // The ablation grid, as a config would spell it.
        let grid: Vec<(JointMask, FrameMask)> =
            serde_json::from_str(r#"[["low","high"],["high","low"],["random","none"]]"#).unwrap();
        assert_eq!(
            grid,
            [
                (JointMask::Low, FrameMask::High),
                (JointMask::High, FrameMask::Low),
                (JointMask::Random, FrameMask::None),
            ]
        );
        assert_eq!("Random".parse::<JointMask>().unwrap(), JointMask::Random);
        assert_eq!("none".parse::<FrameMask>().unwrap(), FrameMask::None);
        assert!("medium".parse::<FrameMask>().is_err());
    }
}
