//! Dropout with masks drawn on the host for the CPU backend.
//!
//! burn-flex draws a dropout mask element by element from one ChaCha generator behind a lock
//! and applies it in two passes (mask, then scale): about 6% of a pre-training step on 2
//! cores. Here the mask is filled in parallel with a small counter-seeded generator, already
//! scaled, and applied in one multiplication. Same distribution (keep with probability
//! `1 − p`, scale by `1/(1 − p)`), and reproducible: the draws are a function of the seed set
//! with [`reseed`] (the training loops reseed every step) and the call order, whatever the
//! thread count. The seed and the call counter are per thread: data-parallel training runs
//! its replicas on threads of their own, each reseeded for its shard, so their draws do not
//! depend on how the threads interleave. Other devices keep burn's own dropout, whose masks
//! are drawn on the device.

use std::cell::Cell;

use burn::backend::DispatchDevice;
use burn::nn::Dropout;
use burn::tensor::{Tensor, TensorData};
use rayon::prelude::*;

thread_local! {
    /// (seed, masks drawn since the seed was set), of this thread.
    static STATE: Cell<(u64, u64)> = const { Cell::new((0, 0)) };
}

/// Elements per independently seeded chunk (the unit of parallel work).
const CHUNK: usize = 1 << 15;

/// Restarts this thread's mask sequence from `seed`.
pub fn reseed(seed: u64) {
    STATE.with(|s| s.set((seed, 0)));
}

fn next_stream() -> u64 {
    STATE.with(|s| {
        let (seed, n) = s.get();
        s.set((seed, n + 1));
        mix(seed ^ mix(n + 1))
    })
}

/// SplitMix64's finaliser: a bijective scramble of a 64-bit value.
fn mix(mut z: u64) -> u64 {
    z = z.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// `d` applied to `x` (identity outside training, as burn's `Dropout::forward`).
pub fn dropout<const D: usize>(d: &Dropout, x: Tensor<D>) -> Tensor<D> {
    let device = x.device();
    if d.prob == 0.0 || !d.training.is_enabled() || !device.is_autodiff() {
        return x;
    }
    if !matches!(
        device.as_dispatch().clone().inner(),
        DispatchDevice::Flex(_)
    ) {
        return d.forward(x);
    }
    let keep = 1.0 - d.prob;
    let scale = (1.0 / keep) as f32;
    // Keep when a uniform 24-bit integer falls below keep·2^24.
    let threshold = (keep * (1u64 << 24) as f64).round() as u64;
    let stream = next_stream();
    let shape = x.shape();
    let mut mask = vec![0f32; shape.num_elements()];
    mask.par_chunks_mut(CHUNK)
        .enumerate()
        .for_each(|(i, chunk)| {
            let mut state = mix(stream ^ (i as u64).wrapping_mul(0xD1B5_4A32_D192_ED03));
            for pair in chunk.chunks_mut(2) {
                state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
                let r = mix(state);
                for (k, v) in pair.iter_mut().enumerate() {
                    let u = (r >> (k * 32)) & 0xFF_FFFF;
                    *v = if u < threshold { scale } else { 0.0 };
                }
            }
        });
    x * Tensor::from_data(TensorData::new(mask, shape), &device)
}

#[cfg(test)]
mod tests {
    use super::*;
    use burn::nn::DropoutConfig;
    use burn::tensor::Device;

    #[test]
    fn keeps_about_half_scaled_by_two_and_repeats_after_a_reseed() {
        let device = Device::flex().autodiff();
        let d = DropoutConfig::new(0.5).init();
        let x = Tensor::<2>::ones([300, 1000], &device);
        reseed(7);
        let a: Vec<f32> = dropout(&d, x.clone()).into_data().try_into_vec().unwrap();
        let kept = a.iter().filter(|&&v| v == 2.0).count();
        assert_eq!(kept + a.iter().filter(|&&v| v == 0.0).count(), a.len());
        let share = kept as f64 / a.len() as f64;
        assert!((share - 0.5).abs() < 0.005, "{share}");
        let b: Vec<f32> = dropout(&d, x.clone()).into_data().try_into_vec().unwrap();
        assert_ne!(a, b, "successive masks differ");
        reseed(7);
        let c: Vec<f32> = dropout(&d, x.clone()).into_data().try_into_vec().unwrap();
        assert_eq!(a, c, "the same seed gives the same masks");
        // Outside training (no autodiff) nothing changes.
        let plain = Tensor::<2>::ones([4, 4], &Device::flex());
        let same: Vec<f32> = dropout(&d, plain).into_data().try_into_vec().unwrap();
        assert!(same.iter().all(|&v| v == 1.0));
    }
}
