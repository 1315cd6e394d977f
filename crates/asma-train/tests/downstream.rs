//! Linear evaluation and fine-tuning end to end on a tiny prepared folder: outputs, exported
//! classifier = scores, exact resume, label fractions, transfer checks and bad input.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

use asma_data::formats::labels::Labels;
use asma_data::pipeline::loader::SkeletonDataset;
use asma_data::pipeline::stream::Stream;
use asma_data::prepare::splits::Part;
use asma_data::rng::Rng;
use asma_model::burn::tensor::{Device, Tensor, TensorData};
use asma_model::Fusion;
use asma_train::bn_stats::BnStatistics;
use asma_train::config::PretrainConfig;
use asma_train::downstream::distill::{self, DistillConfig};
use asma_train::downstream::{load_classifier, run, DownstreamConfig, Protocol};
use asma_train::scores::Scores;

/// burn's device random generator is process-wide; the tests of this file take turns.
static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());

const CLASSES: usize = 3;

/// Smooth random motions plus a class-dependent offset of one coordinate of every joint:
/// learnable after pooling (an offset of some joints only would pool to nearly the same
/// feature for every class: the graph convolution shares its weights across joints).
fn tiny_data(dir: &Path) {
    let mut rng = Rng::new(5);
    let len = 3 * 50 * 25 * 2;
    for (part, n) in [(Part::Train, 12), (Part::Val, 6)] {
        let mut data = vec![0f32; n * len];
        for s in 0..n {
            let class = s % CLASSES;
            for (i, v) in data[s * len..(s + 1) * len].iter_mut().enumerate() {
                let (c, t, j) = (i / (50 * 50), (i / 50) % 50, (i / 2) % 25);
                let signal = if c == class { 0.8 } else { 0.0 };
                *v = signal + (t as f32 * 0.2 + j as f32).sin() * 0.2 + 0.05 * rng.normal() as f32;
            }
        }
        let labels = Labels {
            names: (0..n)
                .map(|i| format!("S001C001P00{}R001A{:03}", i % 8, i))
                .collect(),
            labels: (0..n).map(|i| i % CLASSES).collect(),
        };
        let shape = [n, 3, 50, 25, 2];
        SkeletonDataset::write_split(dir, part, &shape, &data, &labels).unwrap();
    }
}

fn config(data: &Path, run_dir: &Path, protocol: Protocol) -> DownstreamConfig {
    let mut c = DownstreamConfig {
        protocol,
        ..Default::default()
    };
    c.data.dir = data.to_path_buf();
    c.data.num_classes = CLASSES;
    c.model.encoder.hidden_channels = 4;
    c.model.encoder.hidden_dim = 16;
    c.optim.epochs = 4;
    c.optim.batch_size = 4;
    c.run.dir = run_dir.to_path_buf();
    c
}

