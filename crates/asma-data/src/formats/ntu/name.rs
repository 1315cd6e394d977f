//! NTU RGB+D sample names `SsssCcccPpppRrrrAaaa` (docs/DATA.md §1.1).

use std::fmt;
use std::str::FromStr;

/// The five fields of an NTU sample name, as numbers (1-based, as in the name).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct NtuName {
    pub setup: u16,
    pub camera: u16,
    pub performer: u16,
    pub replication: u16,
    pub action: u16,
}

impl NtuName {
    /// The 0-based class label (`action − 1`).
    pub fn label(&self) -> usize {
        self.action as usize - 1
    }

    /// The name plus the `.skeleton` extension.
    pub fn file_name(&self) -> String {
        format!("{self}.skeleton")
    }

    /// Parses a bare name, a file name with `.skeleton`, or a path (its base name is used,
    /// as MS-G3D's NTU-120 label files store full paths).
    pub fn parse_loose(s: &str) -> Option<NtuName> {
        let base = s.rsplit(['/', '\\']).next().unwrap_or(s);
        let stem = base.strip_suffix(".skeleton").unwrap_or(base);
        stem.parse().ok()
    }
}

impl fmt::Display for NtuName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "S{:03}C{:03}P{:03}R{:03}A{:03}",
            self.setup, self.camera, self.performer, self.replication, self.action
        )
    }
}

/// Why a string is not an NTU sample name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "'{0}' is not an NTU sample name (expected SsssCcccPpppRrrrAaaa, e.g. S001C002P003R002A013)"
)]
pub struct BadNtuName(pub String);

impl FromStr for NtuName {
    type Err = BadNtuName;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let b = s.as_bytes();
        let bad = || BadNtuName(s.to_string());
        if b.len() != 20 {
            return Err(bad());
        }
        let field = |pos: usize, letter: u8| -> Result<u16, BadNtuName> {
            if b[pos] != letter || !b[pos + 1..pos + 4].iter().all(u8::is_ascii_digit) {
                return Err(bad());
            }
            let v = b[pos + 1..pos + 4]
                .iter()
                .fold(0u16, |acc, d| acc * 10 + (d - b'0') as u16);
            if v == 0 {
                return Err(bad());
            }
            Ok(v)
        };
        Ok(NtuName {
            setup: field(0, b'S')?,
            camera: field(4, b'C')?,
            performer: field(8, b'P')?,
            replication: field(12, b'R')?,
            action: field(16, b'A')?,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parse_and_format_roundtrip() {
        let n: NtuName = "S017C003P020R002A060".parse().unwrap();
        assert_eq!(
            (n.setup, n.camera, n.performer, n.replication, n.action),
            (17, 3, 20, 2, 60)
        );
        assert_eq!(n.label(), 59);
        assert_eq!(n.to_string(), "S017C003P020R002A060");
        assert_eq!(n.file_name(), "S017C003P020R002A060.skeleton");
    }

    #[test]
    fn loose_parse_takes_paths_and_extensions() {
        let n =
            NtuName::parse_loose("/data/nturgb+d_skeletons/S001C001P001R001A001.skeleton").unwrap();
        assert_eq!(n.action, 1);
        assert!(NtuName::parse_loose("S001C001P001R001A001").is_some());
    }

    #[test]
    fn rejects_malformed_names() {
        for s in [
            "",
            "S001C001P001R001A01",
            "X001C001P001R001A001",
            "S001C001P001R001A000",
            "S001C001P0a1R001A001",
        ] {
            assert!(s.parse::<NtuName>().is_err(), "{s}");
        }
    }
}
