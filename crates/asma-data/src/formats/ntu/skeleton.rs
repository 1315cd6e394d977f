//! The NTU RGB+D raw `.skeleton` text format (docs/DATA.md §1.2): reader and writer.
//!
//! The layout is count-driven: frame count; per frame a body count; per body a 10-value
//! body-info line, a joint count and one 12-value line per joint. The reader works line by
//! line (so every error names its 1-based line), accepts CRLF, blank lines, 0-body frames and
//! any number of bodies. It also reads the compact variant that AimCLR's PKU-MMD cutter
//! writes (`x y z` joint lines, and for two bodies one info line followed by 2 × 25 joints).

use std::io::Write;
use std::path::Path;

use crate::error::{read_file, DataError, Result};

/// One joint of one body in one frame: the 12 values of a joint line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct Joint {
    /// Camera-space position, metres (z = distance from the sensor, y up).
    pub xyz: [f32; 3],
    /// Pixel position in the 512×424 depth image.
    pub depth: [f32; 2],
    /// Pixel position in the 1920×1080 colour image.
    pub color: [f32; 2],
    /// Orientation quaternion (w, x, y, z); zeros for end joints.
    pub orientation: [f32; 4],
    /// 0 not tracked, 1 inferred, 2 tracked.
    pub tracking_state: u8,
}

/// The 10 values of a body-info line.
#[derive(Debug, Clone, Copy, PartialEq, Default)]
pub struct BodyInfo {
    /// Kinect tracking id (kept exact: it does not fit an f64).
    pub id: u64,
    /// Bitmask: 1 right, 2 left, 4 top, 8 bottom edge of the field of view.
    pub clipped_edges: u32,
    pub hand_left_confidence: u8,
    pub hand_left_state: u8,
    pub hand_right_confidence: u8,
    pub hand_right_state: u8,
    pub is_restricted: u8,
    /// leanX, leanY.
    pub lean: [f32; 2],
    /// 2 = tracked.
    pub tracking_state: u8,
}

/// One body in one frame.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Body {
    pub info: BodyInfo,
    pub joints: Vec<Joint>,
}

/// One frame: the bodies in file order (0, 1, 2 or more).
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Frame {
    pub bodies: Vec<Body>,
}

/// A whole `.skeleton` file.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SkeletonFile {
    pub frames: Vec<Frame>,
}

impl SkeletonFile {
    /// Largest number of bodies in any frame.
    pub fn max_bodies(&self) -> usize {
        self.frames
            .iter()
            .map(|f| f.bodies.len())
            .max()
            .unwrap_or(0)
    }
}

/// Reads and parses a `.skeleton` file.
pub fn read_skeleton(path: &Path) -> Result<SkeletonFile> {
    let bytes = read_file(path)?;
    parse_skeleton(&bytes, path)
}

/// Line cursor over a text buffer that skips blank lines and counts 1-based line numbers.
struct Cursor<'a> {
    data: &'a [u8],
    pos: usize,
    line: usize,
    path: &'a Path,
    /// Start of the line last read by the fast path (to re-read it for an error message).
    fast_start: usize,
}

impl<'a> Cursor<'a> {
    /// The next non-blank line, split into tokens, or `None` at the end of the data. One
    /// pass over the bytes finds both the line end and the token boundaries (the hot loop of
    /// the reader).
    fn next_tokens(&mut self, out: &mut Vec<&'a [u8]>) -> bool {
        let data = self.data;
        while self.pos < data.len() {
            out.clear();
            self.line += 1;
            let mut i = self.pos;
            let mut start = usize::MAX;
            while i < data.len() {
                let b = data[i];
                if b == b'\n' {
                    break;
                }
                if b.is_ascii_whitespace() {
                    if start != usize::MAX {
                        out.push(&data[start..i]);
                        start = usize::MAX;
                    }
                } else if start == usize::MAX {
                    start = i;
                }
                i += 1;
            }
            if start != usize::MAX {
                out.push(&data[start..i]);
            }
            self.pos = i + 1;
            if !out.is_empty() {
                return true;
            }
        }
        false
    }

