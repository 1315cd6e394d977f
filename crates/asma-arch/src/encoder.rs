//! The ST-GCN encoder's layer table (docs/METHOD.md §3.3: PSTL's 16-channel encoder of AimCLR and
//! CrosSCLR, Yan et al., AAAI 2018) and the distillation students' (docs/METHOD.md §8), as data.

use serde::{Deserialize, Serialize};

use crate::forms::{ConvImpl, NormImpl};

/// Encoder hyper-parameters; the defaults are PSTL's (docs/METHOD.md §3.3).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StgcnEncoderConfig {
    /// Input channels (xyz).
    pub in_channels: usize,
    /// Width of blocks 1–4; blocks 5–7 have twice, 8–9 four times this.
    pub hidden_channels: usize,
    /// Output width of block 10, the feature size.
    pub hidden_dim: usize,
    /// Temporal kernel (9).
    pub temporal_kernel: usize,
    /// Dropout of blocks 2–10 in training mode.
    pub dropout: f64,
    /// Learnable edge importance per block.
    pub edge_importance: bool,
    /// How the convolutions are evaluated (same parameters and results every way); `host`
    /// also runs the graph product and BatchNorm on the host kernels on the CPU.
    pub conv: ConvImpl,
    /// How BatchNorm computes its batch statistics in training mode; `auto` follows `conv`
    /// ([`NormImpl::resolve`]).
    pub batch_norm: NormImpl,
    /// `[out_channels, stride]` per block, replacing PSTL's ten-block table when not empty
    /// (the distillation student, docs/METHOD.md §8). Residuals follow the same rule: none in
    /// block 1, identity when width and stride stay, 1×1 conv + BN otherwise.
    pub layout: Vec<[usize; 2]>,
}

impl Default for StgcnEncoderConfig {
    fn default() -> Self {
        StgcnEncoderConfig {
            in_channels: 3,
            hidden_channels: 16,
            hidden_dim: 256,
            temporal_kernel: 9,
            dropout: 0.5,
            edge_importance: true,
            conv: ConvImpl::Host,
            batch_norm: NormImpl::Auto,
            layout: Vec::new(),
        }
    }
}

/// One row of the layer table.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BlockSpec {
    pub in_channels: usize,
    pub out_channels: usize,
    pub stride: usize,
    /// False only for the first block.
    pub residual: bool,
    pub dropout: f64,
}

impl StgcnEncoderConfig {
    /// PSTL's encoder (the default).
    pub fn pstl() -> Self {
        Self::default()
    }

    /// The student S5 of docs/METHOD.md §8: 3→32→32→64→64→64 (stride 2 in the last block),
    /// 64-d features, 181,205 parameters.
    pub fn student_s5() -> Self {
        Self::student(5)
    }

    /// A student of `depth` blocks (1–10, the depth ablation) \[CHOICE\]: the first `depth − 1`
    /// rows of 32, 32, 64, 64, … channels at stride 1, then a 64-channel block of stride 2, so
    /// that depth 5 is S5.
    pub fn student(depth: usize) -> Self {
        let depth = depth.clamp(1, 10);
        let widths = [32, 32, 64, 64, 64, 64, 64, 64, 64];
        let mut layout: Vec<[usize; 2]> = widths[..depth - 1].iter().map(|&w| [w, 1]).collect();
        layout.push([64, 2]);
        StgcnEncoderConfig {
            hidden_dim: 64,
            layout,
            ..Self::default()
        }
    }

    /// The blocks: `layout` when given, else the ten of docs/METHOD.md §3.3.
    pub fn blocks(&self) -> Vec<BlockSpec> {
        if !self.layout.is_empty() {
            let mut input = self.in_channels;
            return self
                .layout
                .iter()
                .enumerate()
                .map(|(i, &[out, stride])| {
                    let spec = BlockSpec {
                        in_channels: input,
                        out_channels: out,
                        stride,
                        residual: i > 0,
                        dropout: if i > 0 { self.dropout } else { 0.0 },
                    };
                    input = out;
                    spec
                })
                .collect();
        }
        let (h, p) = (self.hidden_channels, self.dropout);
        let b = |i, o, s, p| BlockSpec {
            in_channels: i,
            out_channels: o,
            stride: s,
            residual: true,
            dropout: p,
        };
        vec![
            BlockSpec {
                in_channels: self.in_channels,
                out_channels: h,
                stride: 1,
                residual: false,
                dropout: 0.0,
            },
            b(h, h, 1, p),
            b(h, h, 1, p),
            b(h, h, 1, p),
            b(h, 2 * h, 2, p),
            b(2 * h, 2 * h, 1, p),
            b(2 * h, 2 * h, 1, p),
            b(2 * h, 4 * h, 2, p),
            b(4 * h, 4 * h, 1, p),
            b(4 * h, self.hidden_dim, 1, p),
        ]
    }
}

/// The student's shape.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StudentConfig {
    /// Blocks, 1–10 (the depth ablation); 5 is S5 ([`StgcnEncoderConfig::student`]).
    pub depth: usize,
    pub num_classes: usize,
    /// How the convolutions are evaluated.
    pub conv: ConvImpl,
}

impl Default for StudentConfig {
    fn default() -> Self {
        StudentConfig {
            depth: 5,
            num_classes: 60,
            conv: ConvImpl::Host,
        }
    }
}

impl StudentConfig {
    /// The student's encoder configuration.
    pub fn encoder_config(&self) -> StgcnEncoderConfig {
        StgcnEncoderConfig {
            conv: self.conv,
            ..StgcnEncoderConfig::student(self.depth)
        }
    }
}
