//! Downstream protocols (docs/METHOD.md §7): linear evaluation (§7.2), fine-tuning (§7.3) and
//! transfer (§7.4, a fine-tune whose encoders come from another dataset's pre-training),
//! with the semi-supervised label fractions.
//!
//! ```text
//! RUN/config.json                       the configuration (protocol and learning rate filled in)
//! RUN/metrics.jsonl                     one line per epoch: loss, train top-1, test metrics
//! RUN/scores_best.csv, scores_last.csv  per-sample logits of the best and the last evaluation
//! RUN/confusion_{best,last}.{csv,svg,png} confusion matrices (named rows and columns but in the PNG)
//! RUN/classifier.safetensors            the final classifier, PyTorch names
//! RUN/classes.json                      the class names (`data.classes`, or the dataset's)
//! RUN/result.json                       best and last top-1 / top-5 / mean-class, per-class
//! RUN/checkpoint/                       resume state (as in pre-training)
//! ```
//!
//! The reported figure is the best test top-1 over epochs, as PSTL reports it (§7.2); the
//! last epoch's is reported beside it, since choosing an epoch on the test set flatters.

pub mod config;
pub mod distill;
mod encodings;
mod epochs;
pub(crate) mod learners;

use std::path::{Path, PathBuf};
use std::sync::atomic::AtomicBool;
use std::sync::Arc;
use std::time::Instant;

use asma_data::pipeline::fraction::stratified_subset;
use asma_data::pipeline::loader::{Loader, LoaderConfig, SkeletonDataset};
use asma_data::prepare::splits::Part;
use asma_model::burn::module::Module;
use asma_model::burn::tensor::Device;
use asma_model::classifier::AsmaClassifier;
use asma_model::weights::load_module;
use asma_skeleton::actions::CLASSES_FILE;
use asma_skeleton::ClassNames;
use serde::{Deserialize, Serialize};

pub use config::{DownstreamConfig, Protocol};
use encodings::{Encodings, FrozenEncoders};
use epochs::{read_json, resume_state, start_fresh, train_epochs, Carry, EpochPlan};
use learners::{FineTune, Learner, LinearProbe};

use crate::bn_stats::{self, BnStatistics};
use crate::checkpoint::{RunDir, TrainState};
use crate::error::TrainError;
use crate::eval::Evaluation;
use asma_data::write_atomic;

/// Test metrics of one evaluation.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct TestSummary {
    pub top1: f64,
    pub top5: f64,
    pub mean_class: f64,
}

impl From<&Evaluation> for TestSummary {
    fn from(e: &Evaluation) -> Self {
        TestSummary {
            top1: e.top1,
            top5: e.top5,
            mean_class: e.mean_class,
        }
    }
}

/// One line of `metrics.jsonl`.
#[derive(Debug, Clone, Serialize)]
pub struct EpochRecord {
    pub epoch: usize,
    pub lr: f64,
    pub loss: f64,
    pub train_top1: f64,
    pub samples_per_s: f64,
    pub seconds: f64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub test: Option<TestSummary>,
}

/// The best evaluation so far (kept in the checkpoint, so resume continues the comparison).
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, Deserialize)]
pub struct Best {
    pub epoch: Option<usize>,
    pub test: Option<TestSummary>,
}

/// `result.json`.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct RunResult {
    /// `linear`, `finetune` or `distill`.
    pub protocol: String,
    pub stream: asma_data::pipeline::stream::Stream,
    pub label_fraction: f64,
    pub epochs: usize,
    pub best_epoch: usize,
    pub best: TestSummary,
    pub last: TestSummary,
    /// Per-class top-1 of the last evaluation (`null` for a class without test samples).
    pub per_class_last: Vec<Option<f64>>,
    pub train_samples: usize,
    pub test_samples: usize,
    pub parameters: usize,
}

/// Progress events.
#[derive(Debug, Clone)]
pub enum Progress {
    Note(String),
    Batch { batch: usize, batches: usize },
    Epoch(EpochRecord),
    Resumed(TrainState),
}

/// How a run ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub state: TrainState,
    pub interrupted: bool,
    /// Written when the run finished.
    pub result: Option<RunResult>,
}

/// What every downstream run opens first.
pub(crate) struct Setup {
    pub run: RunDir,
    /// The device and its autodiff wrapper (training).
    pub base: Device,
    pub ad: Device,
    /// All training devices (plain), `base` first: several for data-parallel training.
    pub devices: Vec<Device>,
    pub train: Arc<SkeletonDataset>,
    pub test: Arc<SkeletonDataset>,
    /// The class names the run saved as `classes.json` (none for a head without names).
    pub names: Option<ClassNames>,
}

