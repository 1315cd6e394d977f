//! PKU-MMD Part I and II (docs/DATA.md §3d): the 150-float skeleton files of the long videos,
//! the comma-separated label rows, the 4-line split files, and cutting one clip per label
//! row the way AimCLR's `pku_part{1,2}_skeleton.py` does (1-based inclusive frames; body 2
//! present in a frame only when its 75 values do not sum to zero).

use std::path::Path;

use asma_skeleton::Sequence;
use serde::Serialize;

use crate::error::{read_file, DataError, Result};

/// PKU-MMD's class count (both parts share the 1–51 id space).
pub const PKU_CLASSES: usize = 51;
/// Values per frame line: 2 bodies × 25 joints × xyz.
const FRAME_VALUES: usize = 150;

/// One labelled action instance of a video.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct PkuLabel {
    /// Action id, 1–51.
    pub action: u16,
    /// First frame, 1-based.
    pub start: usize,
    /// Last frame, 1-based, inclusive.
    pub end: usize,
    /// 1 = slight, 2 = strong recommendation.
    pub confidence: u8,
}

/// The train and test video ids of a split file.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct PkuSplit {
    pub train: Vec<String>,
    pub test: Vec<String>,
}

impl PkuSplit {
    /// AimCLR's rule: a video is training data when it is on the training line; every
    /// other video is test data.
    pub fn is_train(&self, video: &str) -> bool {
        self.train.iter().any(|v| v == video)
    }
}

/// Reads a skeleton file: one frame per line, at least 150 floats (extra columns ignored).
pub fn read_pku_frames(path: &Path) -> Result<Vec<[f32; FRAME_VALUES]>> {
    let bytes = read_file(path)?;
    parse_pku_frames(&bytes, path)
}

/// Parses the text of a skeleton file; `path` names it in errors.
pub fn parse_pku_frames(data: &[u8], path: &Path) -> Result<Vec<[f32; FRAME_VALUES]>> {
    let text = std::str::from_utf8(data)
        .map_err(|e| DataError::invalid(path, format!("not UTF-8 text: {e}")))?;
    let mut frames = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let mut frame = [0f32; FRAME_VALUES];
        let mut n = 0;
        for tok in line.split_ascii_whitespace().take(FRAME_VALUES) {
            let v: f64 = tok
                .parse()
                .map_err(|_| DataError::parse(path, i + 1, format!("'{tok}' is not a number")))?;
            if !v.is_finite() {
                return Err(DataError::parse(
                    path,
                    i + 1,
                    format!("non-finite value '{tok}'"),
                ));
            }
            frame[n] = v as f32;
            n += 1;
        }
        if n < FRAME_VALUES {
            return Err(DataError::parse(
                path,
                i + 1,
                format!("frame line has {n} values, expected {FRAME_VALUES}"),
            ));
        }
        frames.push(frame);
    }
    if frames.is_empty() {
        return Err(DataError::invalid(
            path,
            "empty skeleton file: no frame lines",
        ));
    }
    Ok(frames)
}

/// Reads a label file: `action,start,end,confidence` per line.
pub fn read_pku_labels(path: &Path) -> Result<Vec<PkuLabel>> {
    let bytes = read_file(path)?;
    parse_pku_labels(&bytes, path)
}

/// Parses the text of a label file; `path` names it in errors.
pub fn parse_pku_labels(data: &[u8], path: &Path) -> Result<Vec<PkuLabel>> {
    let text = std::str::from_utf8(data)
        .map_err(|e| DataError::invalid(path, format!("not UTF-8 text: {e}")))?;
    let mut rows = Vec::new();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let err = |msg: String| DataError::parse(path, i + 1, msg);
        let fields: Vec<&str> = line.split(',').map(str::trim).collect();
        if fields.len() < 3 {
            return Err(err(format!(
                "label row has {} fields, expected action,start,end,confidence",
                fields.len()
            )));
        }
        // Label files write integers, some as "12.0"; accept integral floats only.
        let int = |k: usize, name: &str| -> Result<usize> {
            let v: f64 = fields[k]
                .parse()
                .map_err(|_| err(format!("{name} '{}' is not a number", fields[k])))?;
            if v.fract() != 0.0 || v < 0.0 || !v.is_finite() {
                return Err(err(format!(
                    "{name} '{}' is not a non-negative integer",
                    fields[k]
                )));
            }
            Ok(v as usize)
        };
        let action = int(0, "action id")?;
        let (start, end) = (int(1, "start frame")?, int(2, "end frame")?);
        let confidence = if fields.len() > 3 {
            int(3, "confidence")?
        } else {
            0
        };
        if !(1..=PKU_CLASSES).contains(&action) {
            return Err(err(format!("action id {action} outside 1..={PKU_CLASSES}")));
        }
        if start < 1 || end < start {
            return Err(err(format!(
                "frame range {start}..{end} is empty or not 1-based"
            )));
        }
        rows.push(PkuLabel {
            action: action as u16,
            start,
            end,
            confidence: confidence.min(255) as u8,
        });
    }
    Ok(rows)
}

