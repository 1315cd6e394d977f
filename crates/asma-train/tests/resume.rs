//! Pre-training resumes exactly: E epochs in one go equal k epochs, a stop, and `--resume`
//! (same losses, same final weights), also when stopped in the middle of an epoch.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use asma_data::formats::labels::Labels;
use asma_data::formats::npy::write_npy_f32;
use asma_data::pipeline::loader::SkeletonDataset;
use asma_data::prepare::splits::Part;
use asma_data::rng::Rng;
use asma_train::config::PretrainConfig;
use asma_train::pretrain::{pretrain, Progress};

/// burn's device random generator is process-wide: runs in parallel test threads would
/// reseed each other's dropout. The tests of this file take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// A tiny prepared folder: smooth random motions, 4 classes.
fn tiny_data(dir: &Path) {
    let mut rng = Rng::new(9);
    for (part, n) in [(Part::Train, 10), (Part::Val, 6)] {
        let mut data = vec![0f32; n * 3 * 50 * 25 * 2];
        for (i, v) in data.iter_mut().enumerate() {
            let t = (i / 50) % 50;
            *v = ((i % 7) as f32 * 0.1 + (t as f32 * 0.1 + (i % 11) as f32).sin() * 0.3)
                * (1.0 + 0.01 * rng.normal() as f32);
        }
        let labels = Labels {
            names: (0..n).map(|i| format!("s{i}.skeleton")).collect(),
            labels: (0..n).map(|i| i % 4).collect(),
        };
        let shape = [n, 3, 50, 25, 2];
        SkeletonDataset::write_split(dir, part, &shape, &data, &labels).unwrap();
    }
}

/// A temporary folder with the tiny split in `data/`.
fn tmp_with_data() -> (tempfile::TempDir, std::path::PathBuf) {
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir(&data).unwrap();
    tiny_data(&data);
    (tmp, data)
}

fn config(data: &Path, run: &Path) -> PretrainConfig {
    let mut c = PretrainConfig::default();
    c.data.dir = data.to_path_buf();
    c.data.num_classes = 4;
    c.model.encoder.hidden_channels = 4;
    c.model.encoder.hidden_dim = 16;
    c.model.projector.in_dim = 16;
    c.model.projector.dims = [32, 32, 32];
    c.optim.epochs = 3;
    c.optim.warmup_epochs = 1;
    c.optim.batch_size = 4;
    c.knn.every = 3;
    c.knn.at_start = true;
    c.run.dir = run.to_path_buf();
    c
}

