//! Parity with the PyTorch reference (`tools/reference/asma_reference.py`; fixtures made by
//! `tools/reference/make_model_fixtures.py`): PSTL-named weights load unchanged, and the
//! encoder's features — full, joint-masked, 30-frame and train-mode — and the Barlow Twins
//! loss, and the classifier (alignment or averaging + head) equal PyTorch's within 1e-4, on
//! every device the build has (`cargo test --features vulkan` adds the GPU; a GPU build on a
//! machine without one skips it with a note, unless `ASMA_REQUIRE_GPU=1`;
//! `ASMA_TEST_DEVICES=wgpu` runs on that device only, as CI's lavapipe stage does).

use std::path::{Path, PathBuf};

use asma_data::formats::npy::MmapNpy;
use asma_model::barlow::barlow_twins_loss;
use asma_model::burn::module::Module;
use asma_model::burn::tensor::{Device, Tensor, TensorData};
use asma_model::classifier::{AsmaClassifier, ClassifierConfig, Fusion};
use asma_model::conv::ConvImpl;
use asma_model::norm::NormImpl;
use asma_model::stgcn::{StgcnEncoder, StgcnEncoderConfig, StgcnEncoderInit};
use asma_model::weights::{load_module, read_tensors, write_safetensors, RawTensor};

/// Every built device that can run here, by name (`ASMA_TEST_DEVICES` narrows it).
fn devices() -> Vec<(&'static str, Device)> {
    asma_model::device::test_devices()
}

/// A fixture file: under `ASMA_MODEL_FIXTURES` when set (a test binary carried to a GPU
/// machine without the source tree it was built in, `tools/gpu/measure.sh`), else in this
/// crate's `tests/fixtures`.
fn fixture(name: &str) -> PathBuf {
    std::env::var_os("ASMA_MODEL_FIXTURES")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures"))
        .join(name)
}

fn npy(name: &str) -> (Vec<usize>, Vec<f32>) {
    let a = MmapNpy::open(fixture(name)).unwrap();
    (a.shape().to_vec(), a.to_f32().unwrap().into_owned())
}

fn tensor<const D: usize>(name: &str, device: &Device) -> Tensor<D> {
    let (shape, data) = npy(name);
    Tensor::from_data(TensorData::new(data, shape), device)
}

fn encoder(file: &str, device: &Device) -> StgcnEncoder {
    let mut e = StgcnEncoderConfig::pstl().init(device);
    let report = load_module(&mut e, &fixture(file), "data_bn.weight", None).unwrap();
    assert!(report.loaded > 100, "{report:?}");
    e
}

fn assert_close<const D: usize>(ours: Tensor<D>, expected: &str) {
    let (shape, want) = npy(expected);
    assert_eq!(ours.dims().to_vec(), shape, "{expected}");
    let got: Vec<f32> = ours.into_data().try_into_vec::<f32>().unwrap();
    let worst = got
        .iter()
        .zip(&want)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max);
    assert!(worst <= 1e-4, "{expected}: largest difference {worst}");
    eprintln!("{expected}: largest difference {worst:e}");
}

#[test]
fn eval_mode_features_match_pytorch() {
    for (name, device) in devices() {
        for conv in [
            ConvImpl::Host,
            ConvImpl::Direct,
            ConvImpl::Matmul,
            ConvImpl::Shifted,
        ] {
            eprintln!("{name}, {conv:?}:");
            eval_mode_features_match_pytorch_with(conv, &device);
        }
    }
}