fn records(run_dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

/// A short pre-training run of the tests' encoder size: its BatchNorm statistics follow the
/// data, so eval-mode features differ between samples (at random initialisation they are
/// nearly constant, whatever the input).
fn pretrain_tiny(data: &Path, epochs: usize) -> std::path::PathBuf {
    let pre = data.join(format!("pre{epochs}"));
    let mut p = PretrainConfig::default();
    p.data.dir = data.to_path_buf();
    p.data.num_classes = CLASSES;
    p.model.encoder.hidden_channels = 4;
    p.model.encoder.hidden_dim = 16;
    p.model.projector.in_dim = 16;
    p.model.projector.dims = [32, 32, 32];
    p.optim.epochs = epochs;
    p.optim.warmup_epochs = 0;
    p.optim.batch_size = 6;
    p.knn.every = 0;
    p.run.dir = pre.clone();
    asma_train::pretrain::pretrain(&p, false, &AtomicBool::new(false), &|_| {}).unwrap();
    pre
}

/// The largest difference between the logits of the (joint-stream) classifier saved in
/// `run_dir` on every clip of `test` and the logits of its score file.
fn classifier_vs_scores(run_dir: &Path, test: &SkeletonDataset, scores: &Scores) -> f32 {
    let device = Device::flex();
    let model = load_classifier(run_dir, Stream::Joint, CLASSES, &device).unwrap();
    let [c, t, v, m] = test.sample_shape();
    let x: Vec<f32> = (0..test.len())
        .flat_map(|i| test.sample(i).unwrap().into_owned())
        .collect();
    let x = Tensor::<5>::from_data(TensorData::new(x, [test.len(), c, t, v, m]), &device);
    let logits: Vec<f32> = model.forward(x).into_data().try_into_vec().unwrap();
    logits
        .iter()
        .zip(&scores.logits)
        .map(|(a, b)| (a - b).abs())
        .fold(0f32, f32::max)
}

fn go(cfg: &DownstreamConfig) -> asma_train::downstream::Outcome {
    run(cfg, false, &AtomicBool::new(false), &|_| {}).unwrap()
}

#[test]
fn linear_probe_writes_scores_that_the_exported_classifier_reproduces() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let run_dir = dir.path().join("linear");
    let mut cfg = config(dir.path(), &run_dir, Protocol::Linear);
    cfg.init.from = Some(pretrain_tiny(dir.path(), 4));
    cfg.optim.epochs = 20;
    // Pooled features of so small and briefly trained encoders differ little between
    // classes: a larger step than PSTL's 0.01 fits them in these few steps.
    cfg.optim.lr = Some(0.1);
    let out = go(&cfg);
    let result = out.result.expect("a finished run has a result");
    assert_eq!((result.train_samples, result.test_samples), (12, 6));
    let losses: Vec<f64> = records(&run_dir)
        .iter()
        .map(|r| r["loss"].as_f64().unwrap())
        .collect();
    assert_eq!(losses.len(), 20);
    assert!(losses[19] < losses[0], "the head learns: {losses:?}");
    // The classes are separable: the head must fit the training set, not just the class prior.
    let last_train = records(&run_dir)[19]["train_top1"].as_f64().unwrap();
    assert!(
        last_train >= 0.75,
        "train top-1 {last_train}, losses {losses:?}"
    );
    for f in [
        "scores_best.csv",
        "scores_last.csv",
        "confusion_last.csv",
        "confusion_last.svg",
        "confusion_last.png",
        "result.json",
    ] {
        assert!(run_dir.join(f).exists(), "{f}");
    }
    let scores = Scores::read_csv(&run_dir.join("scores_last.csv")).unwrap();
    assert_eq!(scores.evaluate().top1, result.last.top1);

    // The exported classifier gives the logits of the score file.
    let test = SkeletonDataset::open_split(dir.path(), Part::Val).unwrap();
    let worst = classifier_vs_scores(&run_dir, &test, &scores);
    assert!(worst < 1e-4, "exported classifier vs scores: {worst}");
    let device = Device::flex();

    // A classifier of another class count or stream is refused by name.
    let e = load_classifier(&run_dir, Stream::Joint, 60, &device)
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("classifier.safetensors") && e.contains("3 classes"),
        "{e}"
    );
    let e = load_classifier(&run_dir, Stream::Bone, CLASSES, &device)
        .unwrap_err()
        .to_string();
    assert!(e.contains("stream"), "{e}");
}

#[test]
fn linear_and_finetune_resume_exactly() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    for (protocol, fusion) in [
        (Protocol::Linear, Fusion::CrossAttention),
        (Protocol::Finetune, Fusion::Average),
    ] {
        let straight = dir.path().join(format!("{protocol:?}_straight"));
        let mut cfg = config(dir.path(), &straight, protocol);
        cfg.model.fusion = fusion;
        cfg.optim.epochs = 3;
        go(&cfg);

        let stopped = dir.path().join(format!("{protocol:?}_stopped"));
        cfg.run.dir = stopped.clone();
        let out = run_stopping_in_epoch_1(&cfg);
        assert!(out.interrupted);
        assert_eq!((out.state.epoch, out.state.batch), (1, 1));
        let resumed = run(&cfg, true, &AtomicBool::new(false), &|_| {}).unwrap();
        assert!(!resumed.interrupted);
        let a = std::fs::read_to_string(straight.join("scores_last.csv")).unwrap();
        let b = std::fs::read_to_string(stopped.join("scores_last.csv")).unwrap();
        assert_eq!(a, b, "{protocol:?}: resumed scores differ");
        let la: Vec<_> = records(&straight)
            .iter()
            .map(|r| r["loss"].clone())
            .collect();
        let lb: Vec<_> = records(&stopped)
            .iter()
            .map(|r| r["loss"].clone())
            .collect();
        assert_eq!(la, lb);
    }
}