/// Every line of a run's `metrics.jsonl`.
fn metric_lines(run: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

fn losses(run: &Path) -> Vec<f64> {
    metric_lines(run)
        .into_iter()
        .filter(|v| v["epoch"].is_u64())
        .map(|v| v["loss"].as_f64().unwrap())
        .collect()
}

/// Names of the f_θ tensors that differ between two runs.
fn differing(x: &Path, y: &Path) -> Vec<String> {
    let read =
        |p: &Path| asma_model::weights::read_tensors(&p.join("encoder_theta.safetensors")).unwrap();
    let (a, b) = (read(x), read(y));
    a.iter()
        .filter(|(k, t)| b.get(*k).map(|u| u.data != t.data).unwrap_or(true))
        .map(|(k, _)| k.clone())
        .collect()
}

#[test]
fn straight_run_equals_stop_and_resume() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);

    let a = tmp.path().join("a");
    let out = pretrain(&config(&data, &a), false, &never, &|_| {}).unwrap();
    assert!(!out.interrupted);
    assert_eq!(out.state.epoch, 3);
    let straight = losses(&a);
    assert_eq!(straight.len(), 3);
    assert!(straight.iter().all(|l| l.is_finite() && *l > 0.0));
    assert!(out.last.unwrap().knn.is_some());
    for f in [
        "config.json",
        "encoder_theta.safetensors",
        "encoder_phi.safetensors",
        "checkpoint/state.json",
        "checkpoint/model.bpk",
    ] {
        assert!(a.join(f).exists(), "{f}");
    }

    // Stop after epoch 1 (epoch boundary), resume.
    let b = tmp.path().join("b");
    let stop = AtomicBool::new(false);
    let out = pretrain(&config(&data, &b), false, &stop, &|p| {
        if let Progress::Epoch(m) = p {
            if m.epoch == 0 {
                stop.store(true, Ordering::SeqCst);
            }
        }
    })
    .unwrap();
    assert!(out.interrupted);
    assert_eq!(out.state.epoch, 1);
    pretrain(&config(&data, &b), true, &never, &|_| {}).unwrap();
    assert_eq!(
        losses(&b),
        straight,
        "epoch-boundary resume changed the losses"
    );

    // Stop in the middle of epoch 2 (after its second batch), resume.
    let c = tmp.path().join("c");
    let stop = AtomicBool::new(false);
    let out = pretrain(&config(&data, &c), false, &stop, &|p| {
        if let Progress::Batch {
            epoch: 1, batch: 1, ..
        } = p
        {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(out.interrupted);
    assert_eq!((out.state.epoch, out.state.batch), (1, 2));
    pretrain(&config(&data, &c), true, &never, &|_| {}).unwrap();
    assert_eq!(
        differing(&a, &b),
        Vec::<String>::new(),
        "epoch-boundary resume changed the final weights"
    );
    assert_eq!(
        differing(&a, &c),
        Vec::<String>::new(),
        "mid-epoch resume changed the final weights"
    );
    assert_eq!(losses(&c)[2], straight[2]);
}

#[test]
fn resume_without_checkpoint_and_bad_config_are_errors() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let e = pretrain(
        &config(&data, &tmp.path().join("none")),
        true,
        &never,
        &|_| {},
    )
    .unwrap_err()
    .to_string();
    assert!(e.contains("no checkpoint to resume from"), "{e}");
    let mut c = config(&data, &tmp.path().join("x"));
    c.data.num_classes = 2;
    let e = pretrain(&c, false, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("beyond the 2 classes"), "{e}");
}

#[test]
fn non_finite_loss_stops_naming_epoch_and_step_and_keeps_the_checkpoint() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let run = tmp.path().join("run");
    let mut cfg = config(&data, &run);
    cfg.knn.every = 0;
    let stop = AtomicBool::new(false);
    pretrain(&cfg, false, &stop, &|p| {
        if let Progress::Epoch(_) = p {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    poison_training_split(&data);
    let never = AtomicBool::new(false);
    let e = pretrain(&cfg, true, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("non-finite loss") && e.contains("epoch 1, step 3"),
        "{e}"
    );
    let state = asma_train::checkpoint::RunDir::read_state(&run.join("checkpoint")).unwrap();
    assert_eq!(
        (state.epoch, state.batch),
        (1, 0),
        "the last good checkpoint stays"
    );
}

/// Data-parallel pre-training on two CPU replicas (batches of 4 split 2 + 2; the last batch of
/// 2 stays whole) resumes exactly from the middle of an epoch; a batch too small for the
/// device count is refused.
#[test]
fn two_cpu_replicas_resume_exactly_and_need_two_samples_per_shard() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let cfg = |run: &Path| {
        let mut c = config(&data, run);
        c.optim.epochs = 3;
        c.knn.every = 0;
        c.run.devices = vec!["cpu".into(), "cpu".into()];
        c
    };
    let a = tmp.path().join("a");
    pretrain(&cfg(&a), false, &never, &|_| {}).unwrap();
    let straight = losses(&a);
    assert!(straight.iter().all(|l| l.is_finite() && *l > 0.0));

    let b = tmp.path().join("b");
    let out = run_stopping_after_epoch_1_batch_0(&cfg(&b));
    assert_eq!((out.state.epoch, out.state.batch), (1, 1));
    pretrain(&cfg(&b), true, &never, &|_| {}).unwrap();
    // The resumed epoch's logged loss covers its batches after the resume only (as with one
    // device); the epochs before and after it, and the weights, are the straight run's.
    let resumed = losses(&b);
    assert_eq!((resumed[0], resumed[2]), (straight[0], straight[2]));
    assert_eq!(differing(&a, &b), Vec::<String>::new());

    let mut three = cfg(&tmp.path().join("c"));
    three.run.devices = vec!["cpu".into(); 3];
    let e = pretrain(&three, false, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("batch_size ≥ 6"), "{e}");
}

#[test]
fn metrics_log_the_baselines_and_the_collapse_diagnostics() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let a = tmp.path().join("a");
    let mut cfg = config(&data, &a);
    cfg.knn.at_start = true;
    pretrain(&cfg, false, &AtomicBool::new(false), &|_| {}).unwrap();
    // The log: both baselines before step 1, then per epoch Barlow Twins' terms apart, and
    // with each k-NN evaluation the val features' collapse diagnostics.
    let lines = metric_lines(&a);
    assert_eq!(lines[0]["init"], "random");
    assert_eq!(lines[1]["init"], "random_bn_estimated");
    for l in &lines[..2] {
        let rank = l["features"]["theta"]["effective_rank"].as_f64().unwrap();
        assert!((1.0..=16.0).contains(&rank), "{l}");
        assert!(l["knn"]["both"].as_f64().unwrap() >= 0.0);
    }
    // Untouched statistics make eval-mode features nearly input-independent; estimated
    // ones spread them.
    let spread = |l: &serde_json::Value| l["features"]["theta"]["spread"].as_f64().unwrap();
    assert!(
        spread(&lines[1]) > spread(&lines[0]),
        "{} {}",
        lines[0],
        lines[1]
    );
    for l in &lines[2..] {
        let bt = &l["bt"]["theta"];
        let (on, off, diag) = (
            bt["on_diagonal"].as_f64().unwrap(),
            bt["off_diagonal"].as_f64().unwrap(),
            bt["mean_diagonal"].as_f64().unwrap(),
        );
        // Σ(C_ii − 1)² over 32 dimensions is at least 32·(mean C_ii − 1)² (Jensen).
        assert!(on >= 32.0 * (diag - 1.0).powi(2) - 1e-3 && off > 0.0, "{l}");
        let parts = l["theta_anchor_temporal"].as_f64().unwrap()
            + l["theta_anchor_spatial"].as_f64().unwrap();
        let lambda = 2e-4;
        assert!(
            (2.0 * (on + lambda * off) - parts).abs() < 1e-3 * parts.max(1.0),
            "{l}"
        );
    }
    assert!(lines.last().unwrap()["features"]["phi"]["spread"].is_f64());
}

#[test]
fn recalibrated_knn_is_a_function_of_the_weights_alone() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let a = tmp.path().join("a");
    let mut cfg = config(&data, &a);
    cfg.knn.every = 1;
    cfg.knn.recalibrate = true;
    // lr 0: training-mode steps move the running statistics, never the weights.
    cfg.optim.lr = 0.0;
    cfg.optim.epochs = 2;
    pretrain(&cfg, false, &AtomicBool::new(false), &|_| {}).unwrap();
    let lines = metric_lines(&a);
    assert_eq!(lines[1]["init"], "random_bn_estimated");
    let fair = &lines[1];
    for l in &lines[2..] {
        // Re-estimated statistics of unchanged weights are the fair baseline's, bit for bit.
        let r = &l["recalibrated"];
        assert_eq!(r["knn"], fair["knn"], "{l}");
        assert_eq!(r["features"], fair["features"], "{l}");
        // The kept statistics are pre-training's, from augmented masked views.
        assert_ne!(l["features"], fair["features"], "{l}");
    }
}