/// Reads a split file: line 1 a caption, line 2 the training ids (`, `-separated), line 3 a
/// caption, line 4 the test ids.
pub fn read_pku_split(path: &Path) -> Result<PkuSplit> {
    let bytes = read_file(path)?;
    let text = std::str::from_utf8(&bytes)
        .map_err(|e| DataError::invalid(path, format!("not UTF-8 text: {e}")))?;
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() < 4 {
        return Err(DataError::invalid(
            path,
            format!(
                "split file has {} lines, expected 4 (caption, training ids, caption, test ids)",
                lines.len()
            ),
        ));
    }
    let ids = |l: &str| -> Vec<String> {
        l.split(',')
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .map(String::from)
            .collect()
    };
    let split = PkuSplit {
        train: ids(lines[1]),
        test: ids(lines[3]),
    };
    if let Some(both) = split.train.iter().find(|v| split.test.contains(v)) {
        return Err(DataError::invalid(
            path,
            format!("video {both} is on both the training and the test line"),
        ));
    }
    if split.train.is_empty() {
        return Err(DataError::parse(path, 2, "no training video ids"));
    }
    Ok(split)
}

/// Which part of PKU-MMD a video id belongs to, from its form (`0002-L` or `A01N01-L`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PkuPart {
    One,
    Two,
}

/// The AimCLR clip name of label row `row` (1-based) of `video`:
/// Part I `F{fff}V{vvv}C{ccc}L{lll}`, Part II `A0{aa}N0{nn}V{vvv}C{ccc}L{lll}`.
pub fn clip_name(video: &str, action: u16, row: usize) -> Option<String> {
    let (stem, view) = video.rsplit_once('-')?;
    let view = match view {
        "L" => 1,
        "M" => 2,
        "R" => 3,
        _ => return None,
    };
    let prefix = match video_part(video)? {
        PkuPart::One => format!("F{:03}", stem.parse::<u32>().ok()?),
        PkuPart::Two => {
            let (a, n) = stem.strip_prefix('A')?.split_once('N')?;
            format!("A0{a}N0{n}")
        }
    };
    Some(format!("{prefix}V{view:03}C{action:03}L{row:03}"))
}

/// Part I ids are digits (`0002-L`), Part II ids are `A..N..` (`A01N01-L`).
pub fn video_part(video: &str) -> Option<PkuPart> {
    let stem = video.rsplit_once('-')?.0;
    if !stem.is_empty() && stem.bytes().all(|b| b.is_ascii_digit()) {
        Some(PkuPart::One)
    } else if stem.starts_with('A') && stem.contains('N') {
        Some(PkuPart::Two)
    } else {
        None
    }
}

/// One action instance cut out of a video.
#[derive(Debug, Clone, PartialEq)]
pub struct PkuClip {
    /// AimCLR's clip name with `.skeleton`, e.g. `F002V001C010L003.skeleton`.
    pub name: String,
    /// 0-based label (`action − 1`).
    pub label: usize,
    /// `(3, T, 25, 2)`; T = the clip's frame count.
    pub sequence: Sequence,
}

