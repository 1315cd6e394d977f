//! The deployed path through the real binary: `asma infer` on `.skeleton` and `.npy` files
//! (several models fused), the streaming mode with bad lines, `asma export --onnx`,
//! `asma tsne`, and a truncated model file.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

use asma_data::formats::npy::write_npy_f32;
use asma_model::burn::tensor::Device;
use asma_model::student::{StudentConfig, StudentInit};
use asma_model::weights::save_module;

fn asma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asma"))
        .args(args)
        .output()
        .expect("the asma binary runs")
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A distillation run directory with a fresh S5 student of `stream`.
fn student_run(dir: &Path, stream: &str) -> PathBuf {
    std::fs::create_dir_all(dir).unwrap();
    save_module(
        &StudentConfig::default().init(&Device::flex()),
        &dir.join("student.safetensors"),
    )
    .unwrap();
    let config = format!(
        r#"{{"data": {{"dir": "x", "stream": "{stream}", "num_classes": 60}}, "student": {{"depth": 5, "conv": "direct"}}}}"#
    );
    std::fs::write(dir.join("config.json"), config).unwrap();
    dir.to_path_buf()
}

/// Six synthetic `.skeleton` files: actions 1, 6, 7 by performers 1 (xsub train) and 3 (val).
fn synth(dir: &Path) -> Vec<PathBuf> {
    let out = dir.join("synth");
    let o = asma(&[
        "data",
        "synth",
        "--out",
        out.to_str().unwrap(),
        "--set",
        "performers=[1,3]",
        "--set",
        "setups=[1]",
        "--set",
        "cameras=[1]",
        "--set",
        "replications=[1]",
        "--set",
        "classes=[1,6,7]",
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&out)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert_eq!(files.len(), 6);
    files
}

fn body_line(x: f32) -> String {
    let joints: Vec<String> = (0..25)
        .map(|j| {
            format!(
                "[{:.3},{:.3},{:.3}]",
                x + 0.01 * j as f32,
                0.05 * j as f32,
                3.0
            )
        })
        .collect();
    format!("[{}]", joints.join(","))
}

#[test]
fn infer_classifies_skeleton_and_npy_files_and_fuses_streams() {
    let tmp = tempfile::tempdir().unwrap();
    let joint = student_run(&tmp.path().join("joint"), "joint");
    let bone = student_run(&tmp.path().join("bone"), "bone");
    let files = synth(tmp.path());
    let npy = tmp.path().join("x.npy");
    let values: Vec<f32> = (0..2 * 3 * 40 * 25 * 2)
        .map(|i| (i as f32 * 0.013).sin() * 0.3)
        .collect();
    write_npy_f32(&npy, &[2, 3, 40, 25, 2], &values).unwrap();
    let missing = tmp.path().join("gone.skeleton");
    let o = asma(&[
        "infer",
        "--model",
        joint.to_str().unwrap(),
        "--model",
        bone.to_str().unwrap(),
        "--weights",
        "0.6,0.6",
        "--top",
        "3",
        "--json",
        files[0].to_str().unwrap(),
        files[1].to_str().unwrap(),
        missing.to_str().unwrap(),
        npy.to_str().unwrap(),
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    // The unreadable file is named, the others are still classified, and the exit says so.
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(err.contains("gone.skeleton"), "{err}");
    let lines: Vec<serde_json::Value> = out
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 4, "{out}");
    assert_eq!(lines[3]["input"], "x.npy[1]");
    for l in &lines {
        let top = l["top"].as_array().unwrap();
        assert_eq!(top.len(), 3);
        let p: Vec<f64> = top.iter().map(|r| r["prob"].as_f64().unwrap()).collect();
        assert!(p[0] >= p[1] && p[1] >= p[2] && p[0] <= 1.0, "{l}");
    }
    // Fused = 0.6·joint + 0.6·bone: check one logit against the models run alone.
    let single = |m: &Path| {
        let o = asma(&[
            "infer",
            "--model",
            m.to_str().unwrap(),
            "--json",
            "--top",
            "60",
            files[0].to_str().unwrap(),
        ]);
        let v: serde_json::Value =
            serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap();
        let top = v["top"].as_array().unwrap().clone();
        move |class: u64| {
            top.iter().find(|r| r["class"] == class).unwrap()["logit"]
                .as_f64()
                .unwrap()
        }
    };
    let (j, b) = (single(&joint), single(&bone));
    let best = &lines[0]["top"][0];
    let class = best["class"].as_u64().unwrap();
    let expected = 0.6 * j(class) + 0.6 * b(class);
    assert!((best["logit"].as_f64().unwrap() - expected).abs() < 1e-4);
}

#[test]
fn an_npy_with_nan_is_named_and_the_other_inputs_still_run() {
    let tmp = tempfile::tempdir().unwrap();
    let model = student_run(&tmp.path().join("m"), "joint");
    let mut values = vec![0.1f32; 2 * 3 * 20 * 25 * 2];
    values[3 * 20 * 25 * 2 + 17] = f32::NAN;
    let bad = tmp.path().join("bad.npy");
    write_npy_f32(&bad, &[2, 3, 20, 25, 2], &values).unwrap();
    let good = tmp.path().join("good.npy");
    write_npy_f32(&good, &[1, 3, 20, 25, 2], &values[..3 * 20 * 25 * 2]).unwrap();
    let o = asma(&[
        "infer",
        "--model",
        model.to_str().unwrap(),
        bad.to_str().unwrap(),
        good.to_str().unwrap(),
    ]);
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert_eq!(o.status.code(), Some(2), "{err}");
    assert!(
        err.contains("bad.npy") && err.contains("sample 1 holds NaN"),
        "{err}"
    );
    assert!(
        out.contains("good.npy[0]") && !out.contains("bad.npy"),
        "{out}"
    );
}

#[test]
fn stream_mode_skips_bad_lines_with_their_numbers() {
    let tmp = tempfile::tempdir().unwrap();
    let model = student_run(&tmp.path().join("m"), "motion");
    let mut lines: Vec<String> = (0..22).map(|i| body_line(i as f32 * 0.02)).collect();
    lines[2] = format!("[{}]", vec!["[0,0,0]"; 24].join(","));
    lines[6] = body_line(0.1).replacen("[0.100,", "[null,", 1);
    lines[9] = format!("[{0},{0}]", body_line(0.3));
    let mut child = Command::new(env!("CARGO_BIN_EXE_asma"))
        .args([
            "infer",
            "--model",
            model.to_str().unwrap(),
            "--stdin",
            "--window",
            "10",
            "--hop",
            "5",
            "--json",
        ])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all(lines.join("\n").as_bytes())
        .unwrap();
    let o = child.wait_with_output().unwrap();
    let (out, err) = (text(&o.stdout), text(&o.stderr));
    assert!(o.status.success(), "{err}");
    assert!(err.contains("line 3: 24 joints"), "{err}");
    assert!(
        err.contains("line 7: ") && err.contains("not a finite number"),
        "{err}"
    );
    assert!(err.contains("2 lines skipped"), "{err}");
    // 20 good frames (one with two bodies): windows end at frames 10, 15 and 20.
    let ends: Vec<u64> = out
        .lines()
        .map(|l| {
            serde_json::from_str::<serde_json::Value>(l).unwrap()["end"]
                .as_u64()
                .unwrap()
        })
        .collect();
    assert_eq!(ends, vec![10, 15, 20], "{out}");
}

#[test]
fn export_tsne_and_bad_model_files() {
    let tmp = tempfile::tempdir().unwrap();
    let model = student_run(&tmp.path().join("m"), "joint");
    let onnx = tmp.path().join("s.onnx");
    let o = asma(&[
        "export",
        "--model",
        model.to_str().unwrap(),
        "--onnx",
        onnx.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("student"));
    assert!(std::fs::metadata(&onnx).unwrap().len() > 4 * 181_205);

    synth(tmp.path());
    let prep = tmp.path().join("prep");
    let o = asma(&[
        "data",
        "prepare",
        "--dataset",
        "ntu60",
        "--benchmark",
        "xsub",
        "--raw",
        tmp.path().join("synth").to_str().unwrap(),
        "--out",
        prep.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let png = tmp.path().join("tsne.png");
    let o = asma(&[
        "tsne",
        "--model",
        model.to_str().unwrap(),
        "--model",
        model.to_str().unwrap(),
        "--data",
        prep.to_str().unwrap(),
        "--split",
        "train",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let csv = std::fs::read_to_string(png.with_extension("csv")).unwrap();
    assert_eq!(csv.lines().count(), 1 + 2 * 3);
    // A split that is not a part of the data is refused by name, before anything is read.
    let o = asma(&[
        "tsne",
        "--model",
        model.to_str().unwrap(),
        "--data",
        prep.to_str().unwrap(),
        "--split",
        "validation",
        "--out",
        png.to_str().unwrap(),
    ]);
    assert!(!o.status.success());
    let err = text(&o.stderr);
    assert!(
        err.contains("--split") && err.contains("validation"),
        "{err}"
    );
    assert!(std::fs::metadata(&png).unwrap().len() > 100);
    // The SVG names both panels and, for a 60-class model, NTU's actions in its legend.
    let svg = std::fs::read_to_string(png.with_extension("svg")).unwrap();
    let ntu60 = asma_skeleton::ClassNames::builtin(asma_skeleton::ActionSet::Ntu60);
    for line in csv.lines().skip(1) {
        let label: usize = line.split(',').nth(2).unwrap().parse().unwrap();
        let name = ntu60.name(label).unwrap();
        assert!(svg.contains(&format!(">{label} {name}</text>")), "{svg}");
    }
    assert_eq!(
        svg.matches(&format!(">{}</text>", model.display())).count(),
        2
    );

    let weights = model.join("student.safetensors");
    let bytes = std::fs::read(&weights).unwrap();
    std::fs::write(&weights, &bytes[..bytes.len() / 2]).unwrap();
    let o = asma(&["infer", "--model", model.to_str().unwrap(), "--stdin"]);
    let err = text(&o.stderr);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        err.contains("student.safetensors") && err.contains("truncated"),
        "{err}"
    );
}

#[test]
fn actions_are_named_from_the_dataset_or_the_run_s_own_list() {
    let tmp = tempfile::tempdir().unwrap();
    let joint = student_run(&tmp.path().join("joint"), "joint");
    let files = synth(tmp.path());
    let infer = |models: &[&Path], json: bool| {
        let mut args = vec!["infer".to_string()];
        for m in models {
            args.extend(["--model".into(), m.display().to_string()]);
        }
        if json {
            args.push("--json".into());
        }
        args.push(files[0].display().to_string());
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        asma(&args)
    };
    // 60 classes and no list of the run's own: NTU RGB+D 60's names, next to the ids.
    let o = infer(&[&joint], true);
    assert!(o.status.success(), "{}", text(&o.stderr));
    let line: serde_json::Value =
        serde_json::from_str(text(&o.stdout).lines().next().unwrap()).unwrap();
    for r in line["top"].as_array().unwrap() {
        let class = r["class"].as_u64().unwrap() as usize;
        assert_eq!(r["name"], asma_skeleton::actions::NTU120[class], "{r}");
    }
    // The run's own list wins, in the text output too.
    let own: Vec<String> = (0..60).map(|i| format!("gesture {i}")).collect();
    std::fs::write(
        joint.join("classes.json"),
        serde_json::to_vec(&own).unwrap(),
    )
    .unwrap();
    let o = infer(&[&joint], false);
    let out = text(&o.stdout);
    let best = line["top"][0]["class"].as_u64().unwrap();
    let expected = format!("A{:03} gesture {best} ", best + 1);
    assert!(out.contains(&expected), "{out}");
    // A truncated list, or one that is not JSON: the file and the problem, no output.
    std::fs::write(
        joint.join("classes.json"),
        serde_json::to_vec(&own[..59]).unwrap(),
    )
    .unwrap();
    let o = infer(&[&joint], false);
    let err = text(&o.stderr);
    assert!(!o.status.success() && o.stdout.is_empty());
    assert!(
        err.contains("classes.json: 59 class names for a model of 60 classes"),
        "{err}"
    );
    std::fs::write(joint.join("classes.json"), "[\"gesture 0\", \"gest").unwrap();
    let err = text(&infer(&[&joint], false).stderr);
    assert!(
        err.contains("classes.json") && err.contains("not a JSON list"),
        "{err}"
    );
    // Models that name their classes differently are not fused.
    std::fs::write(
        joint.join("classes.json"),
        serde_json::to_vec(&own).unwrap(),
    )
    .unwrap();
    let bone = student_run(&tmp.path().join("bone"), "bone");
    let o = infer(&[&joint, &bone], false);
    let err = text(&o.stderr);
    assert!(
        !o.status.success() && err.contains("name their classes differently"),
        "{err}"
    );
}

#[test]
fn a_model_directory_copied_elsewhere_and_read_only_classifies_the_same() {
    let tmp = tempfile::tempdir().unwrap();
    let trained = student_run(&tmp.path().join("trained"), "bone");
    let own: Vec<String> = (0..60).map(|i| format!("gesture {i}")).collect();
    std::fs::write(
        trained.join("classes.json"),
        serde_json::to_vec(&own).unwrap(),
    )
    .unwrap();
    let files = synth(tmp.path());
    // Copied to a place it was never trained in, every file and the folder read-only.
    let copy = tmp.path().join("elsewhere").join("model");
    std::fs::create_dir_all(&copy).unwrap();
    for e in std::fs::read_dir(&trained).unwrap() {
        let e = e.unwrap();
        std::fs::copy(e.path(), copy.join(e.file_name())).unwrap();
    }
    let set_read_only = |read_only: bool| {
        for e in std::fs::read_dir(&copy).unwrap() {
            let path = e.unwrap().path();
            let mut p = std::fs::metadata(&path).unwrap().permissions();
            p.set_readonly(read_only);
            std::fs::set_permissions(&path, p).unwrap();
        }
        let mut p = std::fs::metadata(&copy).unwrap().permissions();
        p.set_readonly(read_only);
        std::fs::set_permissions(&copy, p).unwrap();
    };
    let listing = || -> Vec<(std::ffi::OsString, std::time::SystemTime)> {
        let mut v: Vec<_> = std::fs::read_dir(&copy)
            .unwrap()
            .map(|e| {
                let e = e.unwrap();
                (e.file_name(), e.metadata().unwrap().modified().unwrap())
            })
            .collect();
        v.sort();
        v
    };
    set_read_only(true);
    let before = listing();
    let run = |model: &Path| {
        let o = asma(&[
            "infer",
            "--model",
            model.to_str().unwrap(),
            "--json",
            "--top",
            "60",
            files[0].to_str().unwrap(),
            files[3].to_str().unwrap(),
        ]);
        assert!(o.status.success(), "{}", text(&o.stderr));
        text(&o.stdout)
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).unwrap();
                v.as_object_mut().unwrap().remove("ms");
                v
            })
            .collect::<Vec<_>>()
    };
    let (original, copied) = (run(&trained), run(&copy));
    // The same scores and names, and the copy left exactly as it was (root ignores the
    // read-only bits, so the listing is what shows nothing was written there).
    assert_eq!(original, copied);
    assert_eq!(
        copied[0]["top"][0]["name"]
            .as_str()
            .unwrap()
            .split(' ')
            .next(),
        Some("gesture")
    );
    assert_eq!(listing(), before);
    set_read_only(false);
}
