//! Kinect-like corruption of clean camera-space tracks.
//!
//! Real NTU skeletons are not clean motion capture: joints jitter by a centimetre or so from
//! frame to frame (more at the extremities and along the depth axis), hand tips and thumbs
//! jump around when the hand is small in the image, occluded joints are "inferred" (tracking
//! state 1) and drift, some frames have no body at all, and now and then the sensor reports
//! a spurious, almost static body (a chair, a coat). Every reader and denoiser of the
//! project exists because of these, so the default dataset has them too, in measured doses
//! set by [`NoiseConfig`](super::NoiseConfig).

use asma_data::rng::Rng;

use super::body::{joint as j, Subject};
use super::math::{v3, V3};
use super::pose::{forward, Pose};

/// One body's joints over time, camera space, with per-joint tracking states.
#[derive(Debug, Clone)]
pub struct Track {
    pub pos: Vec<[V3; j::COUNT]>,
    pub state: Vec<[u8; j::COUNT]>,
}

impl Track {
    /// A fully tracked (state 2) track.
    pub fn new(pos: Vec<[V3; j::COUNT]>) -> Track {
        let state = vec![[2u8; j::COUNT]; pos.len()];
        Track { pos, state }
    }
}

/// Relative jitter of each joint: the trunk is steadiest, hands and feet shake more and the
/// finger joints most (the sensor sees them as a few pixels).
fn jitter_scale(joint: usize) -> f64 {
    match joint {
        j::SPINE_BASE | j::SPINE_MID | j::SPINE_SHOULDER | j::NECK => 0.5,
        j::HEAD | j::SHOULDER_L | j::SHOULDER_R | j::HIP_L | j::HIP_R => 0.7,
        j::TIP_L | j::THUMB_L | j::TIP_R | j::THUMB_R => 2.2,
        j::HAND_L | j::HAND_R | j::FOOT_L | j::FOOT_R => 1.5,
        j::WRIST_L | j::WRIST_R | j::ANKLE_L | j::ANKLE_R => 1.2,
        _ => 1.0,
    }
}

/// Adds temporally correlated jitter (an AR(1) process per coordinate, so the noise looks
/// like the sensor's slow wobble rather than white noise), with `sigma` metres for an
/// average joint and 1.5× more along the depth axis.
pub fn jitter(track: &mut Track, sigma: f64, rng: &mut Rng) {
    if sigma <= 0.0 {
        return;
    }
    const RHO: f64 = 0.6;
    let innov = (1.0 - RHO * RHO).sqrt();
    let mut state = [V3::ZERO; j::COUNT];
    for (t, frame) in track.pos.iter_mut().enumerate() {
        for (jj, p) in frame.iter_mut().enumerate() {
            let s = sigma * jitter_scale(jj);
            let e = v3(rng.normal() * s, rng.normal() * s, rng.normal() * s * 1.5);
            state[jj] = if t == 0 {
                e
            } else {
                state[jj] * RHO + e * innov
            };
            *p += state[jj];
        }
    }
}

/// Makes hand tips and thumbs glitch: with probability `rate` per frame and joint a jump of
/// 4–15 cm for 1–4 frames, tracked as inferred. Hands and feet glitch less often, and the
/// wrist/ankle chain of an arm or leg is sometimes inferred for a short run (self-occlusion).
pub fn glitch(track: &mut Track, rate: f64, rng: &mut Rng) {
    if rate <= 0.0 {
        return;
    }
    let n = track.pos.len();
    let fingers = [j::TIP_L, j::THUMB_L, j::TIP_R, j::THUMB_R];
    let ends = [j::HAND_L, j::HAND_R, j::FOOT_L, j::FOOT_R];
    for (joints, rate, lo, hi) in [
        (&fingers[..], rate, 0.04, 0.15),
        (&ends[..], rate * 0.25, 0.03, 0.08),
    ] {
        for &jj in joints {
            let mut t = 0;
            while t < n {
                if rng.bernoulli(rate) {
                    let len = 1 + rng.below(4);
                    let dir =
                        v3(rng.normal(), rng.normal(), rng.normal()).unit_or(v3(0.0, 1.0, 0.0));
                    let jump = dir * rng.uniform(lo, hi);
                    for tt in t..(t + len).min(n) {
                        track.pos[tt][jj] += jump;
                        track.state[tt][jj] = 1;
                    }
                    t += len;
                } else {
                    t += 1;
                }
            }
        }
    }
    // Self-occlusion: a limb's distal joints inferred together, with a little extra drift.
    let chains = [
        [j::WRIST_L, j::HAND_L, j::TIP_L, j::THUMB_L],
        [j::WRIST_R, j::HAND_R, j::TIP_R, j::THUMB_R],
        [j::ANKLE_L, j::FOOT_L, j::FOOT_L, j::FOOT_L],
        [j::ANKLE_R, j::FOOT_R, j::FOOT_R, j::FOOT_R],
    ];
    for chain in chains {
        if n > 8 && rng.bernoulli((rate * 10.0).min(0.5)) {
            let len = 3 + rng.below(n.min(20) - 2);
            let start = rng.below(n - len + 1);
            let drift = v3(rng.normal(), rng.normal(), rng.normal()) * 0.02;
            for tt in start..start + len {
                for &jj in &chain {
                    track.state[tt][jj] = 1;
                }
                for jj in dedup4(chain) {
                    track.pos[tt][jj] += drift;
                }
            }
        }
    }
}

