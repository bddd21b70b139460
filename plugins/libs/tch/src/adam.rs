//! Adam over a `VarStore`'s trainable variables, written on tensors rather than taken from
//! libtorch (`tch::nn::Optimizer`) so that its moments can be saved with the parameters: a head
//! restored from state continues exactly where it stopped. Same update as `torch.optim.Adam`,
//! weight decay included (L2 added to the gradient, not decoupled).

use crate::error::TchContext;
use tch::{nn, Kind, Tensor};
use xnas_core::{PluginError, PluginResult};

/// Adam's hyper-parameters. The defaults are NAO's (renqianluo/NAO_pytorch NAO_V1/train_search.py):
/// lr 1e-3, weight decay 1e-4.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    pub weight_decay: f64,
}

impl Default for AdamConfig {
    fn default() -> Self {
        AdamConfig {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-4,
        }
    }
}

/// The bias corrections of one update: one pair for every value of the tensors, or one per row
/// (a batch of independent Adams, each at its own step count, as xfer's stacked residuals).
pub enum Corrections<'a> {
    /// `lr / (1 − β₁ᵗ)` and `√(1 − β₂ᵗ)`.
    Scalars { step_size: f64, root_bias2: f64 },
    /// The same two numbers per row, as `[rows, 1]` columns.
    Rows {
        step_size: &'a Tensor,
        root_bias2: &'a Tensor,
    },
}

/// Adam's update of `param` from `grad` (weight decay already added), in place where
/// `torch.optim.Adam` is: the moments and the parameter are updated where they lie, and every
/// value is the same kernel on the same operands as the out-of-place form, so results are
/// bit-identical to it, with 6 temporaries per parameter instead of 14. Call it under
/// `tch::no_grad`.
pub fn update(
    param: &mut Tensor,
    grad: &Tensor,
    m: &mut Tensor,
    v: &mut Tensor,
    config: &AdamConfig,
    corrections: Corrections,
) -> Result<(), tch::TchError> {
    let c = config;
    let _ = m.f_mul_scalar_(c.beta1)?;
    let _ = m.f_add_(&grad.f_mul_scalar(1.0 - c.beta1)?)?;
    let _ = v.f_mul_scalar_(c.beta2)?;
    let _ = v.f_add_(&grad.f_square()?.f_mul_scalar_(1.0 - c.beta2)?)?;
    let mut denom = v.f_sqrt()?;
    let _ = match &corrections {
        Corrections::Scalars { root_bias2, .. } => denom.f_div_scalar_(*root_bias2)?,
        Corrections::Rows { root_bias2, .. } => denom.f_div_(root_bias2)?,
    };
    let _ = denom.f_add_scalar_(c.eps)?;
    let mut step = m.f_div(&denom)?;
    let _ = match &corrections {
        Corrections::Scalars { step_size, .. } => step.f_mul_scalar_(*step_size)?,
        Corrections::Rows { step_size, .. } => step.f_mul_(step_size)?,
    };
    let _ = param.f_sub_(&step)?;
    Ok(())
}

struct Slot {
    name: String,
    param: Tensor,
    m: Tensor,
    v: Tensor,
}

/// Adam state for every trainable variable of one `VarStore`, in name order.
pub struct Adam {
    config: AdamConfig,
    slots: Vec<Slot>,
    steps: i64,
}

impl Adam {
    /// Takes the store's trainable variables as they are now (create the model first).
    pub fn new(vs: &nn::VarStore, config: AdamConfig) -> PluginResult<Self> {
        let mut named: Vec<(String, Tensor)> = vs
            .variables()
            .into_iter()
            .filter(|(_, t)| t.requires_grad())
            .collect();
        named.sort_by(|a, b| a.0.cmp(&b.0));
        let slots = named
            .into_iter()
            .map(|(name, param)| {
                let m = param.f_zeros_like().context("adam: moments")?;
                let v = param.f_zeros_like().context("adam: moments")?;
                Ok(Slot { name, param, m, v })
            })
            .collect::<PluginResult<_>>()?;
        Ok(Adam {
            config,
            slots,
            steps: 0,
        })
    }

