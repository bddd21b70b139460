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

mod params;

pub use params::{Transfer, WarmStart, WsDartsParams, DEFAULT_CELLS, DEFAULT_CHANNELS};

use serde::{Deserialize, Serialize};
use xnas_core::{
    capability, component_seed, state, Artifact, Checked, Meta, OneShot, OneShotInit, PluginError,
    PluginResult, PluginSet, Proposal, SearchProgress, SpaceBox, SupernetLayout, SupernetSpec,
};
use xnas_oneshot::transfer::start_from;
use xnas_oneshot::{require_supernet, ArchConfig, Reporting, Stage, StageState, TransferArch};

const NAME: &str = "ws-darts";
/// The format of `ws-darts`'s saved state.
const STATE_VERSION: u32 = 1;

/// The `ws-darts` one-shot optimizer.
pub struct WsDarts {
    params: WsDartsParams,
    space: SpaceBox,
    layout: SupernetLayout,
    arch: ArchConfig,
    /// The source run whose transfer architecture the search started from.
    source: Option<String>,
    stage: Stage,
}

#[derive(Serialize, Deserialize)]
struct WsDartsState {
    source: Option<String>,
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
        let arch = params.arch();
        let mut stage = Stage::build(
            &init.space,
            &layout,
            &spec,
            arch.init_scale,
            component_seed(init.seed, "alpha"),
        )?;
        if let (Some(s), true) = (&start, hat) {
            let source = (init.source_artifacts.iter())
                .find(|a| a.run.as_str() == s.run)
                .expect("a warm start's run is a source run");
            transfer(&mut stage, s, source)?;
        }
        Ok(WsDarts {
            params,
            space: init.space.clone(),
            layout,
            arch,
            source: start.map(|s| s.run),
            stage,
        })
    }

    /// The source run the search started from (None without a warm start).
    pub fn source(&self) -> Option<&str> {
        self.source.as_deref()
    }

    /// The candidate ops of each edge of the search network.
    pub fn candidates(&self) -> &[Vec<u32>] {
        self.stage.candidates()
    }
}

/// λ_meta: the first source run (in the host's order) whose transfer architecture search shared
/// its weights and α over several tasks. One that searched the target itself is refused: a
/// leave-one-task-out comparison needs a meta-transfer architecture made without the target.
fn meta_start(init: &OneShotInit, hat: bool, layout: &SupernetLayout) -> PluginResult<Start> {
    for source in init.source_artifacts.iter() {
        let run = source.run.to_string();
        let arch = TransferArch::read(source, hat, layout)?;
        if arch.meta_tasks.is_empty() {
            continue;
        }
        if arch.meta_tasks.iter().any(|t| t == init.target.as_str()) {
            return Err(PluginError::invalid_params(format!(
                "source run {run}: its meta-transfer architecture was searched on the target \
                 task `{}` itself (its tasks: {}): make one without the target \
                 (leave-one-task-out)",
                init.target,
                arch.meta_tasks.join(", ")
            )));
        }
        return Ok(Start { run, arch });
    }
    Err(PluginError::invalid_params(
        "`warm_start = \"meta\"` needs a meta-transfer architecture: name a run of `pdarts` \
         with `transfer_search = true` and `meta_search = true` in tasks.source_runs",
    ))
}

/// λ̂'s α and weights into a freshly built stage. Every weight but the per-task classifier must
/// load: one that does not is of another data shape (the stem of another number of image
/// channels) or another search network, and is refused naming the run.
fn transfer(
    stage: &mut Stage,
    start: &Start,
    source: &xnas_core::SourceArtifacts,
) -> PluginResult<()> {
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
        let plan = self.params.plan(self.params.skip_dropout);
        let to = Reporting::new(&self.space, &self.layout, self.params.rule());
        let (p, report) = self.stage.run_reported(&self.arch, &plan, max_steps, to)?;
        Ok(p.search(report, p.finished))
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let s = WsDartsState {
            source: self.source.clone(),
            stage: self.stage.save()?,
        };
        state::encode(NAME, STATE_VERSION, &s)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let s: WsDartsState = state::decode(NAME, STATE_VERSION, blob)?;
        if s.source != self.source {
            return Err(PluginError::data(format!(
                "ws-darts state: the search started from {}, and now the nearest source is {}; \
                 resume with the source runs that started it",
                s.source.as_deref().unwrap_or("no source"),
                self.source.as_deref().unwrap_or("none")
            )));
        }
        self.stage.load(s.stage)
    }

    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        self.stage
            .derive_cells(&self.space, &self.layout, self.params.rule(), n)
    }

    /// The search's α and supernet weights.
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
