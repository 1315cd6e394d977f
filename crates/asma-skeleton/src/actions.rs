//! Action class names: NTU RGB+D 120 (whose first 60 are NTU RGB+D 60) and PKU-MMD's 51, as
//! the datasets' own action tables spell them, so that a prediction reads "A044 touch head
//! (headache)" rather than a bare id.
//!
//! Class `i` (0-based, the label every loader uses) is action `A{i+1:03}`. PKU-MMD numbers
//! its actions 1–51 in the order below (its `Actions.xlsx`), which is how `asma data
//! prepare` labels PKU-MMD clips (`label − 1`).
//!
//! A dataset of one's own names its classes in a run's configuration (`data.classes`); see
//! [`ClassNames`].

use std::path::Path;

/// The file in a classifier's run directory that names its classes (a JSON list).
pub const CLASSES_FILE: &str = "classes.json";

/// NTU RGB+D 120's action names, A001–A120; A001–A060 are NTU RGB+D 60's.
pub const NTU120: [&str; 120] = [
    "drink water",
    "eat meal/snack",
    "brushing teeth",
    "brushing hair",
    "drop",
    "pickup",
    "throw",
    "sitting down",
    "standing up (from sitting position)",
    "clapping",
    "reading",
    "writing",
    "tear up paper",
    "wear jacket",
    "take off jacket",
    "wear a shoe",
    "take off a shoe",
    "wear on glasses",
    "take off glasses",
    "put on a hat/cap",
    "take off a hat/cap",
    "cheer up",
    "hand waving",
    "kicking something",
    "reach into pocket",
    "hopping (one foot jumping)",
    "jump up",
    "make a phone call/answer phone",
    "playing with phone/tablet",
    "typing on a keyboard",
    "pointing to something with finger",
    "taking a selfie",
    "check time (from watch)",
    "rub two hands together",
    "nod head/bow",
    "shake head",
    "wipe face",
    "salute",
    "put the palms together",
    "cross hands in front (say stop)",
    "sneeze/cough",
    "staggering",
    "falling",
    "touch head (headache)",
    "touch chest (stomachache/heart pain)",
    "touch back (backache)",
    "touch neck (neckache)",
    "nausea or vomiting condition",
    "use a fan (with hand or paper)/feeling warm",
    "punching/slapping other person",
    "kicking other person",
    "pushing other person",
    "pat on back of other person",
    "point finger at the other person",
    "hugging other person",
    "giving something to other person",
    "touch other person's pocket",
    "handshaking",
    "walking towards each other",
    "walking apart from each other",
    "put on headphone",
    "take off headphone",
    "shoot at the basket",
    "bounce ball",
    "tennis bat swing",
    "juggling table tennis balls",
    "hush (quite)",
    "flick hair",
    "thumb up",
    "thumb down",
    "make ok sign",
    "make victory sign",
    "staple book",
    "counting money",
    "cutting nails",
    "cutting paper (using scissors)",
    "snapping fingers",
    "open bottle",
    "sniff (smell)",
    "squat down",
    "toss a coin",
    "fold paper",
    "ball up paper",
    "play magic cube",
    "apply cream on face",
    "apply cream on hand back",
    "put on bag",
    "take off bag",
    "put something into a bag",
    "take something out of a bag",
    "open a box",
    "move heavy objects",
    "shake fist",
    "throw up cap/hat",
    "hands up (both hands)",
    "cross arms",
    "arm circles",
    "arm swings",
    "running on the spot",
    "butt kicks (kick backward)",
    "cross toe touch",
    "side kick",
    "yawn",
    "stretch oneself",
    "blow nose",
    "hit other person with something",
    "wield knife towards other person",
    "knock over other person (hit with body)",
    "grab other person's stuff",
    "shoot at other person with a gun",
    "step on foot",
    "high-five",
    "cheers and drink",
    "carry something with other person",
    "take a photo of other person",
    "follow other person",
    "whisper in other person's ear",
    "exchange things with other person",
    "support somebody with hand",
    "finger-guessing game (playing rock-paper-scissors)",
];

/// PKU-MMD's action names, 1–51 (Parts I and II share them).
pub const PKU_MMD: [&str; 51] = [
    "bow",
    "brushing hair",
    "brushing teeth",
    "check time (from watch)",
    "cheer up",
    "clapping",
    "cross hands in front (say stop)",
    "drink water",
    "drop",
    "eat meal/snack",
    "falling",
    "giving something to other person",
    "hand waving",
    "handshaking",
    "hopping (one foot jumping)",
    "hugging other person",
    "jump up",
    "kicking other person",
    "kicking something",
    "make a phone call/answer phone",
    "pat on back of other person",
    "pickup",
    "playing with phone/tablet",
    "point finger at the other person",
    "pointing to something with finger",
    "punching/slapping other person",
    "pushing other person",
    "put on a hat/cap",
    "put something inside pocket",
    "reading",
    "rub two hands together",
    "salute",
    "sitting down",
    "standing up",
    "take off a hat/cap",
    "take off glasses",
    "take off jacket",
    "take out something from pocket",
    "taking a selfie",
    "tear up paper",
    "throw",
    "touch back (backache)",
    "touch chest (stomachache/heart pain)",
    "touch head (headache)",
    "touch neck (neckache)",
    "typing on a keyboard",
    "use a fan (with hand or paper)/feeling warm",
    "wear jacket",
    "wear on glasses",
    "wipe face",
    "writing",
];

/// A built-in class list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ActionSet {
    Ntu60,
    Ntu120,
    PkuMmd,
}

