//! The ABI layer: data that crosses the plugin boundary, the `#[sabi_trait]` objects and the root
//! module. Only `abi_stable` types appear here (`RVec`, `RString`, `RResult`, ...).
//!
//! Append-only rule: new trait methods go after the method marked `#[sabi(last_prefix_field)]`,
//! new root-module functions after its last prefix field. Every layout change is a new line in
//! `INTERFACES` (core/src/interface.rs, whose test says so): a patch version for appends, a minor
//! version for anything else.

use crate::error::PluginError;
pub use crate::oneshot::*;
use abi_stable::library::RootModule;
use abi_stable::sabi_types::VersionStrings;
use abi_stable::std_types::{RBox, ROption, RResult, RSlice, RStr, RString, RVec};
use abi_stable::{declare_root_module_statics, sabi_trait, StableAbi};

/// A point of a search space: a flat list of small integers.
pub type Genome = RVec<u32>;

/// Which kind of plugin an entry is. A newtype over `u32` so kinds can be added.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug, PartialOrd, Ord)]
pub struct PluginKind(pub u32);

impl PluginKind {
    pub const SEARCH_SPACE: PluginKind = PluginKind(1);
    pub const OPTIMIZER: PluginKind = PluginKind(2);
    pub const TRANSFER: PluginKind = PluginKind(3);
    pub const SIMILARITY: PluginKind = PluginKind(4);

    /// The name used in listings and experiment files.
    pub fn name(self) -> &'static str {
        match self {
            Self::SEARCH_SPACE => "search-space",
            Self::OPTIMIZER => "optimizer",
            Self::TRANSFER => "transfer",
            Self::SIMILARITY => "similarity",
            _ => "unknown",
        }
    }
}

/// Well-known capability strings. Plugins may declare others; the host ignores what it does not know.
pub mod capability {
    /// Optimizer: speaks ask/tell.
    pub const ASK_TELL: &str = "ask-tell";
    /// Optimizer: builds its output layers through a head factory (can be decorated by a transfer plugin).
    pub const HEADS: &str = "heads";
    /// Optimizer: can save and restore its state (resume without replay).
    pub const STATE: &str = "state";
    /// Optimizer: uses the source-task history it is given.
    pub const USES_HISTORY: &str = "uses-history";
    /// The optimizer's surrogate predicts the target metric of given architectures
    /// (`Optimizer::predict`; the ablation experiment needs it).
    pub const PREDICT: &str = "predict";
    /// Optimizer: a one-shot method (DARTS family) that drives a space's supernet; the host
    /// creates it with `create_one_shot` and runs it by epochs, not ask/tell.
    pub const ONE_SHOT: &str = "one-shot";
    /// One-shot optimizer: starts from a source run's artifacts, so the host ranks the source
    /// runs by the experiment's `[similarity]` measure and hands them nearest first.
    pub const WARM_START: &str = "warm-start";
    /// Search space: builds weight-sharing supernets for one-shot optimizers (the supernet protocol).
    pub const SUPERNET: &str = "supernet";
    /// Search space: evaluates by table lookup (a benchmark); knows the best metric per task.
    pub const BENCHMARK: &str = "benchmark";
    /// Search space: records a test metric alongside the validation metric.
    pub const TEST_METRIC: &str = "test-metric";
    /// Search space: trains networks to evaluate them.
    pub const TRAINABLE: &str = "trainable";
    /// Search space: declares metric-preserving symmetries (`symmetric_variants`).
    pub const SYMMETRIES: &str = "symmetries";
    /// Similarity: embeds a task from the scores of fixed architectures (`landmarks`), which the
    /// host evaluates on every task through the experiment's space, the target's against the budget.
    pub const LANDMARKS: &str = "landmarks";
}

/// One plugin listed by a library's root module.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct PluginInfo {
    /// The id used in experiment files (`plugin = "evolution"`).
    pub name: RString,
    pub kind: PluginKind,
    /// The plugin's own version (usually its crate version).
    pub version: RString,
    /// One line for `xnas plugins`.
    pub description: RString,
    pub capabilities: RVec<RString>,
}

