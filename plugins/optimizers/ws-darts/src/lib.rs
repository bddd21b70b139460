//! `ws-darts`: warm-started DARTS (Grobelnik & Vanschoren, "Warm-starting DARTS using
//! meta-learning"; the authors published no code).
//!
//! Transfer architecture search (TAS: `pdarts` with `transfer_search = true`) runs once per
//! source task and keeps the reduced DAG λ (the ops its last stage kept on every edge) and λ̂
//! (λ with that stage's α and supernet weights). On a new task, the host ranks the source runs
//! by the experiment's `[similarity]` measure and hands their artifacts nearest first; this
//! optimizer takes the nearest one's transfer architecture and searches with TAS's final stage
//! restricted to λ's ops: one DARTS stage (first order, the first epochs training the weights
//! only) with P-DARTS's skip-connect dropout as the one regulariser kept. With
//! `transfer = "lambda_hat"` the weights and α start from λ̂'s, the per-task classifier
//! re-initialised and nothing frozen. The cell is derived as P-DARTS derives it (at most M skip
//! connections). `warm_start = "none"` is the same search over every op from scratch.
//!
//! A `skip_dropout` sweep searches once per rate, each search from the same start, and derives
//! each rate's cell; the host evaluates them as trials, so the run's best trial is the paper's
//! "best architecture over the sweep".

mod params;

pub use params::{
    SkipDropout, Transfer, WarmStart, WsDartsParams, DEFAULT_CELLS, DEFAULT_CHANNELS,
};

use serde::{Deserialize, Serialize};
use xnas_core::abi_stable::std_types::ROption;
use xnas_core::{
    capability, component_seed, state, Artifact, Checked, Meta, OneShot, OneShotInit, PluginError,
    PluginResult, PluginSet, Proposal, SearchProgress, SourceArtifacts, SpaceBox, SupernetLayout,
    SupernetSpec,
};
use xnas_oneshot::mix::softmax;
use xnas_oneshot::transfer::start_from;
use xnas_oneshot::{
    genotype, require_supernet, ArchConfig, Reporting, Stage, StageState, TransferArch, Weights,
};

const NAME: &str = "ws-darts";
/// The format of `ws-darts`'s saved state (2: the skip-dropout sweep's rate and results).
const STATE_VERSION: u32 = 2;

/// The `ws-darts` one-shot optimizer.
pub struct WsDarts {
    params: WsDartsParams,
    space: SpaceBox,
    layout: SupernetLayout,
    arch: ArchConfig,
    origin: Origin,
    /// The skip-dropout rates, searched in turn.
    rates: Vec<f64>,
    sweep: Sweep,
    stage: Stage,
}

/// What every rate's search starts from: the search network, α's seed and the warm start.
struct Origin {
    spec: SupernetSpec,
    alpha_seed: u64,
    init_scale: f64,
    start: Option<Start>,
    /// With λ̂: the source run's artifacts its weights and α are loaded from.
    loads: Option<SourceArtifacts>,
}

impl Origin {
    /// The search network as a search starts, the warm start's weights and α loaded.
    fn stage(&self, space: &SpaceBox, layout: &SupernetLayout) -> PluginResult<Stage> {
        let mut stage = Stage::build(space, layout, &self.spec, self.init_scale, self.alpha_seed)?;
        if let (Some(start), Some(source)) = (&self.start, &self.loads) {
            transfer(&mut stage, start, source)?;
        }
        Ok(stage)
    }

    fn source(&self) -> Option<&str> {
        self.start.as_ref().map(|s| s.run.as_str())
    }
}

/// Where a skip-dropout sweep is.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Sweep {
    /// The rate being searched (index into `rates`).
    rate: usize,
    /// The α split's accuracy at the current rate's last evaluated epoch.
    valid_accuracy: Option<f64>,
    /// The rates searched to their end, in order.
    done: Vec<Swept>,
}

/// A rate searched to its end: its α and the α split's accuracy at its last evaluated epoch.
#[derive(Clone, Debug, Serialize, Deserialize)]
struct Swept {
    alpha: Vec<f64>,
    valid_accuracy: Option<f64>,
}

#[derive(Serialize, Deserialize)]
struct WsDartsState {
    source: Option<String>,
    sweep: Sweep,
    stage: StageState,
}

/// The warm start a search begins with: the source run and its transfer architecture.
struct Start {
    run: String,
    arch: TransferArch,
}

