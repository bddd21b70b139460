//! NAO's training rounds: the encoder–predictor–decoder fitted on the pooled, normalised
//! observations (NAO_pytorch NAO_V1/train_search.py), and the model's predictions.

use super::*;

impl Nao {
    /// Trains if observations arrived since the last round: `epochs_first` epochs the first time,
    /// `epochs` after (the model is kept across rounds, as NAO_V1 does). Returns whether it trained.
    /// Runs with the `threads` parameter's thread count, like `ask` and `predict`: a caller of this
    /// public method (a benchmark) gets what a search gets.
    pub fn train_if_needed(&mut self) -> PluginResult<bool> {
        if self.trained_version == Some(self.data_version) {
            return Ok(false);
        }
        let epochs = if self.trained_version.is_none() {
            // A transfer plan may set the first round's epochs: on the pooled history it is the
            // sources' pretraining, and it costs epochs × every source row.
            match self.plan.pretrain_epochs {
                RSome(e) if self.decorated => e as usize,
                _ => self.params.epochs_first,
            }
        } else {
            self.params.epochs
        };
        let _threads = ThreadLimit::new(self.params.threads);
        self.train(epochs)?;
        self.trained_version = Some(self.data_version);
        Ok(true)
    }

    /// One training round of `epochs` epochs over the current data.
    pub(super) fn train(&mut self, epochs: usize) -> PluginResult<()> {
        let mut rows = self.rows();
        if rows.is_empty() {
            return Ok(());
        }
        let round = self.rounds;
        if let (RSome(k), true) = (self.plan.source_replay, round > 0 && self.decorated) {
            rows = replay(
                rows,
                k as usize,
                derive_seed(component_seed(self.seed, "replay"), round),
            );
        }
        self.rounds += 1;
        let start = Instant::now();
        let mut rng = SplitMix64::new(derive_seed(component_seed(self.seed, "shuffle"), round));
        let torch_seed = derive_seed(component_seed(self.seed, "dropout"), round);
        let batch_size = match self.plan.pretrain_batch {
            RSome(b) if round == 0 && self.decorated => b as usize,
            _ => self.params.batch_size,
        };
        let weights = task_weights(&rows, self.plan.target_share);
        let (mut steps, mut pred, mut rec) = (0, 0.0, 0.0);
        with_torch_seed(torch_seed, || -> PluginResult<()> {
            for epoch in 0..epochs {
                let last = epoch + 1 == epochs;
                let mut order: Vec<usize> = (0..rows.len()).collect();
                for i in (1..order.len()).rev() {
                    order.swap(i, rng.below(i as u32 + 1) as usize);
                }
                for batch in order.chunks(batch_size) {
                    let mut tokens = Vec::with_capacity(batch.len());
                    for &i in batch {
                        let c = &rows[i].choices;
                        // Symmetric swap (NAO_pytorch NAO_V1/utils.py `NAODataset(swap=True)`): a random variant, as input and target alike.
                        let pick = if c.len() > 1 {
                            rng.below(c.len() as u32) as usize
                        } else {
                            0
                        };
                        tokens.push(c[pick].clone());
                    }
                    let tasks: Vec<u32> = batch.iter().map(|&i| rows[i].task).collect();
                    let y: Vec<f32> = batch.iter().map(|&i| rows[i].y).collect();
                    let w = weights.map(|(target, source)| {
                        batch
                            .iter()
                            .map(|&i| if rows[i].task == 0 { target } else { source })
                            .collect::<Vec<f32>>()
                    });
                    let (p, r) = self.step(&tokens, &tasks, &y, w.as_deref())?;
                    steps += 1;
                    if last {
                        pred += p * batch.len() as f64;
                        rec += r * batch.len() as f64;
                    }
                }
            }
            Ok(())
        })?;
        let report = TrainReport {
            rows: rows.len(),
            target_rows: rows.iter().filter(|r| r.task == 0).count(),
            epochs,
            steps,
            pred_loss: pred / rows.len() as f64,
            rec_loss: rec / rows.len() as f64,
            seconds: start.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "nao: training round {round}: {} rows ({} of the target), {} epochs ({} steps, {} \
             row passes) in {:.2} s; prediction loss {:.4}, reconstruction loss {:.4}",
            report.rows,
            report.target_rows,
            report.epochs,
            report.steps,
            report.rows * report.epochs,
            report.seconds,
            report.pred_loss,
            report.rec_loss
        );
        self.last_train = Some(report);
        Ok(())
    }

