//! The controller's training step: REINFORCE or PPO's clipped ratio with the entropy bonus
//! (melodyguan/enas micro_controller.py; Schulman et al. 2017), through the heads and the LSTM.

use super::*;

impl Policy {
    /// One gradient step on `rows`: controller (Adam, global-norm clip) and every head (`step`).
    pub fn step(&mut self, rows: &[Row]) -> PluginResult<StepStats> {
        if rows.is_empty() {
            return Err(PluginError::other(
                "rl-controller: a training step needs rows",
            ));
        }
        let genomes: Vec<&[u32]> = rows.iter().map(|r| r.genome.as_slice()).collect();
        let tasks: Vec<u32> = rows.iter().map(|r| r.task).collect();
        let pass = self.forward(&genomes, &tasks, true)?;
        let what = "rl-controller: loss";
        let t_len = self.len();
        let n = rows.len();

        let column = |f: &dyn Fn(&Row) -> f64| -> PluginResult<Tensor> {
            let v: Vec<f32> = rows.iter().map(|r| f(r) as f32).collect();
            Tensor::f_from_slice(&v)
                .and_then(|t| t.f_to_device(self.device))
                .context(what)
        };
        let advantage = column(&|r| r.advantage)?;
        let weight = column(&|r| r.weight)?;
        let clipped = column(&|r| f64::from(u8::from(r.old_logp.is_some())))?;
        // Old per-decision log π, [T, N]; 0 for unclipped rows (their ratio is never used).
        let mut old = vec![0f32; t_len * n];
        for (i, r) in rows.iter().enumerate() {
            if let Some(o) = &r.old_logp {
                if o.len() != t_len {
                    return Err(PluginError::other(format!(
                        "rl-controller: {} old log-probabilities for {t_len} decisions",
                        o.len()
                    )));
                }
                for (t, &v) in o.iter().enumerate() {
                    old[t * n + i] = v;
                }
            }
        }
        let old = Tensor::f_from_slice(&old)
            .and_then(|t| t.f_reshape([t_len as i64, n as i64]))
            .and_then(|t| t.f_to_device(self.device))
            .context(what)?;

        let eps = self.clip_epsilon;
        let surrogate = |ratio: &Tensor, adv: &Tensor| -> Result<Tensor, tch::TchError> {
            let plain = ratio.f_mul(adv)?;
            let clipped = ratio.f_clamp(1.0 - eps, 1.0 + eps)?.f_mul(adv)?;
            plain.f_minimum(&clipped)
        };
        let logp = pass
            .logp
            .f_sum_dim_intlist([0i64].as_slice(), false, Kind::Float)
            .context(what)?;
        let old_joint = old
            .f_sum_dim_intlist([0i64].as_slice(), false, Kind::Float)
            .context(what)?;
        let joint_ratio = logp
            .f_sub(&old_joint)
            .and_then(|d| d.f_exp())
            .context(what)?;
        let clipped_objective = match self.ratio {
            Ratio::Joint => surrogate(&joint_ratio, &advantage),
            Ratio::PerDecision => pass
                .logp
                .f_sub(&old)
                .and_then(|d| d.f_exp())
                .and_then(|r| surrogate(&r, &advantage.f_unsqueeze(0)?))
                .and_then(|s| s.f_sum_dim_intlist([0i64].as_slice(), false, Kind::Float)),
        }
        .context(what)?;
        let reinforce = logp.f_mul(&advantage).context(what)?;
        // objective = clipped ? surrogate : A·log π, per row.
        let objective = clipped_objective
            .f_sub(&reinforce)
            .and_then(|d| d.f_mul(&clipped))
            .and_then(|d| d.f_add(&reinforce))
            .context(what)?;
        let entropy = pass
            .entropy
            .f_sum_dim_intlist([0i64].as_slice(), false, Kind::Float)
            .context(what)?;
        // loss = −Σ w·objective − λ_H·Σ w·H
        let loss = objective
            .f_add(&entropy.f_mul_scalar(self.entropy_weight).context(what)?)
            .and_then(|o| o.f_mul(&weight))
            .and_then(|o| o.f_sum(Kind::Float))
            .and_then(|o| o.f_neg())
            .context(what)?;

        let deviation = joint_ratio
            .f_sub_scalar(1.0)
            .and_then(|d| d.f_abs())
            .and_then(|d| d.f_mul(&clipped))
            .and_then(|d| d.f_max())
            .and_then(|d| d.f_double_value(&[]))
            .context(what)?;
        let stats_entropy = entropy
            .f_mean(Kind::Float)
            .and_then(|e| e.f_double_value(&[]))
            .context(what)?;
        let loss_value = loss.f_double_value(&[]).context(what)?;
        if !loss_value.is_finite() {
            return Err(PluginError::other(format!(
                "rl-controller: the loss is {loss_value}; not updating (a reward or a \
                 log-probability is not finite)"
            )));
        }

        // Backward 1: loss → logits (leaves) → heads → feature gradients.
        loss.f_backward()
            .context("rl-controller: backward through the loss")?;
        let mut seeds: Vec<Option<Tensor>> = (0..t_len).map(|_| None).collect();
        for (hi, leaf) in pass.leaves.iter().enumerate() {
            let grad = leaf.f_grad().context("rl-controller: logit gradients")?;
            let grad = if grad.defined() {
                grad
            } else {
                leaf.f_zeros_like()
                    .context("rl-controller: logit gradients")?
            };
            let feature_grad = self.heads[hi].head.backward(&to_matrix(&grad)?)?;
            let feature_grad = to_tensor(&feature_grad, self.device)?;
            for (j, &p) in self.heads[hi].positions.iter().enumerate() {
                seeds[p] = Some(
                    feature_grad
                        .f_narrow(0, j as i64 * n as i64, n as i64)
                        .context("rl-controller: feature gradients")?,
                );
            }
        }
        // Backward 2: Σ_t ⟨h_t, g_t⟩ through the LSTM and the embedding.
        let mut total: Option<Tensor> = None;
        for (h, g) in pass.hidden.iter().zip(&seeds) {
            let Some(g) = g else { continue };
            let term = h
                .f_mul(g)
                .and_then(|x| x.f_sum(Kind::Float))
                .context("rl-controller: backward")?;
            total = Some(match total {
                None => term,
                Some(s) => s.f_add(&term).context("rl-controller: backward")?,
            });
        }
        if let Some(total) = total {
            total
                .f_backward()
                .context("rl-controller: backward through the LSTM")?;
        }
        let grad_norm = self.clip_gradients()?;
        self.adam.step()?;
        for h in &mut self.heads {
            h.head.step()?;
        }
        Ok(StepStats {
            loss: loss_value,
            max_ratio_deviation: deviation,
            entropy: stats_entropy,
            grad_norm,
        })
    }