/// Runs `cfg` from the start and stops it in the middle of epoch 1 (before its batch 2 of 3).
fn run_stopping_in_epoch_1(cfg: &DownstreamConfig) -> asma_train::downstream::Outcome {
    let stop = AtomicBool::new(false);
    run(cfg, false, &stop, &|p| {
        if let asma_train::downstream::Progress::Batch { batch: 0, .. } = p {
            if records_len(&cfg.run.dir) == 1 {
                stop.store(true, Ordering::SeqCst);
            }
        }
    })
    .unwrap()
}

fn records_len(run_dir: &Path) -> usize {
    std::fs::read_to_string(run_dir.join("metrics.jsonl"))
        .map(|s| s.lines().count())
        .unwrap_or(0)
}

#[test]
fn finetune_from_pretraining_with_a_label_fraction_and_its_checks() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let pre = pretrain_tiny(dir.path(), 1);

    let ft = dir.path().join("ft");
    let mut cfg = config(dir.path(), &ft, Protocol::Finetune);
    cfg.init.from = Some(pre.clone());
    cfg.label_fraction = 0.5;
    cfg.optim.epochs = 2;
    let notes = std::sync::Mutex::new(Vec::new());
    let out = run(&cfg, false, &AtomicBool::new(false), &|e| {
        if let asma_train::downstream::Progress::Note(n) = e {
            notes.lock().unwrap().push(n);
        }
    })
    .unwrap();
    assert_eq!(out.result.unwrap().train_samples, 6, "half of 4 per class");
    assert!(notes
        .lock()
        .unwrap()
        .iter()
        .any(|n| n.contains("loaded from")));
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(ft.join("config.json")).unwrap()).unwrap();
    assert_eq!(saved["optim"]["lr"], 5e-3);

    // Encoders from a classifier run (transfer): its encoders load, the head is new.
    let mut transfer = config(dir.path(), &dir.path().join("tr"), Protocol::Linear);
    transfer.init.from = Some(ft.clone());
    transfer.optim.epochs = 1;
    go(&transfer);

    // Encoders of another stream are refused unless allowed.
    let mut other = cfg.clone();
    other.data.stream = Stream::Motion;
    other.run.dir = dir.path().join("motion");
    let e = run(&other, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("joint stream") && e.contains("motion"), "{e}");
    other.init.allow_other_stream = true;
    other.optim.epochs = 1;
    run(&other, false, &AtomicBool::new(false), &|_| {}).unwrap();

    // Labels beyond the head.
    let mut small = config(dir.path(), &dir.path().join("small"), Protocol::Linear);
    small.data.num_classes = 2;
    let e = run(&small, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("label") && e.contains('2'), "{e}");
}

#[test]
fn distillation_from_a_linear_teacher_resumes_exactly_and_checks_the_teacher() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let teacher = dir.path().join("teacher");
    let mut t = config(dir.path(), &teacher, Protocol::Linear);
    t.optim.epochs = 2;
    go(&t);

    let mut cfg = DistillConfig {
        data: t.data.clone(),
        teacher: teacher.clone(),
        ..Default::default()
    };
    cfg.optim.epochs = 2;
    cfg.optim.batch_size = 4;
    cfg.student.depth = 3;
    let straight = dir.path().join("kd_straight");
    cfg.run.dir = straight.clone();
    let out = distill::run(&cfg, false, &AtomicBool::new(false), &|_| {}).unwrap();
    let r = out.result.unwrap();
    assert_eq!(r.protocol, "distill");
    assert!(straight.join("student.safetensors").exists());

    let stopped = dir.path().join("kd_stopped");
    cfg.run.dir = stopped.clone();
    let stop = AtomicBool::new(false);
    let out = distill::run(&cfg, false, &stop, &|p| {
        if let asma_train::downstream::Progress::Batch { batch: 1, .. } = p {
            stop.store(true, Ordering::SeqCst);
        }
    })
    .unwrap();
    assert!(out.interrupted);
    distill::run(&cfg, true, &AtomicBool::new(false), &|_| {}).unwrap();
    assert_eq!(
        std::fs::read_to_string(straight.join("scores_last.csv")).unwrap(),
        std::fs::read_to_string(stopped.join("scores_last.csv")).unwrap()
    );

    // Distillation weights out of range are refused, naming the keys.
    let mut bad_kd = cfg.clone();
    bad_kd.kd.alpha = 1.5;
    let e = distill::run(&bad_kd, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("kd.alpha") && e.contains("1.5"), "{e}");

    // A teacher of another class count is refused by name.
    let mut wrong = cfg.clone();
    wrong.data.num_classes = 4;
    wrong.run.dir = dir.path().join("kd_wrong");
    let e = distill::run(&wrong, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("classifier.safetensors") && e.contains("3 classes"),
        "{e}"
    );
}