    /// The next joint line. `compact` says whether the file uses 3-value lines (`None`: decide
    /// from this line). Plain decimal lines take a single-pass fast path; anything unusual
    /// (exponents, long digit strings, errors) goes through the tokenizer, which also
    /// produces the error messages.
    fn joint(&mut self, toks: &mut Vec<&'a [u8]>, compact: Option<bool>) -> Result<(Joint, bool)> {
        let mut vals = [0f64; 12];
        if let Some(n) = self.fast_line(&mut vals) {
            let is_compact = n == 3;
            let state = vals[11];
            if (n == 12 || is_compact)
                && compact.is_none_or(|c| c == is_compact)
                && (is_compact || (state.fract() == 0.0 && (0.0..=255.0).contains(&state)))
            {
                let v = vals.map(|x| x as f32);
                return Ok((
                    Joint {
                        xyz: [v[0], v[1], v[2]],
                        depth: [v[3], v[4]],
                        color: [v[5], v[6]],
                        orientation: [v[7], v[8], v[9], v[10]],
                        tracking_state: if is_compact { 2 } else { state as u8 },
                    },
                    is_compact,
                ));
            }
            // Valid numbers but not a valid joint line: re-read it for the error message.
            self.pos = self.fast_start;
            self.line -= 1;
        }
        self.expect_tokens(toks, "a joint line")?;
        let is_compact = compact.unwrap_or(toks.len() == 3);
        let joint = parse_joint(toks, is_compact).map_err(|m| self.err(m))?;
        Ok((joint, is_compact))
    }

    /// Reads the next line as up to 12 plain decimals (`-0.25`, `2`) in one pass. Returns
    /// `None`, consuming nothing, when the line is blank, longer, or holds anything else.
    fn fast_line(&mut self, vals: &mut [f64; 12]) -> Option<usize> {
        let data = self.data;
        let mut i = self.pos;
        let mut n = 0;
        loop {
            while i < data.len() && matches!(data[i], b' ' | b'\t' | b'\r') {
                i += 1;
            }
            if i >= data.len() || data[i] == b'\n' {
                break;
            }
            if n == vals.len() {
                return None;
            }
            let neg = data[i] == b'-';
            if neg || data[i] == b'+' {
                i += 1;
            }
            let (mut m, mut digits, mut decimals, mut dot) = (0u64, 0usize, 0usize, false);
            while i < data.len() {
                let b = data[i];
                let d = b.wrapping_sub(b'0');
                if d < 10 {
                    m = m.wrapping_mul(10).wrapping_add(d as u64);
                    digits += 1;
                    decimals += dot as usize;
                } else if b == b'.' && !dot {
                    dot = true;
                } else {
                    break;
                }
                i += 1;
            }
            if digits == 0
                || digits > 15
                || (i < data.len() && !matches!(data[i], b' ' | b'\t' | b'\r' | b'\n'))
            {
                return None;
            }
            let v = m as f64 / POW10[decimals];
            vals[n] = if neg { -v } else { v };
            n += 1;
        }
        if n == 0 {
            return None;
        }
        self.fast_start = self.pos;
        self.pos = i + 1;
        self.line += 1;
        Some(n)
    }

    fn expect_tokens(&mut self, out: &mut Vec<&'a [u8]>, what: &str) -> Result<()> {
        if self.next_tokens(out) {
            Ok(())
        } else {
            Err(DataError::parse(
                self.path,
                self.line + 1,
                format!("file is truncated: expected {what}, found the end of the file"),
            ))
        }
    }

    fn err(&self, msg: impl Into<String>) -> DataError {
        DataError::parse(self.path, self.line, msg)
    }

    fn count(&mut self, toks: &mut Vec<&'a [u8]>, what: &str) -> Result<usize> {
        self.expect_tokens(toks, what)?;
        if toks.len() != 1 {
            return Err(self.err(format!(
                "expected {what} (one integer), found {} values",
                toks.len()
            )));
        }
        parse_int::<usize>(toks[0])
            .ok_or_else(|| self.err(format!("expected {what}, found '{}'", show(toks[0]))))
    }
}

