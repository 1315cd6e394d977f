//! One sample from start to finish: the performance (who, where, how fast, how big) and
//! its recording by one of the three sensors, down to the `.skeleton` records.
//!
//! As in NTU RGB+D, the three cameras of a setup film the *same* performance: everything
//! about the movement is drawn from (seed, setup, performer, replication, action) only,
//! and only what a sensor adds (its viewpoint, tracking noise, body ids, dropouts, clutter)
//! from the full sample name. Views of one performance therefore agree, as they must for
//! the cross-view benchmark to mean anything.

use asma_data::formats::ntu::{Body, BodyInfo, Frame, Joint, NtuName, SkeletonFile};
use asma_data::rng::Rng;

use super::actions::{self, Cast, Motion};
use super::body::{joint as j, Subject};
use super::camera::{clipped_edges, color_pixel, depth_pixel, Rig};
use super::config::SynthConfig;
use super::math::{smooth, v3, M3, V3};
use super::noise::{self, Track};
use super::pose::{forward, Pose, Posed};

/// Key separating the partners of two-person actions from the performers.
const PARTNER_SALT: u64 = 0x9A27_0000_0000_0000;
/// Key separating performance draws from sensor draws.
const PERFORMANCE_SALT: u64 = 0x7E4F_0000_0000_0001;
/// Kinect body ids are 2^56 plus a small counter (e.g. 72057594037931101).
const BODY_ID_BASE: u64 = 1 << 56;
/// Frames per second of the Kinect v2 recordings.
const FPS: f64 = 30.0;

/// The sensor-specific random stream of a sample.
fn sample_key(n: &NtuName) -> u64 {
    (n.setup as u64) << 48
        | (n.camera as u64) << 40
        | (n.performer as u64) << 24
        | (n.replication as u64) << 16
        | n.action as u64
}

/// The performance random stream: the sample key without the camera.
fn performance_rng(seed: u64, n: &NtuName) -> Rng {
    let key = sample_key(&NtuName { camera: 0, ..*n });
    Rng::derive(seed ^ PERFORMANCE_SALT, key)
}

/// Number of frames of the performance (first draw of its stream, so the files of missing
/// samples, which draw nothing else, have the length the real recording would have had).
fn frame_count(cfg: &SynthConfig, r: &mut Rng) -> usize {
    cfg.min_frames + r.below(cfg.max_frames - cfg.min_frames + 1)
}

/// One person of a performance: the posed body per frame and where it stands.
struct Actor {
    frames: Vec<Posed>,
    origin: V3,
    facing: f64,
}

/// Idle movement everybody has while doing something else: breathing, postural sway,
/// glances. Without it, the joints of the still parts of a synthetic body would be frozen
/// to the micrometre, which a network would learn to exploit.
/// It also carries the posture of the day (a little more upright or slumped, head a little
/// higher or lower) and, for one-person actions, a slow turn of the whole body.
struct Idle {
    phase: [f64; 4],
    rate: [f64; 4],
    lean: f64,
    head: f64,
    /// Whole-body turn reached at the end of the clip (radians).
    drift: f64,
    /// A step taken at the start of the clip (settling into place), body frame.
    shift: V3,
}

impl Idle {
    fn new(r: &mut Rng, drift: bool) -> Idle {
        Idle {
            lean: r.normal() * 0.05,
            head: r.normal() * 0.08,
            drift: if drift { r.normal() * 0.15 } else { 0.0 },
            shift: if drift && r.bernoulli(0.3) {
                let a = r.uniform(0.0, std::f64::consts::TAU);
                v3(a.sin(), 0.0, a.cos()) * r.uniform(0.1, 0.3)
            } else {
                V3::ZERO
            },
            phase: std::array::from_fn(|_| r.uniform(0.0, std::f64::consts::TAU)),
            rate: [
                r.uniform(0.2, 0.3),
                r.uniform(0.15, 0.25),
                r.uniform(0.1, 0.16),
                r.uniform(0.07, 0.14),
            ],
        }
    }

    fn apply(&self, p: &mut Pose, t: usize, n: usize) {
        let s = t as f64 / FPS;
        let w = |i: usize| (std::f64::consts::TAU * self.rate[i] * s + self.phase[i]).sin();
        p.lean += self.lean + 0.012 * w(0);
        p.pelvis.x += 0.012 * w(1);
        p.pelvis.z += 0.008 * w(2);
        p.head_yaw += 0.07 * w(3);
        p.head_pitch += self.head;
        p.turn += self.drift * t as f64 / n as f64;
        // The step: pelvis moves over the first third of the clip, feet one after the other.
        let x = 3.0 * t as f64 / n as f64;
        p.pelvis += self.shift * smooth(x);
        p.feet[0].offset += self.shift * smooth(2.0 * x);
        p.feet[1].offset += self.shift * smooth(2.0 * x - 1.0);
    }
}

