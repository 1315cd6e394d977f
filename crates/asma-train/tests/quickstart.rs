//! `asma quickstart` end to end at toy size: synthetic files → prepared split → pre-training
//! → linear teacher → distilled student → latency, then a second call that reads the finished
//! stages back instead of training again.

use std::sync::atomic::AtomicBool;

use asma_train::quickstart::{run, QuickstartConfig};

fn toy(dir: &std::path::Path) -> QuickstartConfig {
    let mut c = QuickstartConfig {
        dir: dir.to_path_buf(),
        ..Default::default()
    };
    // NTU-60 xsub: performers 1, 2, 4 train, 3 test.
    c.synth.performers = vec![1, 2, 3, 4];
    c.synth.cameras = vec![1];
    c.synth.replications = vec![1];
    c.synth.classes = vec![1, 6, 7];
    c.pretrain.model.encoder.hidden_channels = 4;
    c.pretrain.model.encoder.hidden_dim = 16;
    c.pretrain.model.projector.in_dim = 16;
    c.pretrain.model.projector.dims = [32, 32, 32];
    c.pretrain.optim.epochs = 1;
    c.pretrain.optim.warmup_epochs = 0;
    c.pretrain.optim.batch_size = 3;
    c.pretrain.knn.every = 1;
    c.pretrain.knn.at_start = false;
    c.linear.model.encoder = c.pretrain.model.encoder.clone();
    c.linear.optim.epochs = 1;
    c.linear.optim.batch_size = 3;
    c.distill.student.depth = 2;
    c.distill.optim.epochs = 1;
    c.distill.optim.batch_size = 3;
    c
}

#[test]
fn the_quickstart_runs_every_stage_and_reads_finished_ones_back() {
    let tmp = tempfile::tempdir().unwrap();
    let cfg = toy(tmp.path());
    let stop = AtomicBool::new(false);
    let out = run(&cfg, &stop, &|_| {}).unwrap();
    assert!(!out.interrupted);
    let stages: Vec<&str> = out.rows.iter().map(|r| r.stage.as_str()).collect();
    assert_eq!(
        stages,
        [
            "data",
            "pretrain (joint)",
            "linear (teacher)",
            "distill (S5 student)",
            "bench (1 thread, batch 1)"
        ]
    );
    assert!(
        out.rows[0].result.contains("train 9, val 3"),
        "{:?}",
        out.rows[0]
    );
    assert!(
        out.rows[1].result.contains("k-NN top-1"),
        "{:?}",
        out.rows[1]
    );
    assert!(out.rows[4].result.contains("teacher") && out.rows[4].result.contains("student"));
    assert!(out.student.join("student.safetensors").exists());

    // Finished stages come back from their result files, unchanged.
    let again = run(&cfg, &stop, &|_| {}).unwrap();
    assert_eq!(again.rows[2].result, out.rows[2].result);
    assert_eq!(again.rows[3].result, out.rows[3].result);
}
