//! The controller network (NASNet, Zoph et al. 2018; melodyguan/enas micro_controller.py;
//! generalised through [`TokenView`]) and its updates.
//!
//! One decision per position of the space. At step t the LSTM cell reads the embedding of the
//! previous decision's token (the SOS row of the one embedding table is the learned "go" input),
//! and the head of the position's group turns the hidden state into logits over the group's token
//! width. Only the position's own choices (`TokenView::allowed`) take part in the softmax: the
//! logits are narrowed to them, which is the −∞ mask without the NaN it puts into the entropy.
//! Logits are shaped `C·tanh(ℓ/T)` in sampling and re-scoring alike (ENAS-pytorch
//! `softmax_temperature`, `tanh_c`; PPO's ratios need the same distribution).
//!
//! The heads are not owned: they come from a head factory and cross as `Matrix` batches. A
//! training step therefore has two backward passes. The loss is built on leaf copies of the
//! heads' outputs; its backward gives the logit gradients, which go to `head.backward`; the
//! feature gradients that come back are pushed through the LSTM with one backward over
//! `Σ_t ⟨h_t, g_t⟩`.

mod state;
mod train;

use crate::params::{Ratio, RlParams};
use xnas_core::{
    Head, HeadBox, HeadFactory, HeadFactoryBox, HeadSpec, Matrix, PluginError, PluginResult,
    SpaceDesc, SplitMix64,
};
use xnas_tch::adam::{Adam, AdamConfig};
use xnas_tch::matrix::{check_shape, to_matrix, to_tensor};
use xnas_tch::seed::component_seed;
use xnas_tch::snapshot;
use xnas_tch::tch::{self, nn, Device, Kind, Tensor};
use xnas_tch::tokens::SOS;
use xnas_tch::{TchContext, TokenView};

/// U(−a, a) initialisation of every controller parameter (carpedm20/ENAS-pytorch
/// `reset_parameters`).
const INIT_RANGE: f64 = 0.1;

/// Where a position's logits come from.
#[derive(Clone, Debug)]
struct Slot {
    /// Index into `Policy::heads`.
    head: usize,
    /// The position's choices are the head's output columns `column..column + choices`.
    column: i64,
    choices: i64,
    /// Token of choice 0 (the embedding row of the decision).
    token: i64,
}

struct HeadSlot {
    name: String,
    head: HeadBox,
    /// Positions served by this head, in sequence order.
    positions: Vec<usize>,
}

/// One sequence sampled from the policy.
#[derive(Clone, Debug, PartialEq)]
pub struct Sampled {
    pub genome: Vec<u32>,
    /// log π of each decision when it was sampled (detached numbers: PPO's old
    /// probabilities must not carry gradient).
    pub logp: Vec<f32>,
}

/// One sequence in a training step.
#[derive(Clone, Debug)]
pub struct Row {
    pub genome: Vec<u32>,
    /// Row index into the heads' task list.
    pub task: u32,
    pub advantage: f64,
    /// This row's share of the loss (1/M for a batch of M).
    pub weight: f64,
    /// Per-decision log π when the sequence was sampled: `Some` = PPO's clipped surrogate,
    /// `None` = the REINFORCE term `A·log π` (plain REINFORCE and replayed source observations).
    pub old_logp: Option<Vec<f32>>,
}

impl Row {
    /// A row learnt through the REINFORCE term `A·log π` (no PPO ratio): replayed source
    /// observations, and the maximum-likelihood rows of imitation (advantage 1).
    pub fn reinforce(genome: Vec<u32>, task: u32, advantage: f64, weight: f64) -> Row {
        Row {
            genome,
            task,
            advantage,
            weight,
            old_logp: None,
        }
    }
}

/// What one training step measured (for logs and tests).
#[derive(Clone, Debug, PartialEq)]
pub struct StepStats {
    pub loss: f64,
    /// Largest `|ρ − 1|` over the clipped rows (joint ratio; 0 when there are none).
    pub max_ratio_deviation: f64,
    /// Mean over rows of the sequence entropy Σ_t H_t.
    pub entropy: f64,
    /// Global norm of the controller's own gradient, before clipping.
    pub grad_norm: f64,
}

