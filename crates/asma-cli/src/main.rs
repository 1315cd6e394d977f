//! `asma`: the command-line tool. It parses arguments and calls the libraries; nothing else.
//! Errors print with their cause chain and exit with code 2.

mod allocator;
mod bench_cmd;
mod bench_edge;
mod config;
mod data_cmd;
mod downstream_cmd;
mod interrupt;
mod model_cmd;
mod progress;
mod quickstart_cmd;
mod tsne_cmd;

use std::path::PathBuf;
use std::process::ExitCode;

use asma_train::downstream::Protocol;
use clap::{Args, Parser, Subcommand};

/// Self-supervised skeleton action recognition (ASMa), end to end.
#[derive(Parser)]
#[command(name = "asma", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// The whole path on built-in synthetic data in minutes: synth → pre-train (joint) →
    /// linear → distill → CPU latency, with one summary table.
    Quickstart(QuickstartArgs),
    /// Datasets: generate, prepare, inspect.
    #[command(subcommand)]
    Data(DataCommand),
    /// Self-supervised ASMa pre-training of the two encoders of one stream.
    Pretrain(PretrainArgs),
    /// Linear evaluation: both encoders frozen, the alignment module and the head train.
    Linear(DownstreamArgs),
    /// Fine-tuning: encoders, alignment and head all train.
    Finetune(DownstreamArgs),
    /// Distil a trained classifier (the teacher) into a small ST-GCN student (S5).
    Distill(DistillArgs),
    /// Fuse per-sample score files (e.g. joint, motion, bone) with weights.
    Fuse(FuseArgs),
    /// The whole pipeline of one experiment file: pretrain → linear → finetune → fuse, per
    /// stream, skipping finished stages and resuming stopped ones.
    Run(RunArgs),
    /// Features `(N, 256)` of an `(N, 3, T, 25, M)` array with a trained encoder.
    Embed(EmbedArgs),
    /// Classify `.skeleton` / `.npy` files, or a stream of JSON frames on standard input,
    /// with trained classifiers (fused when several) on the folded CPU path.
    Infer(asma_edge::InferArgs),
    /// t-SNE of the features of trained classifiers (e.g. teacher vs student) as one PNG and
    /// one SVG that names the panels and the classes.
    Tsne(TsneArgs),
    /// Export a trained classifier (student or teacher) for other runtimes.
    Export(asma_edge::ExportArgs),
    /// Measurements with their baselines run in the same process.
    #[command(subcommand)]
    Bench(BenchCommand),
}

#[derive(Subcommand)]
enum DataCommand {
    /// Write the built-in synthetic dataset: real NTU-format `.skeleton` files.
    Synth(SynthArgs),
    /// Raw NTU RGB+D / PKU-MMD files → the AimCLR frame50 split folder.
    Prepare(PrepareArgs),
    /// Describe a dataset file or folder: format, counts, classes, lengths, NaN/inf.
    Inspect(InspectArgs),
}

#[derive(Subcommand)]
enum BenchCommand {
    /// `.skeleton` parse MB/s and prepare samples/s, next to a NumPy reference reader.
    Data(BenchDataArgs),
    /// One ASMa encoder pre-training step (3 views + Barlow Twins + Adam), next to PyTorch.
    Pretrain(BenchPretrainArgs),
    /// Forward and backward time of each operation of an ST-GCN block, next to PyTorch.
    Ops(BenchOpsArgs),
    /// The edge table: 3s teacher and 3s student, parameters, MACs, batch-1 latency, peak
    /// memory, FPS, single-threaded and all threads, next to PyTorch eager and ONNX Runtime.
    Edge(BenchEdgeArgs),
    /// Samples/s of the pre-training loader alone (six views per batch, no model) over an
    /// epoch of a memory-mapped split, with its resident memory, against 5× a GPU step.
    Loader(BenchLoaderArgs),
    /// One timing of `bench edge` in a fresh process (used by `bench edge`).
    #[command(hide = true)]
    EdgeWorker(asma_edge::EdgeWorkerArgs),
}

