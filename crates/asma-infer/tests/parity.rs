//! The folded CPU path against the burn forward of `asma_model` (eval mode) on the same
//! weights: student S5 and ASMa classifiers (cross-attention and averaging), with BatchNorm
//! statistics and edge importances moved away from their initial values so that a folding
//! mistake cannot hide behind γ = 1, β = μ = 0, σ² = 1.

mod common;

use std::collections::BTreeMap;

use asma_infer::Classifier;
use asma_model::burn::module::Module;
use asma_model::burn::tensor::{Device, Tensor, TensorData};
use asma_model::classifier::Fusion;
use asma_model::student::{StudentConfig, StudentInit};
use asma_model::weights::{read_tensors, save_module, write_safetensors};
use common::{classifier_run, input, student_run};

fn burn_logits(forward: impl Fn(Tensor<5>) -> Tensor<2>, x: &[f32], shape: [usize; 5]) -> Vec<f32> {
    let t = Tensor::<5>::from_data(TensorData::new(x.to_vec(), shape), &Device::flex());
    forward(t).into_data().try_to_vec::<f32>().unwrap()
}

fn compare(model: &Classifier, x: &[f32], shape: [usize; 5], expected: &[f32]) -> f32 {
    let [n, _, t, _, m] = shape;
    let per = x.len() / n;
    let c = model.num_classes;
    let mut worst = 0.0f32;
    for i in 0..n {
        let got = model.logits(&x[i * per..(i + 1) * per], t, m).unwrap();
        for (g, e) in got.iter().zip(&expected[i * c..(i + 1) * c]) {
            worst = worst.max((g - e).abs());
        }
    }
    worst
}

#[test]
fn student_logits_equal_burn_within_1e4() {
    let dir = tempfile::tempdir().unwrap();
    for depth in [5, 3] {
        let model = student_run(dir.path(), depth, 7);

        let (x, shape) = input(2, 30);
        let model = model.valid();
        let expected = burn_logits(|x| model.forward(x), &x, shape);
        for threads in [1, 2] {
            let folded = Classifier::load(dir.path())
                .unwrap()
                .with_threads(threads)
                .unwrap();
            assert!(folded.is_student());
            assert_eq!(folded.num_params(), model.num_params());
            let worst = compare(&folded, &x, shape, &expected);
            assert!(
                worst < 1e-4,
                "depth {depth}, {threads} threads: max |Δ| {worst}"
            );
            // The cached absent body gives the same answer the second time.
            assert!(compare(&folded, &x, shape, &expected) < 1e-4);
        }
    }
}

#[test]
fn classifier_logits_equal_burn_within_1e4() {
    let dir = tempfile::tempdir().unwrap();
    for fusion in [Fusion::CrossAttention, Fusion::Average] {
        let model = classifier_run(dir.path(), fusion, 5);

        let (x, shape) = input(2, 24);
        let model = model.valid();
        let expected = burn_logits(|x| model.forward(x), &x, shape);
        let folded = Classifier::load(dir.path())
            .unwrap()
            .with_threads(2)
            .unwrap();
        assert_eq!(folded.num_params(), model.num_params());
        let worst = compare(&folded, &x, shape, &expected);
        assert!(worst < 1e-4, "{fusion:?}: max |Δ| {worst}");
    }
}