/// The forward pass of a training step.
struct Pass {
    /// Per position: hidden state `[N, H]`, part of the LSTM graph.
    hidden: Vec<Tensor>,
    /// Per head: leaf copy of its outputs `[n_positions·N, width]`, requiring grad.
    leaves: Vec<Tensor>,
    /// `[T, N]` log π of each decision, and the entropy of each decision's distribution.
    logp: Tensor,
    entropy: Tensor,
}

/// The LSTM controller with its heads and its own Adam.
pub struct Policy {
    device: Device,
    view: TokenView,
    hidden: i64,
    temperature: f64,
    tanh_constant: f64,
    clip_epsilon: f64,
    ratio: Ratio,
    grad_clip: f64,
    entropy_weight: f64,
    vs: nn::VarStore,
    embedding: Tensor,
    w_ih: Tensor,
    w_hh: Tensor,
    b_ih: Tensor,
    b_hh: Tensor,
    adam: Adam,
    slots: Vec<Slot>,
    heads: Vec<HeadSlot>,
    /// Output width of each head (its group's token range).
    widths: Vec<usize>,
}

impl Policy {
    /// Builds the controller for `desc`; heads come from `factory`, one per position group, each
    /// told the task list `tasks` (target first). Parameters are drawn from `seed` alone.
    pub fn new(
        desc: &SpaceDesc,
        params: &RlParams,
        factory: &HeadFactoryBox,
        tasks: &[String],
        seed: u64,
    ) -> PluginResult<Self> {
        xnas_tch::init();
        let view = TokenView::new(desc)?;
        if view.is_empty() {
            return Err(PluginError::data(
                "rl-controller: the search space has no positions to decide",
            ));
        }
        // Group the positions by token range: a named group shares one head, an unnamed one is
        // its own (as TokenView does).
        let mut heads: Vec<(String, std::ops::Range<i64>, Vec<usize>)> = Vec::new();
        let mut slots = Vec::with_capacity(view.len());
        for (p, pos) in desc.positions.iter().enumerate() {
            let allowed = view.allowed(p);
            let (name, range) = if pos.group.is_empty() {
                (format!("logits.position.{}", pos.name), allowed.clone())
            } else {
                let range = view.group_range(pos.group.as_str()).ok_or_else(|| {
                    PluginError::data(format!("token view lost group `{}`", pos.group))
                })?;
                (format!("logits.{}", pos.group), range)
            };
            let head = match heads.iter().position(|(n, r, _)| *n == name && *r == range) {
                Some(h) => h,
                None => {
                    heads.push((name, range.clone(), Vec::new()));
                    heads.len() - 1
                }
            };
            heads[head].2.push(p);
            slots.push(Slot {
                head,
                column: allowed.start - range.start,
                choices: allowed.end - allowed.start,
                token: allowed.start,
            });
        }

        let hidden = params.hidden as i64;
        let device = params.device;
        let vs = nn::VarStore::new(device);
        let mut rng = SplitMix64::new(component_seed(seed, "controller"));
        let root = vs.root();
        let lstm = root.sub("lstm");
        // Names are single path components: tch panics on a '.' inside one.
        let mut init = |path: &nn::Path, name: &str, dims: &[i64]| -> PluginResult<Tensor> {
            let n: i64 = dims.iter().product();
            let values: Vec<f32> = (0..n)
                .map(|_| ((rng.next_f64() * 2.0 - 1.0) * INIT_RANGE) as f32)
                .collect();
            Tensor::f_from_slice(&values)
                .and_then(|t| t.f_reshape(dims))
                .and_then(|t| path.f_var_copy(name, &t))
                .context("rl-controller: creating parameters")
        };
        let vocab = view.vocab_size() as i64;
        let embedding = init(&root, "embedding", &[vocab, hidden])?;
        let w_ih = init(&lstm, "w_ih", &[4 * hidden, hidden])?;
        let w_hh = init(&lstm, "w_hh", &[4 * hidden, hidden])?;
        let b_ih = init(&lstm, "b_ih", &[4 * hidden])?;
        let b_hh = init(&lstm, "b_hh", &[4 * hidden])?;
        let adam = Adam::new(
            &vs,
            AdamConfig {
                lr: params.lr,
                weight_decay: 0.0,
                ..AdamConfig::default()
            },
        )?;

        let widths = heads
            .iter()
            .map(|(_, r, _)| (r.end - r.start) as usize)
            .collect();
        let tasks: Vec<_> = tasks.iter().map(|t| t.as_str().into()).collect();
        let heads = heads
            .into_iter()
            .map(|(name, range, positions)| {
                let spec = HeadSpec {
                    name: name.as_str().into(),
                    in_features: params.hidden as u32,
                    out_features: (range.end - range.start) as u32,
                    hidden: params.head_hidden.clone().into(),
                    tasks: tasks.iter().cloned().collect(),
                    seed: component_seed(seed, &name),
                };
                let head = factory.make_head(&spec)?;
                Ok(HeadSlot {
                    name,
                    head,
                    positions,
                })
            })
            .collect::<PluginResult<Vec<_>>>()?;

        Ok(Policy {
            device,
            view,
            hidden,
            temperature: params.temperature,
            tanh_constant: params.tanh_constant,
            clip_epsilon: params.clip_epsilon,
            ratio: params.ratio,
            grad_clip: params.grad_clip,
            entropy_weight: params.entropy_weight,
            vs,
            embedding,
            w_ih,
            w_hh,
            b_ih,
            b_hh,
            adam,
            slots,
            heads,
            widths,
        })
    }