fn show(tok: &[u8]) -> String {
    String::from_utf8_lossy(tok).chars().take(40).collect()
}

fn parse_int<T: std::str::FromStr>(tok: &[u8]) -> Option<T> {
    std::str::from_utf8(tok).ok()?.parse().ok()
}

/// Parses a float the way NumPy does for these files (text → f64 → f32), rejecting NaN/inf.
fn parse_f32(tok: &[u8]) -> std::result::Result<f32, String> {
    if let Some(v) = fast_decimal(tok) {
        return Ok(v as f32);
    }
    let s = std::str::from_utf8(tok).map_err(|_| format!("'{}' is not a number", show(tok)))?;
    let v: f64 = s
        .parse()
        .map_err(|_| format!("'{}' is not a number", show(tok)))?;
    if !v.is_finite() {
        return Err(format!("non-finite value '{s}'"));
    }
    Ok(v as f32)
}

/// Exact powers of ten representable in an f64 (10^0 ..= 10^22).
const POW10: [f64; 23] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15, 1e16,
    1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
];

/// The fast path for the plain decimals these files hold (`-0.2181249`, `72`, `512.5`):
/// with at most 15 digits and at most 22 decimals, `mantissa / 10^decimals` is a
/// division of two exactly representable values, so IEEE rounding makes it the correctly
/// rounded value — the same f64 `str::parse` gives. Anything else (exponents, long digit
/// strings, `nan`, junk) returns `None` and takes the general path.
fn fast_decimal(tok: &[u8]) -> Option<f64> {
    let (neg, digits) = match tok.first()? {
        b'-' => (true, &tok[1..]),
        b'+' => (false, &tok[1..]),
        _ => (false, tok),
    };
    let mut mantissa = 0u64;
    let mut dot = usize::MAX;
    for (i, &b) in digits.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d < 10 {
            // Cannot overflow: more than 15 digits are rejected below, and 19 fit in a u64.
            mantissa = mantissa.wrapping_mul(10).wrapping_add(d as u64);
        } else if b == b'.' && dot == usize::MAX {
            dot = i;
        } else {
            return None;
        }
    }
    let has_dot = dot != usize::MAX;
    let n_digits = digits.len() - has_dot as usize;
    // 15 digits (leading zeros included) keep the mantissa below 2^53, so it is exact.
    if n_digits == 0 || n_digits > 15 {
        return None;
    }
    let decimals = if has_dot { digits.len() - 1 - dot } else { 0 };
    let v = mantissa as f64 / POW10[decimals];
    Some(if neg { -v } else { v })
}

/// Most joints a body may declare; real files always say 25.
const MAX_JOINTS: usize = 25;

/// Parses the text of a `.skeleton` file; `path` only names the file in errors.
pub fn parse_skeleton(data: &[u8], path: &Path) -> Result<SkeletonFile> {
    let mut cur = Cursor {
        data,
        pos: 0,
        line: 0,
        path,
        fast_start: 0,
    };
    let mut toks: Vec<&[u8]> = Vec::with_capacity(16);
    if !cur.next_tokens(&mut toks) {
        return Err(DataError::parse(
            path,
            1,
            "empty file: expected the frame count",
        ));
    }
    if toks.len() != 1 {
        return Err(cur.err(format!(
            "expected the frame count (one integer), found {} values",
            toks.len()
        )));
    }
    let n_frames: usize = parse_int(toks[0]).ok_or_else(|| {
        cur.err(format!(
            "expected the frame count, found '{}'",
            show(toks[0])
        ))
    })?;
    let mut frames = Vec::with_capacity(n_frames.min(10_000));
    for f in 0..n_frames {
        let n_bodies = cur.count(
            &mut toks,
            &format!("the body count of frame {} of {n_frames}", f + 1),
        )?;
        // Capacity bounded: a corrupt count must not allocate before the data proves it.
        let mut bodies = Vec::with_capacity(n_bodies.min(8));
        let mut b = 0;
        while b < n_bodies {
            cur.expect_tokens(&mut toks, "a body-info line")?;
            let info = parse_body_info(&toks).map_err(|m| cur.err(m))?;
            let n_joints = cur.count(&mut toks, "the joint count")?;
            if n_joints != MAX_JOINTS {
                return Err(cur.err(format!(
                    "joint count {n_joints}, expected {MAX_JOINTS} (Kinect v2 layout)"
                )));
            }
            let mut joints = Vec::with_capacity(n_joints);
            let (first, compact) = cur.joint(&mut toks, None)?;
            joints.push(first);
            // AimCLR's PKU cutter writes one info line for all bodies of a frame.
            let bodies_here = if compact { n_bodies - b } else { 1 };
            for k in 0..n_joints * bodies_here {
                if k > 0 {
                    joints.push(cur.joint(&mut toks, Some(compact))?.0);
                }
                if joints.len() == n_joints {
                    bodies.push(Body {
                        info,
                        joints: std::mem::replace(&mut joints, Vec::with_capacity(n_joints)),
                    });
                }
            }
            b += bodies_here;
        }
        frames.push(Frame { bodies });
    }
    if cur.next_tokens(&mut toks) {
        return Err(cur.err(format!(
            "unexpected data after the last of {n_frames} frames"
        )));
    }
    Ok(SkeletonFile { frames })
}