    /// One step on a batch (NAO_V1/train_search.py `nao_train`): features → head → α·MSE(σ(logit), y) → head.backward → its
    /// feature gradient joins (1 − α)·reconstruction in one backward pass → clip → Adam + head step.
    /// `weights` (one per row) turn the MSE into the mean of weighted squared errors.
    /// Returns the batch's prediction MSE and reconstruction NLL.
    pub(super) fn step(
        &mut self,
        tokens: &[Vec<i64>],
        tasks: &[u32],
        y: &[f32],
        weights: Option<&[f32]>,
    ) -> PluginResult<(f64, f64)> {
        let device = self.device();
        let alpha = self.params.alpha;
        let x = self.model.tokens(tokens)?;
        let shifted: Vec<Vec<i64>> = tokens.iter().map(|t| self.view.shift_right(t)).collect();
        let decoder_input = self.model.tokens(&shifted)?;
        let enc = self.model.encode(&x, true)?;
        let features = to_matrix(&enc.emb)?;
        let logits = self.head.forward(&features, tasks, true)?;
        check_shape(&logits, Some(tokens.len()), Some(1), HEAD_OUTPUT)?;
        let what = "nao training step";
        let logits_t = to_tensor(&logits, device)?
            .f_set_requires_grad(true)
            .context(what)?;
        let y_t = Tensor::f_from_slice(y)
            .and_then(|t| t.f_reshape([y.len() as i64, 1]))
            .and_then(|t| t.f_to_device(device))
            .context(what)?;
        let mse = match weights {
            None => logits_t
                .f_sigmoid()
                .and_then(|p| p.f_mse_loss(&y_t, Reduction::Mean)),
            Some(w) => Tensor::f_from_slice(w)
                .and_then(|t| t.f_reshape([w.len() as i64, 1]))
                .and_then(|t| t.f_to_device(device))
                .and_then(|w_t| {
                    logits_t
                        .f_sigmoid()?
                        .f_sub(&y_t)?
                        .f_square()?
                        .f_mul(&w_t)?
                        .f_mean(Kind::Float)
                }),
        }
        .context(what)?;
        mse.f_mul_scalar(alpha)
            .and_then(|l| l.f_backward())
            .context(what)?;
        let grad_logits = to_matrix(&logits_t.grad())?;
        let grad_features = self.head.backward(&grad_logits)?;
        let grad_features = to_tensor(&grad_features, device)?;
        let rec = self
            .model
            .reconstruction_loss(&enc, &decoder_input, &x, true)?;
        // Σ emb ⊙ ∂L/∂emb has gradient ∂L/∂emb: it carries the head's share into the encoder.
        rec.f_mul_scalar(1.0 - alpha)
            .and_then(|r| r.f_add(&enc.emb.f_mul(&grad_features)?.f_sum(Kind::Float)?))
            .and_then(|total| total.f_backward())
            .context(what)?;
        self.model.clip_gradients(self.params.grad_clip)?;
        self.adam.step()?;
        self.head.step()?;
        let mse = mse.f_double_value(&[]).context(what)?;
        let rec = rec.f_double_value(&[]).context(what)?;
        Ok((mse, rec))
    }

    /// The encoder's outputs for `genomes` (eval mode, no graph).
    pub(super) fn encode_eval(&self, genomes: &[Vec<u32>]) -> PluginResult<Encoded> {
        let tokens = genomes
            .iter()
            .map(|g| self.view.encode(g))
            .collect::<PluginResult<Vec<_>>>()?;
        let x = self.model.tokens(&tokens)?;
        xnas_tch::tch::no_grad(|| self.model.encode(&x, false))
    }

    /// The model's predictions for the target (σ of the head's logit; eval mode).
    pub fn predict(&mut self, genomes: &[Vec<u32>]) -> PluginResult<Vec<f32>> {
        if genomes.is_empty() {
            return Ok(Vec::new());
        }
        let enc = self.encode_eval(genomes)?;
        let logits = self
            .head
            .forward(&to_matrix(&enc.emb)?, &vec![0; genomes.len()], false)?;
        check_shape(&logits, Some(genomes.len()), Some(1), HEAD_OUTPUT)?;
        Ok(logits.data.iter().map(|&l| sigmoid(l)).collect())
    }