    /// Number of updates applied so far.
    pub fn steps(&self) -> i64 {
        self.steps
    }

    /// One update from the accumulated gradients (variables with none are left alone), then the
    /// gradients are cleared.
    pub fn step(&mut self) -> PluginResult<()> {
        let c = self.config;
        self.steps += 1;
        let t = self.steps as i32;
        let bias1 = 1.0 - c.beta1.powi(t);
        let bias2 = 1.0 - c.beta2.powi(t);
        tch::no_grad(|| -> Result<(), tch::TchError> {
            for s in &mut self.slots {
                let grad = s.param.grad();
                if !grad.defined() {
                    continue;
                }
                let grad = if c.weight_decay != 0.0 {
                    grad.f_add(&s.param.f_mul_scalar(c.weight_decay)?)?
                } else {
                    grad
                };
                let corrections = Corrections::Scalars {
                    step_size: c.lr / bias1,
                    root_bias2: bias2.sqrt(),
                };
                update(&mut s.param, &grad, &mut s.m, &mut s.v, &c, corrections)?;
            }
            Ok(())
        })
        .context("adam step")?;
        self.zero_grad()
    }

    /// Clears the accumulated gradients.
    pub fn zero_grad(&mut self) -> PluginResult<()> {
        for s in &mut self.slots {
            let mut grad = s.param.grad();
            if grad.defined() {
                // In place, as torch's zero_grad; the returned handles alias the gradient.
                let _ = grad
                    .f_detach_()
                    .and_then(|mut g| g.f_zero_())
                    .context("adam: clearing gradients")?;
            }
        }
        Ok(())
    }

    /// The moments and step count as named tensors (`adam.m.<var>`, `adam.v.<var>`, `adam.steps`).
    pub fn state(&self) -> PluginResult<Vec<(String, Tensor)>> {
        let mut out = Vec::with_capacity(2 * self.slots.len() + 1);
        for s in &self.slots {
            out.push((format!("adam.m.{}", s.name), s.m.shallow_clone()));
            out.push((format!("adam.v.{}", s.name), s.v.shallow_clone()));
        }
        let steps = Tensor::f_from_slice(&[self.steps]).context("adam state")?;
        out.push(("adam.steps".into(), steps));
        Ok(out)
    }

