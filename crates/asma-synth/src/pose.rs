//! A pose description small enough to write motion programs with, and the forward
//! kinematics that turns it into the 25 Kinect joints plus their orientations.
//!
//! A motion program says where the trunk leans, where each palm and each ankle should be,
//! and roughly where elbows and knees point; two-bone inverse kinematics fills in the rest.
//! Driving end effectors (rather than joint angles) keeps the programs short and makes
//! contacts come out right whatever the performer's size: a palm told to touch the forehead
//! touches it for a tall and for a short person.
//!
//! Frames used here. Body frame: origin on the floor under the standing pelvis, x to the
//! body's left, y up, z forward (right-handed, the same handedness as Kinect camera space).
//! Trunk frame: origin at the spine-shoulder joint, axes turning with the upper spine.

use super::body::{joint as j, ArmHabit, Side, Subject};
use super::math::{v3, M3, V3};

/// Where one palm goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reach {
    /// Palm-centre target in the trunk frame.
    pub trunk: V3,
    /// Palm-centre target in the body frame (for floor contacts and partners).
    pub body: V3,
    /// Blend between the two targets: 0 = `trunk`, 1 = `body`.
    pub w_body: f64,
    /// Direction the elbow points to, trunk frame.
    pub pole: V3,
    /// Wrist flexion (radians): bends the hand tip towards the palm side.
    pub wrist: f64,
}

/// Where one foot goes.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Step {
    /// Ankle displacement from its standing spot, body frame.
    pub offset: V3,
    /// Direction the knee points to, body frame.
    pub pole: V3,
    /// Toes up (positive) or down (negative), radians.
    pub toe: f64,
}

/// A whole-body pose. All angles in radians.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Pose {
    /// Spine-base displacement from standing, body frame.
    pub pelvis: V3,
    /// Whole-body turn about the vertical through the standing spot (positive = to the left).
    pub turn: f64,
    /// Trunk bend at the pelvis: forward (+) / backward (−).
    pub lean: f64,
    /// Trunk sideways bend at the pelvis: to the left (+) / right (−).
    pub side: f64,
    /// Extra forward bend of the upper spine at the spine mid.
    pub bend: f64,
    /// Twist of the shoulders against the hips (positive = to the left).
    pub twist: f64,
    /// Head nod forward (+) / back (−) and turn to the left (+).
    pub head_pitch: f64,
    pub head_yaw: f64,
    /// Palms, `[left, right]`.
    pub hands: [Reach; 2],
    /// Feet, `[left, right]`.
    pub feet: [Step; 2],
}

impl Pose {
    /// Relaxed standing: arms hanging, feet under the hips.
    pub fn rest(s: &Subject) -> Pose {
        let hand = |side: Side| {
            let k = side.sign();
            let r = s.arm_reach();
            let (trunk, pole) = match s.habit {
                ArmHabit::Hang => (
                    v3(
                        k * (s.shoulder_half + s.arm_spread.sin() * r * 0.9),
                        -0.025 - s.arm_spread.cos() * r * 0.95,
                        0.04,
                    ),
                    v3(k * 0.35, -0.2, -1.0),
                ),
                ArmHabit::Clasp => (
                    v3(k * 0.04, -0.38 * s.height * 0.95 + s.arm_spread * 0.2, 0.16),
                    v3(k * 0.6, -1.0, -0.3),
                ),
                ArmHabit::Behind => (
                    v3(k * 0.05, -0.3 * s.height, -0.16),
                    v3(k * 0.7, -0.6, -0.2),
                ),
            };
            Reach {
                trunk,
                body: V3::ZERO,
                w_body: 0.0,
                pole,
                wrist: 0.1,
            }
        };
        let foot = |side: Side| Step {
            offset: V3::ZERO,
            pole: v3(side.sign() * 0.12, 0.0, 1.0),
            toe: 0.0,
        };
        Pose {
            pelvis: V3::ZERO,
            turn: 0.0,
            lean: s.stoop,
            side: 0.0,
            bend: 0.0,
            twist: 0.0,
            head_pitch: 0.05,
            head_yaw: 0.0,
            hands: [hand(Side::Left), hand(Side::Right)],
            feet: [foot(Side::Left), foot(Side::Right)],
        }
    }

