//! `pdarts`: progressive DARTS (Chen, Xie, Wu & Tian, ICCV 2019), after the reference code
//! chenxin061/pdarts (`train_search.py`, `model_search.py`).
//!
//! The search runs in stages (default three: 5, 11, 17 cells). Each stage builds a fresh
//! supernet — new weights, new α (`1e-3·N(0,1)`) — over the candidate ops the previous stage
//! kept, trains w alone for the first epochs, then alternates the α step (first order, clipped)
//! and the w step like DARTS, with element-wise dropout after the skip connections on a
//! per-epoch schedule. At a stage's end the lowest-weight candidates of every edge are dropped
//! (8 → 5 → 3). The final cell is derived from the last stage's weights with `none` excluded
//! and at most M skip connections in the normal cell: while there are more, the weakest chosen
//! skip is removed and the cell derived again (`xnas_oneshot::derive::derive_limited`).
//!
//! With `transfer_search = true` this is the transfer architecture search (TAS) of warm-started
//! DARTS (Grobelnik & Vanschoren, "Warm-starting DARTS using meta-learning"): P-DARTS without
//! the final discretisation. The search is the same (and a cell is still derived, so the run
//! reports as usual), and the run also keeps the last stage's reduced DAG λ and λ̂ (λ with that
//! stage's α and supernet weights) for `ws-darts` (`xnas_oneshot::transfer`).

mod params;

pub use params::{DropoutSchedule, PdartsParams};

use serde::{Deserialize, Serialize};
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{
    component_seed, derive_seed, state, Artifact, Checked, Meta, OneShot, OneShotInit, PluginError,
    PluginResult, PluginSet, Proposal, SearchProgress, SpaceBox, SupernetLayout, SupernetSpec,
};
use xnas_oneshot::{
    prune, require_supernet, ArchConfig, Reporting, Stage, StagePlan, StageState, TransferArch,
};

const NAME: &str = "pdarts";
/// The format of `pdarts`'s saved state.
const STATE_VERSION: u32 = 1;

/// The `pdarts` one-shot optimizer.
pub struct Pdarts {
    params: PdartsParams,
    space: SpaceBox,
    layout: SupernetLayout,
    target: String,
    /// The tasks the supernet trains on: the target, then (`meta_search`) the sources.
    tasks: Vec<String>,
    seed: u64,
    arch: ArchConfig,
    stage_index: usize,
    stage: Stage,
}

#[derive(Serialize, Deserialize)]
struct PdartsState {
    stage_index: u32,
    /// The candidates of the stage in progress (what the earlier stages kept).
    candidates: Vec<Vec<u32>>,
    stage: StageState,
}

impl Pdarts {
    pub fn new(params: PdartsParams, init: &OneShotInit) -> PluginResult<Self> {
        let layout = require_supernet(&init.space, NAME)?;
        let ops = layout.ops.len() as u32;
        if params.keep.first().is_some_and(|&k| k >= ops) {
            return Err(PluginError::invalid_params(format!(
                "`keep` is {:?}: the space has {ops} candidate ops per edge, so the first stage \
                 must keep fewer",
                params.keep
            )));
        }
        let mut tasks = vec![init.target.to_string()];
        if params.meta_search {
            if init.sources.is_empty() {
                return Err(PluginError::invalid_params(
                    "`meta_search = true` searches the target and the source tasks together: \
                     name the others in [tasks] sources",
                ));
            }
            tasks.extend(init.sources.iter().map(|t| t.to_string()));
        }
        let arch = params.arch();
        let spec = stage_spec(&params, &tasks, init.seed, 0, Vec::new());
        let stage = Stage::build(
            &init.space,
            &layout,
            &spec,
            arch.init_scale,
            alpha_seed(init.seed, 0),
        )?;
        Ok(Pdarts {
            params,
            space: init.space.clone(),
            layout,
            target: init.target.to_string(),
            tasks,
            seed: init.seed,
            arch,
            stage_index: 0,
            stage,
        })
    }

    /// The stage in progress (0-based) and its candidate ops per edge.
    pub fn stage(&self) -> (usize, &[Vec<u32>]) {
        (self.stage_index, self.stage.candidates())
    }

    fn plan(&self) -> StagePlan {
        self.params.stage_plan(self.stage_index)
    }

