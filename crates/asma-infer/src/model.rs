//! A trained classifier loaded from its run directory for inference: a distilled student
//! (`student.safetensors`, `asma distill`) or an ASMa classifier (`classifier.safetensors`,
//! `asma linear` / `asma finetune`), with the run's `config.json` giving the layout.

use std::path::Path;

use asma_arch::Fusion;
use asma_arch::StgcnEncoderConfig;
use asma_arch::StudentConfig;
use asma_data::pipeline::stream::{first_bodies, Stream};
use asma_skeleton::actions::CLASSES_FILE;
use asma_skeleton::{ClassNames, NTU25};
use serde::Deserialize;

use crate::encoder::Encoder;
use crate::error::{model_err, InferError, Result};
use crate::head::{Alignment, Linear};
use crate::tensors::Tensors;

/// What a run's `config.json` says about its model (other keys are ignored: they concern
/// training).
#[derive(Deserialize)]
struct SavedRun {
    data: SavedData,
    #[serde(default)]
    model: Option<SavedHead>,
    #[serde(default)]
    student: Option<SavedStudent>,
}

#[derive(Deserialize)]
struct SavedData {
    stream: Stream,
    num_classes: usize,
    #[serde(default)]
    bodies: Option<usize>,
}

#[derive(Deserialize)]
struct SavedHead {
    #[serde(default)]
    encoder: StgcnEncoderConfig,
    #[serde(default)]
    fusion: Fusion,
}

#[derive(Deserialize)]
struct SavedStudent {
    depth: usize,
}

/// One per loaded model, so the variants' size difference costs nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Body {
    Student(Encoder),
    Teacher {
        theta: Encoder,
        phi: Encoder,
        align: Option<Alignment>,
    },
}

/// A classifier ready for inference.
pub struct Classifier {
    pub(crate) body: Body,
    pub(crate) fc: Linear,
    pub stream: Stream,
    pub num_classes: usize,
    /// Persons the model was trained on (`data.bodies`; unset: all the data held). Clips
    /// with more are read as the training did: their first `bodies` persons only.
    pub bodies: Option<usize>,
    /// The run's `classes.json`; without one, the names a head of this size most likely
    /// has (NTU-60/120, PKU-MMD), or none.
    pub classes: Option<ClassNames>,
    threads: usize,
    pool: rayon::ThreadPool,
}

/// A pool of `threads` threads, the error naming the count.
pub(crate) fn pool(threads: usize) -> Result<rayon::ThreadPool> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(threads)
        .build()
        .map_err(|e| InferError::Config(format!("cannot start {threads} threads: {e}")))
}

impl Classifier {
    /// Loads the model of a `distill`, `linear` or `finetune` run directory.
    pub fn load(run_dir: &Path) -> Result<Self> {
        let config = run_dir.join("config.json");
        let text = std::fs::read_to_string(&config).map_err(|source| InferError::Io {
            path: config.clone(),
            source,
        })?;
        let saved: SavedRun = serde_json::from_str(&text).map_err(|e| {
            model_err(
                &config,
                format!("not a classifier run's configuration: {e}"),
            )
        })?;
        let student_file = run_dir.join("student.safetensors");
        let classifier_file = run_dir.join("classifier.safetensors");
        let classes = saved.data.num_classes;
        let (body, fc) = if student_file.exists() {
            let depth = saved.student.map_or(5, |s| s.depth);
            let cfg = StudentConfig {
                depth,
                num_classes: classes,
                ..Default::default()
            }
            .encoder_config();
            let w = Tensors::open(&student_file)?;
            let encoder = Encoder::load(&w, "encoder.", &cfg)?;
            let fc = Linear::load(&w, "fc", encoder.dim, classes)?;
            (Body::Student(encoder), fc)
        } else if classifier_file.exists() {
            let head = saved.model.ok_or_else(|| {
                model_err(&config, "no 'model' section: not a linear or finetune run")
            })?;
            let w = Tensors::open(&classifier_file)?;
            let theta = Encoder::load(&w, "encoder_theta.", &head.encoder)?;
            let phi = Encoder::load(&w, "encoder_phi.", &head.encoder)?;
            let d = theta.dim;
            let (align, features) = match head.fusion {
                Fusion::CrossAttention => (Some(Alignment::load(&w, "head.align", d)?), 2 * d),
                Fusion::Average => (None, d),
            };
            let fc = Linear::load(&w, "head.fc", features, classes)?;
            (Body::Teacher { theta, phi, align }, fc)
        } else {
            return Err(model_err(
                run_dir,
                "neither student.safetensors (asma distill) nor classifier.safetensors (asma linear / finetune) is here",
            ));
        };
        Ok(Classifier {
            body,
            fc,
            stream: saved.data.stream,
            num_classes: classes,
            bodies: saved.data.bodies,
            classes: class_names(run_dir, classes)?,
            threads: 1,
            pool: pool(1)?,
        })
    }

    /// Threads for one forward pass (1: strictly serial).
    pub fn with_threads(mut self, threads: usize) -> Result<Self> {
        let threads = threads.max(1);
        self.pool = pool(threads)?;
        self.threads = threads;
        Ok(self)
    }

