//! The `nao` optimizer: data bookkeeping, training rounds, gradient ascent, ask/tell and state.

use crate::model::{pool, Encoded, Model, ModelConfig};
use crate::params::NaoParams;
use crate::state;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeSet, HashMap};
use std::time::Instant;
use xnas_core::abi_stable::std_types::{RNone, RSome, RVec};
use xnas_core::{
    derive_seed, head_factory_box, Head, HeadBox, HeadFactory, HeadFactoryBox, HeadSpec,
    Observation, Optimizer, OptimizerInit, PluginError, PluginResult, Proposal, SearchSpace,
    SpaceBox, SplitMix64, TransferPlan, TrialStatus,
};
use xnas_tch::adam::{Adam, AdamConfig};
use xnas_tch::matrix::{check_shape, to_matrix, to_tensor};
use xnas_tch::seed::{component_seed, with_torch_seed};
use xnas_tch::snapshot;
use xnas_tch::tch::{Device, Kind, Reduction, Tensor};
use xnas_tch::{HeadConfig, PlainHeadFactory, TchContext, ThreadLimit, TokenView};

/// Parents of `mutated_candidates`: the best this many target architectures, each mutated in
/// turn (BANANAS's acquisition optimiser mutates the best 10).
const MUTATION_PARENTS: usize = 10;

/// Random draws `ask` may spend per call looking for unseen architectures before it gives up
/// (a nearly exhausted space): it then proposes fewer, and the host stops when it gets none.
const RANDOM_TRIES: usize = 2000;

/// Names the head's output in shape errors (a head must return one logit per row).
const HEAD_OUTPUT: &str = "nao: the predictor head's output";

/// One observation the model trains on.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
struct Obs {
    /// Index into `tasks` (0 = the target).
    task: u32,
    /// Canonical genome where the space accepts it, else as told.
    genome: Vec<u32>,
    /// Canonical text (what "seen" compares), or the raw genome for one the space refuses.
    key: String,
    /// `None` for a failed trial.
    metric: Option<f64>,
}

/// One training row of a round.
struct Row {
    task: u32,
    y: f32,
    /// Token sequences of the genome and its symmetric variants (the first is the genome).
    choices: Vec<Vec<i64>>,
}

/// What the last training round did.
#[derive(Clone, Debug, PartialEq)]
pub struct TrainReport {
    pub rows: usize,
    pub epochs: usize,
    pub steps: usize,
    /// Mean losses over the last epoch.
    pub pred_loss: f64,
    pub rec_loss: f64,
    pub seconds: f64,
}

/// What the last `ask` after the random phase did.
#[derive(Clone, Debug, PartialEq)]
pub struct AskReport {
    /// Start points of the gradient ascent, and whether they were source architectures.
    pub starts: usize,
    pub from_sources: bool,
    /// New architectures the ascent gathered (more than it proposes when `candidates` asks for
    /// more and the start points are the target's), the random unseen ones that joined them
    /// (`sampled_candidates`), the mutations of the best target architectures that joined them
    /// (`mutated_candidates`; both from the target's start points only), the proposals chosen
    /// among all of them, and the largest step size tried.
    pub gathered: usize,
    pub sampled: usize,
    pub mutated: usize,
    pub ascended: usize,
    pub max_eta: f64,
    /// Proposals filled in with random samples because the ascent found too few.
    pub random_fill: usize,
}

/// The bookkeeping part of a saved state (the tensors and the head travel beside it).
#[derive(Serialize, Deserialize)]
struct Saved {
    vocab: usize,
    len: usize,
    hidden: usize,
    tasks: Vec<String>,
    data: Vec<Obs>,
    seen: Vec<String>,
    draws: u64,
    rounds: u64,
    data_version: u64,
    trained_version: Option<u64>,
}