#[test]
fn no_masking_is_barlow_twins_between_augmented_views_and_needs_augmentation() {
    use asma_data::pipeline::mask::{FrameMask, JointMask};
    use asma_train::config::BranchMasks;
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let none = BranchMasks {
        joint: JointMask::None,
        frame: FrameMask::None,
    };
    let mut c = config(&data, &tmp.path().join("none"));
    c.optim.epochs = 2;
    c.knn.every = 0;
    (c.masking.theta, c.masking.phi) = (none, none);
    assert!(
        !c.augment.is_empty(),
        "the default augmentations make the views differ"
    );
    pretrain(&c, false, &never, &|_| {}).unwrap();
    let trained = losses(&c.run.dir);
    assert_eq!(trained.len(), 2);
    // Augmented views of one clip differ, so the invariance term is not zero from the start.
    assert!(
        trained.iter().all(|l| l.is_finite() && *l > 0.0),
        "{trained:?}"
    );

    c.augment.clear();
    c.run.dir = tmp.path().join("none_plain");
    let e = pretrain(&c, false, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("masking.theta") && e.contains("augment"), "{e}");
}

/// The data goes bad: every training sample holds a NaN.
fn poison_training_split(data: &Path) {
    let path = data.join("train_position.npy");
    let arr = asma_data::formats::npy::MmapNpy::open(&path).unwrap();
    let mut values = arr.to_f32().unwrap().into_owned();
    drop(arr);
    for v in values.iter_mut().step_by(1000) {
        *v = f32::NAN;
    }
    write_npy_f32(&path, &[10, 3, 50, 25, 2], &values).unwrap();
}