impl WsDarts {
    pub fn new(params: WsDartsParams, init: &OneShotInit) -> PluginResult<Self> {
        let layout = require_supernet(&init.space, NAME)?;
        let hat = params.transfer == Transfer::LambdaHat;
        let start = match params.warm_start {
            WarmStart::None => None,
            WarmStart::Nearest => {
                let nearest = init.source_artifacts.first().ok_or_else(|| {
                    PluginError::invalid_params(
                        "`warm_start = \"nearest\"` needs a transfer architecture: name runs of \
                         `pdarts` with `transfer_search = true` in tasks.source_runs (or set \
                         `warm_start = \"none\"`)",
                    )
                })?;
                Some(Start {
                    run: nearest.run.to_string(),
                    arch: TransferArch::read(nearest, hat, &layout)?,
                })
            }
            WarmStart::Meta => Some(meta_start(init, hat, &layout)?),
        };
        let (cells, channels) = match &start {
            Some(s) => (s.arch.cells, s.arch.channels),
            None => (DEFAULT_CELLS, DEFAULT_CHANNELS),
        };
        let spec = SupernetSpec {
            tasks: vec![init.target.clone()].into(),
            cells: params.cells.unwrap_or(cells),
            channels: params.channels.unwrap_or(channels),
            candidates: start
                .as_ref()
                .map(|s| s.arch.candidates.iter().map(|c| c.clone().into()).collect())
                .unwrap_or_default(),
            recipe: params.recipe(),
            seed: component_seed(init.seed, "supernet"),
        };
        let loads = match (&start, hat) {
            (Some(s), true) => Some(
                (init.source_artifacts.iter())
                    .find(|a| a.run.as_str() == s.run)
                    .expect("a warm start's run is a source run")
                    .clone(),
            ),
            _ => None,
        };
        let arch = params.arch();
        let origin = Origin {
            spec,
            alpha_seed: component_seed(init.seed, "alpha"),
            init_scale: arch.init_scale,
            start,
            loads,
        };
        let stage = origin.stage(&init.space, &layout)?;
        Ok(WsDarts {
            rates: params.skip_dropout.rates(),
            params,
            space: init.space.clone(),
            layout,
            arch,
            origin,
            sweep: Sweep::default(),
            stage,
        })
    }

    /// The source run the search started from (None without a warm start).
    pub fn source(&self) -> Option<&str> {
        self.origin.source()
    }

    /// The candidate ops of each edge of the search network.
    pub fn candidates(&self) -> &[Vec<u32>] {
        self.stage.candidates()
    }

    /// Ends the current rate's search and starts the next rate's from the origin.
    fn next_rate(&mut self) -> PluginResult<()> {
        self.sweep.done.push(Swept {
            alpha: self.stage.alpha().to_vec(),
            valid_accuracy: self.sweep.valid_accuracy.take(),
        });
        self.sweep.rate += 1;
        self.stage = self.origin.stage(&self.space, &self.layout)?;
        Ok(())
    }

    /// A sweep's cells: each rate's cell by the rule, the rates ordered by the α split's accuracy
    /// at their last evaluated epoch (best first; a rate never evaluated after the others, ties
    /// in sweep order), the same cell reached by two rates given once.
    fn swept_cells(&self, n: usize) -> PluginResult<Vec<Proposal>> {
        let mut searched: Vec<(Option<f64>, &[f64])> = (self.sweep.done.iter())
            .map(|s| (s.valid_accuracy, s.alpha.as_slice()))
            .collect();
        searched.push((self.sweep.valid_accuracy, self.stage.alpha()));
        // Stable: equal accuracies keep the sweep's order.
        searched.sort_by(|a, b| {
            b.0.unwrap_or(f64::NEG_INFINITY)
                .total_cmp(&a.0.unwrap_or(f64::NEG_INFINITY))
        });
        let rule = self.params.rule();
        let cols = self.stage.candidates().first().map_or(0, Vec::len);
        let mut cells: Vec<Proposal> = Vec::new();
        for (_, alpha) in searched {
            let w = Weights::new(self.stage.candidates().to_vec(), softmax(alpha, cols))?;
            let selection = rule.select(&self.layout, &w)?;
            let genome = genotype(&self.space, &selection)?.genome;
            if !cells.iter().any(|c| c.genome == genome) {
                cells.push(Proposal {
                    genome,
                    budget: ROption::RNone,
                });
            }
            if cells.len() == n {
                break;
            }
        }
        Ok(cells)
    }
}