/// The `nao` optimizer (see the crate docs).
pub struct Nao {
    params: NaoParams,
    space: SpaceBox,
    view: TokenView,
    seed: u64,
    /// `[target, sources…]`: the head's task ids; rows carry indices into it.
    tasks: Vec<String>,
    /// The head factory is a transfer plugin's: train on every task's history.
    decorated: bool,
    plan: TransferPlan,
    model: Model,
    adam: Adam,
    head: HeadBox,
    data: Vec<Obs>,
    /// Keys of target architectures evaluated or proposed (pending ones included).
    seen: BTreeSet<String>,
    /// Token sequences of each genome and its symmetric variants, by key (only looked up).
    variants: HashMap<String, Vec<Vec<i64>>>,
    /// Random samples drawn so far: the tag of the next sample's seed.
    draws: u64,
    /// Training rounds so far: the tag of each round's shuffling and dropout seeds.
    rounds: u64,
    /// Bumped by every recorded observation; training runs when it moved since the last round.
    data_version: u64,
    trained_version: Option<u64>,
    last_train: Option<TrainReport>,
    last_ask: Option<AskReport>,
}

impl Nao {
    pub fn new(params: NaoParams, init: &OptimizerInit) -> PluginResult<Self> {
        let device = xnas_tch::device::parse("device", &params.device)?;
        let space = init.space.clone();
        let view = TokenView::new(&space.describe()?)?;
        let seed = init.seed;
        let mut tasks = vec![init.target.to_string()];
        for s in init.sources.iter() {
            if !tasks.iter().any(|t| t == s.as_str()) {
                tasks.push(s.to_string());
            }
        }
        // Without a transfer plugin the host passes no factory: the plain one is built here.
        let factory: HeadFactoryBox = match &init.heads {
            RSome(f) => f.clone(),
            RNone => head_factory_box(PlainHeadFactory::new(
                HeadConfig {
                    lr: params.head.lr,
                    weight_decay: params.head.weight_decay,
                    dropout: params.head.dropout,
                    zero_last_layer: false,
                },
                device,
            )),
        };
        let decorated = factory.uses_all_tasks();
        let mut plan = factory.plan();
        if let Some(how) = params.normalise {
            plan.normalise = how;
        }
        let model = Model::new(
            ModelConfig {
                hidden: params.hidden,
                emb: params.emb,
                fold: params.fold,
                encoder_dropout: params.encoder_dropout,
                decoder_dropout: params.decoder_dropout,
                init_range: params.init_range,
            },
            &view,
            device,
            component_seed(seed, "model"),
        )?;
        let adam = Adam::new(
            &model.vs,
            AdamConfig {
                lr: params.lr,
                weight_decay: params.weight_decay,
                ..AdamConfig::default()
            },
        )?;
        let head = factory.make_head(&HeadSpec {
            name: "predictor".into(),
            in_features: params.hidden as u32,
            out_features: 1,
            hidden: params.head.hidden.iter().copied().collect::<RVec<u32>>(),
            tasks: tasks.iter().map(|t| t.as_str().into()).collect(),
            seed: component_seed(seed, "head.predictor"),
        })?;
        tracing::info!(
            "nao: {} positions, vocabulary {}, hidden {}, device {}, heads: {}{}",
            view.len(),
            view.vocab_size(),
            params.hidden,
            xnas_tch::device::name(device),
            factory.describe(),
            if decorated {
                format!(
                    " (trains on all {} tasks; phase switch {}, {} normalisation, target share \
                     of the prediction loss {})",
                    tasks.len(),
                    plan.phase_switch,
                    plan.normalise.name(),
                    if plan.target_share > 0.0 {
                        plan.target_share.to_string()
                    } else {
                        "as its rows".to_string()
                    }
                )
            } else {
                String::new()
            }
        );
        let mut nao = Nao {
            params,
            space,
            view,
            seed,
            tasks,
            decorated,
            plan,
            model,
            adam,
            head,
            data: Vec::new(),
            seen: BTreeSet::new(),
            variants: HashMap::new(),
            draws: 0,
            rounds: 0,
            data_version: 0,
            trained_version: None,
            last_train: None,
            last_ask: None,
        };
        if nao.decorated {
            for o in init.history.iter() {
                nao.record(o);
            }
        }
        Ok(nao)
    }