/// A fresh run stopped after batch 0 of epoch 1 (0-based).
fn run_stopping_after_epoch_1_batch_0(
    cfg: &PretrainConfig,
) -> asma_train::pretrain::PretrainOutcome {
    let stop = AtomicBool::new(false);
    pretrain(cfg, false, &stop, &|p| {
        if let Progress::Batch {
            epoch: 1, batch: 0, ..
        } = p
        {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap()
}

/// A run of `cfg` in `b` stopped in epoch 1 after its first batch and resumed equals the
/// straight run in `a`: the losses of the epochs not cut (epoch 1's mean covers only the
/// batches after the resume) and the exported `files`, bit for bit.
fn assert_stop_and_resume_equals(
    cfg: &dyn Fn(&Path) -> PretrainConfig,
    a: &Path,
    b: &Path,
    files: &[&str],
) {
    let out = run_stopping_after_epoch_1_batch_0(&cfg(b));
    assert_eq!((out.state.epoch, out.state.batch), (1, 1));
    pretrain(&cfg(b), true, &AtomicBool::new(false), &|_| {}).unwrap();
    let (la, lb) = (losses(a), losses(b));
    assert_eq!((la[0], la[2]), (lb[0], lb[2]));
    for f in files {
        let read = |p: &Path| asma_model::weights::read_tensors(&p.join(f)).unwrap();
        let (wa, wb) = (read(a), read(b));
        assert!(
            wa.iter().all(|(k, t)| wb[k].data == t.data),
            "resume changed {f}"
        );
    }
}

/// The per-epoch lines of a run's `metrics.jsonl` (not the baselines).
fn epoch_lines(run: &Path) -> Vec<serde_json::Value> {
    metric_lines(run)
        .into_iter()
        .filter(|v| v["epoch"].is_u64())
        .collect()
}

/// Each epoch's `mining` flag.
fn mining_flags(run: &Path) -> Vec<bool> {
    epoch_lines(run)
        .iter()
        .map(|e| e["mining"].as_bool().unwrap())
        .collect()
}

/// A small MoCo-family run with ASMa's plug-in: SkeletonCLR's recipe (per-sample crop and
/// shear, SGD, a ×0.1 step after epoch 1).
fn moco_config(data: &Path, run: &Path, method: asma_train::config::Method) -> PretrainConfig {
    let mut c = config(data, run);
    c.method = method;
    c.moco.feature_dim = 8;
    c.moco.queue_size = 8;
    c.masking.plugin = asma_train::config::Plugin::Asma;
    c.augment = vec![
        asma_data::pipeline::augment::Transform::Crop { padding_ratio: 6 },
        asma_data::pipeline::augment::Transform::Shear { amplitude: 0.5 },
    ];
    c.augment_per_sample = true;
    c.optim.optimizer = asma_train::config::OptimizerKind::Sgd;
    c.optim.lr = 0.1;
    c.optim.weight_decay = 1e-4;
    c.optim.lr_steps = vec![1];
    c.optim.drop_last = true;
    c
}

/// SkeletonCLR with ASMa's plug-in views: per-sample augmentation, SGD with step decay, the
/// queue in the checkpoint. A run stopped in the middle of an epoch and resumed equals the
/// straight run (the losses of the epochs not cut, the final query encoder); its metrics log
/// one InfoNCE per query view and both baselines; the config checks name the queue.
#[test]
fn skeletonclr_with_the_plugin_resumes_exactly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let cfg = |run: &Path| moco_config(&data, run, asma_train::config::Method::Skeletonclr);
    let a = tmp.path().join("a");
    pretrain(&cfg(&a), false, &never, &|_| {}).unwrap();
    let lines = metric_lines(&a);
    assert_eq!(lines[0]["init"], "random");
    assert_eq!(lines[1]["init"], "random_bn_estimated");
    let epochs: Vec<&serde_json::Value> = lines.iter().filter(|v| v["epoch"].is_u64()).collect();
    assert_eq!(epochs.len(), 3);
    // 10 clips, batches of 4, the last partial batch dropped.
    assert_eq!(epochs[0]["batches"], 2);
    assert_eq!(epochs[0]["queries"].as_array().unwrap().len(), 3);
    assert!((epochs[2]["lr"].as_f64().unwrap() - 0.01).abs() < 1e-12);
    assert!(epochs[2]["knn"].is_f64());
    assert!(a.join("encoder_q.safetensors").exists());

    assert_stop_and_resume_equals(&cfg, &a, &tmp.path().join("b"), &["encoder_q.safetensors"]);

    let mut bad = cfg(&tmp.path().join("c"));
    bad.moco.queue_size = 10;
    let e = pretrain(&bad, false, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("moco.queue_size"), "{e}");
}

/// AimCLR: the extreme view's D³M term is logged every epoch, mining switches on from the
/// 0-based epoch `aimclr.mining_epoch` (the reference's 1-based epochs after it), and the run
/// resumes exactly across that switch.
#[test]
fn aimclr_logs_its_terms_mines_after_the_configured_epoch_and_resumes_exactly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let cfg = |run: &Path| {
        let mut c = moco_config(&data, run, asma_train::config::Method::Aimclr);
        c.aimclr.mining_epoch = 1;
        c.knn.every = 0;
        c
    };
    let a = tmp.path().join("a");
    pretrain(&cfg(&a), false, &never, &|_| {}).unwrap();
    let epochs = epoch_lines(&a);
    assert_eq!(mining_flags(&a), [false, true, true]);
    assert!(epochs.iter().all(|e| e["ddm"].as_f64().unwrap() > 0.0));
    assert_eq!(epochs[0]["queries"].as_array().unwrap().len(), 3);

    let b = tmp.path().join("b");
    let stop = AtomicBool::new(false);
    pretrain(&cfg(&b), false, &stop, &|p| {
        if let Progress::ContrastiveEpoch(m) = p {
            if m.epoch == 0 {
                stop.store(true, Ordering::SeqCst);
            }
        }
    })
    .unwrap();
    pretrain(&cfg(&b), true, &never, &|_| {}).unwrap();
    assert_eq!(losses(&a), losses(&b));
}

/// CrosSCLR (three streams) with the plug-in: each epoch logs a loss per stream and then the
/// plug-in's two views per stream, the cross phase switches on from `crossclr.cross_epoch`,
/// a run stopped inside the first cross epoch and resumed equals the straight run, each
/// stream's directory holds its encoder and a config naming its stream, and the checks name
/// the stream, the view count, the mined count and the queue.
#[test]
fn crossclr_logs_its_streams_switches_to_cross_training_and_resumes_exactly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let cfg = |run: &Path| {
        let mut c = moco_config(&data, run, asma_train::config::Method::Crossclr);
        c.crossclr.cross_epoch = 1;
        c.knn.every = 0;
        c
    };
    let a = tmp.path().join("a");
    pretrain(&cfg(&a), false, &never, &|_| {}).unwrap();
    let epochs = epoch_lines(&a);
    assert_eq!(mining_flags(&a), [false, true, true]);
    assert_eq!(epochs[0]["queries"].as_array().unwrap().len(), 3 + 2 * 3);
    for s in ["joint", "motion", "bone"] {
        let c: serde_json::Value =
            serde_json::from_slice(&std::fs::read(a.join(s).join("config.json")).unwrap()).unwrap();
        assert_eq!(c["data"]["stream"], s);
        assert_eq!(c["method"], "crossclr");
    }

    assert_stop_and_resume_equals(
        &cfg,
        &a,
        &tmp.path().join("b"),
        &[
            "joint/encoder_q.safetensors",
            "motion/encoder_q.safetensors",
            "bone/encoder_q.safetensors",
        ],
    );

    for (key, bad) in [
        ("data.stream", {
            let mut c = cfg(&tmp.path().join("c"));
            c.data.stream = asma_data::pipeline::stream::Stream::Motion;
            c
        }),
        ("crossclr.views", {
            let mut c = cfg(&tmp.path().join("d"));
            c.crossclr.views = 4;
            c
        }),
        ("crossclr.topk", {
            let mut c = cfg(&tmp.path().join("e"));
            c.crossclr.topk = 0;
            c
        }),
        ("moco.queue_size", {
            let mut c = cfg(&tmp.path().join("f"));
            c.moco.queue_size = 10;
            c
        }),
    ] {
        let e = pretrain(&bad, false, &never, &|_| {})
            .unwrap_err()
            .to_string();
        assert!(e.contains(key), "{e}");
    }
}

