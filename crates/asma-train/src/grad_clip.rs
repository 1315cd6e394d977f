//! Gradient clipping by the total norm of a module's gradients, as PyTorch's
//! `torch.nn.utils.clip_grad_norm_` (burn's own clipping acts on each tensor alone).

use asma_model::burn::module::{Module, ModuleVisitor, Param, ParamId};
use asma_model::burn::optim::GradientsParams;
use asma_model::burn::tensor::Tensor;

use crate::error::TrainError;
use crate::pretrain::read_parts;

/// The float parameter ids of a module.
struct Ids(Vec<(ParamId, usize)>);

impl ModuleVisitor for Ids {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        self.0.push((p.id, D));
    }
}

/// Squared norm of the gradient of `id` (rank `d`), as a 1-element tensor.
fn squared_norm(grads: &GradientsParams, id: ParamId, d: usize) -> Option<Tensor<1>> {
    fn of<const D: usize>(g: &GradientsParams, id: ParamId) -> Option<Tensor<1>> {
        g.get::<D>(id).map(|t| t.powi_scalar(2).sum().reshape([1]))
    }
    match d {
        1 => of::<1>(grads, id),
        2 => of::<2>(grads, id),
        3 => of::<3>(grads, id),
        4 => of::<4>(grads, id),
        5 => of::<5>(grads, id),
        _ => unreachable!("asma's parameters have rank 1 to 5"),
    }
}

fn scale(grads: &mut GradientsParams, id: ParamId, d: usize, factor: f64) {
    fn of<const D: usize>(g: &mut GradientsParams, id: ParamId, factor: f64) {
        if let Some(t) = g.remove::<D>(id) {
            g.register(id, t * factor);
        }
    }
    match d {
        1 => of::<1>(grads, id, factor),
        2 => of::<2>(grads, id, factor),
        3 => of::<3>(grads, id, factor),
        4 => of::<4>(grads, id, factor),
        5 => of::<5>(grads, id, factor),
        _ => unreachable!("asma's parameters have rank 1 to 5"),
    }
}

/// Scales the gradients of `module`'s parameters in `grads` so that their total L2 norm is at
/// most `max_norm` (factor `max_norm / (norm + 1e-6)` when below 1, as PyTorch); returns the
/// norm before clipping.
pub fn clip_grad_norm<M: Module>(
    grads: &mut GradientsParams,
    module: &M,
    max_norm: f64,
) -> Result<f64, TrainError> {
    let mut ids = Ids(Vec::new());
    module.visit(&mut ids);
    let squares: Vec<Tensor<1>> = ids
        .0
        .iter()
        .filter_map(|&(id, d)| squared_norm(grads, id, d))
        .collect();
    if squares.is_empty() {
        return Ok(0.0);
    }
    let norm = f64::from(read_parts(Tensor::cat(squares, 0).sum())?[0]).sqrt();
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        for &(id, d) in &ids.0 {
            scale(grads, id, d, factor);
        }
    }
    Ok(norm)
}