    pub fn threads(&self) -> usize {
        self.threads
    }

    /// "student (5 blocks)" or "teacher (cross_attention)".
    pub fn describe(&self) -> String {
        match &self.body {
            Body::Student(e) => format!("student ({} blocks, {}-d)", e.depth(), e.dim),
            Body::Teacher { align, .. } => format!(
                "teacher ({})",
                if align.is_some() {
                    "cross-attention"
                } else {
                    "average"
                }
            ),
        }
    }

    /// Whether this is a distilled student.
    pub fn is_student(&self) -> bool {
        matches!(self.body, Body::Student(_))
    }

    fn check(&self, sample: &[f32], t: usize, m: usize) -> Result<()> {
        let expected = 3 * t * NTU25.num_joints() * m;
        let bad = |msg: String| InferError::Input {
            what: "input".into(),
            msg,
        };
        if t == 0 || m == 0 || sample.len() != expected {
            return Err(bad(format!(
                "{} values for (3, {t}, 25, {m}), which needs {expected}",
                sample.len()
            )));
        }
        if let Some(i) = sample.iter().position(|v| !v.is_finite()) {
            return Err(bad(format!("non-finite value at flat index {i}")));
        }
        Ok(())
    }

    /// Persons of a clip of `m` that the model reads.
    pub fn persons_read(&self, m: usize) -> usize {
        self.bodies.map_or(m, |b| b.min(m))
    }

    /// `(3, T, 25, M)` in this model's stream → the feature the linear layer reads.
    pub fn features(&self, sample: &[f32], t: usize, m: usize) -> Result<Vec<f32>> {
        self.check(sample, t, m)?;
        let kept;
        let (sample, m) = match self.persons_read(m) {
            read if read < m => {
                kept = first_bodies(sample, m, read);
                (&kept[..], read)
            }
            _ => (sample, m),
        };
        let n = self.threads;
        Ok(self.pool.install(|| match &self.body {
            Body::Student(e) => e.pooled(sample, t, m, n),
            Body::Teacher {
                theta,
                phi,
                align: None,
            } => {
                let (a, b) = rayon::join(
                    || theta.pooled(sample, t, m, n),
                    || phi.pooled(sample, t, m, n),
                );
                a.iter().zip(&b).map(|(x, y)| (x + y) / 2.0).collect()
            }
            Body::Teacher {
                theta,
                phi,
                align: Some(align),
            } => {
                let (a, b) = rayon::join(
                    || tokens(theta, sample, t, m, n),
                    || tokens(phi, sample, t, m, n),
                );
                align.forward(&a, &b, n)
            }
        }))
    }

    /// `(3, T, 25, M)` in this model's stream → `(num_classes)` logits.
    pub fn logits(&self, sample: &[f32], t: usize, m: usize) -> Result<Vec<f32>> {
        let f = self.features(sample, t, m)?;
        Ok(self.fc.forward(&f, 1, 1))
    }

    /// Trainable parameters as PyTorch counts them (head included).
    pub fn num_params(&self) -> usize {
        self.fc.params()
            + match &self.body {
                Body::Student(e) => e.params,
                Body::Teacher { theta, phi, align } => {
                    theta.params + phi.params + align.as_ref().map_or(0, Alignment::params)
                }
            }
    }

    /// Multiply-accumulates of one `(3, T, 25, M)` sample, counted as the paper does.
    pub fn macs(&self, t: usize, m: usize) -> u64 {
        let m = self.persons_read(m);
        let head = (self.fc.d_in * self.fc.d_out) as u64;
        head + match &self.body {
            Body::Student(e) => e.macs(t, m),
            Body::Teacher { theta, phi, align } => {
                let tokens = theta.out_frames(t) * NTU25.num_joints();
                theta.macs(t, m) + phi.macs(t, m) + align.as_ref().map_or(0, |a| a.macs(tokens))
            }
        }
    }
}

/// Block-last tokens `(T'·V, d)`, averaged over persons (as `asma_model::align::tokens`).
fn tokens(e: &Encoder, sample: &[f32], t: usize, m: usize, threads: usize) -> Vec<f32> {
    let (maps, _) = e.maps(sample, t, m, threads);
    let l = maps[0].len() / e.dim;
    let mut out = vec![0.0; l * e.dim];
    for map in &maps {
        for (c, row) in map.chunks_exact(l).enumerate() {
            for (i, x) in row.iter().enumerate() {
                out[i * e.dim + c] += x / maps.len() as f32;
            }
        }
    }
    out
}

/// The class names saved beside a model (a truncated or mismatched file is an error naming
/// it), else the built-in list for a head of `num_classes` outputs.
fn class_names(run_dir: &Path, num_classes: usize) -> Result<Option<ClassNames>> {
    let path = run_dir.join(CLASSES_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Ok(ClassNames::guess(num_classes))
        }
        Err(source) => return Err(InferError::Io { path, source }),
    };
    let names: Vec<String> = serde_json::from_str(&text)
        .map_err(|e| model_err(&path, format!("not a JSON list of class names: {e}")))?;
    ClassNames::new(names, num_classes, &path.display().to_string())
        .map(Some)
        .map_err(|e| InferError::Config(e.to_string()))
}