/// MS²L with the plug-in: each epoch logs its three terms (motion, jigsaw, contrastive), a
/// run stopped in the middle of an epoch and resumed equals the straight run (the jigsaw
/// permutations are a function of the seed and the step), the encoder is exported as
/// `encoder.safetensors`, and a data layout that does not match `ms2l.input_size` (naming
/// both) or a batch of one are errors.
#[test]
fn ms2l_with_the_plugin_logs_its_three_tasks_and_resumes_exactly() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let never = AtomicBool::new(false);
    let cfg = |run: &Path| {
        let mut c = moco_config(&data, run, asma_train::config::Method::Ms2l);
        c.augment = Vec::new();
        c.optim.optimizer = asma_train::config::OptimizerKind::Adam;
        c.optim.lr = 1e-3;
        c.ms2l.projector_hidden = 16;
        c.ms2l.feature_dim = 8;
        c.knn.every = 0;
        c
    };
    let a = tmp.path().join("a");
    pretrain(&cfg(&a), false, &never, &|_| {}).unwrap();
    let epochs = epoch_lines(&a);
    assert_eq!(epochs.len(), 3);
    let terms = epochs[0]["queries"].as_array().unwrap();
    assert_eq!(terms.len(), 3);
    assert!(terms.iter().all(|t| t.as_f64().unwrap() > 0.0));
    assert!(a.join("encoder.safetensors").exists());

    assert_stop_and_resume_equals(&cfg, &a, &tmp.path().join("b"), &["encoder.safetensors"]);

    let mut bad = cfg(&tmp.path().join("c"));
    bad.ms2l.input_size = 75;
    let e = pretrain(&bad, false, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("ms2l.input_size = 75") && e.contains("150"),
        "{e}"
    );
    let mut bad = cfg(&tmp.path().join("d"));
    bad.optim.batch_size = 1;
    let e = pretrain(&bad, false, &never, &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("optim.batch_size must be ≥ 2"), "{e}");
}

/// The MoCo loop stops on a non-finite loss as the ASMa loop does: naming the epoch and the
/// step, the last good checkpoint kept (10 clips in batches of 4, the partial batch dropped:
/// two steps per epoch).
#[test]
fn skeletonclr_stops_on_a_non_finite_loss_and_keeps_the_checkpoint() {
    let _turn = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let (tmp, data) = tmp_with_data();
    let run = tmp.path().join("run");
    let mut cfg = moco_config(&data, &run, asma_train::config::Method::Skeletonclr);
    cfg.knn.every = 0;
    let stop = AtomicBool::new(false);
    pretrain(&cfg, false, &stop, &|p| {
        if let Progress::ContrastiveEpoch(_) = p {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    poison_training_split(&data);
    let e = pretrain(&cfg, true, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("non-finite loss") && e.contains("epoch 1, step 2"),
        "{e}"
    );
    let state = asma_train::checkpoint::RunDir::read_state(&run.join("checkpoint")).unwrap();
    assert_eq!((state.epoch, state.batch, state.step), (1, 0, 2));
}
