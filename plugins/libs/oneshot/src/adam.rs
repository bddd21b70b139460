//! Adam as PyTorch's `torch.optim.Adam` computes it (L2 weight decay added to the gradient,
//! bias-corrected moments, ε outside the square root), and global-norm gradient clipping as
//! `torch.nn.utils.clip_grad_norm_` does it. DARTS and P-DARTS step α with it.

use serde::{Deserialize, Serialize};

/// Adam's hyperparameters.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AdamConfig {
    pub lr: f64,
    pub beta1: f64,
    pub beta2: f64,
    pub eps: f64,
    /// L2 penalty: `weight_decay · θ` is added to the gradient (not AdamW's decoupled decay).
    pub weight_decay: f64,
}

/// Adam's moments and step count.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Adam {
    m: Vec<f64>,
    v: Vec<f64>,
    steps: u64,
}

impl Adam {
    pub fn new(n: usize) -> Self {
        Adam {
            m: vec![0.0; n],
            v: vec![0.0; n],
            steps: 0,
        }
    }

    pub fn steps(&self) -> u64 {
        self.steps
    }

    pub fn len(&self) -> usize {
        self.m.len()
    }

    pub fn is_empty(&self) -> bool {
        self.m.is_empty()
    }

    /// One step of `params` along `grad`.
    pub fn step(&mut self, cfg: &AdamConfig, params: &mut [f64], grad: &[f64]) {
        assert_eq!(params.len(), self.m.len(), "Adam: parameter count changed");
        assert_eq!(grad.len(), self.m.len(), "Adam: gradient length");
        self.steps += 1;
        let t = self.steps as i32;
        let bias1 = 1.0 - cfg.beta1.powi(t);
        let bias2_sqrt = (1.0 - cfg.beta2.powi(t)).sqrt();
        let step_size = cfg.lr / bias1;
        for i in 0..params.len() {
            let g = grad[i] + cfg.weight_decay * params[i];
            self.m[i] = cfg.beta1 * self.m[i] + (1.0 - cfg.beta1) * g;
            self.v[i] = cfg.beta2 * self.v[i] + (1.0 - cfg.beta2) * g * g;
            let denom = self.v[i].sqrt() / bias2_sqrt + cfg.eps;
            params[i] -= step_size * self.m[i] / denom;
        }
    }
}

/// Scales `grad` so that its Euclidean norm is at most `max_norm` (by `max_norm/(norm + 1e-6)`,
/// as PyTorch does); `max_norm = 0` leaves it. Returns the norm before clipping.
pub fn clip_grad_norm(grad: &mut [f64], max_norm: f64) -> f64 {
    let norm = grad.iter().map(|g| g * g).sum::<f64>().sqrt();
    if max_norm > 0.0 {
        let coef = max_norm / (norm + 1e-6);
        if coef < 1.0 {
            grad.iter_mut().for_each(|g| *g *= coef);
        }
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    const DARTS: AdamConfig = AdamConfig {
        lr: 3e-4,
        beta1: 0.5,
        beta2: 0.999,
        eps: 1e-8,
        weight_decay: 1e-3,
    };

    #[test]
    fn first_steps_by_hand() {
        // θ = 1, g = 0.5, wd 1e-3: g' = 0.501. Step 1: m = 0.5·0.501 = 0.2505, m̂ = 0.501,
        // v = 0.001·0.501², v̂ = 0.501² ⇒ the step is lr·0.501/(0.501 + 1e-8).
        let mut theta = [1.0];
        let mut adam = Adam::new(1);
        adam.step(&DARTS, &mut theta, &[0.5]);
        let want = 1.0 - 3e-4 * 0.501 / (0.501 + 1e-8);
        assert!((theta[0] - want).abs() < 1e-15, "{} vs {want}", theta[0]);
        // Step 2 with g = −0.2: g' = −0.2 + 1e-3·θ₁.
        let g2 = -0.2 + 1e-3 * theta[0];
        let m2 = 0.5 * 0.2505 + 0.5 * g2;
        let v2 = 0.999 * (0.001 * 0.501 * 0.501) + 0.001 * g2 * g2;
        let step = 3e-4 / (1.0 - 0.25) * m2 / (v2.sqrt() / (1.0 - 0.999f64.powi(2)).sqrt() + 1e-8);
        let want2 = theta[0] - step;
        adam.step(&DARTS, &mut theta, &[-0.2]);
        assert!((theta[0] - want2).abs() < 1e-15, "{} vs {want2}", theta[0]);
        assert_eq!(adam.steps(), 2);
    }

    #[test]
    fn without_decay_the_first_step_is_lr_times_the_sign() {
        let cfg = AdamConfig {
            weight_decay: 0.0,
            ..DARTS
        };
        let mut theta = [0.0, 0.0, 5.0];
        Adam::new(3).step(&cfg, &mut theta, &[2.0, -7.0, 0.0]);
        assert!((theta[0] + 3e-4).abs() < 1e-11);
        assert!((theta[1] - 3e-4).abs() < 1e-11);
        assert_eq!(theta[2], 5.0);
    }

    #[test]
    fn clipping_by_hand() {
        let mut g = [3.0, 4.0];
        assert_eq!(clip_grad_norm(&mut g, 10.0), 5.0);
        assert_eq!(g, [3.0, 4.0]);
        let n = clip_grad_norm(&mut g, 1.0);
        assert_eq!(n, 5.0);
        let coef = 1.0 / (5.0 + 1e-6);
        assert_eq!(g, [3.0 * coef, 4.0 * coef]);
        let mut g = [3.0, 4.0];
        clip_grad_norm(&mut g, 0.0);
        assert_eq!(g, [3.0, 4.0], "0 turns clipping off");
    }
}
