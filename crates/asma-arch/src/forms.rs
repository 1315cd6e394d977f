//! How the training code evaluates the encoder's convolutions and BatchNorm layers. Every form
//! has the same parameters and results; they differ in speed per backend (BENCHMARKS.md). The
//! forms themselves live in `asma-model` (`conv`, `norm`, `host`).

use serde::{Deserialize, Serialize};

/// How the encoder evaluates its convolutions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ConvImpl {
    /// The convolutions, the graph product and BatchNorm on the host kernels of `asma-model`'s
    /// `host` module on the CPU backend (forward and backward); on other backends as `Direct`.
    #[default]
    Host,
    /// burn's `Conv2d` for the temporal convolutions, matmuls for the 1×1 ones, burn's
    /// operations for everything else (the form before the host kernels).
    Direct,
    /// Shifted copies of the input stacked as channels, then one matmul.
    Matmul,
    /// `k` batched matmuls over shifted views of the padded input, 1×1 convolutions and the
    /// graph product as matmuls, and (unless `batch_norm` says otherwise) BatchNorm statistics
    /// as two-stage sums: burn's own operations only, the form meant for GPU backends.
    Shifted,
}

impl std::str::FromStr for ConvImpl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "host" => Ok(ConvImpl::Host),
            "direct" => Ok(ConvImpl::Direct),
            "matmul" => Ok(ConvImpl::Matmul),
            "shifted" => Ok(ConvImpl::Shifted),
            _ => Err(format!(
                "unknown convolution form '{s}' (host, direct, matmul or shifted)"
            )),
        }
    }
}

/// How the encoder evaluates its BatchNorm layers in training mode (inference mode, on the
/// running statistics, is an elementwise operation every way but `host`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NormImpl {
    /// Follows the convolution form: `host` under [`ConvImpl::Host`], `sums` under
    /// [`ConvImpl::Shifted`], `burn` under `direct` and `matmul` (so configurations that only
    /// name a convolution form, such as the distillation student's, get the matching one).
    #[default]
    Auto,
    /// The host BatchNorm kernel on the CPU backend, burn's elsewhere.
    Host,
    /// burn's `BatchNorm::forward`.
    Burn,
    /// Two-stage sums over the free reshape `(N, C, T·V)`.
    Sums,
}

impl NormImpl {
    /// The form this setting means with convolution form `conv` (never `Auto`).
    pub fn resolve(self, conv: ConvImpl) -> NormImpl {
        match (self, conv) {
            (NormImpl::Auto, ConvImpl::Host) => NormImpl::Host,
            (NormImpl::Auto, ConvImpl::Shifted) => NormImpl::Sums,
            (NormImpl::Auto, ConvImpl::Direct | ConvImpl::Matmul) => NormImpl::Burn,
            (other, _) => other,
        }
    }
}

impl std::str::FromStr for NormImpl {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "auto" => Ok(NormImpl::Auto),
            "host" => Ok(NormImpl::Host),
            "burn" => Ok(NormImpl::Burn),
            "sums" => Ok(NormImpl::Sums),
            _ => Err(format!(
                "unknown BatchNorm form '{s}' (auto, host, burn or sums)"
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auto_follows_the_convolution_form() {
        assert_eq!(NormImpl::Auto.resolve(ConvImpl::Host), NormImpl::Host);
        assert_eq!(NormImpl::Auto.resolve(ConvImpl::Shifted), NormImpl::Sums);
        assert_eq!(NormImpl::Auto.resolve(ConvImpl::Direct), NormImpl::Burn);
        assert_eq!(NormImpl::Sums.resolve(ConvImpl::Host), NormImpl::Sums);
        assert_eq!("sums".parse::<NormImpl>(), Ok(NormImpl::Sums));
        assert!("fast".parse::<NormImpl>().is_err());
    }
}
