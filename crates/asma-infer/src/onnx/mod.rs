//! ONNX export of a loaded [`Classifier`] (`asma export --onnx`): the folded network as a
//! standard ONNX graph (IR 8, opset 17) that onnxruntime and other runtimes execute without
//! asma. BatchNorm stays folded exactly as the CPU path has it, so both give the same logits
//! (checked against onnxruntime by `tests/onnx.rs` and `tools/reference/onnx_check.py`).
//!
//! Input `skeleton`: `(N, C, T, 25, M)` f32 in the model's stream — PyTorch's and AimCLR's
//! layout, each sample laid out as [`Classifier::logits`] reads it — with the batch `N`
//! symbolic and `T`, `M` fixed at export. Output `logits`: `(N, num_classes)`.
//!
//! The protobuf encoding is written here (`proto.rs`) rather than taken from a crate: the
//! export needs a dozen message types and no parsing.

mod graph;
mod messages;
mod network;
mod proto;

use std::path::Path;

use asma_skeleton::NTU25;

use crate::error::{InferError, Result};
use crate::model::{Body, Classifier};
use messages::{graph as graph_proto, model, value_info, Dim};

/// What an export wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ExportSummary {
    /// Graph nodes.
    pub nodes: usize,
    /// Constant tensors (weights and shapes).
    pub initializers: usize,
    /// Size of the file.
    pub bytes: usize,
}

impl Classifier {
    /// Writes this classifier to `path` as an ONNX model for clips of `frames` frames and
    /// `persons` bodies (batch size free).
    pub fn export_onnx(&self, path: &Path, frames: usize, persons: usize) -> Result<ExportSummary> {
        if frames == 0 || persons == 0 {
            return Err(InferError::Input {
                what: format!("ONNX export to {}", path.display()),
                msg: format!("{frames} frames and {persons} persons: both must be at least 1"),
            });
        }
        if self.persons_read(persons) < persons {
            return Err(InferError::Input {
                what: format!("ONNX export to {}", path.display()),
                msg: format!(
                    "{persons} persons, but this model was trained on {} (data.bodies): export with that many",
                    self.persons_read(persons)
                ),
            });
        }
        let in_channels = match &self.body {
            Body::Student(e) | Body::Teacher { theta: e, .. } => e.data_bn().0,
        };
        let mut b = graph::Builder::default();
        network::classifier(&mut b, self, in_channels, frames, persons);
        let input = value_info(
            network::INPUT,
            &[
                Dim::Param("N"),
                Dim::Fixed(in_channels),
                Dim::Fixed(frames),
                Dim::Fixed(NTU25.num_joints()),
                Dim::Fixed(persons),
            ],
        );
        let output = value_info(
            network::OUTPUT,
            &[Dim::Param("N"), Dim::Fixed(self.num_classes)],
        );
        let g = graph_proto("asma", &b.nodes, &b.initializers, &[input], &[output]);
        let bytes = model(&g);
        std::fs::write(path, &bytes).map_err(|source| InferError::Io {
            path: path.to_path_buf(),
            source,
        })?;
        Ok(ExportSummary {
            nodes: b.nodes.len(),
            initializers: b.initializers.len(),
            bytes: bytes.len(),
        })
    }
}
