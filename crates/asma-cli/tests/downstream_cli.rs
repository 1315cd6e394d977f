//! `asma run` (pretrain → linear → finetune → fusion, resumable by skipping finished stages)
//! and `asma fuse` on a tiny prepared folder, through the real binary.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use asma_data::formats::labels::Labels;
use asma_data::pipeline::loader::SkeletonDataset;
use asma_data::prepare::splits::Part;
use asma_data::rng::Rng;

fn asma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asma"))
        .args(args)
        .output()
        .expect("the asma binary runs")
}

/// 3 classes told apart by which coordinate carries an offset.
fn tiny_data(dir: &Path) {
    let mut rng = Rng::new(3);
    let len = 3 * 50 * 25 * 2;
    for (part, n) in [(Part::Train, 9), (Part::Val, 6)] {
        let mut data = vec![0f32; n * len];
        for s in 0..n {
            for (i, v) in data[s * len..(s + 1) * len].iter_mut().enumerate() {
                let (c, t, j) = (i / 2500, (i / 50) % 50, (i / 2) % 25);
                let signal = if c == s % 3 { 0.8 } else { 0.0 };
                *v = signal + (t as f32 * 0.2 + j as f32).sin() * 0.2 + 0.05 * rng.normal() as f32;
            }
        }
        let labels = Labels {
            names: (0..n)
                .map(|i| format!("S001C001P00{}R001A{:03}", i % 5 + 1, i % 3 + 1))
                .collect(),
            labels: (0..n).map(|i| i % 3).collect(),
        };
        let shape = [n, 3, 50, 25, 2];
        SkeletonDataset::write_split(dir, part, &shape, &data, &labels).unwrap();
    }
}

fn experiment(dir: &Path) -> PathBuf {
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap();
    tiny_data(&data);
    let enc = "hidden_channels = 4\nhidden_dim = 16\n";
    let down = |name: &str| {
        format!(
            "[{name}.data]\ndir = {data:?}\nnum_classes = 3\n[{name}.model.encoder]\n{enc}[{name}.optim]\nepochs = 2\nbatch_size = 3\n"
        )
    };
    let toml = format!(
        "dir = {:?}\nstreams = [\"joint\", \"bone\"]\n\
         [pretrain.data]\ndir = {data:?}\nnum_classes = 3\n\
         [pretrain.model.encoder]\n{enc}\
         [pretrain.model.projector]\nin_dim = 16\ndims = [32, 32, 32]\n\
         [pretrain.optim]\nepochs = 1\nwarmup_epochs = 0\nbatch_size = 3\n\
         [pretrain.knn]\nevery = 0\n{}{}",
        dir.join("runs"),
        down("linear"),
        down("finetune"),
    );
    let file = dir.join("exp.toml");
    std::fs::write(&file, toml).unwrap();
    file
}

#[test]
fn run_builds_the_pipeline_and_skips_finished_stages() {
    let dir = tempfile::tempdir().unwrap();
    let file = experiment(dir.path());
    let r = asma(&["run", file.to_str().unwrap()]);
    let (out, err) = (
        String::from_utf8_lossy(&r.stdout),
        String::from_utf8_lossy(&r.stderr),
    );
    assert!(r.status.success(), "{out}\n{err}");
    assert!(
        out.contains("| 2s (fused) |") && out.contains("| bone |"),
        "{out}"
    );
    let runs = dir.path().join("runs");
    for f in [
        "joint/pretrain/encoder_theta.safetensors",
        "bone/linear/scores_best.csv",
        "bone/finetune/confusion_last.png",
        "linear_scores_best_fused.csv",
        "summary.json",
    ] {
        assert!(runs.join(f).exists(), "{f}");
    }
    // Everything finished: a second run skips every stage and prints the same table.
    let again = asma(&["run", file.to_str().unwrap()]);
    let err2 = String::from_utf8_lossy(&again.stderr);
    assert!(again.status.success(), "{err2}");
    assert_eq!(err2.matches("finished, skipped").count(), 6, "{err2}");
    let table = String::from_utf8_lossy(&again.stdout);
    assert!(
        table.starts_with("| stream |") && out.ends_with(table.as_ref()),
        "{table}"
    );

    // `asma fuse` of the two streams equals the experiment's fused file.
    let fused = dir.path().join("fused.csv");
    let (j, b) = (
        runs.join("joint/linear/scores_best.csv"),
        runs.join("bone/linear/scores_best.csv"),
    );
    let r = asma(&[
        "fuse",
        j.to_str().unwrap(),
        b.to_str().unwrap(),
        "--weights",
        "0.6,0.6",
        "--out",
        fused.to_str().unwrap(),
    ]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(
        std::fs::read_to_string(&fused).unwrap(),
        std::fs::read_to_string(runs.join("linear_scores_best_fused.csv")).unwrap()
    );

    // A score file that misses a sample is refused, naming the file and the sample.
    let text = std::fs::read_to_string(&b).unwrap();
    let mut lines: Vec<&str> = text.lines().collect();
    let dropped = lines.remove(2).split(',').next().unwrap().to_string();
    let short = dir.path().join("short.csv");
    std::fs::write(&short, lines.join("\n")).unwrap();
    let r = asma(&["fuse", j.to_str().unwrap(), short.to_str().unwrap()]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(
        e.contains("short.csv") && e.contains("1 missing") && e.contains(&dropped),
        "{e}"
    );

    // Encoders of another stream: refused by `asma linear`.
    let r = asma(&[
        "linear",
        "--config",
        runs.join("joint/linear/config.json").to_str().unwrap(),
        "--init-from",
        runs.join("bone/pretrain").to_str().unwrap(),
        "--set",
        &format!("run.dir={:?}", dir.path().join("x").display().to_string()),
    ]);
    assert_eq!(r.status.code(), Some(2));
    let e = String::from_utf8_lossy(&r.stderr);
    assert!(e.contains("bone stream") && e.contains("joint"), "{e}");
}