/// The movement of one performance, in the world (y up, floor y = 0, stage centre at the
/// origin).
fn perform(cfg: &SynthConfig, rig: &Rig, name: &NtuName, motion: Motion) -> Vec<Actor> {
    let mut r = performance_rng(cfg.seed, name);
    let n = frame_count(cfg, &mut r);
    let me = Subject::new(cfg.seed, 0, name.performer as u64);
    let partner_key = name.setup as u64 * 1000 + name.performer as u64;
    let you = Subject::new(cfg.seed, PARTNER_SALT, partner_key);
    let side = if r.bernoulli(0.15) {
        me.dominant.other()
    } else {
        me.dominant
    };
    let cast = Cast {
        who: [&me, &you],
        gap: r.uniform(0.95, 1.3),
        side,
        amp: me.vigour * r.uniform(0.7, 1.3),
        cycles: r.uniform(2.0, 4.5),
        variant: r.f64(),
        jit: std::array::from_fn(|_| v3(r.normal(), r.normal(), r.normal()) * 0.04),
    };
    // Speed and phase: the action fills 45–95 % of the clip, starts anywhere in the rest,
    // and runs through a smooth random time warp (faster start or faster finish).
    let frac = (r.uniform(0.6, 0.92) / me.tempo).clamp(0.45, 0.95);
    let len = ((n as f64 * frac).round() as usize).clamp(2.min(n), n);
    let start = r.below(n - len + 1);
    let warp = r.uniform(-0.45, 0.45);
    let progress = |t: usize| {
        let x = ((t as f64 - start as f64) / (len.max(2) - 1) as f64).clamp(0.0, 1.0);
        (x + warp * (std::f64::consts::TAU * x).sin() / std::f64::consts::TAU).clamp(0.0, 1.0)
    };

    // Facing: towards C002 in replication 1 and C003 in replication 2, as in NTU.
    let front = rig.azimuth[if name.replication == 1 { 1 } else { 2 }];
    let stage = v3(r.normal() * 0.12, 0.0, r.normal() * 0.12);
    let mut actors: Vec<(V3, f64, Idle)> = Vec::with_capacity(2);
    match motion {
        Motion::Solo(_) => actors.push((stage, front + r.normal() * 0.22, Idle::new(&mut r, true))),
        Motion::Duo(_) => {
            // Side by side for the front camera, facing each other along the pair axis.
            let turn = if r.bernoulli(0.5) { 1.0 } else { -1.0 };
            let axis = front + turn * std::f64::consts::FRAC_PI_2 + r.normal() * 0.15;
            let dir = v3(axis.sin(), 0.0, axis.cos());
            actors.push((
                stage - dir * (cast.gap * 0.5),
                axis,
                Idle::new(&mut r, false),
            ));
            let back = axis + std::f64::consts::PI;
            actors.push((
                stage + dir * (cast.gap * 0.5),
                back,
                Idle::new(&mut r, false),
            ));
        }
    }
    let subjects = [&me, &you];
    let mut out: Vec<Actor> = actors
        .iter()
        .map(|&(origin, facing, _)| Actor {
            frames: Vec::with_capacity(n),
            origin,
            facing,
        })
        .collect();
    for t in 0..n {
        let u = progress(t);
        let poses: Vec<Pose> = match motion {
            Motion::Solo(f) => vec![f(&cast, u)],
            Motion::Duo(f) => f(&cast, u).to_vec(),
        };
        for (i, mut pose) in poses.into_iter().enumerate() {
            actors[i].2.apply(&mut pose, t, n);
            out[i].frames.push(forward(subjects[i], &pose));
        }
    }
    out
}

/// Rounds to `digits` decimals before storing as f32, so the text holds about as many
/// significant digits as the Kinect SDK's output (and files stay compact).
fn round(v: f64, digits: i32) -> f32 {
    let s = 10f64.powi(digits);
    ((v * s).round() / s) as f32
}

/// Kinect hand state (2 open, 3 closed), persistent from frame to frame.
struct HandState {
    closed: bool,
}

impl HandState {
    fn next(&mut self, tracked: bool, r: &mut Rng) -> (u8, u8) {
        if r.bernoulli(0.04) {
            self.closed = !self.closed;
        }
        match (tracked, self.closed) {
            (false, _) => (0, 1),
            (true, false) => (1, 2),
            (true, true) => (1, 3),
        }
    }
}

/// A camera-space body track plus what the body-info lines need.
struct Recorded {
    track: Track,
    rot: Vec<[Option<M3>; j::COUNT]>,
    lean: Vec<[f64; 2]>,
    id: u64,
}

