//! The synthetic performers: one body per performer id, with its own height, limb
//! proportions and motion habits, fixed for the whole dataset.
//!
//! Real NTU subjects differ in size and build, and a model must not be able to tell actions
//! apart by who performs them; drawing every dimension from the performer id alone (never
//! from the sample) reproduces that: the same person looks the same in every file, and the
//! cross-subject split tests generalisation to unseen bodies.
//!
//! Segment lengths follow standard anthropometric fractions of stature (Drillis & Contini),
//! adjusted to where the Kinect v2 places its joints (e.g. its hip joints sit closer together
//! than the anatomical hip width, its "neck" just above the shoulders).

use asma_data::rng::Rng;

/// NTU-25 joint indices (0-based, docs/DATA.md §1.3 / `asma_skeleton::NTU25`).
pub mod joint {
    pub const SPINE_BASE: usize = 0;
    pub const SPINE_MID: usize = 1;
    pub const NECK: usize = 2;
    pub const HEAD: usize = 3;
    pub const SHOULDER_L: usize = 4;
    pub const ELBOW_L: usize = 5;
    pub const WRIST_L: usize = 6;
    pub const HAND_L: usize = 7;
    pub const SHOULDER_R: usize = 8;
    pub const ELBOW_R: usize = 9;
    pub const WRIST_R: usize = 10;
    pub const HAND_R: usize = 11;
    pub const HIP_L: usize = 12;
    pub const KNEE_L: usize = 13;
    pub const ANKLE_L: usize = 14;
    pub const FOOT_L: usize = 15;
    pub const HIP_R: usize = 16;
    pub const KNEE_R: usize = 17;
    pub const ANKLE_R: usize = 18;
    pub const FOOT_R: usize = 19;
    pub const SPINE_SHOULDER: usize = 20;
    pub const TIP_L: usize = 21;
    pub const THUMB_L: usize = 22;
    pub const TIP_R: usize = 23;
    pub const THUMB_R: usize = 24;
    /// Joints in a file.
    pub const COUNT: usize = 25;
    /// End joints: their orientation quaternion is all zeros in real files.
    pub const ENDS: [usize; 7] = [HEAD, FOOT_L, FOOT_R, TIP_L, THUMB_L, TIP_R, THUMB_R];
}

/// Which side of the body; `sign()` is the side's x direction in a body frame (x = left).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Side {
    Left,
    Right,
}

impl Side {
    /// +1 for left, −1 for right (body frames have x pointing to the body's left).
    pub fn sign(self) -> f64 {
        match self {
            Side::Left => 1.0,
            Side::Right => -1.0,
        }
    }

    /// 0 for left, 1 for right: the index into `[left, right]` arrays.
    pub fn index(self) -> usize {
        match self {
            Side::Left => 0,
            Side::Right => 1,
        }
    }

    pub fn other(self) -> Side {
        match self {
            Side::Left => Side::Right,
            Side::Right => Side::Left,
        }
    }
}

/// Where a person keeps the hands while not using them. People differ in this, and it
/// shapes the start and end of every action they perform, so a model cannot recognise an
/// action by a single "rest" template.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ArmHabit {
    /// Arms hanging at the sides.
    Hang,
    /// Hands loosely clasped in front of the lower belly.
    Clasp,
    /// Hands held together behind the back.
    Behind,
}

/// One performer's body (metres) and habits.
#[derive(Debug, Clone, PartialEq)]
pub struct Subject {
    /// Stature, floor to the top of the head.
    pub height: f64,
    /// Floor to ankle joint.
    pub ankle: f64,
    pub shin: f64,
    pub thigh: f64,
    /// Hip joints below the spine base.
    pub hip_drop: f64,
    /// Half the distance between the two hip joints.
    pub hip_half: f64,
    /// Spine base → spine mid, spine mid → spine shoulder.
    pub spine_low: f64,
    pub spine_up: f64,
    /// Spine shoulder → neck, neck → head (centre).
    pub neck: f64,
    pub head: f64,
    /// Half the distance between the two shoulder joints.
    pub shoulder_half: f64,
    pub upper_arm: f64,
    pub forearm: f64,
    /// Wrist → hand (palm centre), hand → hand tip, hand → thumb tip.
    pub hand: f64,
    pub tip: f64,
    pub thumb: f64,
    /// Ankle → foot joint (near the toes).
    pub foot: f64,
    /// The hand this person uses for one-handed actions.
    pub dominant: Side,
    /// Resting forward stoop of the trunk (radians).
    pub stoop: f64,
    /// How far the arms hang away from the body (radians).
    pub arm_spread: f64,
    /// Where the idle hands are.
    pub habit: ArmHabit,
    /// Personal tempo: > 1 moves faster than average.
    pub tempo: f64,
    /// Personal amplitude: > 1 makes larger movements.
    pub vigour: f64,
}

