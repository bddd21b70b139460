//! DARTS's second-order α gradient (Liu et al. 2019, quark0/darts `architect.py`): the unrolled
//! weights w′, the gradient at w′, and the Hessian-vector product by central differences on the
//! current w.

use super::data::Batch;
use super::engine::{SupernetEngine, ALPHA};
use super::SearchNetwork;
use crate::error::TchContext;
use tch::Tensor;
use xnas_core::{BatchStats, Matrix, PluginResult};

/// The parts of a second-order α gradient: `grad = val_grad − xi · hvp`.
#[derive(Debug)]
pub struct Unrolled {
    /// Loss and accuracy of the α batch at w′.
    pub stats: BatchStats,
    /// ∂L_val(w′)/∂mix.
    pub val_grad: Tensor,
    /// The central-difference estimate of ∂/∂mix (∇w L_train(w) · v), v = ∇w′ L_val(w′).
    pub hvp: Tensor,
    /// v, flat (weights in the engine's name order).
    pub v: Tensor,
    /// ξ, the learning rate of the step.
    pub xi: f64,
    pub epsilon: f64,
}

impl Unrolled {
    pub fn grad(&self) -> PluginResult<Tensor> {
        self.hvp
            .f_mul_scalar(self.xi)
            .and_then(|h| self.val_grad.f_sub(&h))
            .context("unrolled_arch_grad")
    }
}

impl<N: SearchNetwork> SupernetEngine<N> {
    /// Second-order DARTS's α gradient in parts (see [`Unrolled`]); consumes the next α batch
    /// and reads (without consuming) the next training batch; w is restored exactly.
    pub fn unrolled(&mut self, mix: &Matrix) -> PluginResult<Unrolled> {
        let _threads = self.threads();
        let what = "unrolled_arch_grad";
        let r = self.cfg.recipe.clone();
        let xi = self.learning_rate();
        let mix_g = self.mix_tensor(mix, true)?;
        let train = self.peek_train_batch()?;
        let val = self.peek_alpha_batch()?;

        // w′ = w − ξ(μm + ∇w L_train(w) + λw), from the current w.
        let (loss, correct) = self.batch_loss(&train, &mix_g.detach())?;
        self.stats(&loss, correct, train.len(), what)?;
        let (g, _) = self.weight_grad(&loss, what)?;
        let w0 = self.store.params.flat.f_detach_copy().context(what)?;
        let unrolled = tch::no_grad(|| -> Result<Tensor, tch::TchError> {
            let step = self
                .momentum
                .f_mul_scalar(r.momentum)?
                .f_add(&g)?
                .f_add(&w0.f_mul_scalar(r.weight_decay)?)?;
            w0.f_sub(&step.f_mul_scalar(xi)?)
        })
        .context(what)?;

        // At w′: ∂L_val/∂mix and v = ∇w′ L_val. DARTS runs this pass on a copy of the model, so
        // the running statistics it updates are put back.
        let buffers = self.store.buffers.flat.f_detach_copy().context(what)?;
        self.set_weights(&unrolled, what)?;
        let at_unrolled = self.val_pass(&val, &mix_g, what);
        let restored = self
            .set_weights(&w0, what)
            .and_then(|()| self.copy_into_buffers(&buffers, what));
        let (stats, val_grad, v) = at_unrolled?;
        restored?;

        // H v by central differences on w (not w′): [∇mix L_train(w + εv) − ∇mix L_train(w − εv)] / (2ε).
        let norm = v
            .f_norm()
            .and_then(|n| n.f_double_value(&[]))
            .context(what)?;
        let (hvp, epsilon) = if norm > 0.0 && norm.is_finite() {
            let epsilon = self.difference_scale / norm;
            let mut side = |sign: f64| -> PluginResult<Tensor> {
                let w = w0
                    .f_add(&v.f_mul_scalar(sign * epsilon).context(what)?)
                    .context(what)?;
                self.set_weights(&w, what)?;
                let (loss, _) = self.batch_loss(&train, &mix_g)?;
                self.mix_grad(&loss, &mix_g, what)
            };
            let plus = side(1.0);
            let minus = plus.is_ok().then(|| side(-1.0));
            self.set_weights(&w0, what)?;
            let (plus, minus) = (plus?, minus.expect("computed after plus")?);
            let hvp = plus
                .f_sub(&minus)
                .and_then(|d| d.f_div_scalar(2.0 * epsilon))
                .context(what)?;
            (hvp, epsilon)
        } else {
            (mix_g.f_zeros_like().context(what)?, 0.0)
        };
        self.advance(ALPHA)?;
        Ok(Unrolled {
            stats,
            val_grad,
            hvp,
            v,
            xi,
            epsilon,
        })
    }

    fn val_pass(
        &self,
        val: &Batch,
        mix: &Tensor,
        what: &str,
    ) -> PluginResult<(BatchStats, Tensor, Tensor)> {
        let (loss, correct) = self.batch_loss(val, mix)?;
        let stats = self.stats(&loss, correct, val.len(), what)?;
        let mut inputs = vec![mix.shallow_clone()];
        inputs.extend(self.store.params.vars.iter().map(Tensor::shallow_clone));
        let mut grads = Tensor::f_run_backward(&[&loss], &inputs, false, false).context(what)?;
        let weight_grads = grads.split_off(1);
        let val_grad = grads.remove(0);
        let val_grad = if val_grad.defined() {
            val_grad
        } else {
            mix.f_zeros_like().context(what)?
        };
        let (v, _) = self.store.params.flatten(&weight_grads)?;
        Ok((stats, val_grad, v))
    }
}
