//! `asma pretrain` and `asma embed` driven as a user would, and every shipped config parses.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn asma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asma"))
        .args(args)
        .output()
        .expect("run asma")
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn npy(path: &Path) -> Vec<f32> {
    asma_data::formats::npy::MmapNpy::open(path)
        .unwrap()
        .to_f32()
        .unwrap()
        .into_owned()
}

#[test]
fn embed_reproduces_pytorch_features() {
    let fx = root().join("crates/asma-model/tests/fixtures/encoder");
    let tmp = tempfile::tempdir().unwrap();
    let cases: [(&str, &[&str], &str); 3] = [
        ("checkpoint.pth.tar", &[], "out_full.npy"),
        (
            "weights.safetensors",
            &["--mask-joints", "3,7,11"],
            "out_masked.npy",
        ),
        ("weights.safetensors", &["--train-mode"], "out_train.npy"),
    ];
    for (ckpt, extra, expected) in cases {
        let out = tmp.path().join(expected);
        let mut args = vec![
            "embed",
            "--checkpoint",
            fx.join(ckpt).to_str().unwrap().to_string().leak(),
            "--input",
        ];
        args.push(fx.join("input50.npy").to_str().unwrap().to_string().leak());
        args.extend(["--out", out.to_str().unwrap().to_string().leak()]);
        args.extend(extra);
        let r = asma(&args);
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
        let (ours, theirs) = (npy(&out), npy(&fx.join(expected)));
        let worst = ours
            .iter()
            .zip(&theirs)
            .map(|(a, b)| (a - b).abs())
            .fold(0f32, f32::max);
        assert!(worst <= 1e-4, "{expected}: {worst}");
    }
}

#[test]
fn embed_rejects_a_checkpoint_of_another_model() {
    let fx = root().join("crates/asma-model/tests/fixtures");
    let r = asma(&[
        "embed",
        "--checkpoint",
        fx.join("barlow/proj_weights.safetensors").to_str().unwrap(),
        "--input",
        fx.join("encoder/input50.npy").to_str().unwrap(),
        "--out",
        "/tmp/never.npy",
    ]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("proj_weights.safetensors") && e.contains("data_bn.weight"),
        "{e}"
    );
}

#[test]
fn every_shipped_config_parses() {
    let mut n = 0;
    let mut stack = vec![root().join("configs")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let name = p.file_name().unwrap().to_str().unwrap().to_string();
                let text = std::fs::read_to_string(&p).unwrap();
                let err = if name.starts_with("pretrain_") {
                    toml::from_str::<asma_train::PretrainConfig>(&text).err()
                } else if name.starts_with("linear_") || name.starts_with("finetune_") {
                    toml::from_str::<asma_train::downstream::DownstreamConfig>(&text).err()
                } else if name.starts_with("distill_") {
                    toml::from_str::<asma_train::downstream::distill::DistillConfig>(&text).err()
                } else if name.starts_with("synth_") {
                    toml::from_str::<asma_synth::SynthConfig>(&text).err()
                } else if name == "quickstart.toml" {
                    toml::from_str::<asma_train::quickstart::QuickstartConfig>(&text).err()
                } else if p.parent().unwrap().ends_with("experiments") {
                    toml::from_str::<asma_train::experiment::ExperimentConfig>(&text).err()
                } else {
                    panic!("{}: a config of unknown kind", p.display())
                };
                assert!(err.is_none(), "{}: {:?}", p.display(), err);
                n += 1;
            }
        }
    }
    assert!(n >= 18 + 3 + 9 + 6 + 16, "{n} configs");
}

#[test]
fn pretrain_unknown_key_and_wrong_type_name_the_key() {
    let cfg = root().join("configs/synthetic/pretrain_joint.toml");
    let r = asma(&[
        "pretrain",
        "--config",
        cfg.to_str().unwrap(),
        "--set",
        "optim.lrr=0.1",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("lrr"));
    let r = asma(&[
        "pretrain",
        "--config",
        cfg.to_str().unwrap(),
        "--set",
        "optim.epochs=\"ten\"",
    ]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("invalid type") && e.contains("epochs"), "{e}");
}

/// Same seed, same bits, in a fresh process: two `asma pretrain` runs of one config write
/// byte-identical encoders and the same metrics (timings aside), the baselines included.
#[test]
fn pretraining_twice_in_fresh_processes_gives_the_same_bits() {
    let tmp = tempfile::tempdir().unwrap();
    let (raw, data) = (tmp.path().join("raw"), tmp.path().join("data"));
    let ok = |r: Output| {
        assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    };
    ok(asma(&[
        "data",
        "synth",
        "--out",
        raw.to_str().unwrap(),
        "--set",
        "performers=[1,3]",
        "--set",
        "replications=[1]",
        "--set",
        "cameras=[1,2]",
        "--set",
        "classes=[1,6,7,8]",
    ]));
    ok(asma(&[
        "data",
        "prepare",
        "--dataset",
        "ntu60",
        "--benchmark",
        "xsub",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        data.to_str().unwrap(),
    ]));
    let run = |name: &str| {
        let dir = tmp.path().join(name);
        let cfg = root().join("configs/synthetic/pretrain_joint.toml");
        ok(asma(&[
            "pretrain",
            "--config",
            cfg.to_str().unwrap(),
            "--set",
            &format!("data.dir={:?}", data.to_str().unwrap()),
            "--set",
            "data.num_classes=60",
            "--set",
            &format!("run.dir={:?}", dir.to_str().unwrap()),
            "--set",
            "model.encoder.hidden_channels=4",
            "--set",
            "model.encoder.hidden_dim=16",
            "--set",
            "model.projector.in_dim=16",
            "--set",
            "model.projector.dims=[32,32,32]",
            "--set",
            "optim.epochs=2",
            "--set",
            "optim.warmup_epochs=1",
            "--set",
            "optim.batch_size=4",
            "--set",
            "knn.every=1",
        ]));
        let metrics: Vec<serde_json::Value> = std::fs::read_to_string(dir.join("metrics.jsonl"))
            .unwrap()
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                for timing in ["seconds", "samples_per_s"] {
                    v.as_object_mut().unwrap().remove(timing);
                }
                v
            })
            .collect();
        // Parsed, not raw bytes: the header's key order is not part of the contract.
        let weights: Vec<(String, Vec<f32>)> =
            asma_model::weights::read_tensors(&dir.join("encoder_theta.safetensors"))
                .unwrap()
                .into_iter()
                .map(|(k, t)| (k, t.data))
                .collect();
        (metrics, weights)
    };
    let (a, b) = (run("a"), run("b"));
    assert_eq!(a.0.len(), 4, "{:?}", a.0);
    assert_eq!(a.0, b.0);
    assert!(
        a.1 == b.1,
        "the f_θ weights differ between two fresh processes"
    );
}