fn eval_mode_features_match_pytorch_with(conv: ConvImpl, device: &Device) {
    let device = device.clone();
    let e = encoder("encoder/weights.safetensors", &device)
        .with_conv(conv)
        .valid();
    let x50: Tensor<5> = tensor("encoder/input50.npy", &device);
    assert_close(e.forward(x50.clone(), None), "encoder/out_full.npy");
    let masked: Vec<usize> = serde_json::from_str(
        &std::fs::read_to_string(fixture("encoder/masked_joints.json")).unwrap(),
    )
    .unwrap();
    let keep: Vec<usize> = (0..25).filter(|j| !masked.contains(j)).collect();
    assert_close(
        e.forward(x50.clone(), Some(&keep)),
        "encoder/out_masked.npy",
    );
    assert_close(
        e.forward(tensor("encoder/input30.npy", &device), None),
        "encoder/out_30.npy",
    );
    assert_close(e.forward_map(x50, None), "encoder/map_full.npy");
}

#[test]
fn train_mode_uses_batch_statistics() {
    // "Train mode" = BatchNorm on batch statistics, dropout off (fixtures/README.md).
    for (name, device) in devices() {
        let device = device.autodiff();
        for conv in [
            ConvImpl::Host,
            ConvImpl::Direct,
            ConvImpl::Matmul,
            ConvImpl::Shifted,
        ] {
            eprintln!("{name}, {conv:?}:");
            let e = encoder("encoder/weights.safetensors", &device)
                .without_dropout()
                .with_conv(conv);
            let out = e.forward(tensor("encoder/input50.npy", &device), None);
            assert_close(out.detach(), "encoder/out_train.npy");
        }
    }
}

#[test]
fn pytorch_checkpoint_with_prefix_loads_the_same_weights() {
    let device = Device::flex();
    let mut e = StgcnEncoderConfig::pstl().init(&device);
    let report = load_module(
        &mut e,
        &fixture("encoder/checkpoint.pth.tar"),
        "data_bn.weight",
        None,
    )
    .unwrap();
    // torch.save({"epoch": 3, "state_dict": {"module.encoder_q." + k: v}}): nested keys flatten.
    assert_eq!(report.prefix, "state_dict.module.encoder_q.");
    assert!(report.ignored.iter().any(|k| k == "A"));
    assert_close(
        e.valid()
            .forward(tensor("encoder/input50.npy", &device), None),
        "encoder/out_full.npy",
    );
}

#[test]
fn barlow_twins_loss_matches_pytorch() {
    for (name, device) in devices() {
        let loss = barlow_twins_loss(
            tensor("barlow/z1.npy", &device),
            tensor("barlow/z2.npy", &device),
            2e-4,
            1e-5,
        );
        let (_, want) = npy("barlow/loss.npy");
        let got = loss.into_scalar::<f32>();
        assert!(
            ((got - want[0]) / want[0]).abs() < 1e-5,
            "{name}: ours {got}, PyTorch {}",
            want[0]
        );
    }
}

