//! The `asma-edge` binary on the committed models: what a device runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures")
}

fn edge(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asma-edge"))
        .args(args)
        .output()
        .unwrap()
}

fn text(o: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&o.stdout).into_owned(),
        String::from_utf8_lossy(&o.stderr).into_owned(),
    )
}

#[test]
fn infer_names_actions_and_fuses_a_student_with_a_teacher() {
    let f = fixtures();
    let (student, teacher, input) = (f.join("student"), f.join("teacher"), f.join("input.npy"));
    let s = |p: &Path| p.to_str().unwrap().to_string();
    let o = edge(&[
        "infer",
        "--model",
        &s(&student),
        "--model",
        &s(&teacher),
        "--top",
        "3",
        &s(&input),
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert_eq!(out.lines().count(), 2, "{out}");
    // 60 classes: NTU RGB+D 60's names.
    assert!(
        out.lines()
            .all(|l| l.starts_with("input.npy[") && l.contains(" A0")),
        "{out}"
    );
    assert!(
        err.contains("student (2 blocks, 64-d) of the motion stream"),
        "{err}"
    );

    let o = edge(&["infer", "--model", &s(&student), "--json", &s(&input)]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    for line in out.lines() {
        let v: serde_json::Value = serde_json::from_str(line).unwrap();
        let top = v["top"].as_array().unwrap();
        assert_eq!(top.len(), 5);
        assert!(top[0]["name"].is_string() && top[0]["prob"].as_f64().unwrap() > 0.0);
    }
}

#[test]
fn export_and_bench_run_and_bad_arguments_are_named() {
    let f = fixtures();
    let student = f.join("student");
    let tmp = tempfile::tempdir().unwrap();
    let onnx = tmp.path().join("s.onnx");
    let o = edge(&[
        "export",
        "--model",
        student.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o).1);
    assert!(std::fs::metadata(&onnx).unwrap().len() > 63_320 * 4);

    let o = edge(&[
        "bench",
        "--student",
        student.to_str().unwrap(),
        "--reps",
        "2",
        "--threads",
        "1",
        "--json",
    ]);
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    let rows: serde_json::Value = serde_json::from_str(&out).unwrap();
    let row = &rows.as_array().unwrap()[0];
    assert_eq!(row["params"], 63_320);
    assert!(row["asma"]["latency_ms"].as_f64().unwrap() > 0.0);
    assert!(row["gmacs"].as_f64().unwrap() > 0.0 && row["torch"].is_null());

    let o = edge(&["bench"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("nothing to measure"), "{}", text(&o).1);
    let missing = tmp.path().join("no_such_run");
    let o = edge(&["infer", "--model", missing.to_str().unwrap(), "x.npy"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(text(&o).1.contains("no_such_run"), "{}", text(&o).1);
}

/// The point of this binary: no burn (and so no autodiff, no CubeCL) in its build.
#[test]
fn the_edge_build_has_no_burn() {
    let o = Command::new(env!("CARGO"))
        .args([
            "tree",
            "-p",
            "asma-edge",
            "-e",
            "normal",
            "--prefix",
            "none",
            "--offline",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .unwrap();
    let (out, err) = text(&o);
    assert!(o.status.success(), "{err}");
    assert!(out.lines().any(|l| l.starts_with("asma-infer ")), "{out}");
    let ml: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("burn") || l.starts_with("cubecl") || l.starts_with("asma-model"))
        .collect();
    assert!(ml.is_empty(), "the edge build pulls {ml:?}");
}
