//! Gumbel-softmax sampling of the mixing weights (Jang et al. 2017; Maddison et al. 2017), soft
//! or hard with the straight-through estimator, and its temperature schedule. DARTS's
//! `sampling = "gumbel"` and BASE's stochastic architecture use it.

use crate::mix::{softmax, softmax_backward};
use crate::rng::ArchRng;
use serde::Deserialize;

/// How the temperature falls from `tau_max` to `tau_min` over the search.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Anneal {
    /// `τ = τ_max · (τ_min/τ_max)^t`.
    Exponential,
    /// `τ = τ_max + (τ_min − τ_max) · t`.
    Linear,
}

/// A temperature schedule over search progress `t ∈ [0, 1]`, never below `tau_min`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Temperature {
    pub anneal: Anneal,
    pub tau_max: f64,
    pub tau_min: f64,
}

impl Temperature {
    pub fn at(&self, progress: f64) -> f64 {
        let t = progress.clamp(0.0, 1.0);
        let tau = match self.anneal {
            Anneal::Exponential => self.tau_max * (self.tau_min / self.tau_max).powf(t),
            Anneal::Linear => self.tau_max + (self.tau_min - self.tau_max) * t,
        };
        tau.max(self.tau_min)
    }
}

/// One Gumbel-softmax sample of every row.
#[derive(Clone, Debug, PartialEq)]
pub struct GumbelSample {
    /// `softmax((α + g)/τ)`.
    pub soft: Vec<f64>,
    /// What the supernet mixes with: `soft`, or its one-hot argmax when hard.
    pub mix: Vec<f64>,
    pub tau: f64,
}

/// Draws `g ~ Gumbel(0, 1)` per entry and returns `softmax((logits + g)/τ)` (and the one-hot of
/// each row's argmax with `hard`; ties go to the first column).
pub fn sample(
    logits: &[f64],
    cols: usize,
    tau: f64,
    hard: bool,
    rng: &mut ArchRng,
) -> GumbelSample {
    let perturbed: Vec<f64> = logits.iter().map(|a| (a + rng.gumbel()) / tau).collect();
    let soft = softmax(&perturbed, cols);
    let mix = if hard {
        one_hot_argmax(&soft, cols)
    } else {
        soft.clone()
    };
    GumbelSample { soft, mix, tau }
}

/// ∂L/∂logits given ∂L/∂mix. Soft: the softmax Jacobian at `soft`, divided by τ. Hard:
/// straight-through (the forward used the one-hot, the gradient is the soft sample's).
pub fn backward(sample: &GumbelSample, grad_mix: &[f64], cols: usize) -> Vec<f64> {
    softmax_backward(&sample.soft, grad_mix, cols)
        .into_iter()
        .map(|g| g / sample.tau)
        .collect()
}

fn one_hot_argmax(p: &[f64], cols: usize) -> Vec<f64> {
    let mut out = vec![0.0; p.len()];
    for (r, row) in p.chunks(cols).enumerate() {
        let mut best = 0;
        for (k, &x) in row.iter().enumerate() {
            if x > row[best] {
                best = k;
            }
        }
        out[r * cols + best] = 1.0;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schedules_by_hand() {
        let exp = Temperature {
            anneal: Anneal::Exponential,
            tau_max: 1.0,
            tau_min: 0.01,
        };
        assert!((exp.at(0.0) - 1.0).abs() < 1e-15);
        assert!((exp.at(0.5) - 0.1).abs() < 1e-15);
        assert!((exp.at(1.0) - 0.01).abs() < 1e-15);
        assert!((exp.at(7.0) - 0.01).abs() < 1e-15, "clamped past the end");
        let lin = Temperature {
            anneal: Anneal::Linear,
            tau_max: 5.0,
            tau_min: 1.0,
        };
        assert_eq!(lin.at(0.25), 4.0);
        assert_eq!(lin.at(-1.0), 5.0);
        assert_eq!(lin.at(1.0), 1.0);
    }

    #[test]
    fn a_sample_is_the_softmax_of_perturbed_logits() {
        let logits = [0.5, -0.5, 1.0, 0.0, 0.0, 2.0];
        let mut r = ArchRng::new(9);
        let mut check = r.clone();
        let s = sample(&logits, 3, 0.5, false, &mut r);
        let g: Vec<f64> = (0..6).map(|_| check.gumbel()).collect();
        let want = softmax(
            &logits
                .iter()
                .zip(&g)
                .map(|(a, g)| (a + g) / 0.5)
                .collect::<Vec<_>>(),
            3,
        );
        assert_eq!(s.soft, want);
        assert_eq!(s.mix, want);
        let h = sample(&logits, 3, 0.5, true, &mut ArchRng::new(9));
        assert_eq!(h.soft, want);
        for (row_mix, row_soft) in h.mix.chunks(3).zip(want.chunks(3)) {
            assert_eq!(row_mix.iter().sum::<f64>(), 1.0);
            let k = row_mix.iter().position(|&x| x == 1.0).unwrap();
            assert!(row_soft.iter().all(|&x| x <= row_soft[k]));
        }
    }

    #[test]
    fn soft_backward_matches_finite_differences_at_fixed_noise() {
        let logits = [0.2, -0.3, 0.9, 1.1, -0.8, 0.0];
        let c = [1.0, -2.0, 0.5, 0.3, 0.7, -1.1];
        let tau = 0.7;
        let loss = |l: &[f64]| -> f64 {
            let s = sample(l, 3, tau, false, &mut ArchRng::new(4));
            s.mix.iter().zip(&c).map(|(m, c)| m * c).sum()
        };
        let s = sample(&logits, 3, tau, false, &mut ArchRng::new(4));
        let g = backward(&s, &c, 3);
        for i in 0..6 {
            let (mut up, mut down) = (logits, logits);
            up[i] += 1e-6;
            down[i] -= 1e-6;
            let fd = (loss(&up) - loss(&down)) / 2e-6;
            assert!((fd - g[i]).abs() < 1e-7, "{i}: {fd} vs {}", g[i]);
        }
    }

    #[test]
    fn hard_backward_is_straight_through() {
        let logits = [0.2, -0.3, 0.9];
        let s = sample(&logits, 3, 0.5, true, &mut ArchRng::new(1));
        let c = [1.0, 2.0, -1.0];
        let want: Vec<f64> = softmax_backward(&s.soft, &c, 3)
            .iter()
            .map(|x| x / 0.5)
            .collect();
        assert_eq!(backward(&s, &c, 3), want);
    }

    #[test]
    fn low_temperature_samples_are_nearly_one_hot() {
        let mut r = ArchRng::new(2);
        let s = sample(&[0.0; 8], 8, 0.01, false, &mut r);
        assert!(s.soft.iter().cloned().fold(0.0, f64::max) > 0.99);
    }
}