    pub fn hand(&mut self, side: Side) -> &mut Reach {
        &mut self.hands[side.index()]
    }

    pub fn foot(&mut self, side: Side) -> &mut Step {
        &mut self.feet[side.index()]
    }
}

/// The 25 joints of a posed body (body frame) and, for non-end joints, the orientation of
/// the bone leaving each joint (columns: bone-normal x, bone direction y, z).
#[derive(Debug, Clone)]
pub struct Posed {
    pub pos: [V3; j::COUNT],
    pub rot: [Option<M3>; j::COUNT],
    /// Trunk forward bend and sideways bend, for the body-info lean fields.
    pub lean: [f64; 2],
}

/// Two-bone inverse kinematics: from `root`, bones of lengths `a` then `b`, towards
/// `target`, with the middle joint bent towards `pole`. Returns (middle, end); an
/// unreachable target leaves the chain almost straight, pointing at it.
pub fn two_bone(root: V3, a: f64, b: f64, target: V3, pole: V3) -> (V3, V3) {
    let to = target - root;
    let u = to.unit_or(v3(0.0, -1.0, 0.0));
    let d = to.norm().clamp((a - b).abs() + 1e-3, a + b - 1e-4);
    // Component of the pole perpendicular to the chain; any perpendicular if degenerate.
    let fallback = if u.x.abs() < 0.9 {
        v3(1.0, 0.0, 0.0)
    } else {
        v3(0.0, 0.0, 1.0)
    };
    let pp = (pole - u * pole.dot(u)).unit_or((fallback - u * fallback.dot(u)).unit_or(fallback));
    let cos_a = ((a * a + d * d - b * b) / (2.0 * a * d)).clamp(-1.0, 1.0);
    let sin_a = (1.0 - cos_a * cos_a).sqrt();
    (root + u * (a * cos_a) + pp * (a * sin_a), root + u * d)
}

/// The bone each non-end joint's orientation follows (its main child).
const CHILD: [Option<usize>; j::COUNT] = {
    let mut c = [None; j::COUNT];
    c[j::SPINE_BASE] = Some(j::SPINE_MID);
    c[j::SPINE_MID] = Some(j::SPINE_SHOULDER);
    c[j::SPINE_SHOULDER] = Some(j::NECK);
    c[j::NECK] = Some(j::HEAD);
    c[j::SHOULDER_L] = Some(j::ELBOW_L);
    c[j::ELBOW_L] = Some(j::WRIST_L);
    c[j::WRIST_L] = Some(j::HAND_L);
    c[j::HAND_L] = Some(j::TIP_L);
    c[j::SHOULDER_R] = Some(j::ELBOW_R);
    c[j::ELBOW_R] = Some(j::WRIST_R);
    c[j::WRIST_R] = Some(j::HAND_R);
    c[j::HAND_R] = Some(j::TIP_R);
    c[j::HIP_L] = Some(j::KNEE_L);
    c[j::KNEE_L] = Some(j::ANKLE_L);
    c[j::ANKLE_L] = Some(j::FOOT_L);
    c[j::HIP_R] = Some(j::KNEE_R);
    c[j::KNEE_R] = Some(j::ANKLE_R);
    c[j::ANKLE_R] = Some(j::FOOT_R);
    c
};

/// Joint indices of one arm / leg: (shoulder, elbow, wrist, hand, tip, thumb) and
/// (hip, knee, ankle, foot).
fn arm_joints(side: Side) -> [usize; 6] {
    match side {
        Side::Left => [
            j::SHOULDER_L,
            j::ELBOW_L,
            j::WRIST_L,
            j::HAND_L,
            j::TIP_L,
            j::THUMB_L,
        ],
        Side::Right => [
            j::SHOULDER_R,
            j::ELBOW_R,
            j::WRIST_R,
            j::HAND_R,
            j::TIP_R,
            j::THUMB_R,
        ],
    }
}

