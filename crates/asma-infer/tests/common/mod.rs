//! Helpers shared by the integration tests: deterministic values, weights that look trained
//! (BatchNorm statistics and edge importances moved off their initial values, so that a
//! folding mistake cannot hide behind γ = 1, β = μ = 0, σ² = 1), and run directories laid
//! out as `asma distill` and `asma finetune` write them.

// Each test binary compiles this module and uses its own subset of it.
#![allow(dead_code)]

use std::path::Path;

use asma_model::burn::tensor::Device;
use asma_model::classifier::{ClassifierConfig, Fusion};
use asma_model::stgcn::StgcnEncoderConfig;
use asma_model::student::{StudentClassifier, StudentConfig, StudentInit};
use asma_model::weights::{load_module, read_tensors, save_module, write_safetensors};
use asma_model::AsmaClassifier;

/// Deterministic values in `[lo, hi)`.
pub struct Lcg(pub u64);
impl Lcg {
    pub fn next(&mut self, lo: f32, hi: f32) -> f32 {
        self.0 = self
            .0
            .wrapping_mul(6364136223846793005)
            .wrapping_add(1442695040888963407);
        lo + (hi - lo) * ((self.0 >> 40) as f32 / (1u64 << 24) as f32)
    }
}

/// Rewrites every tensor of the file at `path` with values drawn from `seed`: BatchNorm
/// statistics and affine parameters and edge importances away from their initial values,
/// weights uniform in ±√(6/fan-in) (He's bound for ReLU networks, so that the input still
/// shows in the logits after ten blocks in evaluation mode), other vectors in ±0.1. Nothing is
/// left from burn's unseeded initialisation, so the model (and whether two clips' logits
/// differ enough for a test to see a layout mistake) is the same on every run.
pub fn perturb(path: &Path, seed: u64) {
    let mut rng = Lcg(seed);
    let mut tensors = read_tensors(path).unwrap();
    let bn: Vec<String> = tensors
        .keys()
        .filter_map(|k| k.strip_suffix(".running_mean").map(str::to_string))
        .collect();
    for (key, t) in tensors.iter_mut() {
        let (lo, hi) = if key.ends_with("running_var") {
            (0.5, 2.0)
        } else if key.ends_with("running_mean") {
            (-0.3, 0.3)
        } else if key.contains("edge_importance")
            || bn.iter().any(|p| key == &format!("{p}.weight"))
        {
            (0.5, 1.5)
        } else if bn.iter().any(|p| key == &format!("{p}.bias")) {
            (-0.2, 0.2)
        } else if t.shape.len() >= 2 {
            let bound = (6.0 * t.shape[0] as f32 / t.data.len() as f32).sqrt();
            (-bound, bound)
        } else {
            (-0.1, 0.1)
        };
        t.data.iter_mut().for_each(|v| *v = rng.next(lo, hi));
    }
    std::fs::write(path, write_safetensors(&tensors)).unwrap();
}

/// `(N, 3, T, 25, 2)`; sample 0 has two people, sample 1 only one (the absent-body path).
pub fn input(n: usize, t: usize) -> (Vec<f32>, [usize; 5]) {
    let mut rng = Lcg(7);
    let shape = [n, 3, t, 25, 2];
    let mut x: Vec<f32> = (0..shape.iter().product())
        .map(|_| rng.next(-0.8, 0.8))
        .collect();
    for (i, value) in x.iter_mut().enumerate() {
        if i / (3 * t * 50) == 1 && i % 2 == 1 {
            *value = 0.0;
        }
    }
    (x, shape)
}

/// Writes a `distill` run (motion stream) with a perturbed student of `depth` blocks into
/// `dir`; returns the burn model holding the same weights.
pub fn student_run(dir: &Path, depth: usize, classes: usize) -> StudentClassifier {
    let device = Device::flex();
    let cfg = StudentConfig {
        depth,
        num_classes: classes,
        ..Default::default()
    };
    let file = dir.join("student.safetensors");
    save_module(&cfg.init(&device), &file).unwrap();
    perturb(&file, depth as u64);
    let mut model = cfg.init(&device);
    load_module(&mut model, &file, "encoder.data_bn.weight", None).unwrap();
    let config = serde_json::json!({
        "data": {"dir": "x", "stream": "motion", "num_classes": classes},
        "student": {"depth": depth, "conv": "direct"},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    model
}

/// Writes a `finetune` run (joint stream) with a perturbed small ASMa classifier
/// (`hidden_channels` 4, `hidden_dim` 32) into `dir`; returns the burn model.
pub fn classifier_run(dir: &Path, fusion: Fusion, classes: usize) -> AsmaClassifier {
    let device = Device::flex();
    let encoder = StgcnEncoderConfig {
        hidden_channels: 4,
        hidden_dim: 32,
        ..Default::default()
    };
    let cfg = ClassifierConfig {
        encoder: encoder.clone(),
        fusion,
        num_classes: classes,
    };
    let file = dir.join("classifier.safetensors");
    save_module(&cfg.init(&device), &file).unwrap();
    perturb(&file, 11);
    let mut model = cfg.init(&device);
    load_module(&mut model, &file, "encoder_theta.data_bn.weight", None).unwrap();
    let config = serde_json::json!({
        "protocol": "finetune",
        "data": {"dir": "x", "stream": "joint", "num_classes": classes},
        "model": {"encoder": encoder, "fusion": fusion},
    });
    std::fs::write(dir.join("config.json"), config.to_string()).unwrap();
    model
}
