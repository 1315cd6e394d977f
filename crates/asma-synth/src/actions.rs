//! The action catalogue: which NTU RGB+D actions the generator can perform, with their real
//! NTU ids (so labels are `A − 1` exactly as with real data), and what each one needs from
//! a performance (the cast, the hand used, amplitude, repetitions, variant).
//!
//! The motion programs themselves live in `motions.rs` (one person) and
//! `interactions.rs` (two people). The set is chosen so that some pairs are deliberately
//! close: touch head / salute / touch chest differ mainly in hand height and shape,
//! sitting down / standing up are time reversals of each other, jump up / hopping and
//! kicking something / kicking another person share most of their movement, handshaking /
//! giving something both meet in the middle. A model has to look at the details.

use asma_skeleton::actions::NTU120;
use serde::Serialize;

use super::body::{Side, Subject};
use super::interactions as duo;
use super::math::{v3, V3};
use super::motions as solo;
use super::pose::Pose;

/// One action class of the synthetic dataset.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct ActionSpec {
    /// NTU action id (1-based, ≤ 60 so every class is also an NTU-60 class).
    pub id: u16,
    /// NTU's name of the action.
    pub name: &'static str,
    /// People performing it (1, or 2 for mutual actions).
    pub persons: u8,
}

/// Everything a motion program may depend on, fixed for one performance.
#[derive(Debug, Clone)]
pub struct Cast<'a> {
    /// The performer, and the partner of a two-person action (unused by one-person
    /// actions).
    pub who: [&'a Subject; 2],
    /// Distance between the two people's standing spots (two-person actions).
    pub gap: f64,
    /// The hand used for one-handed actions.
    pub side: Side,
    /// Amplitude factor of the movement (about 0.75–1.3).
    pub amp: f64,
    /// Repetitions of periodic actions (claps, waves, hops).
    pub cycles: f64,
    /// A uniform draw in [0, 1) choosing among variants of an action (one or both hands,
    /// punch or slap, ...).
    pub variant: f64,
    /// Small random offsets of targets, so no two performances touch exactly the same spot.
    pub jit: [V3; 4],
}

impl Cast<'_> {
    pub fn me(&self) -> &Subject {
        self.who[0]
    }

    pub fn partner(&self) -> &Subject {
        self.who[1]
    }
}

/// A motion program: the pose(s) at action progress `u` ∈ [0, 1].
#[derive(Clone, Copy)]
pub enum Motion {
    Solo(fn(&Cast, f64) -> Pose),
    Duo(fn(&Cast, f64) -> [Pose; 2]),
}

impl Motion {
    pub fn persons(&self) -> u8 {
        match self {
            Motion::Solo(_) => 1,
            Motion::Duo(_) => 2,
        }
    }
}

struct Entry {
    id: u16,
    motion: Motion,
}

const fn entry(id: u16, motion: Motion) -> Entry {
    Entry { id, motion }
}

/// Sorted by id; the names are NTU's table's.
static ENTRIES: [Entry; 22] = [
    entry(1, Motion::Solo(solo::drink)),
    entry(6, Motion::Solo(solo::pick_up)),
    entry(7, Motion::Solo(solo::throw)),
    entry(8, Motion::Solo(solo::sit_down)),
    entry(9, Motion::Solo(solo::stand_up)),
    entry(10, Motion::Solo(solo::clap)),
    entry(23, Motion::Solo(solo::wave)),
    entry(24, Motion::Solo(solo::kick)),
    entry(26, Motion::Solo(solo::hop)),
    entry(27, Motion::Solo(solo::jump)),
    entry(31, Motion::Solo(solo::point)),
    entry(35, Motion::Solo(solo::bow)),
    entry(38, Motion::Solo(solo::salute)),
    entry(43, Motion::Solo(solo::fall)),
    entry(44, Motion::Solo(solo::touch_head)),
    entry(45, Motion::Solo(solo::touch_chest)),
    entry(50, Motion::Duo(duo::punch)),
    entry(51, Motion::Duo(duo::kick_other)),
    entry(52, Motion::Duo(duo::push)),
    entry(55, Motion::Duo(duo::hug)),
    entry(56, Motion::Duo(duo::give)),
    entry(58, Motion::Duo(duo::handshake)),
];

/// The default class list: twelve one-person and four two-person actions.
pub const DEFAULT_CLASSES: [u16; 16] = [1, 6, 7, 8, 9, 10, 23, 24, 27, 43, 44, 45, 50, 52, 55, 58];

/// Every action the generator knows, sorted by id.
pub fn catalogue() -> &'static [ActionSpec] {
    static SPECS: std::sync::OnceLock<Vec<ActionSpec>> = std::sync::OnceLock::new();
    SPECS.get_or_init(|| {
        ENTRIES
            .iter()
            .map(|e| ActionSpec {
                id: e.id,
                name: NTU120[usize::from(e.id) - 1],
                persons: e.motion.persons(),
            })
            .collect()
    })
}

/// The motion program of action `id`, if the catalogue has it.
pub fn motion(id: u16) -> Option<Motion> {
    ENTRIES.iter().find(|e| e.id == id).map(|e| e.motion)
}

/// Landmarks of a standing body in its own trunk frame (origin spine shoulder), used as
/// palm targets.
pub mod mark {
    use super::*;

    /// Palm on the forehead.
    pub fn forehead(s: &Subject) -> V3 {
        v3(0.0, s.neck + s.head + 0.03, 0.11)
    }

    /// Palm at the temple of `side`.
    pub fn temple(s: &Subject, side: Side) -> V3 {
        v3(side.sign() * 0.085, s.neck + s.head + 0.02, 0.03)
    }

    /// Palm (holding a cup) in front of the mouth.
    pub fn mouth(s: &Subject) -> V3 {
        v3(0.0, s.neck + 0.4 * s.head, 0.13)
    }

    /// Palm on the chest, slightly to the body's left (the heart side).
    pub fn chest(s: &Subject) -> V3 {
        v3(0.04, -0.07 * s.height, 0.13)
    }

    /// Palm on the stomach.
    pub fn stomach(s: &Subject) -> V3 {
        v3(0.0, -0.16 * s.height, 0.15)
    }
}

/// Converts a point given in the partner's body frame to this person's body frame, for
/// two people standing `gap` apart and facing each other.
pub fn from_partner(p: V3, gap: f64) -> V3 {
    v3(-p.x, p.y, gap - p.z)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn catalogue_is_sorted_ntu60_with_defaults_and_interactions() {
        let c = catalogue();
        assert!(c.len() >= 12);
        assert!(c.windows(2).all(|w| w[0].id < w[1].id));
        assert!(c.iter().all(|a| (1..=60).contains(&a.id)));
        for id in DEFAULT_CLASSES {
            assert!(motion(id).is_some(), "A{id:03}");
        }
        let duo: Vec<u16> = c.iter().filter(|a| a.persons == 2).map(|a| a.id).collect();
        assert!(duo.len() >= 2 && duo.iter().all(|&id| (50..=60).contains(&id)));
        // NTU's mutual actions are A050–A060: the persons field must agree.
        assert!(c.iter().all(|a| (a.persons == 2) == (a.id >= 50)));
        assert!(motion(2).is_none());
    }
}
