//! The CTR-GCN / SGN layout of a `.npz` archive (docs/DATA.md §3b): `x_train`/`x_test`
//! float32 `(N, T = 300, 150)` (2 bodies × 25 joints × xyz per frame, body-major) and
//! `y_train`/`y_test` one-hot `(N, C)` (or integer `(N,)` in some forks), as `NTU60_CS.npz`
//! and MAMP's PKU-MMD files hold them. The container itself is [`crate::formats::npz`].

use std::path::PathBuf;

use asma_skeleton::Sequence;

use crate::error::{DataError, Result};
use crate::formats::npy::MmapNpy;
use crate::formats::npz::Npz;
use crate::prepare::splits::Part;

/// Values per frame in CTR-GCN's `x` arrays: 2 bodies × 25 joints × xyz (body-major).
pub const CTRGCN_FEATURES: usize = 150;

/// One part (train or test) of a CTR-GCN-style archive: `x` `(N, T, 150)` and labels `y`,
/// one-hot `(N, C)` (or, in some forks, integer `(N,)`).
#[derive(Debug, Clone)]
pub struct CtrGcnSplit {
    x: MmapNpy,
    y: MmapNpy,
    x_key: &'static str,
    y_key: &'static str,
    part: Part,
    len: usize,
    frames: usize,
    classes: Option<usize>,
    path: PathBuf,
}

/// Opens the `part` of a CTR-GCN archive (`Train` ↔ `x_train`/`y_train`, `Val` ↔
/// `x_test`/`y_test`) and checks the shapes.
pub fn ctrgcn_split(npz: &Npz, part: Part) -> Result<CtrGcnSplit> {
    let (x_key, y_key) = match part {
        Part::Train => ("x_train", "y_train"),
        Part::Val => ("x_test", "y_test"),
    };
    let x = npz.array(x_key)?;
    let y = npz.array(y_key)?;
    let err = |m: String| DataError::invalid(npz.path(), m);
    let xh = x.header();
    let (len, frames) = match *xh.shape.as_slice() {
        [n, t, CTRGCN_FEATURES] if xh.dtype.is_float() && xh.is_c_layout() => (n, t),
        _ => {
            return Err(err(format!(
                "{x_key}: expected a float array of shape (N, T, {CTRGCN_FEATURES}) \
                 (2 bodies × 25 joints × xyz per frame), found {}",
                xh.describe()
            )))
        }
    };
    let yh = y.header();
    let classes = match *yh.shape.as_slice() {
        [n, c] if yh.is_c_layout() && c > 0 => {
            check_count(npz, x_key, y_key, len, n)?;
            Some(c)
        }
        [n] if !yh.dtype.is_float() => {
            check_count(npz, x_key, y_key, len, n)?;
            None
        }
        _ => {
            return Err(err(format!(
                "{y_key}: expected one-hot labels of shape (N, C) or integer labels (N,), \
                 found {}",
                yh.describe()
            )))
        }
    };
    Ok(CtrGcnSplit {
        x,
        y,
        x_key,
        y_key,
        part,
        len,
        frames,
        classes,
        path: npz.path().to_path_buf(),
    })
}

fn check_count(npz: &Npz, x_key: &str, y_key: &str, nx: usize, ny: usize) -> Result<()> {
    if nx != ny {
        return Err(DataError::invalid(
            npz.path(),
            format!("{x_key} has {nx} samples but {y_key} has {ny} labels"),
        ));
    }
    Ok(())
}

impl CtrGcnSplit {
    fn invalid(&self, msg: String) -> DataError {
        DataError::invalid(&self.path, msg)
    }

    /// Number of samples.
    pub fn len(&self) -> usize {
        self.len
    }

    /// True when there is no sample.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Frames per sample (T, 300 in the real files).
    pub fn frames(&self) -> usize {
        self.frames
    }

    /// Number of classes (the one-hot width), `None` for integer labels.
    pub fn num_classes(&self) -> Option<usize> {
        self.classes
    }

    /// Which part this is.
    pub fn part(&self) -> Part {
        self.part
    }

    /// The `x` array.
    pub fn x(&self) -> &MmapNpy {
        &self.x
    }

    fn check_index(&self, i: usize) -> Result<()> {
        if i >= self.len {
            return Err(self.invalid(format!(
                "{}: sample {i} out of range ({} samples)",
                self.x_key, self.len
            )));
        }
        Ok(())
    }

    /// Sample `i` in the `(3, T, 25, 2)` layout: value `(c, t, v, m)` is
    /// `x[i, t, 75·m + 3·v + c]`. Non-finite values are an error naming the sample.
    pub fn sample(&self, i: usize) -> Result<Sequence> {
        self.check_index(i)?;
        let row = self.x.row_to_f32(i)?;
        let t_len = self.frames;
        let mut data = vec![0f32; row.len()];
        for (t, frame) in row.chunks_exact(CTRGCN_FEATURES).enumerate() {
            for (k, &value) in frame.iter().enumerate() {
                let (m, v, c) = (k / 75, (k % 75) / 3, k % 3);
                if !value.is_finite() {
                    return Err(self.invalid(format!(
                        "{} sample {i}: non-finite value {value} at frame {t}, body {m}, \
                         joint {v}, coordinate {}",
                        self.x_key,
                        ["x", "y", "z"][c]
                    )));
                }
                data[((c * t_len + t) * 25 + v) * 2 + m] = value;
            }
        }
        Sequence::from_vec(data, t_len, 25, 2).map_err(|e| self.invalid(e.to_string()))
    }

    /// The 0-based label of sample `i`: the argmax of its one-hot row (which must hold one
    /// 1 and zeros elsewhere), or the integer label.
    pub fn label(&self, i: usize) -> Result<usize> {
        self.check_index(i)?;
        let row = self.y.row_to_f64(i)?;
        if self.classes.is_none() {
            let v = row.first().copied().unwrap_or(f64::NAN);
            if v.fract() != 0.0 || v < 0.0 || !v.is_finite() {
                return Err(self.invalid(format!(
                    "{} row {i}: label {v} is not a non-negative integer",
                    self.y_key
                )));
            }
            return Ok(v as usize);
        }
        let ones: Vec<usize> = (0..row.len()).filter(|&k| row[k] == 1.0).collect();
        let others = row.iter().filter(|&&v| v != 0.0 && v != 1.0).count();
        match (ones.as_slice(), others) {
            ([k], 0) => Ok(*k),
            _ => Err(self.invalid(format!(
                "{} row {i} is not one-hot: {} entries equal 1 and {others} are neither 0 \
                 nor 1",
                self.y_key,
                ones.len()
            ))),
        }
    }

    /// All labels, in sample order.
    pub fn labels(&self) -> Result<Vec<usize>> {
        (0..self.len).map(|i| self.label(i)).collect()
    }
}
