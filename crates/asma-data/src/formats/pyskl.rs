//! pyskl / mmaction2 3-D annotation pickles (`ntu60_3danno.pkl`, `ntu120_3danno.pkl`,
//! mmaction2 1.x `ntu60_3d.pkl`; docs/DATA.md §3c):
//! `{'split': {name: [frame_dir, ...]}, 'annotations': [{frame_dir, label, total_frames,
//! keypoint (M, T, V=25, C=3) float16, ...}]}`.
//!
//! Keypoints become asma's [`Sequence`] `(3, T, 25, 2)` in f32: one body is padded with a
//! zero second body, more than two keep the first two (pyskl itself never stores more).
//! The coordinates are kept as stored — pyskl normalises at load time, not in the file.

use std::collections::BTreeMap;
use std::path::Path;

use asma_skeleton::{Sequence, MAX_BODIES};

use crate::error::{DataError, Result};
use crate::formats::pickle::{self, NdArray, Value};

/// Joints of the NTU layout.
const JOINTS: usize = 25;
/// Body slots of a [`Sequence`].
const BODIES: usize = MAX_BODIES;

/// One annotation.
#[derive(Debug, Clone, PartialEq)]
pub struct PysklSample {
    /// `frame_dir`, e.g. `S001C001P001R001A001`.
    pub name: String,
    /// 0-based label.
    pub label: usize,
    /// Frames (T), as stored in `total_frames` (equal to the keypoint's T).
    pub total_frames: usize,
    /// The keypoints as `(3, T, 25, 2)`.
    pub sequence: Sequence,
}

/// A whole annotation file.
#[derive(Debug, Clone, PartialEq)]
pub struct PysklFile {
    /// Split name (`xsub_train`, `xsub_val`, ...) → sample names.
    pub splits: BTreeMap<String, Vec<String>>,
    /// Annotations in file order.
    pub samples: Vec<PysklSample>,
}

/// Reads a pyskl / mmaction2 3-D annotation pickle.
pub fn read_pyskl(path: &Path) -> Result<PysklFile> {
    pyskl_from_value(pickle::load_file(path)?, path)
}

/// Interprets a loaded pickle as a pyskl annotation file; `path` names it in errors.
/// Takes the value by value so each keypoint array is freed once converted.
pub fn pyskl_from_value(value: Value, path: &Path) -> Result<PysklFile> {
    let bad = |msg: String| DataError::invalid(path, msg);
    let Value::Dict(entries) = value else {
        return Err(bad(format!(
            "a pyskl annotation file holds a dict with 'split' and 'annotations'; this one \
             holds a {}",
            value.type_name()
        )));
    };
    let mut split = None;
    let mut annotations = None;
    for (key, v) in entries {
        match key.as_str() {
            Some("split") => split = Some(v),
            Some("annotations") => annotations = Some(v),
            _ => {}
        }
    }
    let split = split.ok_or_else(|| bad("pyskl file has no 'split' key".into()))?;
    let annotations =
        annotations.ok_or_else(|| bad("pyskl file has no 'annotations' key".into()))?;
    let splits = read_splits(&split).map_err(bad)?;
    let Value::List(annotations) = annotations else {
        return Err(bad(format!(
            "pyskl 'annotations' is a {}, expected a list",
            annotations.type_name()
        )));
    };
    let samples = annotations
        .into_iter()
        .enumerate()
        .map(|(i, a)| read_sample(a, i).map_err(&bad))
        .collect::<Result<Vec<_>>>()?;
    Ok(PysklFile { splits, samples })
}

/// `{'xsub_train': [names], ...}`.
fn read_splits(split: &Value) -> std::result::Result<BTreeMap<String, Vec<String>>, String> {
    let entries = split
        .as_dict()
        .ok_or_else(|| format!("pyskl 'split' is a {}, expected a dict", split.type_name()))?;
    entries
        .iter()
        .map(|(k, v)| {
            let name = k
                .as_str()
                .ok_or_else(|| format!("pyskl split key is a {}, expected str", k.type_name()))?;
            let ids = v
                .as_seq()
                .ok_or_else(|| {
                    format!(
                        "pyskl split '{name}' is a {}, expected a list",
                        v.type_name()
                    )
                })?
                .iter()
                .map(|id| {
                    id.as_str().map(str::to_owned).ok_or_else(|| {
                        format!(
                            "pyskl split '{name}' holds a {}, expected str",
                            id.type_name()
                        )
                    })
                })
                .collect::<std::result::Result<Vec<_>, _>>()?;
            Ok((name.to_owned(), ids))
        })
        .collect()
}

