//! Gradient clipping by the total norm of a module's gradients, as PyTorch's
//! `torch.nn.utils.clip_grad_norm_` (burn's own clipping acts on each tensor alone).

use asma_model::burn::module::{Module, ModuleVisitor, Param};
use asma_model::burn::optim::GradientsParams;
use asma_model::burn::tensor::Tensor;

use crate::error::TrainError;
use crate::pretrain::read_parts;

/// Collects the squared L2 norm of every float parameter's gradient, as 1-element tensors
/// (a visitor sees each parameter with its rank, so no dispatch on the rank is needed).
struct SquaredNorms<'a> {
    grads: &'a GradientsParams,
    squares: Vec<Tensor<1>>,
}

impl ModuleVisitor for SquaredNorms<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.get::<D>(p.id) {
            self.squares.push(g.powi_scalar(2).sum().reshape([1]));
        }
    }
}

/// Multiplies every float parameter's gradient by `factor`.
struct Scale<'a> {
    grads: &'a mut GradientsParams,
    factor: f64,
}

impl ModuleVisitor for Scale<'_> {
    fn visit_float<const D: usize>(&mut self, p: &Param<Tensor<D>>) {
        if let Some(g) = self.grads.remove::<D>(p.id) {
            self.grads.register(p.id, g * self.factor);
        }
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
    let mut norms = SquaredNorms {
        grads,
        squares: Vec::new(),
    };
    module.visit(&mut norms);
    if norms.squares.is_empty() {
        return Ok(0.0);
    }
    let norm = f64::from(read_parts(Tensor::cat(norms.squares, 0).sum())?[0]).sqrt();
    let factor = max_norm / (norm + 1e-6);
    if factor < 1.0 {
        module.visit(&mut Scale { grads, factor });
    }
    Ok(norm)
}