/// Checks the optimiser settings, creates the run directory, selects the device and opens
/// both splits (their labels checked against the class count).
pub(crate) fn setup(
    data: &crate::config::DataConfig,
    optim: &config::DownstreamOptim,
    run_cfg: &crate::config::RunConfig,
) -> Result<Setup, TrainError> {
    if optim.epochs == 0 || optim.batch_size == 0 || optim.eval_every == 0 {
        return Err(TrainError::Config(
            "optim.epochs, optim.batch_size and optim.eval_every must be ≥ 1".into(),
        ));
    }
    let run = RunDir::new(&run_cfg.dir);
    std::fs::create_dir_all(&run.root).map_err(|e| TrainError::io(&run.root, e))?;
    let devices = run_cfg.resolve_devices(optim.batch_size)?;
    let base = devices[0].clone();
    let ad = base.clone().autodiff();
    let train = Arc::new(data.open(Part::Train)?);
    train.check_num_classes(data.num_classes)?;
    let test = Arc::new(data.open(Part::Val)?);
    test.check_num_classes(data.num_classes)?;
    // The names travel with the model, so that a copied run directory still prints them.
    let names = data.class_names()?;
    if let Some(names) = &names {
        write_atomic(
            &run.root.join(CLASSES_FILE),
            &serde_json::to_vec_pretty(names).expect("names serialise"),
        )?;
    }
    Ok(Setup {
        run,
        base,
        ad,
        devices,
        train,
        test,
        names,
    })
}

/// A loader of one plain view (no augmentation, no masks), as every downstream protocol uses.
pub(crate) fn plain_loader(
    data: &crate::config::DataConfig,
    optim: &config::DownstreamOptim,
    run: &crate::config::RunConfig,
    shuffle: bool,
) -> LoaderConfig {
    LoaderConfig {
        batch_size: optim.batch_size,
        shuffle,
        drop_last: false,
        seed: run.seed,
        stream: data.stream,
        prefetch: run.prefetch,
        ..Default::default()
    }
}

/// The path of a finished run's `result.json`.
pub fn result_path(run_dir: &Path) -> PathBuf {
    run_dir.join("result.json")
}

/// Runs (or, with `resume`, continues) linear evaluation or fine-tuning in `cfg.run.dir`.
pub fn run(
    cfg: &DownstreamConfig,
    resume: bool,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<Outcome, TrainError> {
    if cfg.protocol == Protocol::Linear && cfg.run.device_names().len() > 1 {
        return Err(TrainError::Config(
            "run.devices: linear evaluation trains only the head on cached encodings and runs on one device; give one device (data-parallel training is for pretrain, finetune and distill)".into(),
        ));
    }
    let Setup {
        run,
        base,
        ad,
        devices,
        train,
        test,
        names,
    } = setup(&cfg.data, &cfg.optim, &cfg.run)?;
    let subset = (cfg.label_fraction < 1.0)
        .then(|| stratified_subset(train.labels(), cfg.label_fraction, cfg.run.seed))
        .transpose()?;

    ad.seed(cfg.run.seed);
    let mut model = cfg.classifier().init(&ad);
    let source = load_encoders(cfg, &mut model)?;
    progress(Progress::Note(source));
    if cfg.init.bn_statistics == BnStatistics::Estimate {
        let started = Instant::now();
        bn_stats::estimate(
            &mut [&mut model.encoder_theta, &mut model.encoder_phi],
            train.clone(),
            cfg.data.stream,
            cfg.optim.batch_size,
            &ad,
            cfg.run.seed,
        )?;
        progress(Progress::Note(format!(
            "encoders: BatchNorm statistics estimated on the {} training samples ({:.1} s)",
            train.len(),
            started.elapsed().as_secs_f64()
        )));
    }

    let loader_cfg = |shuffle| plain_loader(&cfg.data, &cfg.optim, &cfg.run, shuffle);
    let mut train_loader = Loader::new(train.clone(), loader_cfg(true))?;
    if let Some(s) = subset {
        train_loader = train_loader.with_subset(s)?;
    }
    let test_loader = Loader::new(test.clone(), loader_cfg(false))?;
    let train_samples = train_loader.num_samples();
    let parameters = model.num_params();
    let mut learner: Box<dyn Learner> = match cfg.protocol {
        Protocol::Linear => {
            let AsmaClassifier {
                encoder_theta,
                encoder_phi,
                head,
            } = model;
            let frozen = FrozenEncoders {
                theta: encoder_theta.freeze(),
                phi: encoder_phi.freeze(),
                tokens: head.align.is_some(),
            };
            let started = Instant::now();
            let train_enc = Encodings::new(&frozen, train_loader, cfg.optim.cache_mb, &ad)?;
            let test_enc = Encodings::new(&frozen, test_loader, cfg.optim.cache_mb, &ad)?;
            progress(Progress::Note(
                if train_enc.is_cached() && test_enc.is_cached() {
                    format!(
                        "frozen encodings computed once ({:.1} s)",
                        started.elapsed().as_secs_f64()
                    )
                } else {
                    "frozen encodings recomputed every epoch (over optim.cache_mb)".into()
                },
            ));
            Box::new(LinearProbe {
                frozen,
                head: Some(head),
                optim: cfg.optim.adam().init(),
                train: train_enc,
                test: test_enc,
                device: ad.clone(),
            })
        }
        Protocol::Finetune => Box::new(FineTune {
            model: Some(model),
            teacher: None,
            optim: cfg.optim.adam().init(),
            train: train_loader,
            test: test_loader,
            device: ad.clone(),
            base: base.clone(),
            devices,
            seed: cfg.run.seed,
            step: 0,
        }),
    };

    let mut saved = cfg.clone();
    saved.optim.lr = Some(cfg.lr());
    drive(
        &run,
        learner.as_mut(),
        Start {
            resume,
            config: serde_json::to_value(&saved).unwrap(),
            same_config: &|| {
                let old: DownstreamConfig = read_json(&run.config())?;
                Ok(old.classifier() == cfg.classifier()
                    && old.protocol == cfg.protocol
                    && old.data.stream == cfg.data.stream
                    && old.label_fraction == cfg.label_fraction)
            },
        },
        EpochPlan {
            epochs: cfg.optim.epochs,
            eval_every: cfg.optim.eval_every,
            lr: cfg.lr(),
        },
        &test,
        Facts {
            protocol: cfg.protocol.name(),
            stream: cfg.data.stream,
            label_fraction: cfg.label_fraction,
            num_classes: cfg.data.num_classes,
            train_samples,
            parameters,
            model_file: "classifier.safetensors",
            names,
        },
        stop,
        progress,
    )
}

/// How a run begins: fresh (its configuration written) or resumed (after checking that the
/// run directory's configuration matches).
pub(crate) struct Start<'a> {
    pub resume: bool,
    /// The configuration `config.json` gets (a fresh run).
    pub config: serde_json::Value,
    pub same_config: &'a dyn Fn() -> Result<bool, TrainError>,
}

