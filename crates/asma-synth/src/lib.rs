//! The synthetic NTU-format dataset: the built-in default dataset of asma.
//!
//! [`generate`] writes real `.skeleton` files named `SsssCcccPpppRrrrAaaa.skeleton`, with
//! every field of the format filled in the way a Kinect v2 fills it, so the NTU readers,
//! the missing-sample list and the standard splits run on it unchanged. Labels are the real
//! NTU action ids, so `label = A − 1` as with real data.
//!
//! How a file comes about, one (private) module per concern:
//! * `body`: performers with their own size, proportions and habits;
//! * `actions`, `motions`, `interactions`: the catalogue of NTU actions and the motion
//!   program of each (one person, or two interacting);
//! * `pose`: pose description and forward/inverse kinematics to the 25 Kinect joints;
//! * `camera`: the three sensors of a setup at −45°/0°/+45° and their pixel projections;
//! * `noise`: Kinect-like jitter, glitches, inferred joints, empty frames, clutter bodies;
//! * `scene`: one performance, recorded by one sensor;
//! * `config`: what to generate ([`SynthConfig`], [`NoiseConfig`]).
//!
//! Learnable but not trivial: subjects, viewpoints, speed, amplitude, phase, hand used and
//! noise all vary, and several classes are deliberately close to each other (touch head /
//! salute / touch chest, sitting down / standing up as time reversals, jump up / hopping,
//! kicking something / kicking another person, handshaking / giving something). On the
//! default dataset a 1-nearest-neighbour classifier on raw coordinates reaches about 80 %
//! cross-subject accuracy (chance 6 %), which leaves a learned model room to show itself.

mod actions;
mod body;
mod camera;
mod config;
mod interactions;
mod math;
mod motions;
mod noise;
mod pose;
mod scene;

#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use asma_data::error::DataError;
use asma_data::formats::ntu::{write_skeleton, NtuName};

pub use actions::{catalogue, ActionSpec, DEFAULT_CLASSES};
pub use config::{NoiseConfig, SynthConfig, MAX_FRAMES, MIN_FRAMES};

/// Files written for one class.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClassCount {
    /// NTU action id.
    pub id: u16,
    pub name: String,
    pub files: usize,
}

/// What [`generate`] wrote.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SynthSummary {
    /// Files written (including the missing-list ones).
    pub files: usize,
    /// Files whose names are on the official missing-skeleton list, written as the real
    /// ones are: frames without bodies. Preparation skips them through the list.
    pub missing: usize,
    /// Frames over all files.
    pub frames: usize,
    /// Files per class, in catalogue order.
    pub per_class: Vec<ClassCount>,
}

impl std::fmt::Display for SynthSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "{} files ({} on the official missing-skeleton list, written without bodies), {} frames",
            self.files, self.missing, self.frames
        )?;
        for c in &self.per_class {
            writeln!(f, "  A{:03} {:<28} {} files", c.id, c.name, c.files)?;
        }
        Ok(())
    }
}

/// Every sample name of `config`, sorted (setup, camera, performer, replication, action),
/// i.e. in the order of a sorted directory listing.
pub fn sample_names(config: &SynthConfig) -> Vec<NtuName> {
    let mut names = Vec::with_capacity(config.num_samples());
    for &setup in &config.setups {
        for &camera in &config.cameras {
            for &performer in &config.performers {
                for &replication in &config.replications {
                    for &action in &config.classes {
                        names.push(NtuName {
                            setup,
                            camera,
                            performer,
                            replication,
                            action,
                        });
                    }
                }
            }
        }
    }
    names.sort();
    names
}

/// Writes the dataset of `config` into `out_dir` (created if needed; existing files of the
/// same names are replaced). Each file is written to a temporary name and renamed, so an
/// interrupted run never leaves a truncated `.skeleton`. Samples are generated in parallel,
/// each from its own random stream, so the bytes do not depend on the thread schedule.
/// `progress(done, total)` is called after each file, from worker threads.
pub fn generate(
    config: &SynthConfig,
    out_dir: &Path,
    progress: &(dyn Fn(usize, usize) + Sync),
) -> Result<SynthSummary, DataError> {
    config.validate()?;
    fs::create_dir_all(out_dir).map_err(|e| DataError::io(out_dir, e))?;
    let names = sample_names(config);
    let rigs: BTreeMap<u16, camera::Rig> = config
        .setups
        .iter()
        .map(|&s| (s, camera::Rig::new(config.seed, s)))
        .collect();
    let total = names.len();
    let done = AtomicUsize::new(0);
    let written: Vec<(u16, usize, bool)> = names
        .par_iter()
        .map(|name| {
            let file = scene::render(config, &rigs[&name.setup], name);
            write_atomically(&file, &out_dir.join(name.file_name()))?;
            progress(done.fetch_add(1, Ordering::Relaxed) + 1, total);
            let missing = asma_data::formats::ntu::is_missing(&name.to_string());
            Ok((name.action, file.frames.len(), missing))
        })
        .collect::<Result<_, DataError>>()?;

    let per_class = catalogue()
        .iter()
        .filter(|a| config.classes.contains(&a.id))
        .map(|a| ClassCount {
            id: a.id,
            name: a.name.to_string(),
            files: written.iter().filter(|w| w.0 == a.id).count(),
        })
        .collect();
    Ok(SynthSummary {
        files: written.len(),
        missing: written.iter().filter(|w| w.2).count(),
        frames: written.iter().map(|w| w.1).sum(),
        per_class,
    })
}

/// Writes `file` to `path` through a temporary file in the same directory plus a rename.
fn write_atomically(
    file: &asma_data::formats::ntu::SkeletonFile,
    path: &Path,
) -> Result<(), DataError> {
    let tmp = tmp_path(path);
    let result = (|| {
        let f = fs::File::create(&tmp)?;
        let mut w = BufWriter::new(f);
        write_skeleton(file, &mut w)?;
        w.flush()?;
        fs::rename(&tmp, path)
    })();
    result.map_err(|e| {
        let _ = fs::remove_file(&tmp);
        DataError::io(path, e)
    })
}

/// `dir/.NAME.skeleton.tmp`: hidden and without the `.skeleton` extension, so no reader
/// lists a half-written file.
fn tmp_path(path: &Path) -> PathBuf {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    path.with_file_name(format!(".{name}.tmp"))
}