    /// Restores what `state` returned (looked up by name in `named`). Everything is checked
    /// before anything is changed, so a bad state leaves the optimizer as it was.
    pub fn load_state(&mut self, named: &[(String, Tensor)]) -> PluginResult<()> {
        let find = |name: &str, like: Option<&Tensor>| -> PluginResult<Tensor> {
            let t = named
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, t)| t.shallow_clone())
                .ok_or_else(|| PluginError::data(format!("adam state: `{name}` is missing")))?;
            match like {
                Some(like) if like.size() != t.size() => Err(PluginError::data(format!(
                    "adam state: `{name}` has shape {:?}, expected {:?}",
                    t.size(),
                    like.size()
                ))),
                _ => Ok(t),
            }
        };
        let mut moments = Vec::with_capacity(self.slots.len());
        for s in &self.slots {
            let m = find(&format!("adam.m.{}", s.name), Some(&s.m))?;
            let v = find(&format!("adam.v.{}", s.name), Some(&s.v))?;
            moments.push((m, v));
        }
        let steps = find("adam.steps", None)?
            .f_to_kind(Kind::Int64)
            .and_then(|t| t.f_int64_value(&[0]))
            .context("adam state")?;
        for (s, (m, v)) in self.slots.iter_mut().zip(moments) {
            tch::no_grad(|| -> Result<(), tch::TchError> {
                s.m.f_copy_(&m)?;
                s.v.f_copy_(&v)
            })
            .context("adam state")?;
        }
        self.steps = steps;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::Device;

    /// One parameter p = [1, -2], loss = sum(p²); compare with torch.optim.Adam's arithmetic.
    #[test]
    fn matches_the_torch_update_rule() {
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs
            .root()
            .f_var_copy("p", &Tensor::from_slice(&[1f32, -2.0]))
            .unwrap();
        let config = AdamConfig {
            lr: 0.1,
            weight_decay: 0.5,
            ..AdamConfig::default()
        };
        let mut adam = Adam::new(&vs, config).unwrap();
        let mut expect = [1f64, -2.0];
        let (mut m, mut v) = ([0f64; 2], [0f64; 2]);
        for t in 1..=3 {
            p.square().sum(Kind::Float).backward();
            adam.step().unwrap();
            for i in 0..2 {
                let g = 2.0 * expect[i] + 0.5 * expect[i];
                m[i] = 0.9 * m[i] + 0.1 * g;
                v[i] = 0.999 * v[i] + 0.001 * g * g;
                let (b1, b2) = (1.0 - 0.9f64.powi(t), 1.0 - 0.999f64.powi(t));
                expect[i] -= 0.1 / b1 * m[i] / (v[i].sqrt() / b2.sqrt() + 1e-8);
            }
            let got = Vec::<f32>::try_from(&p).unwrap();
            for i in 0..2 {
                assert!(
                    (f64::from(got[i]) - expect[i]).abs() < 1e-5,
                    "{got:?} {expect:?}"
                );
            }
            // Gradients are cleared after each step.
            assert!(Vec::<f32>::try_from(p.grad())
                .unwrap()
                .iter()
                .all(|&g| g == 0.0));
        }
        assert_eq!(adam.steps(), 3);
    }

    /// The in-place step gives exactly (bit for bit) what the out-of-place form gave, so searches
    /// and benchmark results recorded before it are reproduced: a 384 × 96 parameter (an LSTM
    /// weight of nao's) over 5 steps of a fixed pseudo-random gradient.
    #[test]
    fn in_place_step_is_bit_identical_to_the_out_of_place_form() {
        let config = AdamConfig::default();
        let (rows, cols) = (384, 96);
        let mut rng = xnas_core::SplitMix64::new(11);
        let mut draw = || -> Tensor {
            let v: Vec<f32> = (0..rows * cols)
                .map(|_| (rng.next_f64() * 2.0 - 1.0) as f32)
                .collect();
            Tensor::from_slice(&v).reshape([rows as i64, cols as i64])
        };
        let start = draw();
        let grads: Vec<Tensor> = (0..5).map(|_| draw()).collect();
        let vs = nn::VarStore::new(Device::Cpu);
        let p = vs.root().f_var_copy("p", &start).unwrap();
        let mut adam = Adam::new(&vs, config).unwrap();
        let c = config;
        let (mut q, mut m, mut v) = (start.copy(), start.zeros_like(), start.zeros_like());
        for (t, g) in grads.iter().enumerate() {
            (&p * g).sum(Kind::Float).backward();
            adam.step().unwrap();
            // The out-of-place form of the step, as it was written before.
            let t = t as i32 + 1;
            let (bias1, bias2) = (1.0 - c.beta1.powi(t), 1.0 - c.beta2.powi(t));
            let g = g + &q * c.weight_decay;
            m = &m * c.beta1 + &g * (1.0 - c.beta1);
            v = &v * c.beta2 + g.square() * (1.0 - c.beta2);
            let denom = (v.sqrt() / bias2.sqrt()) + c.eps;
            q = &q - (&m / denom) * (c.lr / bias1);
            let same = Vec::<f32>::try_from(&q.reshape([-1]))
                .unwrap()
                .iter()
                .zip(Vec::<f32>::try_from(&p.detach().reshape([-1])).unwrap())
                .all(|(a, b)| a.to_bits() == b.to_bits());
            assert!(
                same,
                "step {t}: the in-place update differs from the out-of-place one"
            );
        }
    }
}