    /// Scales the controller's gradients to a global norm of at most `grad_clip` (0 = no clip);
    /// returns the norm before clipping.
    fn clip_gradients(&mut self) -> PluginResult<f64> {
        let what = "rl-controller: gradient clipping";
        let grads: Vec<Tensor> = [
            &self.embedding,
            &self.w_ih,
            &self.w_hh,
            &self.b_ih,
            &self.b_hh,
        ]
        .iter()
        .map(|p| p.f_grad())
        .collect::<Result<Vec<_>, _>>()
        .context(what)?
        .into_iter()
        .filter(Tensor::defined)
        .collect();
        let mut sq = 0f64;
        for g in &grads {
            sq += g
                .f_square()
                .and_then(|s| s.f_sum(Kind::Double))
                .and_then(|s| s.f_double_value(&[]))
                .context(what)?;
        }
        let norm = sq.sqrt();
        if self.grad_clip > 0.0 && norm > self.grad_clip {
            let scale = self.grad_clip / (norm + 1e-6);
            tch::no_grad(|| -> Result<(), tch::TchError> {
                for g in &grads {
                    // In place: the gradient tensor is the parameter's .grad.
                    let _ = g.shallow_clone().f_mul_scalar_(scale)?;
                }
                Ok(())
            })
            .context(what)?;
        }
        Ok(norm)
    }
}
