//! `asma bench loader` driven as a user would, on a small generated file: the JSON it prints
//! has every field, the epoch is counted whole and the memory was sampled along it.

use std::process::Command;

/// `asma bench loader --json` with `args` and a scratch folder: its JSON report.
fn bench_loader(args: &[&str], scratch: &std::path::Path) -> serde_json::Value {
    let out = Command::new(env!("CARGO_BIN_EXE_asma"))
        .args(["bench", "loader", "--json"])
        .args(args)
        .arg("--scratch")
        .arg(scratch)
        .output()
        .expect("run asma");
    assert!(
        out.status.success(),
        "asma bench loader failed:\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn bench_loader_reports_an_epoch_and_its_memory() {
    let scratch = tempfile::tempdir().unwrap();
    let v = bench_loader(&["--samples", "300", "--batch", "32"], scratch.path());
    let num = |k: &str| {
        v[k].as_f64()
            .unwrap_or_else(|| panic!("no number {k} in {v}"))
    };
    assert_eq!(v["data"], "generated");
    assert_eq!(num("samples_in_epoch"), 300.0);
    assert_eq!(num("samples"), 300.0, "one whole epoch");
    assert_eq!(num("batches"), 10.0, "⌈300 / 32⌉ batches, the last partial");
    assert_eq!((num("batch"), num("views")), (32.0, 6.0));
    assert_eq!(num("persons"), 2.0);
    assert!(num("samples_per_s") > 0.0 && num("seconds") > 0.0);
    let mib = 300.0 * 3.0 * 50.0 * 25.0 * 2.0 * 4.0 / (1024.0 * 1024.0);
    assert!((num("file_mib") - mib).abs() < 0.01, "{}", num("file_mib"));
    let memory = v["memory"].as_array().unwrap();
    assert!(memory.len() >= 3, "start, batches and end: {memory:?}");
    assert_eq!(memory[0]["at"], "start");
    assert_eq!(memory.last().unwrap()["at"], "end");
    assert_eq!(memory.last().unwrap()["batches"], 10);
    for m in memory {
        let anon = m["rss_anon_mib"].as_f64().unwrap();
        assert!(
            anon > 0.0 && anon <= m["vm_rss_mib"].as_f64().unwrap(),
            "{m}"
        );
    }
    assert!(num("rss_anon_growth_mib") >= 0.0);
    let gpu = 128.0 / num("gpu_step_seconds");
    assert!((num("target_samples_per_s") - 5.0 * gpu).abs() < 1e-6);
    assert_eq!(
        v["target_met"].as_bool().unwrap(),
        num("samples_per_s") >= num("target_samples_per_s")
    );
    assert_eq!(
        std::fs::read_dir(scratch.path()).unwrap().count(),
        0,
        "the generated files are removed"
    );
}

/// The loader is measured as pre-training reads the data: with `data.bodies = 1`, one person
/// per clip.
#[test]
fn bench_loader_reads_the_bodies_the_config_asks_for() {
    let scratch = tempfile::tempdir().unwrap();
    let args = ["--samples", "40", "--batch", "16", "--set", "data.bodies=1"];
    let v = bench_loader(&args, scratch.path());
    assert_eq!(v["persons"], 1, "{v}");
    assert_eq!(v["samples"], 40);
}

/// A bad `--bodies` is refused by name before anything is timed.
#[test]
fn bench_pretrain_refuses_zero_bodies() {
    let out = Command::new(env!("CARGO_BIN_EXE_asma"))
        .args(["bench", "pretrain", "--bodies", "0", "--steps", "1"])
        .output()
        .expect("run asma");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("--bodies"), "{err}");
}