/// Data-parallel fine-tuning on two CPU replicas (batches of 4 split 2 + 2, dropout drawn per
/// shard) resumes exactly from the middle of an epoch; linear evaluation refuses several
/// devices instead of ignoring them.
#[test]
fn finetune_on_two_cpu_replicas_resumes_exactly_and_linear_refuses_them() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let straight = dir.path().join("straight");
    let mut cfg = config(dir.path(), &straight, Protocol::Finetune);
    cfg.optim.epochs = 2;
    cfg.run.devices = vec!["cpu".into(), "cpu".into()];
    go(&cfg);
    let stopped = dir.path().join("stopped");
    cfg.run.dir = stopped.clone();
    let out = run_stopping_in_epoch_1(&cfg);
    assert_eq!((out.state.epoch, out.state.batch), (1, 1));
    run(&cfg, true, &AtomicBool::new(false), &|_| {}).unwrap();
    let scores = |d: &Path| std::fs::read_to_string(d.join("scores_last.csv")).unwrap();
    assert_eq!(scores(&straight), scores(&stopped));
    let losses = |d: &Path| -> Vec<_> { records(d).iter().map(|r| r["loss"].clone()).collect() };
    assert_eq!(losses(&straight), losses(&stopped));
    let saved = std::fs::read_to_string(straight.join("config.json")).unwrap();
    assert!(saved.contains("\"devices\""), "{saved}");

    let mut linear = config(dir.path(), &dir.path().join("linear"), Protocol::Linear);
    linear.run.devices = vec!["cpu".into(), "cpu".into()];
    let e = run(&linear, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("linear evaluation"), "{e}");
    let mut bad = config(dir.path(), &dir.path().join("bad"), Protocol::Finetune);
    bad.run.devices = vec!["cpu".into(), "quantum".into()];
    let e = run(&bad, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("quantum"), "{e}");
}

/// The fair random baseline: `init.bn_statistics = "estimate"` gives random encoders the
/// training split's BatchNorm statistics before the probe; "keep" leaves them at mean 0.
#[test]
fn random_encoders_with_estimated_statistics_are_the_fair_baseline() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let data_bn_mean = |run_dir: &Path| -> Vec<f32> {
        let t = asma_model::weights::read_tensors(&run_dir.join("classifier.safetensors")).unwrap();
        t["encoder_theta.data_bn.running_mean"].data.clone()
    };
    let mut notes = Vec::new();
    let mut means = Vec::new();
    for (name, bn) in [
        ("keep", BnStatistics::Keep),
        ("estimate", BnStatistics::Estimate),
    ] {
        let run_dir = dir.path().join(name);
        let mut cfg = config(dir.path(), &run_dir, Protocol::Linear);
        cfg.optim.epochs = 1;
        cfg.init.bn_statistics = bn;
        let seen = std::sync::Mutex::new(Vec::new());
        run(&cfg, false, &AtomicBool::new(false), &|p| {
            if let asma_train::downstream::Progress::Note(n) = p {
                seen.lock().unwrap().push(n);
            }
        })
        .unwrap();
        notes.push(seen.into_inner().unwrap().join("\n"));
        means.push(data_bn_mean(&run_dir));
    }
    assert!(means[0].iter().all(|&m| m == 0.0), "{:?}", means[0]);
    assert!(!notes[0].contains("estimated"), "{}", notes[0]);
    // Coordinate 0's mean over the training split: 0.8 for one class in three, plus the
    // smooth motion's mean.
    assert!(notes[1].contains("BatchNorm statistics estimated on the 12 training samples"));
    assert!(means[1].iter().any(|&m| m.abs() > 0.1), "{:?}", means[1]);
}

