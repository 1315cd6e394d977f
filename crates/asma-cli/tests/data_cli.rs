//! The `asma data` commands driven as a user would: synth → prepare → inspect, on a small
//! synthetic dataset, plus the error paths a user meets first.

use std::path::Path;
use std::process::{Command, Output};

fn asma(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_asma"))
        .args(args)
        .output()
        .expect("run asma")
}

fn ok(args: &[&str]) -> String {
    let out = asma(args);
    assert!(
        out.status.success(),
        "asma {args:?} failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

fn small_synth(dir: &Path) {
    let d = dir.to_str().unwrap();
    ok(&[
        "data",
        "synth",
        "--out",
        d,
        "--seed",
        "3",
        "--set",
        "performers=[1,3]",
        "--set",
        "replications=[1]",
    ]);
}

#[test]
fn synth_prepare_inspect_end_to_end() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    let out = tmp.path().join("xsub");
    small_synth(&raw);
    let n_files = std::fs::read_dir(&raw).unwrap().count();
    assert!(n_files >= 12 * 3 * 2, "{n_files} files");

    let p = |extra: &[&str]| {
        let mut args = vec![
            "data",
            "prepare",
            "--dataset",
            "ntu60",
            "--benchmark",
            "xsub",
        ];
        args.extend([
            "--raw",
            raw.to_str().unwrap(),
            "--out",
            out.to_str().unwrap(),
        ]);
        args.extend(extra);
        ok(&args)
    };
    let first = p(&[]);
    assert!(
        first.contains("train") && !first.contains("up to date"),
        "{first}"
    );
    let manifest = std::fs::read_to_string(out.join("manifest.json")).unwrap();
    // Idempotent: the second run finds nothing to do and leaves the files alone.
    let second = p(&[]);
    assert!(second.contains("up to date"), "{second}");
    assert_eq!(
        std::fs::read_to_string(out.join("manifest.json")).unwrap(),
        manifest
    );

    let report = ok(&["data", "inspect", out.to_str().unwrap(), "--json"]);
    let v: serde_json::Value = serde_json::from_str(&report).unwrap();
    let text = v.to_string();
    assert!(text.contains("[") && report.contains("50"), "{report}");
    let human = ok(&["data", "inspect", out.to_str().unwrap()]);
    assert!(
        human.contains("(N,3,50,25,2)") || human.contains(", 3, 50, 25, 2)"),
        "{human}"
    );
}

#[test]
fn corrupt_file_stops_prepare_naming_file_and_line_unless_skip_bad() {
    let tmp = tempfile::tempdir().unwrap();
    let raw = tmp.path().join("raw");
    small_synth(&raw);
    let mut victims: Vec<_> = std::fs::read_dir(&raw)
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    victims.sort();
    let victim = &victims[0];
    let text = std::fs::read_to_string(victim).unwrap();
    let cut: String = text.lines().take(40).map(|l| format!("{l}\n")).collect();
    std::fs::write(victim, cut).unwrap();
    let out = tmp.path().join("p");
    let args = [
        "data",
        "prepare",
        "--dataset",
        "ntu60",
        "--benchmark",
        "xview",
        "--raw",
        raw.to_str().unwrap(),
        "--out",
        out.to_str().unwrap(),
    ];
    let r = asma(&args);
    assert_eq!(r.status.code(), Some(2));
    let err = String::from_utf8_lossy(&r.stderr);
    let name = victim.file_name().unwrap().to_str().unwrap();
    assert!(
        err.contains(name) && err.contains("line 41") && err.contains("truncated"),
        "{err}"
    );
    assert!(
        !out.join("train_position.npy").exists(),
        "no partial output under the final name"
    );

    let mut skip = args.to_vec();
    skip.push("--skip-bad");
    let s = ok(&skip);
    assert!(s.contains("skipped 1 unreadable"), "{s}");
    let m: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(out.join("manifest.json")).unwrap()).unwrap();
    assert_eq!(m["bad"].as_array().unwrap().len(), 1);
    assert!(m["bad"][0]["file"].as_str().unwrap().ends_with(name));
}

#[test]
fn unknown_synth_key_is_an_error_naming_it() {
    let tmp = tempfile::tempdir().unwrap();
    let r = asma(&[
        "data",
        "synth",
        "--out",
        tmp.path().to_str().unwrap(),
        "--set",
        "performrs=[1]",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("performrs"));
}

#[test]
fn unknown_dataset_is_a_clear_error() {
    let r = asma(&[
        "data",
        "prepare",
        "--dataset",
        "ntu61",
        "--benchmark",
        "xsub",
        "--raw",
        ".",
        "--out",
        "x",
    ]);
    assert_eq!(r.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&r.stderr).contains("unknown dataset 'ntu61'"));
}
