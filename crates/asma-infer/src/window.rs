//! Streaming input for robots and cameras: one frame per line of JSON, classified over a
//! sliding window.
//!
//! A line is one frame: either the 25 joints of one body, `[[x,y,z], …]`, or one or two
//! bodies, `[[[x,y,z], …], [[x,y,z], …]]` (also accepted inside an object as
//! `{"bodies": …}`). A bad line — not JSON, another joint count, more than two bodies, a
//! NaN — is reported with its line number and skipped; the stream goes on.
//!
//! Every `hop` frames, once `window` frames have arrived, the last `window` frames are
//! prepared exactly as a training sample (frame50: centred, rotated, resized to the model's
//! 50 frames) and classified.

use std::collections::VecDeque;

use asma_skeleton::Sequence;
use serde_json::Value;

use crate::input::prepare;

const JOINTS: usize = 25;
const BODIES: usize = 2;

/// One frame: `BODIES` bodies of 25 joints (an absent body is zeros).
pub type Frame = [[[f32; 3]; JOINTS]; BODIES];

fn body(v: &Value) -> Result<[[f32; 3]; JOINTS], String> {
    let joints = v.as_array().ok_or("a body must be an array of joints")?;
    if joints.len() != JOINTS {
        return Err(format!(
            "{} joints in a body, expected {JOINTS}",
            joints.len()
        ));
    }
    let mut out = [[0.0; 3]; JOINTS];
    for (j, joint) in joints.iter().enumerate() {
        let xyz = joint
            .as_array()
            .filter(|a| a.len() == 3)
            .ok_or_else(|| format!("joint {j} is not [x, y, z]"))?;
        for (c, value) in xyz.iter().enumerate() {
            // serde_json reads NaN/Infinity as errors or null; a null lands here.
            let x = value
                .as_f64()
                .filter(|x| x.is_finite())
                .ok_or_else(|| format!("joint {j} coordinate {c} is not a finite number"))?;
            out[j][c] = x as f32;
        }
    }
    Ok(out)
}

/// Parses one line into a frame.
pub fn parse_frame(line: &str) -> Result<Frame, String> {
    let v: Value = serde_json::from_str(line).map_err(|e| format!("not JSON: {e}"))?;
    let v = match &v {
        Value::Object(o) => o
            .get("bodies")
            .ok_or("an object line needs a \"bodies\" key")?,
        _ => &v,
    };
    let items = v.as_array().ok_or("a frame must be an array")?;
    // One body: its first item is a joint (an array of scalars), not a body (of arrays).
    let one_body = items
        .first()
        .and_then(Value::as_array)
        .and_then(|a| a.first())
        .is_some_and(|x| !x.is_array());
    let mut frame = [[[0.0; 3]; JOINTS]; BODIES];
    if one_body {
        frame[0] = body(v)?;
    } else {
        if items.is_empty() || items.len() > BODIES {
            return Err(format!("{} bodies, expected 1 or {BODIES}", items.len()));
        }
        for (m, b) in items.iter().enumerate() {
            frame[m] = body(b).map_err(|e| format!("body {m}: {e}"))?;
        }
    }
    Ok(frame)
}

/// The sliding window.
pub struct Windows {
    window: usize,
    hop: usize,
    frames: VecDeque<Frame>,
    /// Frames accepted so far.
    seen: usize,
    model_frames: usize,
}

/// A window ready to classify: frames `[start, end)` of the accepted frames.
pub struct Ready {
    pub start: usize,
    pub end: usize,
    pub sequence: Sequence,
}

impl Windows {
    pub fn new(window: usize, hop: usize, model_frames: usize) -> Result<Self, String> {
        if window < 2 || hop == 0 {
            return Err(format!(
                "window must be ≥ 2 and hop ≥ 1 (got {window}, {hop})"
            ));
        }
        Ok(Windows {
            window,
            hop,
            frames: VecDeque::with_capacity(window),
            seen: 0,
            model_frames,
        })
    }

    /// Adds a frame; returns the window to classify when one is due. `Err` when the window
    /// cannot be prepared (its first body is empty in every frame).
    pub fn push(&mut self, frame: Frame) -> Option<Result<Ready, String>> {
        if self.frames.len() == self.window {
            self.frames.pop_front();
        }
        self.frames.push_back(frame);
        self.seen += 1;
        let due = self.seen >= self.window && (self.seen - self.window).is_multiple_of(self.hop);
        if !due {
            return None;
        }
        let mut seq = Sequence::zeros(self.window, JOINTS, BODIES);
        for (t, f) in self.frames.iter().enumerate() {
            for (m, b) in f.iter().enumerate() {
                for (v, xyz) in b.iter().enumerate() {
                    seq.set_joint(t, v, m, *xyz);
                }
            }
        }
        Some(prepare(&seq, self.model_frames).map(|sequence| Ready {
            start: self.seen - self.window,
            end: self.seen,
            sequence,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn body_json(x: f32) -> String {
        let joints: Vec<String> = (0..25)
            .map(|j| format!("[{x},{},{}]", j as f32 * 0.1, 0.5))
            .collect();
        format!("[{}]", joints.join(","))
    }

    #[test]
    fn one_or_two_bodies_and_objects_parse() {
        let one = parse_frame(&body_json(1.0)).unwrap();
        assert_eq!(one[0][3], [1.0, 0.3, 0.5]);
        assert_eq!(one[1], [[0.0; 3]; 25]);
        let two = parse_frame(&format!("[{},{}]", body_json(1.0), body_json(2.0))).unwrap();
        assert_eq!(two[1][0][0], 2.0);
        let obj = parse_frame(&format!("{{\"bodies\": [{}]}}", body_json(3.0))).unwrap();
        assert_eq!(obj[0][0][0], 3.0);
    }

    #[test]
    fn bad_lines_say_what_is_wrong() {
        let short = format!("[{}]", vec!["[0,0,0]"; 24].join(","));
        assert!(parse_frame(&short).unwrap_err().contains("24 joints"));
        let nan = body_json(1.0).replacen("[1,", "[NaN,", 1);
        assert!(parse_frame(&nan).unwrap_err().contains("not JSON"));
        let null = body_json(1.0).replacen("[1,", "[null,", 1);
        assert!(parse_frame(&null)
            .unwrap_err()
            .contains("not a finite number"));
        let three = format!("[{0},{0},{0}]", body_json(1.0));
        assert!(parse_frame(&three).unwrap_err().contains("3 bodies"));
    }

    #[test]
    fn windows_come_every_hop_once_full() {
        let mut w = Windows::new(5, 2, 50).unwrap();
        let frame = parse_frame(&body_json(1.0)).unwrap();
        let due: Vec<usize> = (0..11)
            .filter_map(|_| w.push(frame).map(|r| r.unwrap().end))
            .collect();
        assert_eq!(due, vec![5, 7, 9, 11]);
        let mut w = Windows::new(3, 1, 50).unwrap();
        let r = (0..3)
            .filter_map(|_| w.push(frame))
            .last()
            .unwrap()
            .unwrap();
        assert_eq!((r.start, r.sequence.frames, r.sequence.bodies), (0, 50, 2));
    }
}
