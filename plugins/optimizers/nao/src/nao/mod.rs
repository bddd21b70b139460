//! The `nao` optimizer: its data bookkeeping and ask/tell. The training rounds are in [`train`],
//! the proposal strategies (gradient ascent, mutation, random fill) in [`propose`], the saved
//! state in [`state`].

mod propose;
mod state;
mod train;

use crate::model::{pool, Encoded, Model, ModelConfig};
use crate::params::NaoParams;
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
#[derive(Clone)]
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
    /// Of `rows`, those of the target (the rest are source rows).
    pub target_rows: usize,
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
        self.save()
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        self.load(blob)
    }
}