/// One annotation dict; errors name the sample (its `frame_dir`, else its index).
fn read_sample(anno: Value, index: usize) -> std::result::Result<PysklSample, String> {
    let Value::Dict(entries) = anno else {
        return Err(format!(
            "pyskl annotation {index} is a {}, expected a dict",
            anno.type_name()
        ));
    };
    let mut frame_dir = None;
    let mut label = None;
    let mut total_frames = None;
    let mut keypoint = None;
    for (key, v) in entries {
        match key.as_str() {
            Some("frame_dir") => frame_dir = Some(v),
            Some("label") => label = Some(v),
            Some("total_frames") => total_frames = Some(v),
            Some("keypoint") => keypoint = Some(v),
            _ => {}
        }
    }
    let name = match frame_dir {
        Some(Value::Str(s)) => s,
        Some(other) => {
            return Err(format!(
                "pyskl annotation {index}: frame_dir is a {}, expected str",
                other.type_name()
            ))
        }
        None => return Err(format!("pyskl annotation {index} has no 'frame_dir' key")),
    };
    let int_field = |v: Option<Value>, key: &str| -> std::result::Result<usize, String> {
        let v = v.ok_or_else(|| format!("pyskl sample {name} has no '{key}' key"))?;
        let i = v.as_int().ok_or_else(|| {
            format!(
                "pyskl sample {name}: {key} is a {}, expected an int",
                v.type_name()
            )
        })?;
        usize::try_from(i).map_err(|_| format!("pyskl sample {name}: {key} is negative ({i})"))
    };
    let label = int_field(label, "label")?;
    let keypoint = match keypoint {
        Some(Value::NdArray(a)) => a,
        Some(other) => {
            return Err(format!(
                "pyskl sample {name}: keypoint is a {}, expected a NumPy array",
                other.type_name()
            ))
        }
        None => return Err(format!("pyskl sample {name} has no 'keypoint' key")),
    };
    let sequence =
        keypoint_to_sequence(&keypoint).map_err(|e| format!("pyskl sample {name}: {e}"))?;
    // `total_frames` is always written by pyskl and mmaction2; tolerate its absence since
    // the keypoint array says the same.
    let total_frames = match total_frames {
        Some(v) => int_field(Some(v), "total_frames")?,
        None => sequence.frames,
    };
    if total_frames != sequence.frames {
        return Err(format!(
            "pyskl sample {name}: total_frames is {total_frames} but keypoint has {} frames",
            sequence.frames
        ));
    }
    Ok(PysklSample {
        name,
        label,
        total_frames,
        sequence,
    })
}

/// Converts a keypoint array `(M, T, 25, 3)` into a `(3, T, 25, 2)` sequence: f16 (or
/// any numeric dtype) → f32, one body padded with zeros, bodies beyond two dropped.
pub fn keypoint_to_sequence(keypoint: &NdArray) -> std::result::Result<Sequence, String> {
    let &[bodies, frames, joints, coords] = &keypoint.shape[..] else {
        return Err(format!(
            "keypoint has shape {:?}, expected (M, T, 25, 3)",
            keypoint.shape
        ));
    };
    if joints != JOINTS || coords != 3 {
        return Err(format!(
            "keypoint has shape {:?}, expected (M, T, 25, 3); 2-D files with 17 COCO \
             keypoints are not supported yet",
            keypoint.shape
        ));
    }
    if bodies == 0 || frames == 0 {
        return Err(format!(
            "keypoint has shape {:?}: no body or no frame",
            keypoint.shape
        ));
    }
    let values = keypoint
        .to_f32_vec()
        .map_err(|e| format!("keypoint: {e}"))?;
    if let Some(bad) = values.iter().position(|x| !x.is_finite()) {
        let (m, rest) = (bad / (frames * JOINTS * 3), bad % (frames * JOINTS * 3));
        return Err(format!(
            "keypoint holds a non-finite value ({}) at body {m}, frame {}, joint {}",
            values[bad],
            rest / (JOINTS * 3),
            rest / 3 % JOINTS
        ));
    }
    let mut sequence = Sequence::zeros(frames, JOINTS, BODIES);
    // `values` is C order over (m, t, v, c): each (m, t, v) is one xyz triple.
    for (i, xyz) in values.chunks_exact(3).enumerate() {
        let m = i / (frames * JOINTS);
        if m >= BODIES {
            break;
        }
        let (t, v) = (i / JOINTS % frames, i % JOINTS);
        sequence.set_joint(t, v, m, [xyz[0], xyz[1], xyz[2]]);
    }
    Ok(sequence)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::formats::pickle::DType;

    fn f32_array(shape: &[usize], values: &[f32]) -> NdArray {
        NdArray {
            dtype: DType {
                code: "f4".into(),
                byte_order: '<',
                itemsize: 4,
            },
            shape: shape.to_vec(),
            fortran_order: false,
            data: values.iter().flat_map(|v| v.to_le_bytes()).collect(),
        }
    }

    #[test]
    fn one_body_is_padded_and_axes_are_moved() {
        let n = 2 * 25 * 3;
        let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let seq = keypoint_to_sequence(&f32_array(&[1, 2, 25, 3], &values)).unwrap();
        assert_eq!((seq.frames, seq.joints, seq.bodies), (2, 25, 2));
        // keypoint[0, t, v, c] = (t·25 + v)·3 + c.
        assert_eq!(seq.joint(1, 4, 0), [87.0, 88.0, 89.0]);
        assert!(seq.body_is_empty(0, 1) && seq.body_is_empty(1, 1));
    }

    #[test]
    fn third_body_is_dropped() {
        let n = 3 * 25 * 3;
        let values: Vec<f32> = (0..n).map(|i| i as f32).collect();
        let seq = keypoint_to_sequence(&f32_array(&[3, 1, 25, 3], &values)).unwrap();
        assert_eq!(seq.joint(0, 0, 1), [75.0, 76.0, 77.0]);
        assert_eq!(seq.data.len(), 3 * 25 * 2);
    }

    #[test]
    fn bad_shapes_and_values() {
        let err = keypoint_to_sequence(&f32_array(&[1, 2, 17, 2], &[0.0; 68])).unwrap_err();
        assert!(err.contains("COCO"), "{err}");
        let err = keypoint_to_sequence(&f32_array(&[2, 25, 3], &[0.0; 150])).unwrap_err();
        assert!(err.contains("expected (M, T, 25, 3)"), "{err}");
        let err = keypoint_to_sequence(&f32_array(&[0, 2, 25, 3], &[])).unwrap_err();
        assert!(err.contains("no body"), "{err}");
        let mut values = vec![0.0; 75];
        values[3 * 7 + 1] = f32::NAN;
        let err = keypoint_to_sequence(&f32_array(&[1, 1, 25, 3], &values)).unwrap_err();
        assert!(
            err.contains("non-finite") && err.contains("joint 7"),
            "{err}"
        );
    }
}
