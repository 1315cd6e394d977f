//! The per-step seeding every training loop shares (its own module, so that the loops and
//! the BatchNorm estimation depend on it and not on each other).

use asma_data::rng::Rng;
use asma_model::burn::tensor::Device;

/// Reseeds the dropout draws for optimiser step `step` of a run seeded with `run_seed`:
/// burn's device generator (GPU) and asma's host masks (CPU). The draws are then a function of
/// (seed, step), so a resumed run repeats them.
pub fn seed_step(device: &Device, run_seed: u64, step: usize) {
    let seed = Rng::derive(run_seed, step as u64).next_u64();
    device.seed(seed);
    asma_model::dropout::reseed(seed);
}