/// What `result.json` says about a run besides its accuracies.
pub(crate) struct Facts {
    pub protocol: &'static str,
    pub stream: asma_data::pipeline::stream::Stream,
    pub label_fraction: f64,
    pub num_classes: usize,
    pub train_samples: usize,
    pub parameters: usize,
    /// Name of the exported model in the run directory.
    pub model_file: &'static str,
    /// The classes' names, for the confusion matrices.
    pub names: Option<ClassNames>,
}

/// Starts or resumes `learner`, trains it to the end of `plan`, exports the model and writes
/// `result.json`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn drive(
    run: &RunDir,
    learner: &mut dyn Learner,
    start: Start,
    plan: EpochPlan,
    test: &SkeletonDataset,
    facts: Facts,
    stop: &AtomicBool,
    progress: &dyn Fn(Progress),
) -> Result<Outcome, TrainError> {
    let epochs = plan.epochs;
    let begin = if start.resume {
        if !(start.same_config)()? {
            return Err(TrainError::Checkpoint {
                path: run.config(),
                msg: "the run was started with another configuration (protocol, model, stream or label fraction); resume with the same one".into(),
            });
        }
        resume_state(run, learner, progress)?
    } else {
        start_fresh(run, &start.config)?;
        (TrainState::default(), Carry::default())
    };
    let end = train_epochs(
        run,
        learner,
        begin,
        plan,
        test,
        (facts.num_classes, facts.names.as_ref()),
        stop,
        progress,
    )?;
    if end.interrupted {
        return Ok(Outcome {
            state: end.state,
            interrupted: true,
            result: None,
        });
    }
    learner.export(&run.root.join(facts.model_file))?;
    let result = match end.last_eval {
        Some(e) => {
            let result = RunResult {
                protocol: facts.protocol.to_string(),
                stream: facts.stream,
                label_fraction: facts.label_fraction,
                epochs,
                best_epoch: end.carry.best.epoch.unwrap_or(0),
                best: end.carry.best.test.unwrap_or(TestSummary::from(&e)),
                last: TestSummary::from(&e),
                per_class_last: e.per_class.clone(),
                train_samples: facts.train_samples,
                test_samples: e.samples,
                parameters: facts.parameters,
            };
            write_atomic(
                &result_path(&run.root),
                &serde_json::to_vec_pretty(&result).unwrap(),
            )?;
            Some(result)
        }
        // Resumed a run that had already finished: its result.json stands.
        None => read_json(&result_path(&run.root)).ok(),
    };
    Ok(Outcome {
        state: end.state,
        interrupted: false,
        result,
    })
}