impl PluginInfo {
    pub fn has(&self, capability: &str) -> bool {
        self.capabilities.iter().any(|c| c.as_str() == capability)
    }
}

/// Callbacks the host gives every plugin library when it is loaded.
#[repr(C)]
#[derive(StableAbi, Clone, Copy)]
pub struct HostCtx {
    /// Routes a plugin's log line to the host's `tracing` subscriber.
    /// Levels: 1 error, 2 warn, 3 info, 4 debug, 5 trace.
    pub log: extern "C" fn(level: u8, target: RStr<'_>, message: RStr<'_>),
    /// The most verbose level the host will print (same scale); lets plugins skip formatting.
    pub max_level: u8,
}

// ---------------------------------------------------------------------------------------------
// Search space
// ---------------------------------------------------------------------------------------------

/// One decision of a genome.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Position {
    /// e.g. `"link"`, `"op1"`, `"normal.b2.in1"`.
    pub name: RString,
    /// Number of choices; the gene takes values `0..choices`.
    pub choices: u32,
    /// Positions of one group share a token range in the token view (e.g. all op choices).
    pub group: RString,
    /// Optional names of the choices (`"gcn"`, `"sep_conv_3x3"`); empty or `choices` long.
    pub labels: RVec<RString>,
}

/// What a search space looks like from outside.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct SpaceDesc {
    pub positions: RVec<Position>,
    /// Tasks this space can evaluate; empty means it accepts any task id.
    pub tasks: RVec<RString>,
    /// Number of distinct architectures if known (0 = unknown or astronomically many).
    pub size: u64,
}

/// A canonical architecture: its genome and the space's text form of it.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Arch {
    pub genome: Genome,
    pub text: RString,
}

/// Everything a search space is told when it is created.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct SpaceInit {
    /// Every task id the experiment uses (target and sources): a benchmark refuses unknown ones up front.
    pub tasks: RVec<RString>,
    /// The experiment's base folder (`[experiment] base_dir`, else the experiment file's); relative
    /// paths in parameters are resolved against it.
    pub base_dir: RString,
    /// The host's data directory (`XNAS_DATA_DIR`, default `~/.cache/xnas/data`), where set-up
    /// puts converted benchmark tables.
    pub data_dir: RString,
}

/// A request to evaluate one architecture on one task.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct EvalRequest {
    pub trial_id: u64,
    pub task: RString,
    pub genome: Genome,
    /// Derived from (experiment seed, trial id): the same trial gets the same seed on any worker.
    pub seed: u64,
    /// Optional budget (epochs, fraction); `RNone` means the space's default.
    pub budget: ROption<f64>,
}

/// The outcome of an evaluation.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct EvalResult {
    /// Validation metric, higher is better.
    pub metric: f64,
    /// Test metric where the benchmark or the task has one.
    pub test_metric: ROption<f64>,
    /// Seconds the evaluation cost (simulated for a benchmark that records it, measured otherwise).
    pub cost_seconds: f64,
    /// Per-epoch validation metric, if the evaluation produced one.
    pub curve: RVec<f64>,
    /// Further named figures as a JSON object text (params, latency, flops), or empty.
    pub extras: RString,
}