    /// Encodes and greedily decodes genomes (the reconstruction, eval mode).
    pub fn reconstruct(&self, genomes: &[Vec<u32>]) -> PluginResult<Vec<Vec<u32>>> {
        let enc = self.encode_eval(genomes)?;
        self.model
            .decode_greedy(&enc.out, &enc.emb)?
            .iter()
            .map(|t| self.view.decode(t))
            .collect()
    }
}

/// The rows of a training round after the first under `TransferPlan::source_replay = k`: every
/// target row and `k` source rows drawn without replacement (partial Fisher–Yates from `seed`),
/// kept in their data order. All source rows when there are at most `k`.
pub(super) fn replay(rows: Vec<Row>, k: usize, seed: u64) -> Vec<Row> {
    let sources: Vec<usize> = (0..rows.len()).filter(|&i| rows[i].task != 0).collect();
    if sources.len() <= k {
        return rows;
    }
    let mut pool = sources;
    let mut rng = SplitMix64::new(seed);
    for i in 0..k {
        let j = i + rng.below((pool.len() - i) as u32) as usize;
        pool.swap(i, j);
    }
    let mut keep = vec![false; rows.len()];
    for &i in &pool[..k] {
        keep[i] = true;
    }
    rows.into_iter()
        .enumerate()
        .filter(|(i, r)| r.task == 0 || keep[*i])
        .map(|(_, r)| r)
        .collect()
}

pub(super) fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Loss weights `(target row, source row)` that give the target's rows `share` of the prediction
/// loss (`TransferPlan::target_share`), at a mean weight of 1 over all rows so the loss keeps its
/// scale; both 1 while the rows are all of one kind. `None` when `share` is 0: the unweighted
/// MSE, bit for bit what NAO computes without a plan.
pub(super) fn task_weights(rows: &[Row], share: f64) -> Option<(f32, f32)> {
    if share <= 0.0 {
        return None;
    }
    let n = rows.len() as f64;
    let target = rows.iter().filter(|r| r.task == 0).count() as f64;
    let sources = n - target;
    Some(if target > 0.0 && sources > 0.0 {
        (
            (share * n / target) as f32,
            ((1.0 - share) * n / sources) as f32,
        )
    } else {
        (1.0, 1.0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rows(tasks: &[u32]) -> Vec<Row> {
        tasks
            .iter()
            .map(|&task| Row {
                task,
                y: 0.5,
                choices: vec![vec![1]],
            })
            .collect()
    }

    #[test]
    fn replay_keeps_every_target_row_and_k_distinct_source_rows() {
        let tasks: Vec<u32> = (0..50)
            .map(|i| if i % 10 == 0 { 0 } else { 1 + i % 3 })
            .collect();
        let mut r = rows(&tasks);
        for (i, row) in r.iter_mut().enumerate() {
            row.y = i as f32;
        }
        let kept = replay(r.clone(), 7, 42);
        assert_eq!(kept.iter().filter(|r| r.task == 0).count(), 5);
        assert_eq!(kept.iter().filter(|r| r.task != 0).count(), 7);
        // Data order, no repeats; a function of the seed; another seed, another draw.
        assert!(kept.windows(2).all(|w| w[0].y < w[1].y));
        let ys = |v: &[Row]| v.iter().map(|r| r.y).collect::<Vec<_>>();
        assert_eq!(ys(&replay(r.clone(), 7, 42)), ys(&kept));
        assert_ne!(ys(&replay(r.clone(), 7, 43)), ys(&kept));
        // Fewer source rows than k: all rows.
        assert_eq!(replay(r.clone(), 45, 1).len(), 50);
        assert_eq!(replay(r, 0, 1).len(), 5);
    }

    #[test]
    fn task_weights_give_the_target_its_share_at_mean_weight_one() {
        // 2 target rows among 10: with share 0.5 they carry half the loss.
        let r = rows(&[0, 0, 1, 1, 1, 2, 2, 2, 3, 3]);
        let (t, s) = task_weights(&r, 0.5).unwrap();
        assert_eq!((t, s), (2.5, 0.625));
        assert!((2.0 * t / (2.0 * t + 8.0 * s) - 0.5).abs() < 1e-6);
        assert!(((2.0 * t + 8.0 * s) / 10.0 - 1.0).abs() < 1e-6);
        // Share 0: unweighted; rows of one kind only: every weight 1.
        assert_eq!(task_weights(&r, 0.0), None);
        assert_eq!(task_weights(&rows(&[0, 0, 0]), 0.5), Some((1.0, 1.0)));
        assert_eq!(task_weights(&rows(&[1, 2]), 0.5), Some((1.0, 1.0)));
    }
}