    /// Whether the model trains on every task's history (a transfer plugin's heads).
    pub fn is_decorated(&self) -> bool {
        self.decorated
    }

    pub fn last_train(&self) -> Option<&TrainReport> {
        self.last_train.as_ref()
    }

    /// What the last `ask` did; `None` when it proposed random samples only (random phase).
    pub fn last_ask(&self) -> Option<&AskReport> {
        self.last_ask.as_ref()
    }

    /// Number of observations of the target (failed ones included).
    pub fn target_observations(&self) -> usize {
        self.data.iter().filter(|o| o.task == 0).count()
    }

    fn device(&self) -> Device {
        self.model.device()
    }

    /// Canonical genome and key of a genome; `None` if the space refuses it.
    fn canonical(&self, genome: &[u32]) -> Option<(Vec<u32>, String)> {
        self.space
            .canonical(genome)
            .ok()
            .map(|a| (a.genome.to_vec(), a.text.to_string()))
    }

    /// Adds an observation to the data (ignored if its task is not one of ours, or not the
    /// target's in plain mode).
    fn record(&mut self, o: &Observation) {
        let Some(task) = self.tasks.iter().position(|t| t == o.task.as_str()) else {
            tracing::debug!("nao: ignoring an observation of unknown task `{}`", o.task);
            return;
        };
        if task != 0 && !self.decorated {
            return;
        }
        let ok = o.status == TrialStatus::OK && o.metric.is_finite();
        let (genome, key, metric) = match self.canonical(&o.genome) {
            Some((g, k)) => (g, k, ok.then_some(o.metric)),
            None => (o.genome.to_vec(), raw_key(&o.genome), None),
        };
        if task == 0 {
            self.seen.insert(key.clone());
        }
        self.data.push(Obs {
            task: task as u32,
            genome,
            key,
            metric,
        });
        self.data_version += 1;
    }

    /// Tokens of a genome and of its symmetric variants (when augmenting), cached by key.
    fn choices(&mut self, obs_index: usize) -> Option<Vec<Vec<i64>>> {
        let o = &self.data[obs_index];
        if let Some(c) = self.variants.get(&o.key) {
            return Some(c.clone());
        }
        let mut choices = vec![self.view.encode(&o.genome).ok()?];
        if self.params.augment {
            for v in self.space.symmetric_variants(&o.genome).unwrap_or_default() {
                if let Ok(t) = self.view.encode(&v) {
                    if !choices.contains(&t) {
                        choices.push(t);
                    }
                }
            }
        }
        self.variants.insert(o.key.clone(), choices.clone());
        Some(choices)
    }

    /// The training rows: every observation the space's token view can encode, its metric
    /// normalised within its task (failed ones get 0).
    fn rows(&mut self) -> Vec<Row> {
        let tasks: Vec<usize> = self.data.iter().map(|o| o.task as usize).collect();
        let metrics: Vec<f64> = self
            .data
            .iter()
            .map(|o| o.metric.unwrap_or(f64::NAN))
            .collect();
        let y = xnas_tch::normalise::per_task(&tasks, &metrics, self.plan.normalise);
        (0..self.data.len())
            .filter_map(|i| {
                let choices = self.choices(i)?;
                Some(Row {
                    task: self.data[i].task,
                    y: y[i],
                    choices,
                })
            })
            .collect()
    }

    /// Trains if observations arrived since the last round: `epochs_first` epochs the first time,
    /// `epochs` after (the model is kept across rounds, as NAO_V1 does). Returns whether it trained.
    /// Runs with the `threads` parameter's thread count, like `ask` and `predict`: a caller of this
    /// public method (a benchmark) gets what a search gets.
    pub fn train_if_needed(&mut self) -> PluginResult<bool> {
        if self.trained_version == Some(self.data_version) {
            return Ok(false);
        }
        let epochs = if self.trained_version.is_none() {
            self.params.epochs_first
        } else {
            self.params.epochs
        };
        let _threads = ThreadLimit::new(self.params.threads);
        self.train(epochs)?;
        self.trained_version = Some(self.data_version);
        Ok(true)
    }