impl ActionSet {
    pub fn names(self) -> &'static [&'static str] {
        match self {
            ActionSet::Ntu60 => &NTU120[..60],
            ActionSet::Ntu120 => &NTU120,
            ActionSet::PkuMmd => &PKU_MMD,
        }
    }
}

/// Why a class list cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum ClassNamesError {
    #[error("{path}: {source}")]
    Io {
        path: String,
        source: std::io::Error,
    },
    #[error("{origin}: {found} class names for a model of {expected} classes")]
    Count {
        origin: String,
        found: usize,
        expected: usize,
    },
    #[error("{origin}: class {index} has an empty name")]
    Empty { origin: String, index: usize },
}

/// The names of a model's classes, class `i` at index `i`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct ClassNames(Vec<String>);

impl ClassNames {
    /// Checked: exactly `num_classes` names, none empty (`origin` names the source in
    /// errors).
    pub fn new(
        names: Vec<String>,
        num_classes: usize,
        origin: &str,
    ) -> Result<Self, ClassNamesError> {
        if names.len() != num_classes {
            return Err(ClassNamesError::Count {
                origin: origin.into(),
                found: names.len(),
                expected: num_classes,
            });
        }
        if let Some(index) = names.iter().position(|n| n.trim().is_empty()) {
            return Err(ClassNamesError::Empty {
                origin: origin.into(),
                index,
            });
        }
        Ok(ClassNames(names))
    }

    /// A built-in list.
    pub fn builtin(set: ActionSet) -> Self {
        ClassNames(set.names().iter().map(|s| s.to_string()).collect())
    }

    /// The built-in list a head of `num_classes` outputs most likely predicts when nothing
    /// else names it: 60 → NTU-60, 120 → NTU-120, 51 → PKU-MMD; otherwise none.
    pub fn guess(num_classes: usize) -> Option<Self> {
        match num_classes {
            60 => Some(Self::builtin(ActionSet::Ntu60)),
            120 => Some(Self::builtin(ActionSet::Ntu120)),
            51 => Some(Self::builtin(ActionSet::PkuMmd)),
            _ => None,
        }
    }

    /// A text file of one name per line (blank lines and `#` comments skipped).
    pub fn read(path: &Path, num_classes: usize) -> Result<Self, ClassNamesError> {
        let text = std::fs::read_to_string(path).map_err(|source| ClassNamesError::Io {
            path: path.display().to_string(),
            source,
        })?;
        let names = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(String::from)
            .collect();
        Self::new(names, num_classes, &path.display().to_string())
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The name of class `class` (0-based).
    pub fn name(&self, class: usize) -> Option<&str> {
        self.0.get(class).map(String::as_str)
    }

    pub fn as_slice(&self) -> &[String] {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_have_the_datasets_sizes_and_known_entries() {
        assert_eq!(ActionSet::Ntu60.names().len(), 60);
        // Spot checks against the datasets' tables (1-based ids).
        assert_eq!(NTU120[0], "drink water");
        assert_eq!(NTU120[43], "touch head (headache)");
        assert_eq!(NTU120[59], "walking apart from each other");
        assert_eq!(NTU120[60], "put on headphone");
        assert_eq!(NTU120[72], "staple book");
        assert_eq!(
            NTU120[119],
            "finger-guessing game (playing rock-paper-scissors)"
        );
        assert_eq!(PKU_MMD[0], "bow");
        assert_eq!(PKU_MMD[50], "writing");
        // PKU-MMD's table is alphabetical: an entry out of place would show here.
        assert!(PKU_MMD.windows(2).all(|w| w[0] < w[1]));
        for set in [ActionSet::Ntu120, ActionSet::PkuMmd] {
            let mut names = set.names().to_vec();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), set.names().len(), "duplicate names in {set:?}");
        }
    }

    #[test]
    fn a_list_must_match_the_head_and_name_every_class() {
        assert_eq!(
            ClassNames::guess(60).unwrap().name(43),
            Some("touch head (headache)")
        );
        assert_eq!(ClassNames::guess(51).unwrap().name(0), Some("bow"));
        assert!(ClassNames::guess(16).is_none());
        let e = ClassNames::new(vec!["a".into(), "b".into()], 3, "classes.txt").unwrap_err();
        assert_eq!(
            e.to_string(),
            "classes.txt: 2 class names for a model of 3 classes"
        );
        let e = ClassNames::new(vec!["a".into(), " ".into()], 2, "cfg").unwrap_err();
        assert_eq!(e.to_string(), "cfg: class 1 has an empty name");
    }

    #[test]
    fn a_file_names_one_class_per_line() {
        let dir = std::env::temp_dir().join(format!("asma-classes-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("classes.txt");
        std::fs::write(&path, "# my gestures\nwave\n\n point \nstop\n").unwrap();
        let names = ClassNames::read(&path, 3).unwrap();
        assert_eq!(names.as_slice(), ["wave", "point", "stop"]);
        // A truncated file: the count names the problem and the file.
        std::fs::write(&path, "wave\npoint\n").unwrap();
        let e = ClassNames::read(&path, 3).unwrap_err().to_string();
        assert!(
            e.contains("classes.txt") && e.contains("2 class names"),
            "{e}"
        );
        let e = ClassNames::read(&dir.join("absent.txt"), 3)
            .unwrap_err()
            .to_string();
        assert!(e.contains("absent.txt"), "{e}");
        std::fs::remove_dir_all(&dir).unwrap();
    }
}
