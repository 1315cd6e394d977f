//! The same seed gives every compared method the same random encoder: burn draws a parameter
//! when it is first read, from one generator per process, so each init must draw its encoder
//! before anything else. A file of its own: the tests of one file run in parallel threads of
//! one process and would draw from the generator between a seed and an init.

use asma_model::burn::tensor::Device;
use asma_model::moco::{parameter_values, MocoModelConfig};
use asma_model::ms2l::{Ms2lConfig, Ms2lModelConfig};
use asma_model::StgcnEncoderConfig;

#[test]
fn ms2l_draws_the_same_random_encoder_as_skeletonclr_for_the_same_seed() {
    let device = Device::flex();
    let encoder = StgcnEncoderConfig {
        hidden_channels: 4,
        hidden_dim: 16,
        ..StgcnEncoderConfig::pstl()
    };
    device.seed(11);
    let moco = MocoModelConfig {
        encoder: encoder.clone(),
        moco: Default::default(),
    }
    .init(&device);
    device.seed(11);
    let ms2l = Ms2lModelConfig {
        encoder,
        ms2l: Ms2lConfig {
            projector_hidden: 8,
            feature_dim: 8,
            ..Default::default()
        },
    }
    .init(&device);
    assert_eq!(
        parameter_values(&moco.encoder_q.encoder),
        parameter_values(&ms2l.encoder)
    );
}
