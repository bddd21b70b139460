//! BASE's two loops over a supernet (Shaw et al. 2019, "Meta Architecture Search"): the inner
//! loop (DARTS's first-order iteration with a fresh Gumbel-softmax sample of the architecture
//! on every forward) and the Reptile meta-update (Nichol et al. 2018) over tasks.
//!
//! One meta-step, from the meta-network θ = (w, Θ):
//!
//! 1. keep w as a snapshot; draw m distinct tasks;
//! 2. per task j: the shared weights back to the snapshot's (its classifier and the other
//!    tasks' are left as they are), Θ_j ← Θ, a fresh Adam on Θ_j, then K inner steps on task j;
//!    keep w_j as a snapshot;
//! 3. w ← w + ε·mean_j(w_j − w) over the shared weights and buffers (the protocol's
//!    `interpolate`; per-task classifiers keep what their task's inner loop made of them), and
//!    Θ ← Θ + ε·mean_j(Θ_j − Θ), the same finite-difference rule.

use xnas_core::{PluginError, PluginResult, Supernet, SupernetBox};
use xnas_oneshot::gumbel;
use xnas_oneshot::mix::{from_grad, to_matrix};
use xnas_oneshot::{clip_grad_norm, Adam, ArchConfig, ArchRng, StatsSum};

/// How the inner steps sample and step Θ.
pub(crate) struct Inner<'a> {
    pub arch: &'a ArchConfig,
    pub hard: bool,
    pub tau: f64,
    pub cols: usize,
}

impl Inner<'_> {
    /// `steps` iterations on the supernet's current task: the Θ step on the next α batch, then
    /// the w step on the next training batch, each forward with its own Gumbel sample at τ.
    pub fn steps(
        &self,
        net: &mut SupernetBox,
        theta: &mut [f64],
        adam: &mut Adam,
        rng: &mut ArchRng,
        steps: u32,
        train: &mut StatsSum,
    ) -> PluginResult<()> {
        let rows = theta.len() / self.cols.max(1);
        for _ in 0..steps {
            let s = gumbel::sample(theta, self.cols, self.tau, self.hard, rng);
            let g = net.arch_grad(&to_matrix(&s.mix, self.cols))?;
            let grad_mix = from_grad(&g.grad, rows, self.cols)?;
            let mut grad = gumbel::backward(&s, &grad_mix, self.cols);
            clip_grad_norm(&mut grad, self.arch.grad_clip);
            adam.step(&self.arch.adam, theta, &grad);
            let s = gumbel::sample(theta, self.cols, self.tau, self.hard, rng);
            let stats = net.train_step(&to_matrix(&s.mix, self.cols))?;
            if !stats.loss.is_finite() {
                return Err(PluginError::evaluation(format!(
                    "the supernet's training loss is {}: training diverged; lower \
                     `learning_rate`",
                    stats.loss
                )));
            }
            train.add(&stats);
        }
        Ok(())
    }
}

/// `m` distinct task indices of `0..n` (a partial Fisher–Yates shuffle), `m ≤ n`.
pub(crate) fn draw_tasks(n: usize, m: usize, rng: &mut ArchRng) -> Vec<usize> {
    let mut all: Vec<usize> = (0..n).collect();
    for i in 0..m.min(n) {
        let j = i + rng.below((n - i) as u32) as usize;
        all.swap(i, j);
    }
    all.truncate(m.min(n));
    all
}

/// One meta-step (see the module docs) on `tasks` with `inner_steps` each and meta step size
/// `epsilon`; Θ is updated in place.
#[allow(clippy::too_many_arguments)]
pub(crate) fn meta_step(
    inner: &Inner,
    net: &mut SupernetBox,
    theta: &mut [f64],
    rng: &mut ArchRng,
    tasks: &[usize],
    inner_steps: u32,
    epsilon: f64,
    train: &mut StatsSum,
) -> PluginResult<()> {
    let base = net.snapshot()?;
    let mut adapted = Vec::with_capacity(tasks.len());
    let mut sum = vec![0.0; theta.len()];
    for (i, &task) in tasks.iter().enumerate() {
        if i > 0 {
            // Shared weights and buffers back to θ's; every classifier keeps its own.
            net.interpolate(base, &[base], 0.0)?;
        }
        net.set_task(task as u32)?;
        let mut theta_j = theta.to_vec();
        let mut adam = Adam::new(theta.len());
        inner.steps(net, &mut theta_j, &mut adam, rng, inner_steps, train)?;
        for (s, t) in sum.iter_mut().zip(&theta_j) {
            *s += t;
        }
        adapted.push(net.snapshot()?);
    }
    net.interpolate(base, &adapted, epsilon)?;
    let n = tasks.len() as f64;
    for (t, s) in theta.iter_mut().zip(&sum) {
        *t += epsilon * (s / n - *t);
    }
    for id in adapted.into_iter().chain([base]) {
        net.drop_snapshot(id)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn drawn_tasks_are_distinct_seeded_and_cover_every_task() {
        let mut rng = ArchRng::new(3);
        let mut seen = [0u32; 5];
        for _ in 0..200 {
            let t = draw_tasks(5, 3, &mut rng);
            assert_eq!(t.len(), 3);
            assert!(t[0] != t[1] && t[1] != t[2] && t[0] != t[2], "{t:?}");
            for i in t {
                seen[i] += 1;
            }
        }
        assert!(seen.iter().all(|&c| c > 80), "{seen:?}");
        let a = draw_tasks(9, 4, &mut ArchRng::new(7));
        assert_eq!(a, draw_tasks(9, 4, &mut ArchRng::new(7)));
        assert_eq!(draw_tasks(2, 5, &mut ArchRng::new(1)).len(), 2);
    }
}