    fn last_stage(&self) -> bool {
        self.stage_index + 1 == self.params.stages()
    }

    /// Builds stage `index` over `candidates` (empty: every op), fresh weights and α.
    fn build(&self, index: usize, candidates: Vec<Vec<u32>>) -> PluginResult<Stage> {
        let spec = stage_spec(&self.params, &self.tasks, self.seed, index, candidates);
        Stage::build(
            &self.space,
            &self.layout,
            &spec,
            self.arch.init_scale,
            alpha_seed(self.seed, index),
        )
    }

    /// Ends a stage that is not the last: prunes each edge to the next stage's count and builds it.
    fn next_stage(&mut self) -> PluginResult<()> {
        let keep = self.params.keep[self.stage_index] as usize;
        let kept = prune(
            &self.stage.weights(),
            keep,
            self.layout.zero_op.into_option(),
            false,
        )?;
        self.stage = self.build(self.stage_index + 1, kept)?;
        self.stage_index += 1;
        Ok(())
    }
}

fn stage_spec(
    p: &PdartsParams,
    tasks: &[String],
    seed: u64,
    index: usize,
    candidates: Vec<Vec<u32>>,
) -> SupernetSpec {
    SupernetSpec {
        tasks: tasks.iter().map(|t| t.as_str().into()).collect(),
        cells: p.cells[index],
        channels: p.channels[index],
        candidates: candidates.into_iter().map(RVec::from).collect(),
        recipe: p.recipe(),
        seed: derive_seed(component_seed(seed, "supernet"), index as u64),
    }
}

fn alpha_seed(seed: u64, index: usize) -> u64 {
    derive_seed(component_seed(seed, "alpha"), index as u64)
}

impl OneShot for Pdarts {
    fn run(&mut self, max_steps: u32) -> PluginResult<SearchProgress> {
        let to = Reporting {
            stage: self.stage_index as u32,
            ..Reporting::new(&self.space, &self.layout, self.params.rule())
        };
        let (p, report) = self
            .stage
            .run_reported(&self.arch, &self.plan(), max_steps, to)?;
        let last = self.last_stage();
        if p.finished && !last {
            self.next_stage()?;
        }
        Ok(p.search(report, p.finished && last))
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let s = PdartsState {
            stage_index: self.stage_index as u32,
            candidates: self.stage.candidates().to_vec(),
            stage: self.stage.save()?,
        };
        state::encode(NAME, STATE_VERSION, &s)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let s: PdartsState = state::decode(NAME, STATE_VERSION, blob)?;
        let index = s.stage_index as usize;
        if index >= self.params.stages() {
            return Err(PluginError::data(format!(
                "pdarts state: saved in stage {}, but this search has {} stages; resume with the \
                 parameters that saved it",
                index + 1,
                self.params.stages()
            )));
        }
        if index != self.stage_index || s.candidates != self.stage.candidates() {
            let candidates = if index == 0 { Vec::new() } else { s.candidates };
            self.stage = self.build(index, candidates)?;
            self.stage_index = index;
        }
        self.stage.load(s.stage)
    }

    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        self.stage
            .derive_cells(&self.space, &self.layout, self.params.rule(), n)
    }

    /// The last stage's α and supernet weights (the stage in progress, if stopped early); with
    /// `transfer_search`, also λ and λ̂ of that stage.
    fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        let mut kept = self.stage.artifacts()?;
        if self.params.transfer_search {
            let i = self.stage_index;
            let network = (self.params.cells[i], self.params.channels[i]);
            let mut lambda =
                TransferArch::new(&self.layout, &self.target, network, self.stage.candidates());
            if self.params.meta_search {
                lambda.meta_tasks = self.tasks.clone();
            }
            kept.extend(lambda.artifacts(self.stage.alpha())?);
        }
        Ok(kept)
    }
}

/// Registers `pdarts`.
pub fn register(set: &mut PluginSet) {
    set.one_shot(
        Meta {
            name: NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "P-DARTS: progressive DARTS in stages of deeper supernets with fewer ops \
                          per edge, skip-connect dropout and at most M skip connections",
            capabilities: &["one-shot", "state"],
        },
        |Checked(p): Checked<PdartsParams>, init: &OneShotInit| Pdarts::new(p, init),
    );
}