/// Builds the `.skeleton` content of sample `name` (already validated).
pub fn render(cfg: &SynthConfig, rig: &Rig, name: &NtuName) -> SkeletonFile {
    let Some(motion) = actions::motion(name.action) else {
        return SkeletonFile::default();
    };
    if asma_data::formats::ntu::is_missing(&name.to_string()) {
        // The real recordings on the official list have frames but no body at all.
        let n = frame_count(cfg, &mut performance_rng(cfg.seed, name));
        return SkeletonFile {
            frames: vec![Frame::default(); n],
        };
    }
    let actors = perform(cfg, rig, name, motion);
    let mut r = Rng::derive(cfg.seed, sample_key(name));
    let cam = &rig.cams[(name.camera as usize).clamp(1, 3) - 1];
    let n_perf = actors[0].frames.len();
    // The sensors start recording a few frames apart.
    let skip = r.below(3).min(n_perf - cfg.min_frames.min(n_perf));
    let n = n_perf - skip;
    let base_id = BODY_ID_BASE + 1000 + r.below(80_000) as u64;

    let mut bodies: Vec<Recorded> = Vec::with_capacity(3);
    for (i, a) in actors.iter().enumerate() {
        let place = M3::rot_y(a.facing);
        let mut pos = Vec::with_capacity(n);
        let mut rot = Vec::with_capacity(n);
        let mut lean = Vec::with_capacity(n);
        for posed in &a.frames[skip..] {
            pos.push(posed.pos.map(|p| cam.to_camera(a.origin + place.apply(p))));
            rot.push(posed.rot.map(|m| m.map(|m| cam.rotate(place * m))));
            lean.push(posed.lean);
        }
        let mut track = Track::new(pos);
        noise::jitter(&mut track, cfg.noise.jitter_m, &mut r);
        noise::glitch(&mut track, cfg.noise.glitch_rate, &mut r);
        let id = base_id + (i as u64) * (1 + r.below(4) as u64);
        bodies.push(Recorded {
            track,
            rot,
            lean,
            id,
        });
    }
    let empty = noise::empty_frames(n, cfg.noise.empty_frames_prob, &mut r);
    let clutter = if r.bernoulli(cfg.noise.extra_body_prob) {
        Some(noise::clutter(n, cfg.seed, &mut r))
    } else {
        None
    };
    let clutter_id = base_id + 8 + r.below(40) as u64;

    let mut hands: Vec<[HandState; 2]> = bodies
        .iter()
        .map(|_| [HandState { closed: false }, HandState { closed: false }])
        .collect();
    let mut frames = Vec::with_capacity(n);
    for (t, &gone) in empty.iter().enumerate() {
        let mut frame = Frame::default();
        if !gone {
            for (b, hs) in bodies.iter().zip(hands.iter_mut()) {
                let st = &b.track.state[t];
                let (lc, ls) = hs[0].next(st[j::HAND_L] == 2, &mut r);
                let (rc, rs) = hs[1].next(st[j::HAND_R] == 2, &mut r);
                let info = BodyInfo {
                    id: b.id,
                    hand_left_confidence: lc,
                    hand_left_state: ls,
                    hand_right_confidence: rc,
                    hand_right_state: rs,
                    lean: [
                        round((b.lean[t][0] / 0.8 + r.normal() * 0.02).clamp(-1.0, 1.0), 6),
                        round((b.lean[t][1] / 0.8 + r.normal() * 0.02).clamp(-1.0, 1.0), 6),
                    ],
                    tracking_state: 2,
                    ..Default::default()
                };
                frame
                    .bodies
                    .push(body(info, &b.track.pos[t], st, &b.rot[t]));
            }
            if let Some((start, track)) = &clutter {
                if (*start..start + track.pos.len()).contains(&t) {
                    let k = t - start;
                    let info = BodyInfo {
                        id: clutter_id,
                        hand_left_state: 1,
                        hand_right_state: 1,
                        lean: [round(r.normal() * 0.3, 6), round(r.normal() * 0.3, 6)],
                        tracking_state: 2,
                        ..Default::default()
                    };
                    let none = [None; j::COUNT];
                    frame
                        .bodies
                        .push(body(info, &track.pos[k], &track.state[k], &none));
                }
            }
        }
        frames.push(frame);
    }
    SkeletonFile { frames }
}

/// One body record: 25 joint lines with both pixel projections, orientations (zero for
/// end joints, as the SDK writes them) and tracking states; the clipped-edge mask of the
/// body info comes from where the joints fall in the depth image.
fn body(
    mut info: BodyInfo,
    pos: &[V3; j::COUNT],
    state: &[u8; j::COUNT],
    rot: &[Option<M3>; j::COUNT],
) -> Body {
    let mut joints = Vec::with_capacity(j::COUNT);
    for jj in 0..j::COUNT {
        let p = pos[jj];
        let d = depth_pixel(p);
        let c = color_pixel(p);
        info.clipped_edges |= clipped_edges(d);
        let orientation = match rot[jj] {
            Some(m) if !j::ENDS.contains(&jj) => m.quaternion().map(|q| round(q, 6)),
            _ => [0.0; 4],
        };
        joints.push(Joint {
            xyz: [round(p.x, 6), round(p.y, 6), round(p.z, 6)],
            depth: [round(d[0], 3), round(d[1], 3)],
            color: [round(c[0], 3), round(c[1], 3)],
            orientation,
            tracking_state: state[jj],
        });
    }
    Body { info, joints }
}