    /// Number of decisions per architecture.
    pub fn len(&self) -> usize {
        self.slots.len()
    }

    pub fn is_empty(&self) -> bool {
        self.slots.is_empty()
    }

    /// The heads' names, one per position group (`logits.op`, ...).
    pub fn head_names(&self) -> Vec<&str> {
        self.heads.iter().map(|h| h.name.as_str()).collect()
    }

    /// The choice counts of the positions, as the policy sees them.
    pub fn choices(&self) -> Vec<u32> {
        self.slots.iter().map(|s| s.choices as u32).collect()
    }

    /// Whether `genome` is a sequence of this policy's decisions (length and ranges).
    pub fn encodable(&self, genome: &[u32]) -> bool {
        self.view.encode(genome).is_ok()
    }

    fn tokens_of(&self, genome: &[u32]) -> PluginResult<Vec<i64>> {
        self.view.encode(genome)
    }

    fn zeros(&self, rows: i64) -> PluginResult<Tensor> {
        Tensor::f_zeros([rows, self.hidden], (Kind::Float, self.device)).context("rl-controller")
    }

    fn embed(&self, tokens: &[i64]) -> PluginResult<Tensor> {
        let index = Tensor::f_from_slice(tokens)
            .and_then(|t| t.f_to_device(self.device))
            .context("rl-controller: token indices")?;
        Tensor::f_embedding(&self.embedding, &index, -1, false, false)
            .context("rl-controller: embedding")
    }

    fn cell(&self, x: &Tensor, h: &Tensor, c: &Tensor) -> PluginResult<(Tensor, Tensor)> {
        x.f_lstm_cell(
            &[h, c],
            &self.w_ih,
            &self.w_hh,
            Some(&self.b_ih),
            Some(&self.b_hh),
        )
        .context("rl-controller: lstm cell")
    }

    /// A head's output must be `rows × width` (a head from another plugin could get it wrong).
    fn check_output(&self, head: usize, out: &Matrix, rows: usize) -> PluginResult<()> {
        check_shape(
            out,
            Some(rows),
            Some(self.widths[head]),
            &format!("rl-controller: output of head `{}`", self.heads[head].name),
        )
    }

    /// `C·tanh(ℓ/T)` of a position's logits, narrowed to its own choices; returns log-softmax.
    fn log_probs(&self, logits: &Tensor, slot: &Slot) -> PluginResult<Tensor> {
        let mut l = logits
            .f_narrow(1, slot.column, slot.choices)
            .and_then(|l| l.f_div_scalar(self.temperature))
            .context("rl-controller: logits")?;
        if self.tanh_constant > 0.0 {
            l = l
                .f_tanh()
                .and_then(|l| l.f_mul_scalar(self.tanh_constant))
                .context("rl-controller: logits")?;
        }
        l.f_log_softmax(1, Kind::Float)
            .context("rl-controller: log-softmax")
    }