fn parse_body_info(toks: &[&[u8]]) -> std::result::Result<BodyInfo, String> {
    if toks.len() != 10 {
        return Err(format!(
            "body-info line has {} values, expected 10",
            toks.len()
        ));
    }
    let int = |i: usize, name: &str| -> std::result::Result<u64, String> {
        parse_int::<u64>(toks[i])
            .ok_or_else(|| format!("body-info {name} '{}' is not an integer", show(toks[i])))
    };
    let small = |i: usize, name: &str| -> std::result::Result<u8, String> {
        let v = int(i, name)?;
        u8::try_from(v).map_err(|_| format!("body-info {name} {v} is out of range"))
    };
    Ok(BodyInfo {
        id: int(0, "bodyID")?,
        clipped_edges: int(1, "clippedEdges")? as u32,
        hand_left_confidence: small(2, "handLeftConfidence")?,
        hand_left_state: small(3, "handLeftState")?,
        hand_right_confidence: small(4, "handRightConfidence")?,
        hand_right_state: small(5, "handRightState")?,
        is_restricted: small(6, "isRestricted")?,
        lean: [parse_f32(toks[7])?, parse_f32(toks[8])?],
        tracking_state: small(9, "trackingState")?,
    })
}

fn parse_joint(toks: &[&[u8]], compact: bool) -> std::result::Result<Joint, String> {
    let expected = if compact { 3 } else { 12 };
    if toks.len() != expected {
        return Err(format!(
            "joint line has {} values, expected {expected}",
            toks.len()
        ));
    }
    let mut v = [0f32; 11];
    for (i, t) in toks.iter().take(expected.min(11)).enumerate() {
        v[i] = parse_f32(t)?;
    }
    let tracking_state = if compact {
        2
    } else {
        parse_int::<u8>(toks[11])
            .ok_or_else(|| format!("joint trackingState '{}' is not an integer", show(toks[11])))?
    };
    Ok(Joint {
        xyz: [v[0], v[1], v[2]],
        depth: [v[3], v[4]],
        color: [v[5], v[6]],
        orientation: [v[7], v[8], v[9], v[10]],
        tracking_state,
    })
}

