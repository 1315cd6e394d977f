//! The official list of NTU RGB+D samples with missing skeletons (docs/DATA.md §1.5), embedded:
//! 535 names for NTU-120, of which the 302 with setup ≤ 17 are NTU-60's list.

use std::collections::HashSet;
use std::sync::OnceLock;

/// The embedded list, one name per line, sorted (sha256 checked by a test).
pub const MISSING_SKELETONS_TXT: &str = include_str!("../../../data/ntu_missing_skeletons.txt");

/// Which missing list applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MissingList {
    /// The 302 names of setups S001–S017.
    Ntu60,
    /// All 535 names.
    Ntu120,
}

/// The names (no extension) of `list`.
pub fn missing_list(list: MissingList) -> Vec<&'static str> {
    MISSING_SKELETONS_TXT
        .lines()
        .filter(|l| !l.is_empty())
        .filter(|l| list == MissingList::Ntu120 || setup_of(l) <= 17)
        .collect()
}

fn setup_of(name: &str) -> u32 {
    name.get(1..4)
        .and_then(|s| s.parse().ok())
        .unwrap_or(u32::MAX)
}

/// True when `name` (with or without `.skeleton`) is on the 535-name list. The NTU-60 list
/// is the part of it with setup ≤ 17, and NTU-60 samples all have setup ≤ 17, so one set
/// serves both datasets.
pub fn is_missing(name: &str) -> bool {
    static SET: OnceLock<HashSet<&'static str>> = OnceLock::new();
    let set = SET.get_or_init(|| missing_list(MissingList::Ntu120).into_iter().collect());
    let stem = name.strip_suffix(".skeleton").unwrap_or(name);
    set.contains(stem)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    fn hex(d: &[u8]) -> String {
        d.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn embedded_list_is_the_official_one() {
        assert_eq!(
            hex(&Sha256::digest(MISSING_SKELETONS_TXT.as_bytes())),
            "f8abc124c4fc4b4e8f144caa34948f8307e5d7dcba17acf96132c9f311ff93cf"
        );
        assert_eq!(missing_list(MissingList::Ntu120).len(), 535);
    }

    #[test]
    fn ntu60_list_is_the_setups_up_to_17() {
        let l = missing_list(MissingList::Ntu60);
        assert_eq!(l.len(), 302);
        let joined: String = l.iter().map(|n| format!("{n}\n")).collect();
        assert_eq!(
            hex(&Sha256::digest(joined.as_bytes())),
            "4a964781573e86c3f3bb24d489d2b4768d2d03ede396d20ea9c09ddc92b6df18"
        );
    }

    #[test]
    fn lookup_accepts_the_extension() {
        let first = missing_list(MissingList::Ntu60)[0];
        assert!(is_missing(first));
        assert!(is_missing(&format!("{first}.skeleton")));
        assert!(!is_missing("S001C001P001R001A001"));
    }
}