/// Cuts every labelled instance of one video. Frames past the end of the video are
/// dropped, as Python slicing does; a row with no frame inside the video is an error.
pub fn cut_clips(
    video: &str,
    frames: &[[f32; FRAME_VALUES]],
    labels: &[PkuLabel],
    label_path: &Path,
) -> Result<Vec<PkuClip>> {
    let mut clips = Vec::with_capacity(labels.len());
    for (i, l) in labels.iter().enumerate() {
        let name = clip_name(video, l.action, i + 1).ok_or_else(|| {
            DataError::invalid(
                label_path,
                format!("'{video}' is not a PKU-MMD video id (e.g. 0002-L or A01N01-L)"),
            )
        })?;
        let first = l.start - 1;
        let last = l.end.min(frames.len());
        if first >= last {
            return Err(DataError::parse(
                label_path,
                i + 1,
                format!(
                    "frames {}..={} lie outside the video's {} frames",
                    l.start,
                    l.end,
                    frames.len()
                ),
            ));
        }
        let mut seq = Sequence::zeros(last - first, 25, 2);
        for (t, frame) in frames[first..last].iter().enumerate() {
            let second_present = frame[75..].iter().map(|&v| v as f64).sum::<f64>() != 0.0;
            for m in 0..if second_present { 2 } else { 1 } {
                for v in 0..25 {
                    let o = m * 75 + v * 3;
                    seq.set_joint(t, v, m, [frame[o], frame[o + 1], frame[o + 2]]);
                }
            }
        }
        clips.push(PkuClip {
            name: format!("{name}.skeleton"),
            label: l.action as usize - 1,
            sequence: seq,
        });
    }
    Ok(clips)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn video(n: usize, two: bool) -> String {
        (0..n)
            .map(|t| {
                let vals: Vec<String> = (0..150)
                    .map(|k| {
                        if k >= 75 && !two {
                            "0".to_string()
                        } else {
                            format!("{}", t as f32 + k as f32 * 0.001)
                        }
                    })
                    .collect();
                vals.join(" ") + "\r\n"
            })
            .collect()
    }

    #[test]
    fn frames_labels_and_clip_cutting() {
        let p = Path::new("0002-L.txt");
        let frames = parse_pku_frames(video(20, false).as_bytes(), p).unwrap();
        assert_eq!(frames.len(), 20);
        let labels =
            parse_pku_labels(b"10,3,7,2\n51,15,25,1\n", Path::new("labels/0002-L.txt")).unwrap();
        assert_eq!(
            labels[0],
            PkuLabel {
                action: 10,
                start: 3,
                end: 7,
                confidence: 2
            }
        );
        let clips = cut_clips("0002-L", &frames, &labels, Path::new("labels/0002-L.txt")).unwrap();
        assert_eq!(clips[0].name, "F002V001C010L001.skeleton");
        assert_eq!(clips[0].label, 9);
        // 1-based inclusive: frames 3..=7 are rows 2..=6.
        assert_eq!(clips[0].sequence.frames, 5);
        assert_eq!(clips[0].sequence.at(0, 0, 0, 0), 2.0);
        assert!(clips[0].sequence.body_is_empty(0, 1));
        // The second row runs past the video's end: truncated to frames 15..=20.
        assert_eq!(clips[1].sequence.frames, 6);
        assert_eq!(clips[1].name, "F002V001C051L002.skeleton");
    }

    #[test]
    fn second_body_kept_only_when_present() {
        let frames = parse_pku_frames(video(4, true).as_bytes(), Path::new("v")).unwrap();
        let labels = [PkuLabel {
            action: 1,
            start: 1,
            end: 4,
            confidence: 1,
        }];
        let clips = cut_clips("A01N02-R", &frames, &labels, Path::new("l")).unwrap();
        assert_eq!(clips[0].name, "A001N002V003C001L001.skeleton");
        assert!(!clips[0].sequence.body_is_empty(1, 1));
    }

    #[test]
    fn split_file_four_lines() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("cross-subject.txt");
        std::fs::write(
            &p,
            "Training videos:\n0002-L, 0002-M, 0003-R,\nValidataion videos:\n0004-L, 0005-M\n",
        )
        .unwrap();
        let s = read_pku_split(&p).unwrap();
        assert_eq!(s.train, vec!["0002-L", "0002-M", "0003-R"]);
        assert_eq!(s.test.len(), 2);
        assert!(s.is_train("0003-R") && !s.is_train("0004-L"));
        std::fs::write(&p, "Training videos:\n0002-L\n").unwrap();
        assert!(read_pku_split(&p)
            .unwrap_err()
            .to_string()
            .contains("cross-subject.txt: split file has 2 lines"));
    }

    #[test]
    fn bad_inputs_name_file_and_line() {
        let e = parse_pku_frames(b"1 2 3\n", Path::new("0002-L.txt"))
            .unwrap_err()
            .to_string();
        assert_eq!(
            e,
            "0002-L.txt: line 1: frame line has 3 values, expected 150"
        );
        let e = parse_pku_labels(b"10,3,7,2\n52,1,2,1\n", Path::new("lab.txt"))
            .unwrap_err()
            .to_string();
        assert_eq!(e, "lab.txt: line 2: action id 52 outside 1..=51");
        let e = parse_pku_labels(b"x,3,7,2\n", Path::new("lab.txt"))
            .unwrap_err()
            .to_string();
        assert!(e.contains("line 1: action id 'x' is not a number"), "{e}");
        let bad = video(2, false).replacen("0.001", "inf", 1);
        assert!(parse_pku_frames(bad.as_bytes(), Path::new("v"))
            .unwrap_err()
            .to_string()
            .contains("non-finite"));
        assert!(parse_pku_frames(b"", Path::new("v")).is_err());
    }
}