/// The distinct joints of a 4-joint chain (legs repeat the foot to fill the array).
fn dedup4(c: [usize; 4]) -> Vec<usize> {
    let mut v: Vec<usize> = Vec::with_capacity(4);
    for x in c {
        if !v.contains(&x) {
            v.push(x);
        }
    }
    v
}

/// Which frames lose every body: with probability `prob` one or two runs, usually at the
/// start (the sensor acquiring the person), never more than a quarter of the frames.
pub fn empty_frames(n: usize, prob: f64, rng: &mut Rng) -> Vec<bool> {
    let mut empty = vec![false; n];
    if n < 8 || !rng.bernoulli(prob) {
        return empty;
    }
    let runs = 1 + rng.below(2);
    let budget = n / 4;
    let mut used = 0;
    for r in 0..runs {
        let len = (1 + rng.below(6)).min(budget - used);
        if len == 0 {
            break;
        }
        let start = if r == 0 && rng.bernoulli(0.6) {
            0
        } else {
            rng.below(n - len + 1)
        };
        for e in &mut empty[start..start + len] {
            if !*e {
                used += 1;
            }
            *e = true;
        }
    }
    empty
}

/// A spurious body: a skeleton fitted by the sensor onto furniture or clutter at the edge
/// of the scene. Almost static (jitter only), squashed, partly inferred, present for a
/// contiguous part of the `n` frames. Returns the first frame and the track.
pub fn clutter(n: usize, seed: u64, rng: &mut Rng) -> (usize, Track) {
    let shape = Subject::new(seed, 0xC1u64 << 32, rng.next_u64() % 1000);
    let mut pose = Pose::rest(&shape);
    pose.pelvis = v3(0.0, -rng.uniform(0.2, 0.5), 0.0);
    pose.lean = rng.uniform(-0.3, 0.6);
    pose.turn = rng.uniform(-1.0, 1.0);
    let body = forward(&shape, &pose).pos;
    let side = if rng.bernoulli(0.5) { 1.0 } else { -1.0 };
    let anchor = v3(
        side * rng.uniform(0.9, 1.6),
        -rng.uniform(0.9, 1.2),
        rng.uniform(3.3, 4.0),
    );
    let squash = rng.uniform(0.45, 0.8);
    let mut still = [V3::ZERO; j::COUNT];
    let mut state = [2u8; j::COUNT];
    for jj in 0..j::COUNT {
        let b = body[jj];
        // Joints collapse towards a blob, each displaced by a fixed random amount.
        let wobble = v3(rng.normal(), rng.normal(), rng.normal()) * 0.04;
        still[jj] = anchor + v3(b.x, b.y * squash, b.z) + wobble;
        if rng.bernoulli(0.4) {
            state[jj] = 1;
        }
    }
    let len = (n / 4 + rng.below(n - n / 4 + 1)).clamp(1, n);
    let start = rng.below(n - len + 1);
    let mut track = Track::new(vec![still; len]);
    track.state = vec![state; len];
    jitter(&mut track, 0.004, rng);
    (start, track)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn still(n: usize) -> Track {
        Track::new(vec![[v3(0.0, 0.0, 3.0); j::COUNT]; n])
    }

    #[test]
    fn jitter_is_larger_at_the_extremities() {
        let mut t = still(400);
        jitter(&mut t, 0.01, &mut Rng::new(1));
        let spread = |jj: usize| {
            t.pos
                .iter()
                .map(|f| (f[jj] - v3(0.0, 0.0, 3.0)).norm())
                .sum::<f64>()
                / 400.0
        };
        assert!(spread(j::TIP_R) > 2.0 * spread(j::SPINE_MID));
        assert!(spread(j::SPINE_MID) > 0.002 && spread(j::SPINE_MID) < 0.02);
    }

    #[test]
    fn glitches_mark_inferred_joints_and_zero_rate_does_nothing() {
        let mut t = still(300);
        glitch(&mut t, 0.05, &mut Rng::new(2));
        let inferred = t.state.iter().filter(|s| s[j::TIP_L] == 1).count();
        assert!(inferred > 5, "{inferred}");
        assert!(t.state.iter().all(|s| s[j::SPINE_BASE] == 2));
        let mut t = still(300);
        glitch(&mut t, 0.0, &mut Rng::new(2));
        assert!(t.state.iter().all(|s| s.iter().all(|&v| v == 2)));
    }

    #[test]
    fn empty_frames_are_bounded() {
        let mut r = Rng::new(3);
        let mut any = false;
        for _ in 0..200 {
            let e = empty_frames(60, 1.0, &mut r);
            let k = e.iter().filter(|&&x| x).count();
            assert!(k <= 15);
            any |= k > 0;
        }
        assert!(any);
        assert!(!empty_frames(60, 0.0, &mut r).contains(&true));
    }

    #[test]
    fn clutter_is_almost_static() {
        let (start, t) = clutter(80, 5, &mut Rng::new(4));
        assert!(start + t.pos.len() <= 80 && t.pos.len() >= 20);
        let first = t.pos[0][j::SPINE_BASE];
        assert!(t
            .pos
            .iter()
            .all(|f| (f[j::SPINE_BASE] - first).norm() < 0.05));
        assert!(first.z > 3.0);
    }
}
