//! The run directory and its checkpoints.
//!
//! ```text
//! RUN/config.json                  the full configuration, written before step 1
//! RUN/metrics.jsonl                one line per epoch
//! RUN/encoder_theta.safetensors    f_θ with PyTorch state_dict names (loads in PSTL/AimCLR code)
//! RUN/encoder_phi.safetensors      f_φ
//! RUN/checkpoint/model.bpk         both branches with parameter ids (burnpack), for resume
//! RUN/checkpoint/optim.bin         Adam's state, keyed by parameter id
//! RUN/checkpoint/state.json        epoch, batch and step to continue from
//! ```
//!
//! A checkpoint is written into `checkpoint.tmp/` and swapped in by renames, so a crash at
//! any point leaves either the old or the new checkpoint whole.

use std::path::{Path, PathBuf};

use asma_model::burn::module::Module;
use asma_model::burn::optim::{AdamConfig, ModuleOptimizer};
use asma_model::burn::store::{BurnpackStore, ModuleSnapshot};
use serde::{Deserialize, Serialize};

use crate::error::TrainError;

/// Writes `module` (burnpack, with parameter ids) and `optim` (keyed by those ids) into a
/// checkpoint folder. Pass a `valid()` copy: burn keeps the latest BatchNorm running
/// statistics per thread until a sync, and `valid()` syncs them.
pub fn save_model_and_optim<M: Module + ModuleSnapshot>(
    module: &M,
    optim: &ModuleOptimizer,
    dir: &Path,
) -> Result<(), TrainError> {
    let model_file = dir.join("model.bpk");
    let mut store = BurnpackStore::from_file(&model_file).overwrite(true);
    module
        .save_into(&mut store)
        .map_err(|e| TrainError::Checkpoint {
            path: model_file.clone(),
            msg: e.to_string(),
        })?;
    let optim_file = dir.join("optim.bin");
    optim.save(&optim_file).map_err(|e| TrainError::Checkpoint {
        path: optim_file.clone(),
        msg: e.to_string(),
    })
}

/// Loads what [`save_model_and_optim`] wrote into `module` and `optim`.
pub fn load_model_and_optim<M: Module + ModuleSnapshot>(
    module: &mut M,
    optim: &mut ModuleOptimizer,
    dir: &Path,
) -> Result<(), TrainError> {
    let model_file = dir.join("model.bpk");
    let mut store = BurnpackStore::from_file(&model_file);
    module
        .load_from(&mut store)
        .map_err(|e| TrainError::Checkpoint {
            path: model_file.clone(),
            msg: e.to_string(),
        })?;
    let optim_file = dir.join("optim.bin");
    let loaded = std::mem::replace(optim, AdamConfig::new().init())
        .load(&optim_file)
        .map_err(|e| TrainError::Checkpoint {
            path: optim_file.clone(),
            msg: e.to_string(),
        })?;
    *optim = loaded;
    Ok(())
}

/// Where training continues from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct TrainState {
    /// Next epoch to run (0-based).
    pub epoch: usize,
    /// Next batch of that epoch.
    pub batch: usize,
    /// Optimiser steps done.
    pub step: usize,
}

/// Paths of a run directory.
#[derive(Debug, Clone)]
pub struct RunDir {
    pub root: PathBuf,
}

impl RunDir {
    pub fn new(root: impl Into<PathBuf>) -> Self {
        RunDir { root: root.into() }
    }
    pub fn config(&self) -> PathBuf {
        self.root.join("config.json")
    }
    pub fn metrics(&self) -> PathBuf {
        self.root.join("metrics.jsonl")
    }
    pub fn checkpoint(&self) -> PathBuf {
        self.root.join("checkpoint")
    }
    fn checkpoint_tmp(&self) -> PathBuf {
        self.root.join("checkpoint.tmp")
    }
    fn checkpoint_old(&self) -> PathBuf {
        self.root.join("checkpoint.old")
    }
    pub fn encoder(&self, branch: &str) -> PathBuf {
        self.root.join(format!("encoder_{branch}.safetensors"))
    }

    /// The checkpoint folder to resume from (the old one if a swap was interrupted).
    pub fn latest(&self) -> Option<PathBuf> {
        [self.checkpoint(), self.checkpoint_old()]
            .into_iter()
            .find(|p| p.join("state.json").exists())
    }

    /// Writes a checkpoint: `fill` writes its files into the given folder, then the folder is
    /// swapped in atomically with `state.json`.
    pub fn write_checkpoint(
        &self,
        state: TrainState,
        fill: impl FnOnce(&Path) -> Result<(), TrainError>,
    ) -> Result<(), TrainError> {
        let tmp = self.checkpoint_tmp();
        let _ = std::fs::remove_dir_all(&tmp);
        std::fs::create_dir_all(&tmp).map_err(|e| TrainError::io(&tmp, e))?;
        fill(&tmp)?;
        let state_path = tmp.join("state.json");
        std::fs::write(&state_path, serde_json::to_vec_pretty(&state).unwrap())
            .map_err(|e| TrainError::io(&state_path, e))?;
        let (cur, old) = (self.checkpoint(), self.checkpoint_old());
        let _ = std::fs::remove_dir_all(&old);
        if cur.exists() {
            std::fs::rename(&cur, &old).map_err(|e| TrainError::io(&cur, e))?;
        }
        std::fs::rename(&tmp, &cur).map_err(|e| TrainError::io(&cur, e))?;
        let _ = std::fs::remove_dir_all(&old);
        Ok(())
    }

    /// Reads `state.json` of a checkpoint folder.
    pub fn read_state(dir: &Path) -> Result<TrainState, TrainError> {
        let p = dir.join("state.json");
        let bytes = std::fs::read(&p).map_err(|e| TrainError::io(&p, e))?;
        serde_json::from_slice(&bytes).map_err(|e| TrainError::Checkpoint {
            path: p,
            msg: format!("not a checkpoint state: {e}"),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checkpoints_swap_atomically() {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path());
        assert!(run.latest().is_none());
        for epoch in 1..=2 {
            run.write_checkpoint(
                TrainState {
                    epoch,
                    batch: 0,
                    step: epoch * 3,
                },
                |d| {
                    std::fs::write(d.join("x"), format!("{epoch}"))
                        .map_err(|e| TrainError::io(d, e))
                },
            )
            .unwrap();
        }
        let latest = run.latest().unwrap();
        assert_eq!(
            RunDir::read_state(&latest).unwrap(),
            TrainState {
                epoch: 2,
                batch: 0,
                step: 6
            }
        );
        assert_eq!(std::fs::read_to_string(latest.join("x")).unwrap(), "2");
        // A failing fill leaves the previous checkpoint in place.
        let r = run.write_checkpoint(TrainState::default(), |_| {
            Err(TrainError::Config("disk full".into()))
        });
        assert!(r.is_err());
        assert_eq!(RunDir::read_state(&run.latest().unwrap()).unwrap().epoch, 2);
    }
}