/// λ_meta: the first source run (in the host's order) whose transfer architecture search shared
/// its weights and α over several tasks, the target not among them: a leave-one-task-out
/// comparison needs a meta-transfer architecture made without the target. Refused only when
/// every λ_meta saw the target, or there is none.
fn meta_start(init: &OneShotInit, hat: bool, layout: &SupernetLayout) -> PluginResult<Start> {
    let mut with_target = None;
    for source in init.source_artifacts.iter() {
        let run = source.run.to_string();
        let arch = TransferArch::read(source, hat, layout)?;
        if arch.meta_tasks.is_empty() {
            continue;
        }
        if arch.meta_tasks.iter().any(|t| t == init.target.as_str()) {
            with_target.get_or_insert((run, arch.meta_tasks));
            continue;
        }
        return Ok(Start { run, arch });
    }
    Err(PluginError::invalid_params(match with_target {
        Some((run, tasks)) => format!(
            "source run {run}: its meta-transfer architecture was searched on the target \
             task `{}` itself (its tasks: {}): make one without the target \
             (leave-one-task-out)",
            init.target,
            tasks.join(", ")
        ),
        None => "`warm_start = \"meta\"` needs a meta-transfer architecture: name a run of \
                 `pdarts` with `transfer_search = true` and `meta_search = true` in \
                 tasks.source_runs"
            .to_string(),
    }))
}

/// λ̂'s α and weights into a freshly built stage. Every weight but the per-task classifier must
/// load: one that does not is of another data shape (the stem of another number of image
/// channels) or another search network, and is refused naming the run.
fn transfer(stage: &mut Stage, start: &Start, source: &SourceArtifacts) -> PluginResult<()> {
    let misfits = start_from(stage, source, &start.arch, "λ̂'s α", |_| false)?;
    if let Some(first) = misfits.first() {
        return Err(PluginError::data(format!(
            "source run {}: its λ̂ weights do not fit this task's search network ({} of its \
             tensors absent there or of another shape, such as `{first}`): the source's images have another \
             number of channels, or its network other cells or channels; use `transfer = \
             \"lambda\"` or another source run",
            start.run,
            misfits.len()
        )));
    }
    Ok(())
}

impl OneShot for WsDarts {
    fn run(&mut self, max_steps: u32) -> PluginResult<SearchProgress> {
        let plan = self.params.plan(self.rates[self.sweep.rate]);
        let to = Reporting {
            stage: self.sweep.rate as u32,
            ..Reporting::new(&self.space, &self.layout, self.params.rule())
        };
        let (p, report) = self.stage.run_reported(&self.arch, &plan, max_steps, to)?;
        if let Some(end) = &p.epoch_end {
            if end.valid.examples > 0 {
                self.sweep.valid_accuracy = Some(end.valid.accuracy);
            }
        }
        let last = self.sweep.rate + 1 == self.rates.len();
        if p.finished && !last {
            self.next_rate()?;
        }
        Ok(p.search(report, p.finished && last))
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let s = WsDartsState {
            source: self.source().map(str::to_string),
            sweep: self.sweep.clone(),
            stage: self.stage.save()?,
        };
        state::encode(NAME, STATE_VERSION, &s)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let s: WsDartsState = state::decode(NAME, STATE_VERSION, blob)?;
        if s.source.as_deref() != self.source() {
            return Err(PluginError::data(format!(
                "ws-darts state: the search started from {}, and now the nearest source is {}; \
                 resume with the source runs that started it",
                s.source.as_deref().unwrap_or("no source"),
                self.source().unwrap_or("none")
            )));
        }
        if s.sweep.rate >= self.rates.len() {
            return Err(PluginError::data(format!(
                "ws-darts state: saved at skip-dropout rate {} of the sweep, but `skip_dropout` \
                 now has {} rate(s); resume with the parameters that saved it",
                s.sweep.rate + 1,
                self.rates.len()
            )));
        }
        // Every rate's search network has the same shape: the saved stage loads into this one.
        self.sweep = s.sweep;
        self.stage.load(s.stage)
    }

    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        if self.rates.len() > 1 {
            return self.swept_cells(n);
        }
        self.stage
            .derive_cells(&self.space, &self.layout, self.params.rule(), n)
    }

    /// The search's α and supernet weights (of the last rate searched).
    fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        self.stage.artifacts()
    }
}

/// Registers `ws-darts`.
pub fn register(set: &mut PluginSet) {
    set.one_shot(
        Meta {
            name: NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "Warm-started DARTS: a search restricted to the transfer architecture of \
                          the most similar source task, optionally from its weights and α",
            capabilities: &[
                capability::ONE_SHOT,
                capability::STATE,
                capability::WARM_START,
            ],
        },
        |Checked(p): Checked<WsDartsParams>, init: &OneShotInit| WsDarts::new(p, init),
    );
}