impl Subject {
    /// The body of `performer` under dataset `seed` (key `salt` separates the actors from
    /// their interaction partners).
    pub fn new(seed: u64, salt: u64, performer: u64) -> Subject {
        let mut r = Rng::derive(seed ^ 0x5B1E_C7B0_D1E5_0000 ^ salt, performer);
        // Stature of adult and adolescent NTU volunteers: about 1.50–1.95 m.
        let height = (1.70 + 0.09 * r.normal()).clamp(1.48, 1.95);
        // Group factors change proportions: long-legged vs long-trunked people, long arms.
        let mut factor = |sd: f64| (1.0 + sd * r.normal()).clamp(1.0 - 2.5 * sd, 1.0 + 2.5 * sd);
        let legs = factor(0.04);
        let trunk = factor(0.04);
        let arms = factor(0.045);
        let width = factor(0.07);
        let head = factor(0.05);
        let h = height;
        // Leg and trunk factors change proportions, not stature: rescale the vertical chain
        // so the head centre stays at 95.2 % of the height.
        let chain = 0.039 + 0.028 + 0.036 + 0.072 * head + 0.491 * legs + 0.286 * trunk;
        let k = 0.952 / chain;
        let (legs, trunk, head) = (legs * k, trunk * k, head * k);
        Subject {
            height,
            ankle: 0.039 * h * k,
            shin: 0.246 * h * legs,
            thigh: 0.245 * h * legs,
            hip_drop: 0.028 * h * k,
            hip_half: 0.047 * h * width,
            spine_low: 0.158 * h * trunk,
            spine_up: 0.128 * h * trunk,
            neck: 0.036 * h * k,
            head: 0.072 * h * head,
            shoulder_half: 0.098 * h * width,
            upper_arm: 0.172 * h * arms,
            forearm: 0.150 * h * arms,
            hand: 0.042 * h * arms,
            tip: 0.052 * h * arms,
            thumb: 0.035 * h * arms,
            foot: 0.085 * h,
            // About one in ten people is left-handed.
            dominant: if r.bernoulli(0.1) {
                Side::Left
            } else {
                Side::Right
            },
            stoop: r.uniform(-0.02, 0.09),
            arm_spread: r.uniform(0.04, 0.16),
            habit: match r.below(20) {
                0..=10 => ArmHabit::Hang,
                11..=15 => ArmHabit::Clasp,
                _ => ArmHabit::Behind,
            },
            tempo: r.uniform(0.85, 1.15),
            vigour: r.uniform(0.85, 1.15),
        }
    }

    /// Height of the spine base above the floor when standing straight.
    pub fn pelvis_height(&self) -> f64 {
        self.ankle + self.shin + self.thigh + self.hip_drop
    }

    /// Height of the spine-shoulder joint above the floor when standing straight.
    pub fn shoulder_height(&self) -> f64 {
        self.pelvis_height() + self.spine_low + self.spine_up
    }

    /// Arm reach, shoulder → palm centre.
    pub fn arm_reach(&self) -> f64 {
        self.upper_arm + self.forearm + self.hand
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use asma_skeleton::NTU25;

    #[test]
    fn joint_constants_follow_the_ntu_layout() {
        let n = NTU25.joint_names;
        assert_eq!(n.len(), joint::COUNT);
        assert_eq!(n[joint::HEAD], "head");
        assert_eq!(n[joint::SPINE_SHOULDER], "spine shoulder");
        assert_eq!(n[joint::HAND_R], "right hand");
        assert_eq!(n[joint::THUMB_L], "left thumb");
        assert_eq!(n[joint::FOOT_R], "right foot");
        assert_eq!(n[joint::KNEE_L], "left knee");
        // End joints are exactly the degree-1 leaves plus the thumbs.
        let deg = NTU25.degrees();
        for j in [
            joint::HEAD,
            joint::FOOT_L,
            joint::FOOT_R,
            joint::TIP_L,
            joint::TIP_R,
        ] {
            assert!(joint::ENDS.contains(&j) && deg[j] == 1);
        }
    }

    #[test]
    fn performers_are_stable_and_differ() {
        let a = Subject::new(7, 0, 1);
        assert_eq!(a, Subject::new(7, 0, 1));
        let b = Subject::new(7, 0, 2);
        assert_ne!(a.height, b.height);
        assert_ne!(a, Subject::new(8, 0, 1));
        // Proportions vary but the head centre stays at 95.2 % of the stature.
        for p in 1..40 {
            let s = Subject::new(3, 0, p);
            let top = s.shoulder_height() + s.neck + s.head;
            assert!((top / s.height - 0.952).abs() < 1e-9, "{top} {}", s.height);
        }
        let ratio = |s: &Subject| (s.thigh + s.shin) / s.height;
        assert_ne!(ratio(&a), ratio(&b));
    }
}