fn leg_joints(side: Side) -> [usize; 4] {
    match side {
        Side::Left => [j::HIP_L, j::KNEE_L, j::ANKLE_L, j::FOOT_L],
        Side::Right => [j::HIP_R, j::KNEE_R, j::ANKLE_R, j::FOOT_R],
    }
}

/// Forward kinematics of `pose` on `subject`, in the body frame.
pub fn forward(s: &Subject, p: &Pose) -> Posed {
    let mut pos = [V3::ZERO; j::COUNT];
    let up = v3(0.0, 1.0, 0.0);

    // Spine: lower segment bends at the pelvis, upper segment adds bend and twist.
    let base = v3(0.0, s.pelvis_height(), 0.0) + p.pelvis;
    let r_low = M3::rot_x(p.lean) * M3::rot_z(-p.side);
    let r_up = r_low * M3::rot_x(p.bend) * M3::rot_y(p.twist);
    let r_head = r_up * M3::rot_y(p.head_yaw) * M3::rot_x(p.head_pitch);
    pos[j::SPINE_BASE] = base;
    pos[j::SPINE_MID] = base + r_low.apply(v3(0.0, s.spine_low, -0.01));
    let ss = pos[j::SPINE_MID] + r_up.apply(v3(0.0, s.spine_up, 0.0));
    pos[j::SPINE_SHOULDER] = ss;
    pos[j::NECK] = ss + r_up.apply(v3(0.0, s.neck, 0.005)) + r_head.apply(up) * 0.01;
    pos[j::HEAD] = pos[j::NECK] + r_head.apply(v3(0.0, s.head, 0.015));

    // Arms: palm target blended between trunk and body anchors, solved with IK.
    for side in [Side::Left, Side::Right] {
        let k = side.sign();
        let reach = &p.hands[side.index()];
        let [sh, el, wr, ha, tip, th] = arm_joints(side);
        let shoulder = ss + r_up.apply(v3(k * s.shoulder_half, -0.025, -0.01));
        let target = (ss + r_up.apply(reach.trunk)).lerp(reach.body, reach.w_body);
        let pole = r_up.apply(reach.pole);
        let (elbow, palm) = two_bone(shoulder, s.upper_arm, s.forearm + s.hand, target, pole);
        let dir = (palm - elbow).unit_or(-up);
        // The palm faces away from where the elbow points; fingers bend that way.
        let palm_side = -(pole - dir * pole.dot(dir)).unit_or(r_up.col(2));
        let (sw, cw) = reach.wrist.sin_cos();
        pos[sh] = shoulder;
        pos[el] = elbow;
        pos[wr] = elbow + dir * s.forearm;
        pos[ha] = palm;
        pos[tip] = palm + (dir * cw + palm_side * sw) * s.tip;
        let out = r_up.apply(v3(k, 0.0, 0.0));
        pos[th] = palm + (dir * 0.45 + palm_side * 0.8 + out * 0.15).unit_or(dir) * s.thumb;
    }

    // Legs: the hips follow the pelvis, ankles go to their targets.
    let r_hip = M3::rot_z(-0.3 * p.side) * M3::rot_y(-0.3 * p.twist);
    for side in [Side::Left, Side::Right] {
        let k = side.sign();
        let step = &p.feet[side.index()];
        let [hi, kn, an, ft] = leg_joints(side);
        let hip = base + r_hip.apply(v3(k * s.hip_half, -s.hip_drop, 0.0));
        let target = v3(k * (s.hip_half + 0.02), s.ankle, 0.0) + step.offset;
        let (knee, ankle) = two_bone(hip, s.thigh, s.shin, target, step.pole);
        pos[hi] = hip;
        pos[kn] = knee;
        pos[an] = ankle;
        let foot = M3::rot_x(-step.toe).apply(v3(k * 0.012, -0.7 * s.ankle, s.foot));
        pos[ft] = ankle + foot;
    }

    // Orientations: y along the bone to the main child, z as close to "forward" as the
    // bone allows (trunk forward for the upper body, body forward for the legs).
    let mut rot = [None; j::COUNT];
    let fwd_up = r_up.col(2);
    for (jj, child) in CHILD.iter().enumerate() {
        let Some(c) = *child else { continue };
        let y = (pos[c] - pos[jj]).unit_or(up);
        let is_leg = [
            j::HIP_L,
            j::KNEE_L,
            j::ANKLE_L,
            j::HIP_R,
            j::KNEE_R,
            j::ANKLE_R,
        ]
        .contains(&jj);
        let zref = if is_leg { v3(0.0, 0.0, 1.0) } else { fwd_up };
        let x = y
            .cross(zref)
            .unit_or(y.cross(up).unit_or(v3(1.0, 0.0, 0.0)));
        let z = x.cross(y);
        rot[jj] = Some(M3::from_cols(x, y, z));
    }

    // The whole-body turn about the standing spot.
    if p.turn != 0.0 {
        let r = M3::rot_y(p.turn);
        for q in pos.iter_mut() {
            *q = r.apply(*q);
        }
        for m in rot.iter_mut().flatten() {
            *m = r * *m;
        }
    }
    Posed {
        pos,
        rot,
        lean: [p.side, p.lean + p.bend * 0.5],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn subject() -> Subject {
        let mut s = Subject::new(1, 0, 1);
        s.habit = ArmHabit::Hang;
        s
    }

    #[test]
    fn rest_pose_stands_upright_with_bones_of_the_subject_lengths() {
        let s = subject();
        let b = forward(&s, &Pose::rest(&s));
        let p = &b.pos;
        assert!(
            (p[j::ANKLE_L].y - s.ankle).abs() < 0.02,
            "{:?}",
            p[j::ANKLE_L]
        );
        assert!(p[j::HEAD].y > p[j::NECK].y && p[j::NECK].y > p[j::SPINE_SHOULDER].y);
        assert!(
            p[j::SHOULDER_L].x > 0.0 && p[j::SHOULDER_R].x < 0.0,
            "x = left"
        );
        assert!((p[j::HAND_R].y - p[j::HIP_R].y).abs() < 0.25);
        assert!(((p[j::ELBOW_R] - p[j::SHOULDER_R]).norm() - s.upper_arm).abs() < 1e-9);
        assert!(((p[j::KNEE_L] - p[j::HIP_L]).norm() - s.thigh).abs() < 1e-9);
        for (jj, r) in b.rot.iter().enumerate() {
            assert_eq!(r.is_none(), j::ENDS.contains(&jj), "joint {jj}");
        }
    }

    #[test]
    fn ik_reaches_targets_in_range_and_stretches_towards_far_ones() {
        let root = v3(0.0, 1.4, 0.0);
        let (mid, end) = two_bone(root, 0.3, 0.3, v3(0.0, 1.4, 0.4), v3(0.0, -1.0, 0.0));
        assert!((end - v3(0.0, 1.4, 0.4)).norm() < 1e-9);
        assert!(mid.y < 1.4, "elbow bends towards the pole");
        assert!(((mid - root).norm() - 0.3).abs() < 1e-9);
        let (_, end) = two_bone(root, 0.3, 0.3, v3(0.0, 1.4, 2.0), v3(0.0, -1.0, 0.0));
        assert!((end.z - 0.6).abs() < 1e-3);
    }

    #[test]
    fn palm_reaches_a_trunk_target() {
        let s = subject();
        let mut pose = Pose::rest(&s);
        pose.lean = 0.0;
        let target = v3(0.0, s.neck + s.head, 0.10);
        pose.hand(Side::Right).trunk = target;
        let b = forward(&s, &pose);
        let want = b.pos[j::SPINE_SHOULDER] + target;
        assert!((b.pos[j::HAND_R] - want).norm() < 1e-6);
        assert!(b.pos[j::HAND_R].y > b.pos[j::NECK].y);
    }
}