/// The stream a run directory's `config.json` names, if it has one.
fn run_stream(dir: &Path) -> Result<Option<String>, TrainError> {
    let p = dir.join("config.json");
    if !p.exists() {
        return Ok(None);
    }
    let v: serde_json::Value = read_json(&p)?;
    Ok(v["data"]["stream"].as_str().map(str::to_string))
}

/// Loads the encoders named by `cfg.init.from` into `model`; returns a line saying what it did.
fn load_encoders(cfg: &DownstreamConfig, model: &mut AsmaClassifier) -> Result<String, TrainError> {
    let Some(from) = &cfg.init.from else {
        return Ok(
            "encoders: random initialisation (init.from unset): the random-init baseline".into(),
        );
    };
    let want = serde_json::to_value(cfg.data.stream).unwrap();
    if let Some(got) = run_stream(from)? {
        if want.as_str() != Some(got.as_str()) && !cfg.init.allow_other_stream {
            return Err(TrainError::Checkpoint {
                path: from.join("config.json"),
                msg: format!(
                    "these encoders were trained on the {got} stream, this run uses {}; point init.from at the {} run (or set init.allow_other_stream = true)",
                    want.as_str().unwrap_or("?"),
                    want.as_str().unwrap_or("?")
                ),
            });
        }
    }
    let (theta, phi) = (
        from.join("encoder_theta.safetensors"),
        from.join("encoder_phi.safetensors"),
    );
    let classifier = from.join("classifier.safetensors");
    // A single-encoder run: SkeletonCLR's, AimCLR's, a CrosSCLR stream's, or MS²L's.
    let single = ["encoder_q.safetensors", "encoder.safetensors"]
        .map(|f| from.join(f))
        .into_iter()
        .find(|p| p.exists());
    if theta.exists() && phi.exists() {
        load_module(&mut model.encoder_theta, &theta, "data_bn.weight", None)?;
        load_module(&mut model.encoder_phi, &phi, "data_bn.weight", None)?;
    } else if let Some(single) = single {
        // A single-encoder method (SkeletonCLR): both branches start from its encoder. With
        // `fusion = "average"` and frozen encoders the classifier is that encoder's own
        // linear probe (the average of two equal features is the feature).
        load_module(&mut model.encoder_theta, &single, "data_bn.weight", None)?;
        load_module(&mut model.encoder_phi, &single, "data_bn.weight", None)?;
        return Ok(format!(
            "encoders: both branches from the single encoder of {}",
            single.display()
        ));
    } else if classifier.exists() {
        load_module(
            &mut model.encoder_theta,
            &classifier,
            "data_bn.weight",
            Some("encoder_theta."),
        )?;
        load_module(
            &mut model.encoder_phi,
            &classifier,
            "data_bn.weight",
            Some("encoder_phi."),
        )?;
    } else {
        return Err(TrainError::Checkpoint {
            path: from.clone(),
            msg: "neither encoder_theta/phi.safetensors (an ASMa pre-training run), encoder_q.safetensors or encoder.safetensors (a run of one of the compared methods) nor classifier.safetensors (a classifier run) is here".into(),
        });
    }
    Ok(format!("encoders: loaded from {}", from.display()))
}

/// A finished classifier run's model, checked against the stream and class count the caller
/// expects (the teacher of distillation, evaluation on other data).
pub fn load_classifier(
    run_dir: &Path,
    stream: asma_data::pipeline::stream::Stream,
    num_classes: usize,
    device: &Device,
) -> Result<AsmaClassifier, TrainError> {
    let saved: DownstreamConfig = read_json(&run_dir.join("config.json"))?;
    let file = run_dir.join("classifier.safetensors");
    if saved.data.stream != stream {
        return Err(TrainError::Checkpoint {
            path: file,
            msg: format!(
                "a classifier of the {:?} stream, expected {:?}",
                saved.data.stream, stream
            ),
        });
    }
    if saved.data.num_classes != num_classes {
        return Err(TrainError::Checkpoint {
            path: file,
            msg: format!(
                "a classifier of {} classes, this data has {num_classes}",
                saved.data.num_classes
            ),
        });
    }
    let mut model = saved.classifier().init(device);
    load_module(&mut model, &file, "encoder_theta.data_bn.weight", None)?;
    Ok(model)
}