    /// Samples `n` sequences for task row `task`, drawing each decision with `rng` from the
    /// softmax probabilities torch computes.
    pub fn sample(
        &mut self,
        n: usize,
        task: u32,
        rng: &mut SplitMix64,
    ) -> PluginResult<Vec<Sampled>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let rows = n as i64;
        let tasks = vec![task; n];
        let mut out: Vec<Sampled> = (0..n)
            .map(|_| Sampled {
                genome: Vec::with_capacity(self.len()),
                logp: Vec::with_capacity(self.len()),
            })
            .collect();
        let (mut h, mut c) = (self.zeros(rows)?, self.zeros(rows)?);
        let mut x = self.embed(&vec![SOS; n])?;
        for t in 0..self.len() {
            (h, c) = self.cell(&x, &h, &c)?;
            let slot = self.slots[t].clone();
            let features = to_matrix(&h)?;
            let logits = self.heads[slot.head]
                .head
                .forward(&features, &tasks, false)?;
            self.check_output(slot.head, &logits, n)?;
            let logits = to_tensor(&logits, self.device)?;
            let logp = self.log_probs(&logits, &slot)?;
            let logp = values(&logp)?;
            let k = slot.choices as usize;
            let mut tokens = Vec::with_capacity(n);
            for (i, s) in out.iter_mut().enumerate() {
                let row = &logp[i * k..(i + 1) * k];
                let choice = draw(row, rng);
                s.genome.push(choice as u32);
                s.logp.push(row[choice]);
                tokens.push(slot.token + choice as i64);
            }
            x = self.embed(&tokens)?;
        }
        Ok(out)
    }

    /// Teacher-forced pass over `rows` (genomes and task rows), heads in training mode.
    fn forward(&mut self, genomes: &[&[u32]], tasks: &[u32], train: bool) -> PluginResult<Pass> {
        let n = genomes.len();
        let rows = n as i64;
        let tokens: Vec<Vec<i64>> = genomes
            .iter()
            .map(|g| self.tokens_of(g))
            .collect::<PluginResult<_>>()?;
        let (mut h, mut c) = (self.zeros(rows)?, self.zeros(rows)?);
        let mut x = self.embed(&vec![SOS; n])?;
        let mut hidden = Vec::with_capacity(self.len());
        for t in 0..self.len() {
            (h, c) = self.cell(&x, &h, &c)?;
            hidden.push(h.shallow_clone());
            if t + 1 < self.len() {
                let step: Vec<i64> = tokens.iter().map(|s| s[t]).collect();
                x = self.embed(&step)?;
            }
        }

        let mut leaves = Vec::with_capacity(self.heads.len());
        let mut logp_t: Vec<Option<Tensor>> = (0..self.len()).map(|_| None).collect();
        let mut entropy_t: Vec<Option<Tensor>> = (0..self.len()).map(|_| None).collect();
        for hi in 0..self.heads.len() {
            let positions = self.heads[hi].positions.clone();
            let features = Tensor::f_cat(
                &positions.iter().map(|&p| &hidden[p]).collect::<Vec<_>>(),
                0,
            )
            .context("rl-controller: head features")?;
            let row_tasks: Vec<u32> = positions
                .iter()
                .flat_map(|_| tasks.iter().copied())
                .collect();
            let out = self.heads[hi]
                .head
                .forward(&to_matrix(&features)?, &row_tasks, train)?;
            self.check_output(hi, &out, row_tasks.len())?;
            let leaf = to_tensor(&out, self.device)?
                .f_set_requires_grad(true)
                .context("rl-controller: head outputs")?;
            for (j, &p) in positions.iter().enumerate() {
                let slot = self.slots[p].clone();
                let logits = leaf
                    .f_narrow(0, j as i64 * rows, rows)
                    .context("rl-controller: head outputs")?;
                let lsm = self.log_probs(&logits, &slot)?;
                let index = Tensor::f_from_slice(
                    &tokens
                        .iter()
                        .map(|s| s[p] - slot.token)
                        .collect::<Vec<i64>>(),
                )
                .and_then(|i| i.f_to_device(self.device))
                .and_then(|i| i.f_unsqueeze(1))
                .context("rl-controller: decisions")?;
                let chosen = lsm
                    .f_gather(1, &index, false)
                    .and_then(|t| t.f_squeeze_dim(1))
                    .context("rl-controller: log-probabilities")?;
                let entropy = lsm
                    .f_exp()
                    .and_then(|p| p.f_mul(&lsm))
                    .and_then(|t| t.f_sum_dim_intlist([1i64].as_slice(), false, Kind::Float))
                    .and_then(|t| t.f_neg())
                    .context("rl-controller: entropy")?;
                logp_t[p] = Some(chosen);
                entropy_t[p] = Some(entropy);
            }
            leaves.push(leaf);
        }
        let stack = |v: Vec<Option<Tensor>>| -> PluginResult<Tensor> {
            let v: Vec<Tensor> = v.into_iter().flatten().collect();
            Tensor::f_stack(&v, 0).context("rl-controller: per-decision terms")
        };
        Ok(Pass {
            hidden,
            leaves,
            logp: stack(logp_t)?,
            entropy: stack(entropy_t)?,
        })
    }

    /// Per-decision log π of each genome for its task row under the current policy (no update;
    /// heads in evaluation mode). Row `i` has `len()` entries.
    pub fn score(&mut self, genomes: &[&[u32]], tasks: &[u32]) -> PluginResult<Vec<Vec<f32>>> {
        if genomes.is_empty() {
            return Ok(Vec::new());
        }
        let _guard = tch::no_grad_guard();
        let pass = self.forward(genomes, tasks, false)?;
        // [T, N] → rows of N.
        let logp = pass
            .logp
            .f_transpose(0, 1)
            .context("rl-controller: scores")?;
        let flat = values(&logp)?;
        let t = self.len();
        Ok(flat.chunks(t).map(<[f32]>::to_vec).collect())
    }
}