#[test]
fn s5_costs_the_papers_macs() {
    // docs/METHOD.md §8: 181,205 parameters and 0.420 G MACs per stream (T = 50, M = 2).
    let dir = tempfile::tempdir().unwrap();
    let cfg = StudentConfig {
        num_classes: 60,
        ..Default::default()
    };
    save_module(
        &cfg.init(&Device::flex()),
        &dir.path().join("student.safetensors"),
    )
    .unwrap();
    let config = serde_json::json!({"data": {"stream": "joint", "num_classes": 60}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let s5 = Classifier::load(dir.path()).unwrap();
    assert_eq!(s5.num_params(), 181_205 + 64 * 60 + 60);
    let gmacs = s5.macs(50, 2) as f64 / 1e9;
    // Input of the wrong size, or with a NaN, is refused by name, not run.
    let msg = s5
        .logits(&vec![0.0; 3 * 50 * 25], 50, 2)
        .unwrap_err()
        .to_string();
    assert!(msg.contains("(3, 50, 25, 2), which needs 7500"), "{msg}");
    let mut x = vec![0.0; 3 * 50 * 25 * 2];
    x[42] = f32::NAN;
    let msg = s5.logits(&x, 50, 2).unwrap_err().to_string();
    assert!(msg.contains("non-finite value at flat index 42"), "{msg}");
    assert!((gmacs - 0.420).abs() < 0.0005, "{gmacs} GMACs");
}

#[test]
fn truncated_or_foreign_model_files_are_named_errors() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = StudentConfig::default();
    let file = dir.path().join("student.safetensors");
    save_module(&cfg.init(&Device::flex()), &file).unwrap();
    let config = serde_json::json!({"data": {"stream": "joint", "num_classes": 60}, "student": {"depth": 5}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let bytes = std::fs::read(&file).unwrap();

    std::fs::write(&file, &bytes[..bytes.len() - 100]).unwrap();
    let msg = Classifier::load(dir.path()).err().unwrap().to_string();
    assert!(
        msg.contains("student.safetensors") && msg.contains("truncated"),
        "{msg}"
    );

    // Another layout: the file of a depth-5 student read as depth 7.
    std::fs::write(&file, &bytes).unwrap();
    let config = serde_json::json!({"data": {"stream": "joint", "num_classes": 60}, "student": {"depth": 7}});
    std::fs::write(dir.path().join("config.json"), config.to_string()).unwrap();
    let msg = Classifier::load(dir.path()).err().unwrap().to_string();
    assert!(msg.contains("another layout"), "{msg}");

    let mut tensors = BTreeMap::new();
    tensors.insert(
        "x".to_string(),
        read_tensors(&file).unwrap().remove("fc.bias").unwrap(),
    );
    std::fs::write(&file, write_safetensors(&tensors)).unwrap();
    let msg = Classifier::load(dir.path()).err().unwrap().to_string();
    assert!(msg.contains("no tensor 'encoder.data_bn.weight'"), "{msg}");

    std::fs::write(&file, b"not a model").unwrap();
    let msg = Classifier::load(dir.path()).err().unwrap().to_string();
    assert!(msg.contains("safetensors"), "{msg}");
}

/// The committed models of `crates/asma-edge/tests/fixtures` (a 2-block motion student and a
/// small cross-attention joint teacher, 60 classes, perturbed weights) with their input and
/// burn's logits. The `asma-edge` tests check the folded path against these logits on every
/// platform (64-bit ARM under emulation in CI), so this test keeps the files honest: their
/// logits are burn's forward of their weights. `ASMA_WRITE_EDGE_FIXTURES=1` rewrites them.
#[test]
fn edge_fixtures_hold_burns_logits() {
    use asma_data::formats::npy::{write_npy_f32, MmapNpy};
    use asma_model::weights::load_module;
    use asma_model::{ClassifierConfig, StgcnEncoderConfig};
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../asma-edge/tests/fixtures");
    let (student_dir, teacher_dir) = (root.join("student"), root.join("teacher"));
    if std::env::var_os("ASMA_WRITE_EDGE_FIXTURES").is_some() {
        for d in [&student_dir, &teacher_dir] {
            std::fs::create_dir_all(d).unwrap();
        }
        student_run(&student_dir, 2, 60);
        classifier_run(&teacher_dir, Fusion::CrossAttention, 60);
        let (x, shape) = input(2, 50);
        write_npy_f32(root.join("input.npy"), &shape, &x).unwrap();
    }
    let npy = MmapNpy::open(root.join("input.npy")).unwrap();
    let shape: [usize; 5] = npy.shape().try_into().unwrap();
    let x: Vec<f32> = (0..shape[0])
        .flat_map(|i| npy.row_to_f32(i).unwrap().into_owned())
        .collect();
    let device = Device::flex();
    let mut student = StudentConfig {
        depth: 2,
        num_classes: 60,
        ..Default::default()
    }
    .init(&device);
    load_module(
        &mut student,
        &student_dir.join("student.safetensors"),
        "encoder.data_bn.weight",
        None,
    )
    .unwrap();
    let student = student.valid();
    let mut teacher = ClassifierConfig {
        encoder: StgcnEncoderConfig {
            hidden_channels: 4,
            hidden_dim: 32,
            ..Default::default()
        },
        fusion: Fusion::CrossAttention,
        num_classes: 60,
    }
    .init(&device);
    load_module(
        &mut teacher,
        &teacher_dir.join("classifier.safetensors"),
        "encoder_theta.data_bn.weight",
        None,
    )
    .unwrap();
    let teacher = teacher.valid();
    let logits_file = |d: &std::path::Path| d.join("logits.json");
    for (dir, expected) in [
        (&student_dir, burn_logits(|x| student.forward(x), &x, shape)),
        (&teacher_dir, burn_logits(|x| teacher.forward(x), &x, shape)),
    ] {
        let rows: Vec<Vec<f32>> = expected.chunks(60).map(<[f32]>::to_vec).collect();
        if std::env::var_os("ASMA_WRITE_EDGE_FIXTURES").is_some() {
            std::fs::write(logits_file(dir), serde_json::to_string(&rows).unwrap()).unwrap();
        }
        let committed: Vec<Vec<f32>> =
            serde_json::from_slice(&std::fs::read(logits_file(dir)).unwrap()).unwrap();
        let worst = committed
            .iter()
            .flatten()
            .zip(&expected)
            .map(|(c, e)| (c - e).abs())
            .fold(0.0f32, f32::max);
        assert!(
            worst < 1e-5,
            "{}: burn now gives logits {worst} away",
            dir.display()
        );
        let folded = Classifier::load(dir).unwrap();
        assert!(compare(&folded, &x, shape, &expected) < 1e-4);
    }
}

#[test]
fn a_single_body_model_reads_the_first_person_of_wider_clips() {
    let dir = tempfile::tempdir().unwrap();
    student_run(dir.path(), 3, 4);
    let config = dir.path().join("config.json");
    let mut saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&config).unwrap()).unwrap();
    let two_bodies = Classifier::load(dir.path()).unwrap();
    saved["data"]["bodies"] = 1.into();
    std::fs::write(&config, saved.to_string()).unwrap();
    let one_body = Classifier::load(dir.path()).unwrap();
    assert_eq!(one_body.bodies, Some(1));

    // Sample 0 of `input` has two people: the model reads the first one only.
    let (x, [_, _, t, _, m]) = input(1, 20);
    let first: Vec<f32> = x.iter().step_by(m).copied().collect();
    let alone = two_bodies.logits(&first, t, 1).unwrap();
    assert_eq!(one_body.logits(&x, t, m).unwrap(), alone);
    assert_ne!(two_bodies.logits(&x, t, m).unwrap(), alone);
    assert_eq!(one_body.macs(t, m), two_bodies.macs(t, 1));

    let onnx = dir.path().join("m.onnx");
    let err = one_body.export_onnx(&onnx, t, 2).unwrap_err().to_string();
    assert!(
        err.contains("data.bodies") && err.contains("m.onnx"),
        "{err}"
    );
    assert!(one_body.export_onnx(&onnx, t, 1).is_ok());
}