    /// One training round of `epochs` epochs over the current data.
    fn train(&mut self, epochs: usize) -> PluginResult<()> {
        let rows = self.rows();
        if rows.is_empty() {
            return Ok(());
        }
        let round = self.rounds;
        self.rounds += 1;
        let start = Instant::now();
        let mut rng = SplitMix64::new(derive_seed(component_seed(self.seed, "shuffle"), round));
        let torch_seed = derive_seed(component_seed(self.seed, "dropout"), round);
        let batch_size = self.params.batch_size;
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
            epochs,
            steps,
            pred_loss: pred / rows.len() as f64,
            rec_loss: rec / rows.len() as f64,
            seconds: start.elapsed().as_secs_f64(),
        };
        tracing::info!(
            "nao: training round {round}: {} rows, {} epochs ({} steps) in {:.2} s; prediction \
             loss {:.4}, reconstruction loss {:.4}",
            report.rows,
            report.epochs,
            report.steps,
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
    fn step(
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
    fn encode_eval(&self, genomes: &[Vec<u32>]) -> PluginResult<Encoded> {
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

    /// Start points of the gradient ascent: the best source architectures while the transfer
    /// plan's phase 1 lasts (and there are any), else the best target ones. `true` = sources.
    fn start_points(&self) -> (Vec<Vec<u32>>, bool) {
        let k = self.params.top_k;
        let successes = self
            .data
            .iter()
            .filter(|o| o.task == 0 && o.metric.is_some())
            .count();
        if self.decorated && successes < self.plan.phase_switch as usize {
            let idx: Vec<usize> = (0..self.data.len())
                .filter(|&i| self.data[i].task != 0 && self.data[i].metric.is_some())
                .collect();
            let tasks: Vec<usize> = idx.iter().map(|&i| self.data[i].task as usize).collect();
            let metrics: Vec<f64> = idx
                .iter()
                .map(|&i| self.data[i].metric.unwrap_or(f64::NAN))
                .collect();
            let y = xnas_tch::normalise::per_task(&tasks, &metrics, self.plan.normalise);
            let ranked: Vec<(usize, f64)> = idx
                .iter()
                .zip(&y)
                .map(|(&i, &v)| (i, f64::from(v)))
                .collect();
            let starts = self.best(ranked, k);
            if !starts.is_empty() {
                return (starts, true);
            }
        }
        let ranked: Vec<(usize, f64)> = (0..self.data.len())
            .filter_map(|i| {
                let o = &self.data[i];
                (o.task == 0).then_some(())?;
                o.metric.map(|m| (i, m))
            })
            .collect();
        (self.best(ranked, k), false)
    }

    /// The genomes of the `k` best (index, value) pairs, distinct by key; ties keep data order.
    fn best(&self, mut ranked: Vec<(usize, f64)>, k: usize) -> Vec<Vec<u32>> {
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut keys = BTreeSet::new();
        ranked
            .into_iter()
            .filter(|&(i, _)| keys.insert(self.data[i].key.clone()))
            .take(k)
            .map(|(i, _)| self.data[i].genome.clone())
            .collect()
    }

    /// Gradient ascent in code space (NAO_V1/controller.py `generate_new_arch`) from `starts`: up to `n` new architectures, valid,
    /// unseen and distinct. Returns them with the largest step size tried.
    pub fn ascend(
        &mut self,
        starts: &[Vec<u32>],
        n: usize,
        taken: &mut BTreeSet<String>,
    ) -> PluginResult<(Vec<Vec<u32>>, f64)> {
        let what = "nao gradient ascent";
        let enc = self.encode_eval(starts)?;
        // A leaf copy of the encoder outputs: its gradient is g = ∂Σσ(f)/∂enc_out.
        let memory = enc
            .out
            .f_detach()
            .and_then(|t| t.f_set_requires_grad(true))
            .context(what)?;
        let emb = pool(&memory).context(what)?;
        // The head's backward also accumulates gradients into its own parameters; those are
        // not a training signal, so the head is put back exactly as it was afterwards.
        let head_state = self.head.save_state()?;
        let logits = self
            .head
            .forward(&to_matrix(&emb)?, &vec![0; starts.len()], false)?;
        check_shape(&logits, Some(starts.len()), Some(1), HEAD_OUTPUT)?;
        let dsigma: Vec<f32> = logits
            .data
            .iter()
            .map(|&l| {
                let s = sigmoid(l);
                s * (1.0 - s)
            })
            .collect();
        let grad_features = self
            .head
            .backward(&xnas_core::Matrix::new(starts.len(), 1, dsigma))?;
        self.head.load_state(&head_state)?;
        let grad_features = to_tensor(&grad_features, self.device())?;
        emb.f_mul(&grad_features)
            .and_then(|t| t.f_sum(Kind::Float))
            .and_then(|t| t.f_backward())
            .context(what)?;
        let g = memory.grad();
        let memory = memory.f_detach().context(what)?;
        let mut out = Vec::new();
        let mut eta = self.params.step_start;
        let mut max_eta = eta;
        while eta <= self.params.max_step && out.len() < n {
            max_eta = eta;
            let (moved, moved_emb) = xnas_tch::tch::no_grad(|| {
                let moved = crate::model::normalise(&memory.f_add(&g.f_mul_scalar(eta)?)?)?;
                let e = pool(&moved)?;
                Ok::<_, xnas_tch::tch::TchError>((moved, e))
            })
            .context(what)?;
            for decoded in self.model.decode_greedy(&moved, &moved_emb)? {
                let genome = self.view.decode(&decoded)?;
                let Some((genome, key)) = self.canonical(&genome) else {
                    continue;
                };
                if self.seen.contains(&key) || !taken.insert(key) {
                    continue;
                }
                out.push(genome);
                if out.len() == n {
                    break;
                }
            }
            eta += 1.0;
        }
        Ok((out, max_eta))
    }

    /// Up to `n` architectures from `draw(space, seed, i)` (the i-th draw of this call) that are
    /// valid, not seen and not in `taken`, giving up after `RANDOM_TRIES` misses. Every draw
    /// takes the next of `draws`' seeds under `component`, so a resumed search draws the same.
    fn unseen(
        &mut self,
        n: usize,
        taken: &mut BTreeSet<String>,
        component: &str,
        mut draw: impl FnMut(&SpaceBox, u64, usize) -> PluginResult<Option<Vec<u32>>>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let base = component_seed(self.seed, component);
        let mut out = Vec::with_capacity(n);
        let (mut misses, mut i) = (0, 0);
        while out.len() < n && misses < RANDOM_TRIES {
            let genome = draw(&self.space, derive_seed(base, self.draws), i)?;
            self.draws += 1;
            i += 1;
            match genome.as_deref().and_then(|g| self.canonical(g)) {
                Some((g, key)) if !self.seen.contains(&key) && taken.insert(key.clone()) => {
                    out.push(g)
                }
                _ => misses += 1,
            }
        }
        Ok(out)
    }

    /// Up to `n` random architectures not seen and not in `taken`.
    fn random_unseen(
        &mut self,
        n: usize,
        taken: &mut BTreeSet<String>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let out = self.unseen(n, taken, "sample", |space, seed, _| {
            space.sample(seed).map(Some)
        })?;
        if out.len() < n {
            tracing::warn!(
                "nao: found only {} of {n} unseen architectures: {RANDOM_TRIES} random draws were \
                 seen or invalid (is the space nearly exhausted?)",
                out.len()
            );
        }
        Ok(out)
    }

    /// Up to `n` mutations of the best `MUTATION_PARENTS` of `parents` (best first), parent by
    /// parent in turn, not seen and not in `taken`. Fewer where their neighbourhoods run out.
    fn mutants(
        &mut self,
        parents: &[Vec<u32>],
        n: usize,
        taken: &mut BTreeSet<String>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let parents = &parents[..parents.len().min(MUTATION_PARENTS)];
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        self.unseen(n, taken, "mutate", |space, seed, i| {
            let parent = &parents[i % parents.len()];
            match space.mutate(parent, seed) {
                Ok(child) => Ok(Some(child)),
                // An isolated parent (no valid genome one decision away) gives a miss.
                Err(_) if space.neighbours(parent).is_ok_and(|n| n.is_empty()) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    fn propose(&mut self, n: usize) -> PluginResult<Vec<Vec<u32>>> {
        let mut taken = BTreeSet::new();
        let (starts, from_sources) = self.start_points();
        // Decorated, the model knows the sources before the target has any data: no random phase
        // beyond having no start point at all.
        let random_phase = starts.is_empty()
            || (!self.decorated && self.target_observations() < self.params.initial_random);
        if random_phase {
            self.last_ask = None;
            return self.random_unseen(n, &mut taken);
        }
        self.train_if_needed()?;
        // Choosing among candidates needs a surrogate that knows the target. From source start
        // points (the transfer plan's phase 1: fewer than `phase_switch` target results) its
        // rating is mostly the sources': propose the first `n`, the sources' best themselves (on
        // targets the sources mislead, proteins and cora, choosing by it cost evaluations), and
        // gather no random or mutated candidates beside them.
        let p = &self.params;
        let (wanted, wanted_samples, wanted_mutants) = if from_sources {
            (n, 0, 0)
        } else {
            (
                n.max(p.candidates),
                p.sampled_candidates,
                p.mutated_candidates,
            )
        };
        let (mut out, max_eta) = self.ascend(&starts, wanted, &mut taken)?;
        let gathered = out.len();
        // Random architectures rated beside the ascent's: the model may rank some of the space
        // far from the start points above the ascent's neighbours.
        let samples = self.random_unseen(wanted_samples, &mut taken)?;
        let sampled = samples.len();
        out.extend(samples);
        // One-edit neighbours of the best target architectures, rated like the rest: the local
        // search that is strong on NAS benchmarks, screened by the model.
        let mutants = self.mutants(&starts, wanted_mutants, &mut taken)?;
        let mutated = mutants.len();
        out.extend(mutants);
        if out.len() > n {
            // Keep the `n` the model rates best; ties keep the ascent's order.
            let scores = self.predict(&out)?;
            let mut order: Vec<usize> = (0..out.len()).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            order.truncate(n);
            order.sort_unstable();
            out = order.into_iter().map(|i| out[i].clone()).collect();
        }
        let ascended = out.len();
        if out.len() < n {
            let fill = self.random_unseen(n - out.len(), &mut taken)?;
            out.extend(fill);
        }
        let report = AskReport {
            starts: starts.len(),
            from_sources,
            gathered,
            sampled,
            mutated,
            ascended,
            max_eta,
            random_fill: out.len() - ascended,
        };
        tracing::info!(
            "nao: gradient ascent from {} {} architectures gathered {gathered} new{}, proposes \
             {ascended} of {n} (step sizes {}..={max_eta}); {} random to fill",
            report.starts,
            if from_sources { "source" } else { "target" },
            match (sampled, mutated) {
                (0, 0) => String::new(),
                (s, 0) => format!(" and {s} random ones joined them"),
                (0, m) => format!(" and {m} mutations of the best joined them"),
                (s, m) => format!(" and {s} random ones and {m} mutations of the best joined them"),
            },
            self.params.step_start,
            report.random_fill
        );
        self.last_ask = Some(report);
        Ok(out)
    }

    fn saved(&self) -> Saved {
        Saved {
            vocab: self.view.vocab_size(),
            len: self.view.len(),
            hidden: self.params.hidden,
            tasks: self.tasks.clone(),
            data: self.data.clone(),
            seen: self.seen.iter().cloned().collect(),
            draws: self.draws,
            rounds: self.rounds,
            data_version: self.data_version,
            trained_version: self.trained_version,
        }
    }
}

fn sigmoid(x: f32) -> f32 {
    1.0 / (1.0 + (-x).exp())
}

/// Loss weights `(target row, source row)` that give the target's rows `share` of the prediction
/// loss (`TransferPlan::target_share`), at a mean weight of 1 over all rows so the loss keeps its
/// scale; both 1 while the rows are all of one kind. `None` when `share` is 0: the unweighted
/// MSE, bit for bit what NAO computes without a plan.
fn task_weights(rows: &[Row], share: f64) -> Option<(f32, f32)> {
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

/// The key of a genome the space refuses (it still counts as seen).
fn raw_key(genome: &[u32]) -> String {
    format!("genome {genome:?}")
}

impl Optimizer for Nao {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let genomes = {
            let _threads = ThreadLimit::new(self.params.threads);
            self.propose(n)?
        };
        let mut out = Vec::with_capacity(genomes.len());
        for g in genomes {
            if let Some((_, key)) = self.canonical(&g) {
                self.seen.insert(key);
            }
            out.push(Proposal {
                genome: g.into(),
                budget: RNone,
            });
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        for o in observations {
            self.record(o);
        }
        Ok(())
    }

    fn predict(&mut self, genomes: &[Vec<u32>]) -> PluginResult<Vec<f64>> {
        let _threads = ThreadLimit::new(self.params.threads);
        self.train_if_needed()?;
        Ok(Nao::predict(self, genomes)?
            .into_iter()
            .map(f64::from)
            .collect())
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let what = "nao save_state";
        let meta = serde_json::to_vec(&self.saved())
            .map_err(|e| PluginError::other(format!("{what}: {e}")))?;
        let mut named = self.model.named_parameters("model.");
        named.extend(self.adam.state()?);
        let tensors = snapshot::to_bytes(&named, what)?;
        let head = self.head.save_state()?;
        Ok(state::pack(&state::Parts {
            meta: &meta,
            tensors: &tensors,
            head: &head,
        }))
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let parts = state::unpack(blob)?;
        let saved: Saved = serde_json::from_slice(parts.meta)
            .map_err(|e| PluginError::data(format!("nao state: unreadable bookkeeping ({e})")))?;
        let mine = self.saved();
        if (saved.vocab, saved.len, saved.hidden) != (mine.vocab, mine.len, mine.hidden)
            || saved.tasks != mine.tasks
        {
            return Err(PluginError::data(format!(
                "nao state: saved for {} positions, vocabulary {}, hidden {} and tasks {:?}; this \
                 run has {}, {}, {} and {:?}: resume with the experiment file the run started with",
                saved.len,
                saved.vocab,
                saved.hidden,
                saved.tasks,
                mine.len,
                mine.vocab,
                mine.hidden,
                mine.tasks
            )));
        }
        let what = "nao state";
        let loaded = snapshot::from_bytes(parts.tensors, self.device(), what, "nao model")?;
        // Check every parameter before changing anything.
        let copies = snapshot::match_saved(
            self.model.named_parameters("model."),
            &loaded,
            what,
            "this model",
            "",
        )?;
        self.adam.load_state(&loaded)?;
        self.head.load_state(parts.head)?;
        snapshot::restore(copies, what)?;
        self.adam.zero_grad()?;
        self.data = saved.data;
        self.seen = saved.seen.into_iter().collect();
        self.draws = saved.draws;
        self.rounds = saved.rounds;
        self.data_version = saved.data_version;
        self.trained_version = saved.trained_version;
        Ok(())
    }
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