#[test]
fn wrong_checkpoint_reports_missing_and_unexpected_keys_by_name() {
    let device = Device::flex();
    let mut e = StgcnEncoderConfig {
        hidden_channels: 8,
        ..StgcnEncoderConfig::pstl()
    }
    .init(&device);
    let msg = load_module(
        &mut e,
        &fixture("encoder/weights.safetensors"),
        "data_bn.weight",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(
        msg.contains("weights.safetensors")
            && msg.contains("does not fit")
            && msg.contains("ShapeMismatch"),
        "{msg}"
    );

    // One key dropped, one added: both named in the error.
    let mut tensors = read_tensors(&fixture("encoder/weights.safetensors")).unwrap();
    tensors.remove("st_gcn_networks.3.tcn.2.weight").unwrap();
    tensors.insert(
        "fc.weight".into(),
        RawTensor {
            shape: vec![2, 2],
            data: vec![0.0; 4],
        },
    );
    let dir = std::env::temp_dir().join(format!("asma-parity-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let bad = dir.join("bad.safetensors");
    std::fs::write(&bad, write_safetensors(&tensors)).unwrap();
    let mut e = StgcnEncoderConfig::pstl().init(&device);
    let msg = load_module(&mut e, &bad, "data_bn.weight", None)
        .unwrap_err()
        .to_string();
    assert!(
        msg.contains("missing keys: st_gcn_networks.3.tcn.2.weight"),
        "{msg}"
    );
    assert!(msg.contains("unexpected keys: fc.weight"), "{msg}");

    let mut p = asma_model::barlow::BarlowTwinsConfig::default().init(&device);
    let msg = load_module(
        &mut p,
        &fixture("encoder/weights.safetensors"),
        "projector.0.weight",
        None,
    )
    .unwrap_err()
    .to_string();
    assert!(msg.contains("no 'projector.0.weight' key"), "{msg}");
}

#[test]
fn barlow_twins_projector_matches_pytorch_in_train_mode() {
    // PSTL's `BTwins` keys: projector.{0,1,3,4,6}.* and the loss BN's bn.* buffers.
    for (name, device) in devices() {
        eprintln!("{name}:");
        let device = device.autodiff();
        let mut head = asma_model::barlow::BarlowTwinsConfig {
            dims: [64, 64, 64],
            ..Default::default()
        }
        .init(&device);
        let report = load_module(
            &mut head,
            &fixture("barlow/proj_weights.safetensors"),
            "0.weight",
            None,
        )
        .unwrap();
        assert_eq!(report.prefix, "projector.");
        let out = head.forward(tensor("barlow/proj_in.npy", &device));
        assert_close(out.detach(), "barlow/proj_out.npy");
    }
}

fn classifier(fusion: Fusion, device: &Device) -> AsmaClassifier {
    // The fixtures' small encoders (fixtures/README.md, "classifier/").
    let cfg = ClassifierConfig {
        encoder: StgcnEncoderConfig {
            hidden_channels: 4,
            hidden_dim: 32,
            ..StgcnEncoderConfig::pstl()
        },
        fusion,
        num_classes: 5,
    };
    let mut m = cfg.init(device);
    let name = match fusion {
        Fusion::CrossAttention => "cross_attention",
        Fusion::Average => "average",
    };
    let file = fixture(&format!("classifier/{name}.safetensors"));
    let report = load_module(&mut m, &file, "encoder_theta.data_bn.weight", None).unwrap();
    assert!(report.loaded > 200, "{report:?}");
    m
}

#[test]
fn classifier_logits_and_features_match_pytorch_for_both_fusions() {
    for (device_name, device) in devices() {
        for (fusion, name) in [
            (Fusion::CrossAttention, "cross_attention"),
            (Fusion::Average, "average"),
        ] {
            eprintln!("{device_name}, {name}:");
            let m = classifier(fusion, &device).valid();
            let x: Tensor<5> = tensor("classifier/input.npy", &device);
            assert_close(
                m.forward(x.clone()),
                &format!("classifier/{name}_logits.npy"),
            );
            assert_close(m.features(x), &format!("classifier/{name}_features.npy"));
            let ad = device.clone().autodiff();
            let mut t = classifier(fusion, &ad);
            t.encoder_theta = t.encoder_theta.without_dropout();
            t.encoder_phi = t.encoder_phi.without_dropout();
            let out = t.forward(tensor("classifier/input.npy", &ad));
            assert_close(out.detach(), &format!("classifier/{name}_logits_train.npy"));
        }
    }
}

/// The host kernels change how the encoder computes, not what: one training step of the
/// The host kernels and the device-generic fast forms (`shifted`, BatchNorm `sums`) in the
/// PSTL encoder (joints removed): its loss, every parameter's gradient and the running
/// statistics equal those of burn's operations. Fixed weights and input keep the comparison
/// deterministic (random ones sometimes give near-constant BatchNorm channels, whose 1/σ
/// amplifies rounding beyond any fixed tolerance).
///
/// On the CPU with dropout on (asma's host masks, reseeded) and within 1e-4 of the largest
/// value. On another device dropout is off and the host forms are burn's operations, so the
/// fast forms alone are compared, within 1e-4 of the largest value or twice the distance
/// between burn's own operations on that device and on the CPU, whichever is larger: the
/// GPU's reductions round in other orders, and a form may differ from burn's by what burn
/// differs from itself across backends, not more.
#[test]
fn host_kernels_train_like_burns_operations() {
    use ConvImpl::{Direct, Host, Shifted};
    for (name, device) in devices() {
        let device = device.autodiff();
        let on_cpu = name == "cpu";
        let burn = train_step_values(&device, Direct, NormImpl::Burn, on_cpu);
        let scale = burn.iter().fold(0f32, |m, v| m.max(v.abs()));
        let mut tolerance = 1e-4 * scale;
        let mut forms = vec![
            (Shifted, NormImpl::Sums),
            (Shifted, NormImpl::Burn),
            (Direct, NormImpl::Sums),
        ];
        if on_cpu {
            forms.insert(0, (Host, NormImpl::Host));
        } else {
            let cpu = Device::flex().autodiff();
            let across = largest_difference(
                &burn,
                &train_step_values(&cpu, Direct, NormImpl::Burn, false),
            );
            eprintln!("{name}: burn's operations here and on the CPU differ by up to {across:e}");
            tolerance = tolerance.max(2.0 * across);
        }
        for (conv, norm) in forms {
            let ours = train_step_values(&device, conv, norm, on_cpu);
            let worst = largest_difference(&ours, &burn);
            eprintln!(
                "{name}, {conv:?}, {norm:?}: {} values, largest difference {worst:e}, largest value {scale}",
                ours.len()
            );
            for (i, (a, b)) in ours.iter().zip(&burn).enumerate() {
                assert!(
                    (a - b).abs() <= tolerance,
                    "{name}, {conv:?}, {norm:?}: value {i}: ours {a}, burn {b}"
                );
            }
        }
    }
}

fn largest_difference(a: &[f32], b: &[f32]) -> f32 {
    assert_eq!(a.len(), b.len());
    a.iter()
        .zip(b)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max)
}

/// One training step of the PSTL encoder in the form `(conv, norm)` on `device` (autodiff):
/// the loss, then the gradients and running statistics the test compares.
fn train_step_values(device: &Device, conv: ConvImpl, norm: NormImpl, dropout: bool) -> Vec<f32> {
    let x: Tensor<5> = tensor("encoder/input50.npy", device);
    let masked: Vec<usize> = serde_json::from_str(
        &std::fs::read_to_string(fixture("encoder/masked_joints.json")).unwrap(),
    )
    .unwrap();
    let keep: Vec<usize> = (0..25).filter(|j| !masked.contains(j)).collect();
    let mut e = encoder("encoder/weights.safetensors", device)
        .with_conv(conv)
        .with_norm(norm);
    if !dropout {
        e = e.without_dropout();
    }
    asma_model::dropout::reseed(3);
    let out = e.forward(x, Some(&keep));
    let loss = (out.clone() * out).sum();
    let grads = loss.clone().backward();
    let mut values = vec![loss.into_scalar::<f32>()];
    let mut push = |t: Tensor<1>| values.extend(t.into_data().try_into_vec::<f32>().unwrap());
    push(e.data_bn.gamma.val().grad(&grads).unwrap());
    push(e.data_bn.running_var.value_sync());
    for (b, imp) in e.st_gcn_networks.iter().zip(&e.edge_importance) {
        push(b.gcn.conv.weight.val().grad(&grads).unwrap().flatten(0, 3));
        push(b.tcn.conv.weight.val().grad(&grads).unwrap().flatten(0, 3));
        push(b.tcn.bn_in.gamma.val().grad(&grads).unwrap());
        push(b.tcn.bn_out.beta.val().grad(&grads).unwrap());
        push(b.tcn.bn_out.running_mean.value_sync());
        push(imp.val().grad(&grads).unwrap().flatten(0, 2));
        if let Some(r) = &b.residual {
            push(r.conv.weight.val().grad(&grads).unwrap().flatten(0, 3));
        }
    }
    values
}