#[test]
fn a_run_saves_the_names_of_its_classes_and_checks_them() {
    use asma_train::config::ClassList;
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let tmp = tempfile::tempdir().unwrap();
    tiny_data(tmp.path());
    let names = |run: &Path| -> serde_json::Value {
        serde_json::from_slice(&std::fs::read(run.join("classes.json")).unwrap()).unwrap()
    };
    // A list in the configuration.
    let mut cfg = config(tmp.path(), &tmp.path().join("listed"), Protocol::Linear);
    cfg.optim.epochs = 1;
    cfg.data.classes = Some(ClassList::Names(vec![
        "walk".into(),
        "wave".into(),
        "sit".into(),
    ]));
    go(&cfg);
    assert_eq!(
        names(&cfg.run.dir),
        serde_json::json!(["walk", "wave", "sit"])
    );
    // The confusion matrix a person opens names its rows and columns.
    let svg = std::fs::read_to_string(cfg.run.dir.join("confusion_last.svg")).unwrap();
    assert_eq!(svg.matches(">2 sit</text>").count(), 2, "{svg}");
    let confusion = std::fs::read_to_string(cfg.run.dir.join("confusion_last.csv")).unwrap();
    assert!(
        confusion.starts_with("true\\predicted,\"0 walk\",\"1 wave\",\"2 sit\"\n\"0 walk\","),
        "{confusion}"
    );
    // A file of one name per line, given as a string.
    let file = tmp.path().join("classes.txt");
    std::fs::write(&file, "# gestures\nstop\ngo\nturn\n").unwrap();
    let parsed: DownstreamConfig =
        serde_json::from_value(serde_json::json!({"data": {"classes": file}})).unwrap();
    cfg.data.classes = parsed.data.classes;
    cfg.run.dir = tmp.path().join("filed");
    go(&cfg);
    assert_eq!(
        names(&cfg.run.dir),
        serde_json::json!(["stop", "go", "turn"])
    );
    // A list that does not fit the head stops the run before any training, naming itself.
    std::fs::write(&file, "stop\ngo\n").unwrap();
    cfg.run.dir = tmp.path().join("short");
    let e = run(&cfg, false, &AtomicBool::new(false), &|_| {})
        .map(|_| ())
        .expect_err("2 names for 3 classes")
        .to_string();
    assert!(
        e.contains("classes.txt: 2 class names for a model of 3 classes"),
        "{e}"
    );
    assert!(!cfg.run.dir.join("metrics.jsonl").exists());
    // Without a list, 3 classes have no built-in names: nothing is written.
    let mut plain = config(tmp.path(), &tmp.path().join("plain"), Protocol::Linear);
    plain.optim.epochs = 1;
    go(&plain);
    assert!(!plain.run.dir.join("classes.json").exists());
    let confusion = std::fs::read_to_string(plain.run.dir.join("confusion_last.csv")).unwrap();
    assert!(
        confusion.starts_with("true\\predicted,0,1,2\n0,"),
        "{confusion}"
    );
}

/// A SkeletonCLR run has one encoder (`encoder_q.safetensors`), an MS²L run too
/// (`encoder.safetensors`): the classifier starts both branches from it, so with averaging and
/// frozen encoders the probe reads that encoder's own feature, and the exported classifier
/// holds the same weights in both branches.
#[test]
fn a_single_encoder_pretraining_run_feeds_both_branches() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let pre = dir.path().join("skeletonclr");
    moco_pretrain(dir.path(), &pre, asma_train::config::Method::Skeletonclr);
    let ms2l = dir.path().join("ms2l");
    moco_pretrain(dir.path(), &ms2l, asma_train::config::Method::Ms2l);

    for (i, (from, file)) in [
        (&pre, "encoder_q.safetensors"),
        (&ms2l, "encoder.safetensors"),
    ]
    .into_iter()
    .enumerate()
    {
        let run_dir = dir.path().join(format!("linear{i}"));
        let mut cfg = config(dir.path(), &run_dir, Protocol::Linear);
        cfg.optim.epochs = 1;
        cfg.model.fusion = Fusion::Average;
        cfg.init.from = Some(from.clone());
        let notes = std::sync::Mutex::new(Vec::new());
        run(&cfg, false, &AtomicBool::new(false), &|p| {
            if let asma_train::downstream::Progress::Note(n) = p {
                notes.lock().unwrap().push(n);
            }
        })
        .unwrap();
        let notes = notes.into_inner().unwrap().join("\n");
        assert!(
            notes.contains("both branches from the single encoder"),
            "{notes}"
        );
        let t = asma_model::weights::read_tensors(&run_dir.join("classifier.safetensors")).unwrap();
        let q = asma_model::weights::read_tensors(&from.join(file)).unwrap();
        for (k, v) in &q {
            assert_eq!(t[&format!("encoder_theta.{k}")].data, v.data, "{k}");
            assert_eq!(t[&format!("encoder_phi.{k}")].data, v.data, "{k}");
        }
    }
}

