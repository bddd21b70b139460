//! `darts`: differentiable architecture search (Liu, Simonyan & Yang, ICLR 2019), after the
//! reference code quark0/darts (`cnn/train_search.py`, `cnn/architect.py`, `model_search.py`).
//!
//! The optimizer owns α (one row per layout edge, one column per candidate op) and its Adam; the
//! space's supernet owns the network weights. Each iteration: the α step on the next α batch
//! (first order: ∂L_val/∂mix at the current w; second order: the unrolled gradient with the
//! finite-difference Hessian-vector product, computed inside the supernet), mapped to ∂L/∂α
//! through the softmax (or Gumbel-softmax) Jacobian; then the w step on the next training batch
//! with the updated mix. At an epoch's end the α split is evaluated, the supernet's schedule
//! advances, and the epoch's report carries the cell derived by the layout's rule
//! (`xnas_oneshot::derive`). `derive(n)` returns that cell and the next-best distinct cells by
//! the log-probability of their ops (docs/plugins/darts.md).

mod params;

pub use params::{DartsParams, SamplingKind};

use serde::{Deserialize, Serialize};
use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{
    component_seed, state, Artifact, Checked, Meta, OneShot, OneShotInit, PluginResult, PluginSet,
    Proposal, SearchProgress, SpaceBox, SupernetLayout, SupernetSpec,
};
use xnas_oneshot::{require_supernet, ArchConfig, Reporting, Rule, Stage, StagePlan, StageState};

const NAME: &str = "darts";
/// DARTS's derivation: no limit on skip connections.
const RULE: Rule = Rule { max_skips: None };
/// The format of `darts`'s saved state.
const STATE_VERSION: u32 = 1;

/// The `darts` one-shot optimizer.
pub struct Darts {
    space: SpaceBox,
    layout: SupernetLayout,
    arch: ArchConfig,
    plan: StagePlan,
    stage: Stage,
}

#[derive(Serialize, Deserialize)]
struct DartsState {
    stage: StageState,
}

impl Darts {
    pub fn new(params: DartsParams, init: &OneShotInit) -> PluginResult<Self> {
        let layout = require_supernet(&init.space, NAME)?;
        let spec = SupernetSpec {
            tasks: vec![init.target.clone()].into(),
            cells: params.cells,
            channels: params.channels,
            candidates: RVec::new(),
            recipe: params.recipe(),
            seed: component_seed(init.seed, "supernet"),
        };
        let arch = params.arch();
        let stage = Stage::build(
            &init.space,
            &layout,
            &spec,
            arch.init_scale,
            component_seed(init.seed, "alpha"),
        )?;
        Ok(Darts {
            space: init.space.clone(),
            layout,
            arch,
            plan: StagePlan {
                epochs: params.epochs,
                weights_only: 0,
                evaluate_last: params.epochs,
                skip_dropout: Vec::new(),
            },
            stage,
        })
    }

    /// α as it is now (rows = layout edges).
    pub fn alpha(&self) -> &[f64] {
        self.stage.alpha()
    }
}

impl OneShot for Darts {
    fn run(&mut self, max_steps: u32) -> PluginResult<SearchProgress> {
        let to = Reporting::new(&self.space, &self.layout, RULE);
        let (p, report) = self
            .stage
            .run_reported(&self.arch, &self.plan, max_steps, to)?;
        Ok(p.search(report, p.finished))
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let s = DartsState {
            stage: self.stage.save()?,
        };
        state::encode(NAME, STATE_VERSION, &s)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let s: DartsState = state::decode(NAME, STATE_VERSION, blob)?;
        self.stage.load(s.stage)
    }

    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        self.stage.derive_cells(&self.space, &self.layout, RULE, n)
    }

    fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        self.stage.artifacts()
    }
}

/// Registers `darts`.
pub fn register(set: &mut PluginSet) {
    set.one_shot(
        Meta {
            name: NAME,
            version: env!("CARGO_PKG_VERSION"),
            description: "DARTS: differentiable architecture search over a space's supernet \
                          (first or second order; softmax or Gumbel-softmax mixing)",
            capabilities: &["one-shot", "state"],
        },
        |Checked(p): Checked<DartsParams>, init: &OneShotInit| Darts::new(p, init),
    );
}