/// The values of a tensor as f32, row-major.
fn values(t: &Tensor) -> PluginResult<Vec<f32>> {
    let flat = t
        .f_detach()
        .and_then(|t| t.f_to_device(Device::Cpu))
        .and_then(|t| t.f_to_kind(Kind::Float))
        .and_then(|t| t.f_contiguous())
        .context("rl-controller: reading values")?;
    let n = flat.numel();
    let mut out = vec![0f32; n];
    flat.f_copy_data(&mut out, n)
        .context("rl-controller: reading values")?;
    Ok(out)
}

/// Draws an index from one row of log-probabilities with `rng` (inverse CDF in f64; the row is
/// renormalised, so rounding in the softmax never biases the last choice).
fn draw(logp: &[f32], rng: &mut SplitMix64) -> usize {
    let p: Vec<f64> = logp.iter().map(|&l| f64::from(l).exp()).collect();
    let total: f64 = p.iter().sum();
    let u = rng.next_f64() * total;
    let mut acc = 0.0;
    for (i, &pi) in p.iter().enumerate() {
        acc += pi;
        if u < acc {
            return i;
        }
    }
    // u ≥ the rounded total: the last choice with any mass.
    p.iter().rposition(|&pi| pi > 0.0).unwrap_or(p.len() - 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn draw_follows_the_probabilities_and_skips_zero_mass() {
        let logp = [0.5f32.ln(), f32::NEG_INFINITY, 0.25f32.ln(), 0.25f32.ln()];
        let mut rng = SplitMix64::new(3);
        let mut counts = [0usize; 4];
        for _ in 0..8000 {
            counts[draw(&logp, &mut rng)] += 1;
        }
        assert_eq!(counts[1], 0);
        assert!((3700..4300).contains(&counts[0]), "{counts:?}");
        assert!((1700..2300).contains(&counts[2]), "{counts:?}");
    }
}