/// A one-epoch pre-training run of the compared `method` on the tiny data in `data`.
fn moco_pretrain(
    data: &std::path::Path,
    run: &std::path::Path,
    method: asma_train::config::Method,
) {
    let mut p = PretrainConfig {
        method,
        ..Default::default()
    };
    p.data.dir = data.to_path_buf();
    p.data.num_classes = CLASSES;
    p.model.encoder.hidden_channels = 4;
    p.model.encoder.hidden_dim = 16;
    p.moco.feature_dim = 8;
    p.moco.queue_size = 12;
    p.crossclr.cross_epoch = 0;
    p.ms2l.projector_hidden = 16;
    p.ms2l.feature_dim = 8;
    p.optim.epochs = 1;
    p.optim.batch_size = 6;
    p.optim.drop_last = true;
    p.knn.every = 0;
    p.run.dir = run.to_path_buf();
    asma_train::pretrain::pretrain(&p, false, &AtomicBool::new(false), &|_| {}).unwrap();
}

/// CrosSCLR leaves one directory per stream; a classifier of the motion stream starts from
/// `<run>/motion` (both branches from that stream's encoder), and a joint-stream classifier
/// pointed there is refused, naming the stream.
#[test]
fn a_crossclr_stream_directory_feeds_the_classifier_of_its_stream() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let pre = dir.path().join("crossclr");
    moco_pretrain(dir.path(), &pre, asma_train::config::Method::Crossclr);
    for s in ["joint", "motion", "bone"] {
        assert!(pre.join(s).join("encoder_q.safetensors").exists(), "{s}");
    }
    let encoder = |s: &str| {
        asma_model::weights::read_tensors(&pre.join(s).join("encoder_q.safetensors")).unwrap()
    };
    let (joint, motion) = (encoder("joint"), encoder("motion"));
    assert!(joint.iter().any(|(k, t)| motion[k].data != t.data));

    let run_dir = dir.path().join("linear");
    let mut cfg = config(dir.path(), &run_dir, Protocol::Linear);
    cfg.optim.epochs = 1;
    cfg.model.fusion = Fusion::Average;
    cfg.init.from = Some(pre.join("motion"));
    let e = run(&cfg, false, &AtomicBool::new(false), &|_| {})
        .unwrap_err()
        .to_string();
    assert!(e.contains("trained on the motion stream"), "{e}");
    cfg.data.stream = asma_data::pipeline::stream::Stream::Motion;
    run(&cfg, false, &AtomicBool::new(false), &|_| {}).unwrap();
    let t = asma_model::weights::read_tensors(&run_dir.join("classifier.safetensors")).unwrap();
    for (k, v) in &motion {
        assert_eq!(t[&format!("encoder_theta.{k}")].data, v.data, "{k}");
    }
}

#[test]
fn the_single_body_mode_trains_and_scores_on_the_first_person() {
    let _g = SERIAL.lock().unwrap_or_else(|e| e.into_inner());
    let dir = tempfile::tempdir().unwrap();
    tiny_data(dir.path());
    let run_dir = dir.path().join("linear1");
    let mut cfg = config(dir.path(), &run_dir, Protocol::Linear);
    cfg.data.bodies = Some(1);
    cfg.init.bn_statistics = BnStatistics::Estimate;
    cfg.optim.epochs = 2;
    go(&cfg);
    let saved: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run_dir.join("config.json")).unwrap())
            .unwrap();
    assert_eq!(saved["data"]["bodies"], 1);

    // The scores are the classifier's logits on the first person of every clip.
    let scores = Scores::read_csv(&run_dir.join("scores_last.csv")).unwrap();
    let test = cfg.data.open(Part::Val).unwrap();
    assert_eq!(test.sample_shape(), [3, 50, 25, 1]);
    let worst = classifier_vs_scores(&run_dir, &test, &scores);
    assert!(worst < 1e-4, "single-body classifier vs scores: {worst}");

    cfg.data.bodies = Some(3);
    let err = run(&cfg, false, &AtomicBool::new(false), &|_| {})
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("data.bodies = 3"), "{err}");
}