#[sabi_trait]
/// ABI object of a search space. Implement [`crate::SearchSpace`] instead; [`crate::PluginSet`] wraps it.
pub trait FfiSearchSpace: Clone + Send + Sync {
    fn describe(&self) -> RResult<SpaceDesc, PluginError>;
    fn sample(&self, seed: u64) -> RResult<Genome, PluginError>;
    fn mutate(&self, genome: RSlice<'_, u32>, seed: u64) -> RResult<Genome, PluginError>;
    fn canonical(&self, genome: RSlice<'_, u32>) -> RResult<Arch, PluginError>;
    fn parse(&self, text: RStr<'_>) -> RResult<Genome, PluginError>;
    fn symmetric_variants(&self, genome: RSlice<'_, u32>) -> RResult<RVec<Genome>, PluginError>;
    fn best_metric(&self, task: RStr<'_>) -> ROption<f64>;
    #[sabi(last_prefix_field)]
    fn evaluate(&self, request: &EvalRequest) -> RResult<EvalResult, PluginError>;
    /// Appended after the prefix; the host and one-shot optimizers call these only on spaces
    /// declaring `supernet`. The edges and candidate ops every supernet of the space shares.
    fn supernet_layout(&self) -> RResult<SupernetLayout, PluginError>;
    /// Builds a weight-sharing supernet for `spec`.
    fn build_supernet(&self, spec: &SupernetSpec) -> RResult<SupernetBox, PluginError>;
    /// The genome of a derived cell: `selection[e]` is the op chosen on layout edge `e`, or −1
    /// where the edge is dropped.
    fn supernet_genome(&self, selection: RSlice<'_, i32>) -> RResult<Genome, PluginError>;
    /// Appended in interface 0.2.1: every valid genome one decision away (see
    /// [`crate::SearchSpace::neighbours`]). A space built against 0.2.0 lacks it; calling it
    /// there gives this body's `UNSUPPORTED` and `SpaceBox` answers the default neighbourhood.
    fn neighbours(&self, genome: RSlice<'_, u32>) -> RResult<RVec<Genome>, PluginError> {
        let _ = genome;
        RResult::RErr(PluginError::unsupported(
            "this search space was built before `neighbours` (plugin interface 0.2.0)",
        ))
    }
}

/// An owned, cloneable handle to a search space (cloning shares the plugin object). Use it through the author trait (`xnas_core::SearchSpace`).
#[repr(transparent)]
#[derive(StableAbi, Clone)]
pub struct SpaceBox(pub FfiSearchSpace_TO<'static, RBox<()>>);

// ---------------------------------------------------------------------------------------------
// Optimizer and heads
// ---------------------------------------------------------------------------------------------

/// Status of a finished trial.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, PartialEq, Eq, Hash, Debug)]
pub struct TrialStatus(pub u32);

impl TrialStatus {
    pub const OK: TrialStatus = TrialStatus(0);
    pub const FAILED: TrialStatus = TrialStatus(1);

    pub fn name(self) -> &'static str {
        match self {
            Self::OK => "ok",
            Self::FAILED => "failed",
            _ => "unknown",
        }
    }
}

/// One evaluated architecture on one task. A history is a list of these over all tasks.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Observation {
    pub trial_id: u64,
    pub task: RString,
    pub genome: Genome,
    /// Validation metric (higher is better); NaN when the trial failed.
    pub metric: f64,
    pub test_metric: ROption<f64>,
    pub cost_seconds: f64,
    pub budget: ROption<f64>,
    pub curve: RVec<f64>,
    pub status: TrialStatus,
}

/// What an optimizer proposes from `ask`.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct Proposal {
    pub genome: Genome,
    /// Optional evaluation budget (multi-fidelity optimizers); `RNone` = the space's default.
    pub budget: ROption<f64>,
}

/// A dense row-major f32 matrix: the currency of the head protocol.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq, Default)]
pub struct Matrix {
    pub rows: u32,
    pub cols: u32,
    pub data: RVec<f32>,
}

impl Matrix {
    pub fn new(rows: usize, cols: usize, data: Vec<f32>) -> Self {
        assert_eq!(
            rows * cols,
            data.len(),
            "matrix data does not match its shape"
        );
        Matrix {
            rows: rows as u32,
            cols: cols as u32,
            data: RVec::from(data),
        }
    }
    pub fn zeros(rows: usize, cols: usize) -> Self {
        Self::new(rows, cols, vec![0.0; rows * cols])
    }
    pub fn row(&self, r: usize) -> &[f32] {
        let c = self.cols as usize;
        &self.data[r * c..(r + 1) * c]
    }
}

/// What an optimizer asks a head factory for.
#[repr(C)]
#[derive(StableAbi, Clone, Debug)]
pub struct HeadSpec {
    /// Which output layer this is within the optimizer (`"predictor"`, `"logits.op"`).
    pub name: RString,
    pub in_features: u32,
    pub out_features: u32,
    /// Hidden widths of the head's MLP (empty = a single linear layer).
    pub hidden: RVec<u32>,
    /// Task ids in row order of the `task` indices passed to `forward`.
    pub tasks: RVec<RString>,
    pub seed: u64,
}

#[sabi_trait]
/// ABI object of one head: the output layers an optimizer hands its features to.
pub trait FfiHead: Send {
    /// `features` is `rows × in_features`; `tasks[r]` indexes `HeadSpec::tasks`. Returns `rows × out_features`.
    fn forward(
        &mut self,
        features: &Matrix,
        tasks: RSlice<'_, u32>,
        train: bool,
    ) -> RResult<Matrix, PluginError>;
    /// Gradient of the loss w.r.t. the last forward's outputs in, gradient w.r.t. its features out.
    fn backward(&mut self, grad_output: &Matrix) -> RResult<Matrix, PluginError>;
    /// Applies the accumulated gradients to the head's own parameters and clears them.
    fn step(&mut self) -> RResult<(), PluginError>;
    fn save_state(&self) -> RResult<RVec<u8>, PluginError>;
    #[sabi(last_prefix_field)]
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError>;
}

/// An owned handle to a head. Use it through the author trait (`xnas_core::Head`).
#[repr(transparent)]
#[derive(StableAbi)]
pub struct HeadBox(pub FfiHead_TO<'static, RBox<()>>);

/// How metrics of different tasks are made comparable before an optimizer pools them.
#[repr(transparent)]
#[derive(StableAbi, Clone, Copy, Debug, PartialEq, Eq)]
pub struct Normalise(pub u32);

impl Normalise {
    /// `(y − min) / (max − min)` over the task's observations (NAO's own normalisation).
    pub const MIN_MAX: Normalise = Normalise(0);
    /// Rank within the task, scaled to [0, 1] (robust to a task's outliers).
    pub const RANK: Normalise = Normalise(1);

    pub fn name(self) -> &'static str {
        match self {
            Self::MIN_MAX => "minmax",
            Self::RANK => "rank",
            _ => "unknown",
        }
    }
}

/// What a head factory tells the optimizer that uses it about the search it takes part in.
/// The plain factory's plan is [`TransferPlan::plain`]; the transfer plugin's comes from its config.
#[repr(C)]
#[derive(StableAbi, Clone, Debug, PartialEq)]
pub struct TransferPlan {
    /// Start points (NAO's gradient ascent, XferNAS phase 1) come from the best *source*
    /// architectures until the target has this many observations, then from the best target ones.
    /// 0 = always from the target.
    pub phase_switch: u32,
    /// Per-task normalisation of the metric before histories are pooled.
    pub normalise: Normalise,
    /// Share of a surrogate's prediction loss carried by the target's rows when the histories
    /// are pooled, in [0, 1): each target row weighs `share·N/n_target`, each source row
    /// `(1 − share)·N/n_sources`. 0 = every row weighs the same (the XferNAS paper's sum), which
    /// lets a few target rows drown in thousands of source rows.
    pub target_share: f64,
    /// Epochs of the optimizer's pretraining on the source history (a surrogate's first training
    /// round on the pooled history, a policy's passes over the source rewards); `RNone` = the
    /// optimizer's own.
    pub pretrain_epochs: ROption<u32>,
    /// Rows per step of that pretraining; `RNone` = the optimizer's own batch.
    pub pretrain_batch: ROption<u32>,
    /// Source rows a surrogate replays in each training round after the first, beside every
    /// target row, drawn anew each round from its seed; `RNone` = every source row every round
    /// (the XferNAS paper's joint training).
    pub source_replay: ROption<u32>,
}

impl TransferPlan {
    pub fn plain() -> Self {
        TransferPlan {
            phase_switch: 0,
            normalise: Normalise::MIN_MAX,
            target_share: 0.0,
            pretrain_epochs: ROption::RNone,
            pretrain_batch: ROption::RNone,
            source_replay: ROption::RNone,
        }
    }
}

#[sabi_trait]
/// ABI object of a head factory: the plain one gives task-agnostic heads, a transfer plugin's gives
/// universal + residual heads.
pub trait FfiHeadFactory: Clone + Send + Sync {
    /// Short description for logs (`"plain"`, `"xfer: universal + 9 residuals"`).
    fn describe(&self) -> RString;
    /// Whether the optimizer should train on every task's history (transfer) or the target's only.
    fn uses_all_tasks(&self) -> bool;
    fn make_head(&self, spec: &HeadSpec) -> RResult<HeadBox, PluginError>;
    /// Phases and normalisation the optimizer follows (see [`TransferPlan`]).
    #[sabi(last_prefix_field)]
    fn plan(&self) -> TransferPlan;
}

/// An owned, cloneable handle to a head factory. Use it through the author trait (`xnas_core::HeadFactory`).
#[repr(transparent)]
#[derive(StableAbi, Clone)]
pub struct HeadFactoryBox(pub FfiHeadFactory_TO<'static, RBox<()>>);

/// Everything an optimizer is told when it is created.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct OptimizerInit {
    pub space: SpaceBox,
    /// The task being searched.
    pub target: RString,
    /// Source tasks, most relevant first when a similarity plugin ranked them.
    pub sources: RVec<RString>,
    /// Source knowledge: observations on the source tasks (never the target).
    pub history: RVec<Observation>,
    pub seed: u64,
    /// The head factory when the optimizer takes heads: plain, or a transfer plugin's.
    pub heads: ROption<HeadFactoryBox>,
    pub base_dir: RString,
}

#[sabi_trait]
/// ABI object of an ask/tell optimizer. Implement [`crate::Optimizer`] instead.
pub trait FfiOptimizer: Send {
    fn ask(&mut self, n: u32) -> RResult<RVec<Proposal>, PluginError>;
    fn tell(&mut self, observations: RSlice<'_, Observation>) -> RResult<(), PluginError>;
    fn save_state(&self) -> RResult<RVec<u8>, PluginError>;
    #[sabi(last_prefix_field)]
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError>;
    /// Appended after the prefix: the host calls it only on plugins declaring `predict`.
    fn predict(&mut self, genomes: RSlice<'_, Genome>) -> RResult<RVec<f64>, PluginError>;
}

/// An owned handle to an ask/tell optimizer. Use it through the author trait (`xnas_core::Optimizer`).
#[repr(transparent)]
#[derive(StableAbi)]
pub struct OptimizerBox(pub FfiOptimizer_TO<'static, RBox<()>>);

// ---------------------------------------------------------------------------------------------
// Transfer and similarity
// ---------------------------------------------------------------------------------------------

/// Everything a transfer plugin is told when it is created.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct TransferInit {
    /// The wrapped optimizer's listing (name, capabilities): a transfer plugin refuses what it cannot wrap.
    pub inner: PluginInfo,
    pub target: RString,
    pub sources: RVec<RString>,
    pub seed: u64,
}

#[sabi_trait]
/// ABI object of a transfer decorator. The host builds the inner optimizer with this object's head
/// factory, then hands it to `wrap` and runs what comes back.
pub trait FfiTransfer: Send {
    fn head_factory(&self) -> RResult<HeadFactoryBox, PluginError>;
    #[sabi(last_prefix_field)]
    fn wrap(
        &mut self,
        inner: OptimizerBox,
        init: &OptimizerInit,
    ) -> RResult<OptimizerBox, PluginError>;
}

/// An owned handle to a transfer decorator. Use it through the author trait (`xnas_core::Transfer`).
#[repr(transparent)]
#[derive(StableAbi)]
pub struct TransferBox(pub FfiTransfer_TO<'static, RBox<()>>);

/// Everything a similarity plugin is told when it is created.
#[repr(C)]
#[derive(StableAbi, Clone)]
pub struct SimilarityInit {
    /// The experiment's search space (landmark architectures are sampled from it).
    pub space: SpaceBox,
    /// Every task the experiment names (target first), so data can be checked up front.
    pub tasks: RVec<RString>,
    pub seed: u64,
    pub base_dir: RString,
    /// Where presets' files live (`XNAS_DATA_DIR` or `~/.cache/xnas/data`).
    pub data_dir: RString,
}

#[sabi_trait]
/// ABI object of a task-similarity measure.
pub trait FfiSimilarity: Send {
    /// A task's embedding (Task2Vec Fisher diagonal, landmark scores, ...).
    fn embed(&mut self, task: RStr<'_>) -> RResult<RVec<f32>, PluginError>;
    #[sabi(last_prefix_field)]
    /// Distance between two embeddings (0 = identical tasks).
    fn distance(&self, a: RSlice<'_, f32>, b: RSlice<'_, f32>) -> RResult<f64, PluginError>;
    /// Appended after the prefix; the host calls these only on plugins declaring `landmarks`.
    /// The architectures to evaluate on every task.
    fn landmarks(&mut self) -> RResult<RVec<Genome>, PluginError>;
    /// A task's embedding from its landmarks' validation metrics (same order; NaN = failed).
    fn embed_scores(
        &mut self,
        task: RStr<'_>,
        scores: RSlice<'_, f64>,
    ) -> RResult<RVec<f32>, PluginError>;
}

/// An owned handle to a similarity measure. Use it through the author trait (`xnas_core::Similarity`).
#[repr(transparent)]
#[derive(StableAbi)]
pub struct SimilarityBox(pub FfiSimilarity_TO<'static, RBox<()>>);

// ---------------------------------------------------------------------------------------------
// Root module
// ---------------------------------------------------------------------------------------------

/// The root module every plugin library exports (through [`crate::export_plugins!`]).
#[repr(C)]
#[derive(StableAbi)]
#[sabi(kind(Prefix(prefix_ref = PluginModRef)))]
#[sabi(missing_field(panic))]
pub struct PluginMod {
    /// Called once after loading, before anything else.
    pub init: extern "C" fn(host: HostCtx),
    /// The plugins this library provides.
    pub plugins: extern "C" fn() -> RVec<PluginInfo>,
    /// Checks parameters without building anything (used by `xnas validate`).
    pub check_params: extern "C" fn(
        kind: PluginKind,
        name: RStr<'_>,
        params: RStr<'_>,
    ) -> RResult<(), PluginError>,
    pub create_space: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
        init: &SpaceInit,
    ) -> RResult<SpaceBox, PluginError>,
    pub create_optimizer: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
        init: &OptimizerInit,
    ) -> RResult<OptimizerBox, PluginError>,
    pub create_transfer: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
        init: &TransferInit,
    ) -> RResult<TransferBox, PluginError>,
    #[sabi(last_prefix_field)]
    pub create_similarity: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
        init: &SimilarityInit,
    ) -> RResult<SimilarityBox, PluginError>,
    /// Creates an optimizer declaring `one-shot` (a plugin of kind optimizer).
    pub create_one_shot: extern "C" fn(
        name: RStr<'_>,
        params: RStr<'_>,
        init: &OneShotInit,
    ) -> RResult<OneShotBox, PluginError>,
}

impl RootModule for PluginModRef {
    declare_root_module_statics! {PluginModRef}
    const BASE_NAME: &'static str = "xnas_plugin";
    const NAME: &'static str = "xnas plugin";
    const VERSION_STRINGS: VersionStrings = VersionStrings::new(crate::INTERFACE_VERSION);
}