/// Writes `file` in the NTU layout (12-value joint lines, `\r\n` line ends as the official
/// files use).
pub fn write_skeleton(file: &SkeletonFile, out: &mut impl Write) -> std::io::Result<()> {
    let mut s = String::with_capacity(64 * 1024);
    use std::fmt::Write as _;
    let _ = write!(s, "{}\r\n", file.frames.len());
    for frame in &file.frames {
        let _ = write!(s, "{}\r\n", frame.bodies.len());
        for body in &frame.bodies {
            let i = &body.info;
            let _ = write!(
                s,
                "{} {} {} {} {} {} {} {} {} {}\r\n{}\r\n",
                i.id,
                i.clipped_edges,
                i.hand_left_confidence,
                i.hand_left_state,
                i.hand_right_confidence,
                i.hand_right_state,
                i.is_restricted,
                i.lean[0],
                i.lean[1],
                i.tracking_state,
                body.joints.len()
            );
            for j in &body.joints {
                let _ = write!(
                    s,
                    "{} {} {} {} {} {} {} {} {} {} {} {}\r\n",
                    j.xyz[0],
                    j.xyz[1],
                    j.xyz[2],
                    j.depth[0],
                    j.depth[1],
                    j.color[0],
                    j.color[1],
                    j.orientation[0],
                    j.orientation[1],
                    j.orientation[2],
                    j.orientation[3],
                    j.tracking_state
                );
            }
        }
        if s.len() > 48 * 1024 {
            out.write_all(s.as_bytes())?;
            s.clear();
        }
    }
    out.write_all(s.as_bytes())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body(id: u64, offset: f32) -> Body {
        let joints = (0..25)
            .map(|j| Joint {
                xyz: [offset + j as f32 * 0.01, 0.5 - j as f32 * 0.02, 3.0],
                depth: [250.0, 200.0],
                color: [960.5, 540.25],
                orientation: [0.1, 0.2, 0.3, 0.9],
                tracking_state: 2,
            })
            .collect();
        Body {
            info: BodyInfo {
                id,
                tracking_state: 2,
                lean: [0.1, -0.2],
                ..Default::default()
            },
            joints,
        }
    }

    fn sample() -> SkeletonFile {
        SkeletonFile {
            frames: vec![
                Frame {
                    bodies: vec![body(72057594037931101, 0.0)],
                },
                Frame { bodies: vec![] },
                Frame {
                    bodies: vec![body(1, 0.1), body(2, 0.2), body(3, 0.3)],
                },
            ],
        }
    }

    fn text(f: &SkeletonFile) -> Vec<u8> {
        let mut v = Vec::new();
        write_skeleton(f, &mut v).unwrap();
        v
    }

    #[test]
    fn roundtrip_with_empty_frames_three_bodies_and_exact_ids() {
        let f = sample();
        let parsed = parse_skeleton(&text(&f), Path::new("x.skeleton")).unwrap();
        assert_eq!(parsed, f);
        assert_eq!(parsed.frames[0].bodies[0].info.id, 72057594037931101);
        assert_eq!(parsed.max_bodies(), 3);
    }

    #[test]
    fn accepts_lf_only_and_blank_lines() {
        let t = String::from_utf8(text(&sample()))
            .unwrap()
            .replace("\r\n", "\n\n");
        assert_eq!(
            parse_skeleton(t.as_bytes(), Path::new("x")).unwrap(),
            sample()
        );
    }

    #[test]
    fn reads_the_compact_pku_cut_variant() {
        let mut t = String::from("1\n2\n6 1 0 0 1 1 0 -0.437266 -0.117168 2\n25\n");
        for j in 0..50 {
            t += &format!("{} 0.5 2.5\n", j as f32 * 0.1);
        }
        let f = parse_skeleton(t.as_bytes(), Path::new("F002V001C001L001.skeleton")).unwrap();
        assert_eq!(f.frames[0].bodies.len(), 2);
        assert_eq!(f.frames[0].bodies[1].joints[0].xyz, [2.5, 0.5, 2.5]);
    }

    fn err(t: &str) -> String {
        parse_skeleton(t.as_bytes(), Path::new("bad.skeleton"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn truncated_file_names_file_and_line() {
        let full = String::from_utf8(text(&sample())).unwrap();
        let cut: String = full.lines().take(20).map(|l| format!("{l}\n")).collect();
        let e = err(&cut);
        assert!(
            e.starts_with("bad.skeleton: line 21: file is truncated"),
            "{e}"
        );
    }

    #[test]
    fn empty_file_is_an_error() {
        assert!(err("").contains("empty file"));
        assert!(err("\r\n  \n").contains("empty file"));
    }

    #[test]
    fn wrong_joint_count_is_an_error() {
        let t = String::from_utf8(text(&sample()))
            .unwrap()
            .replacen("\r\n25\r\n", "\r\n24\r\n", 1);
        let e = err(&t);
        assert!(e.contains("line 4: joint count 24, expected 25"), "{e}");
    }

    #[test]
    fn non_numeric_and_non_finite_tokens_are_errors() {
        let full = String::from_utf8(text(&sample())).unwrap();
        let mut lines: Vec<String> = full.lines().map(String::from).collect();
        lines[5] = lines[5].replacen("0.01", "abc", 1);
        let e = err(&lines.join("\n"));
        assert!(e.contains("line 6: 'abc' is not a number"), "{e}");
        lines[5] = "nan 0 3 250 200 960 540 0 0 0 0 2".into();
        let e = err(&lines.join("\n"));
        assert!(e.contains("line 6: non-finite value 'nan'"), "{e}");
    }

    #[test]
    fn trailing_garbage_is_an_error() {
        let mut t = String::from_utf8(text(&sample())).unwrap();
        t += "7\n";
        assert!(err(&t).contains("unexpected data after the last of 3 frames"));
    }
}

#[cfg(test)]
mod fuzz_regressions {
    use super::*;

    #[test]
    fn fast_line_path_equals_the_tokenizer_path() {
        // The same file twice: plain decimals (fast path) and every joint value with an
        // `e0` exponent (forces the tokenizer path). Both must parse to the same values.
        let mut rng = crate::rng::Rng::new(5);
        let mut plain = String::from("3\n");
        let mut slow = plain.clone();
        for _ in 0..3 {
            plain += "1\n72057594037931101 0 1 1 1 1 0 0.1 -0.2 2\n25\n";
            slow += "1\n72057594037931101 0 1 1 1 1 0 0.1 -0.2 2\n25\n";
            for _ in 0..25 {
                let vals: Vec<String> = (0..11)
                    .map(|_| format!("{:.*}", 1 + rng.below(8), rng.uniform(-600.0, 1900.0)))
                    .collect();
                plain += &format!("{} 2\r\n", vals.join(" "));
                slow += &format!(
                    "{} 2\r\n",
                    vals.iter()
                        .map(|v| format!("{v}e0"))
                        .collect::<Vec<_>>()
                        .join(" ")
                );
            }
        }
        let a = parse_skeleton(plain.as_bytes(), Path::new("a")).unwrap();
        let b = parse_skeleton(slow.as_bytes(), Path::new("b")).unwrap();
        assert_eq!(a, b);
    }

    #[test]
    fn fast_decimal_path_equals_the_general_parser() {
        let mut rng = crate::rng::Rng::new(11);
        for _ in 0..200_000 {
            let digits = 1 + rng.below(9);
            let v = rng.uniform(-5.0, 5.0);
            let text = format!("{v:.digits$}");
            assert_eq!(
                fast_decimal(text.as_bytes()),
                Some(text.parse::<f64>().unwrap()),
                "{text}"
            );
        }
        for t in [
            "0",
            "-0",
            "72057594",
            ".5",
            "5.",
            "-0.000001",
            "123456789012345",
        ] {
            assert_eq!(
                fast_decimal(t.as_bytes()).map(f64::to_bits),
                Some(t.parse::<f64>().unwrap().to_bits()),
                "{t}"
            );
        }
        for t in [
            "1e5",
            "nan",
            "inf",
            "-",
            ".",
            "1.2.3",
            "1234567890123456",
            "0.000000000000001",
            "0x10",
            "",
        ] {
            assert_eq!(fast_decimal(t.as_bytes()), None, "{t}");
        }
    }

    #[test]
    fn huge_body_count_is_a_truncation_error_not_an_allocation() {
        // Found by `cargo fuzz run skeleton`: the body count 72070997 was used as a capacity.
        let data = b"11\r\n72070997\n\0\0\0\0\0\0\x0003963 3963 1212 \xcd6";
        let e = parse_skeleton(data, Path::new("f.skeleton"))
            .unwrap_err()
            .to_string();
        assert!(e.starts_with("f.skeleton: line 3"), "{e}");
    }
}
