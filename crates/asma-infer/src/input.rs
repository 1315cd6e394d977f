//! Model input from the files users have: a raw NTU `.skeleton` file goes through the same
//! frame50 preparation as `asma data prepare` (first two bodies, centred on J21, rotated about
//! y, resized to 50 frames); a prepared `.npy` of shape `(N, 3, T, 25, M)` (AimCLR/PSTL
//! `*_position.npy` or `asma data prepare` output) is used as it is.

use std::path::Path;

use asma_data::formats::npy::MmapNpy;
use asma_data::formats::ntu::{read_skeleton, to_sequence, BodyPolicy};
use asma_data::pipeline::stream::{apply_stream, BatchShape, Stream};
use asma_data::prepare::frame50::{frame50, Frame50Options};
use asma_data::DataError;
use asma_skeleton::Sequence;

use crate::error::Result;

/// Frames NTU pipelines pad to; longer raw files are refused.
const MAX_FRAMES: usize = 300;

/// A named sample.
pub struct Sample {
    pub name: String,
    pub sequence: Sequence,
}

/// The samples of one input file (`.skeleton`: one; `.npy`: one per row).
pub fn read_samples(path: &Path) -> Result<Vec<Sample>> {
    let name = path.file_name().map_or_else(
        || path.display().to_string(),
        |n| n.to_string_lossy().into_owned(),
    );
    match path.extension().and_then(|e| e.to_str()) {
        Some("skeleton") => {
            let file = read_skeleton(path)?;
            let seq = to_sequence(&file, BodyPolicy::First2, MAX_FRAMES, path)?;
            Ok(vec![Sample {
                name,
                sequence: prepare(&seq, 50).map_err(|e| DataError::invalid(path, e))?,
            }])
        }
        Some("npy") => {
            let npy = MmapNpy::open_skeleton(path)?;
            (0..npy.len())
                .map(|i| {
                    let sequence = npy.sequence(i)?;
                    if sequence.joints != 25 {
                        return Err(DataError::invalid(
                            path,
                            format!(
                                "{} joints per frame; the models are NTU-25",
                                sequence.joints
                            ),
                        )
                        .into());
                    }
                    if sequence.has_non_finite() {
                        return Err(DataError::invalid(
                            path,
                            format!("sample {i} holds NaN or infinity"),
                        )
                        .into());
                    }
                    Ok(Sample {
                        name: format!("{name}[{i}]"),
                        sequence,
                    })
                })
                .collect()
        }
        _ => Err(DataError::invalid(
            path,
            "not an input asma can classify (expected .skeleton or .npy)",
        )
        .into()),
    }
}

/// A raw sequence → the frame50 layout `(3, frames, 25, 2)` the models were trained on.
pub fn prepare(seq: &Sequence, frames: usize) -> std::result::Result<Sequence, String> {
    let opts = Frame50Options {
        frames,
        ..Default::default()
    };
    frame50(seq, &opts).map_err(|e| e.to_string())
}

/// `(3, T, 25, M)` joint positions → the model input of `stream`.
pub fn to_stream(seq: &Sequence, stream: Stream) -> Vec<f32> {
    let shape = BatchShape::new(1, 3, seq.frames, seq.joints, seq.bodies);
    apply_stream(stream, &shape, &seq.data)
}