/// `asma data synth`.
#[derive(Args)]
pub struct SynthArgs {
    /// Output folder for the `.skeleton` files.
    #[arg(long)]
    pub out: PathBuf,
    /// Random seed (the same seed writes the same bytes).
    #[arg(long)]
    pub seed: Option<u64>,
    /// A TOML file with `SynthConfig` fields.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one field, e.g. `--set performers=[1,3] --set replications=[1]`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `asma data prepare`.
#[derive(Args)]
pub struct PrepareArgs {
    /// ntu60, ntu120, pku1 or pku2.
    #[arg(long)]
    pub dataset: asma_data::prepare::splits::Dataset,
    /// xsub, xview (NTU-60, PKU-MMD) or xset (NTU-120).
    #[arg(long)]
    pub benchmark: asma_data::prepare::splits::Benchmark,
    /// Folder of raw files (`.skeleton` for NTU, `<video>.txt` skeletons for PKU-MMD).
    #[arg(long)]
    pub raw: PathBuf,
    /// Output folder.
    #[arg(long)]
    pub out: PathBuf,
    /// Output frames: 50 (AimCLR frame50) or 300 (unresized, zero-padded).
    #[arg(long, default_value_t = 50)]
    pub frames: usize,
    /// first2 (AimCLR) or energy2 (2s-AGCN).
    #[arg(long, default_value = "first2")]
    pub body_policy: asma_data::formats::ntu::BodyPolicy,
    /// Record unreadable inputs in the manifest and go on.
    #[arg(long)]
    pub skip_bad: bool,
    /// Keep the samples on the official missing-skeleton list.
    #[arg(long)]
    pub no_missing_list: bool,
    /// PKU-MMD: folder of label files.
    #[arg(long)]
    pub pku_labels: Option<PathBuf>,
    /// PKU-MMD: split file (cross-subject.txt, cross_subject_v2.txt, ...).
    #[arg(long)]
    pub pku_split: Option<PathBuf>,
    /// Redo the work even when the outputs are up to date.
    #[arg(long)]
    pub force: bool,
    /// Worker threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Print the manifest as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `asma pretrain`.
/// The options every training command shares.
#[derive(Args)]
pub struct RunFileArgs {
    /// Experiment file (TOML, or a run's config.json), e.g. configs/synthetic/pretrain_joint.toml.
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one field, e.g. `--set optim.epochs=20 --set data.stream=bone` (repeatable).
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Continue the run in this directory from its last checkpoint (its config.json is used
    /// unless --config is given).
    #[arg(long, value_name = "RUN_DIR")]
    pub resume: Option<PathBuf>,
    /// Print one JSON object per epoch (and the result) instead of text.
    #[arg(long)]
    pub json: bool,
    /// Data-parallel training: split every batch over these devices, main first, e.g.
    /// `--devices cuda:0,cuda:1` (`cpu,cpu` runs replicas on the one CPU); sets
    /// `run.devices`. Not for `asma linear`.
    #[arg(long, value_delimiter = ',', value_name = "DEVICE,...")]
    pub devices: Option<Vec<String>>,
}

#[derive(Args)]
pub struct PretrainArgs {
    #[command(flatten)]
    pub run: RunFileArgs,
}

/// `asma embed`.
#[derive(Args)]
pub struct DownstreamArgs {
    #[command(flatten)]
    pub run: RunFileArgs,
    /// Encoders from a pre-training run (or a classifier run: transfer); the head is new.
    #[arg(long, value_name = "RUN_DIR")]
    pub init_from: Option<PathBuf>,
    /// Train on this stratified share of the labels (0.01, 0.1: semi-supervised).
    #[arg(long)]
    pub label_fraction: Option<f64>,
}

#[derive(Args)]
pub struct DistillArgs {
    #[command(flatten)]
    pub run: RunFileArgs,
    /// The teacher's run directory (`asma linear` or `asma finetune`).
    #[arg(long, value_name = "RUN_DIR")]
    pub teacher: Option<PathBuf>,
}

#[derive(Args)]
pub struct FuseArgs {
    /// Score files (`scores_*.csv` of `asma linear` / `asma finetune`).
    #[arg(required = true)]
    pub scores: Vec<PathBuf>,
    /// One weight per file (default: equal), e.g. `--weights 0.6,0.4,0.6`.
    #[arg(long, value_delimiter = ',')]
    pub weights: Option<Vec<f64>>,
    /// Write the fused scores here.
    #[arg(long)]
    pub out: Option<PathBuf>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct RunArgs {
    /// Experiment file, e.g. configs/experiments/synthetic.toml.
    pub config: PathBuf,
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct EmbedArgs {
    /// Encoder weights: .safetensors or a PyTorch .pt/.pth/.pth.tar (PSTL/AimCLR names).
    #[arg(long)]
    pub checkpoint: PathBuf,
    /// Input `(N, 3, T, 25, M)` float32 .npy.
    #[arg(long)]
    pub input: PathBuf,
    /// Output `(N, 256)` float32 .npy.
    #[arg(long)]
    pub out: PathBuf,
    /// 0-based joints to remove, e.g. 3,7,11.
    #[arg(long, value_delimiter = ',')]
    pub mask_joints: Vec<usize>,
    /// BatchNorm on batch statistics (dropout off) instead of the running statistics.
    #[arg(long)]
    pub train_mode: bool,
    /// Key prefix of the encoder in the checkpoint (found automatically when unique).
    #[arg(long)]
    pub prefix: Option<String>,
    /// Samples per forward pass (train mode: the batch whose statistics are used).
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// cpu, or gpu/cuda where built.
    #[arg(long, default_value = "cpu")]
    pub device: String,
}

/// `asma quickstart`.
#[derive(Args)]
pub struct QuickstartArgs {
    /// Another configuration (default: the built-in configs/quickstart.toml).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one field, e.g. `--set dir=\"runs/qs\" --set distill.optim.epochs=8`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
}

/// `asma tsne`.
#[derive(Args)]
pub struct TsneArgs {
    /// Run directories of trained classifiers, one panel each (left to right).
    #[arg(long = "model", value_name = "RUN_DIR", required = true)]
    pub models: Vec<PathBuf>,
    /// A prepared split folder (`val_position.npy`, `val_label.pkl`).
    #[arg(long)]
    pub data: PathBuf,
    /// `val` or `train`.
    #[arg(long, default_value = "val")]
    pub split: asma_data::prepare::splits::Part,
    /// At most this many samples, evenly spaced over the split.
    #[arg(long, default_value_t = 1000)]
    pub max_samples: usize,
    #[arg(long, default_value_t = 30.0)]
    pub perplexity: f64,
    #[arg(long, default_value_t = 1)]
    pub threads: usize,
    /// Output PNG; the coordinates go to the same name with `.csv`.
    #[arg(long)]
    pub out: PathBuf,
}

/// `asma data inspect`.
#[derive(Args)]
pub struct InspectArgs {
    /// A file (`.skeleton`, `.npy`, `.pkl`, `.npz`, PKU `.txt`) or a folder.
    pub path: PathBuf,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `asma bench data`.
#[derive(Args)]
pub struct BenchDataArgs {
    #[command(flatten)]
    pub options: asma_bench::data::DataOptions,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `asma bench edge`.
#[derive(Args)]
pub struct BenchEdgeArgs {
    /// Teacher run directories (`asma linear` / `asma finetune`), one per stream (default:
    /// the paper's configuration, fresh weights).
    #[arg(long)]
    pub teacher: Vec<PathBuf>,
    /// Student run directories (`asma distill`), one per stream (default: S5, fresh weights).
    #[arg(long)]
    pub student: Vec<PathBuf>,
    /// Timed batch-1 passes per measurement (after 3 warm-up passes); the median is reported.
    #[arg(long, default_value_t = 30)]
    pub reps: usize,
    /// The "all threads" count (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// Also run the models in PyTorch eager and ONNX Runtime with this interpreter.
    #[arg(long)]
    pub python: Option<String>,
    #[arg(long)]
    pub json: bool,
}

/// `asma bench loader`.
#[derive(Args)]
pub struct BenchLoaderArgs {
    #[command(flatten)]
    pub options: asma_bench::loader::LoaderOptions,
    /// A pre-training configuration whose loader to run (default: the paper's).
    #[arg(long)]
    pub config: Option<PathBuf>,
    /// Override one field, e.g. `--set data.stream=bone`.
    #[arg(long = "set", value_name = "KEY=VALUE")]
    pub sets: Vec<String>,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// `asma bench ops`.
#[derive(Args)]
pub struct BenchOpsArgs {
    #[command(flatten)]
    pub options: asma_bench::ops::OpsOptions,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

#[derive(Args)]
pub struct BenchPretrainArgs {
    #[command(flatten)]
    pub options: asma_bench::pretrain_step::PretrainStepOptions,
    /// Print the results as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Commands that run training steps (see [`allocator`]).
fn trains(command: &Command) -> bool {
    matches!(
        command,
        Command::Quickstart(_)
            | Command::Pretrain(_)
            | Command::Linear(_)
            | Command::Finetune(_)
            | Command::Distill(_)
            | Command::Run(_)
            | Command::Bench(BenchCommand::Pretrain(_))
            | Command::Bench(BenchCommand::Ops(_))
    )
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if trains(&cli.command) {
        allocator::keep_freed_memory();
    }
    let result = match cli.command {
        Command::Quickstart(a) => quickstart_cmd::run(a),
        Command::Data(DataCommand::Synth(a)) => data_cmd::synth(a),
        Command::Data(DataCommand::Prepare(a)) => data_cmd::prepare(a),
        Command::Data(DataCommand::Inspect(a)) => data_cmd::inspect(a),
        Command::Pretrain(a) => model_cmd::pretrain(a),
        Command::Linear(a) => downstream_cmd::downstream(a, Protocol::Linear),
        Command::Finetune(a) => downstream_cmd::downstream(a, Protocol::Finetune),
        Command::Distill(a) => downstream_cmd::distill(a),
        Command::Fuse(a) => downstream_cmd::fuse_cmd(a),
        Command::Run(a) => downstream_cmd::run(a),
        Command::Embed(a) => model_cmd::embed(a),
        Command::Infer(a) => asma_edge::infer::infer(a),
        Command::Tsne(a) => tsne_cmd::run(a),
        Command::Export(a) => asma_edge::infer::export(a),
        Command::Bench(BenchCommand::Data(a)) => bench_cmd::data(a),
        Command::Bench(BenchCommand::Pretrain(a)) => bench_cmd::pretrain(a),
        Command::Bench(BenchCommand::Ops(a)) => bench_cmd::ops(a),
        Command::Bench(BenchCommand::Edge(a)) => bench_edge::edge(a),
        Command::Bench(BenchCommand::Loader(a)) => bench_cmd::loader(a),
        Command::Bench(BenchCommand::EdgeWorker(a)) => asma_edge::bench::worker(a),
    };
    asma_edge::exit_code(result)
}
