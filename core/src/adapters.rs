//! Glue between the author layer and the ABI layer, in both directions:
//! `Guarded*` wrap an author implementation into an ABI object (every call under `catch_unwind`),
//! and the `impl <Trait> for <Box>` blocks let the host (or a decorating plugin) use an ABI object
//! through the author trait.

use crate::abi::*;
use crate::error::{ErrorKind, PluginError, PluginResult};
use crate::traits::*;
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{RNone, ROption, RResult, RSlice, RStr, RString, RVec};
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;

/// Text of a caught panic's payload (a `&str` or `String` message, else a placeholder).
pub fn panic_message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "non-string panic payload".to_string()
    }
}

/// Runs `f`, turning a panic into a [`PluginError`] of kind `PANIC` that names the call.
pub fn guard<T>(what: &str, f: impl FnOnce() -> PluginResult<T>) -> RResult<T, PluginError> {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(r) => r.into(),
        Err(payload) => RResult::RErr(PluginError::new(
            ErrorKind::PANIC,
            format!("panicked in {what}: {}", panic_message(payload.as_ref())),
        )),
    }
}

fn rvec(v: Vec<u32>) -> Genome {
    RVec::from(v)
}

// --- search space ------------------------------------------------------------------------------

struct GuardedSpace<T>(Arc<T>);

impl<T> Clone for GuardedSpace<T> {
    fn clone(&self) -> Self {
        GuardedSpace(Arc::clone(&self.0))
    }
}

impl<T: SearchSpace> FfiSearchSpace for GuardedSpace<T> {
    fn describe(&self) -> RResult<SpaceDesc, PluginError> {
        guard("describe", || self.0.describe())
    }
    fn sample(&self, seed: u64) -> RResult<Genome, PluginError> {
        guard("sample", || self.0.sample(seed).map(rvec))
    }
    fn mutate(&self, genome: RSlice<'_, u32>, seed: u64) -> RResult<Genome, PluginError> {
        guard("mutate", || {
            self.0.mutate(genome.as_slice(), seed).map(rvec)
        })
    }
    fn canonical(&self, genome: RSlice<'_, u32>) -> RResult<Arch, PluginError> {
        guard("canonical", || self.0.canonical(genome.as_slice()))
    }
    fn parse(&self, text: RStr<'_>) -> RResult<Genome, PluginError> {
        guard("parse", || self.0.parse(text.as_str()).map(rvec))
    }
    fn symmetric_variants(&self, genome: RSlice<'_, u32>) -> RResult<RVec<Genome>, PluginError> {
        guard("symmetric_variants", || {
            self.0
                .symmetric_variants(genome.as_slice())
                .map(|v| v.into_iter().map(rvec).collect())
        })
    }
    fn best_metric(&self, task: RStr<'_>) -> ROption<f64> {
        catch_unwind(AssertUnwindSafe(|| self.0.best_metric(task.as_str())))
            .ok()
            .flatten()
            .into()
    }
    fn evaluate(&self, request: &EvalRequest) -> RResult<EvalResult, PluginError> {
        guard("evaluate", || self.0.evaluate(request))
    }
    fn supernet_layout(&self) -> RResult<SupernetLayout, PluginError> {
        guard("supernet_layout", || self.0.supernet_layout())
    }
    fn build_supernet(&self, spec: &SupernetSpec) -> RResult<SupernetBox, PluginError> {
        guard("build_supernet", || self.0.build_supernet(spec))
    }
    fn supernet_genome(&self, selection: RSlice<'_, i32>) -> RResult<Genome, PluginError> {
        guard("supernet_genome", || {
            self.0.supernet_genome(selection.as_slice()).map(rvec)
        })
    }
    fn neighbours(&self, genome: RSlice<'_, u32>) -> RResult<RVec<Genome>, PluginError> {
        guard("neighbours", || {
            self.0
                .neighbours(genome.as_slice())
                .map(|v| v.into_iter().map(rvec).collect())
        })
    }
}

/// Wraps a search space into its ABI object.
pub fn space_box<T: SearchSpace>(space: T) -> SpaceBox {
    SpaceBox(FfiSearchSpace_TO::from_value(
        GuardedSpace(Arc::new(space)),
        TD_Opaque,
    ))
}

impl SearchSpace for SpaceBox {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        FfiSearchSpace::describe(&self.0).into_result()
    }
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        FfiSearchSpace::sample(&self.0, seed)
            .into_result()
            .map(Vec::from)
    }
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        FfiSearchSpace::mutate(&self.0, genome.into(), seed)
            .into_result()
            .map(Vec::from)
    }
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        FfiSearchSpace::canonical(&self.0, genome.into()).into_result()
    }
    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        FfiSearchSpace::parse(&self.0, text.into())
            .into_result()
            .map(Vec::from)
    }
    fn symmetric_variants(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        FfiSearchSpace::symmetric_variants(&self.0, genome.into())
            .into_result()
            .map(|v| v.into_iter().map(Vec::from).collect())
    }
    fn best_metric(&self, task: &str) -> Option<f64> {
        FfiSearchSpace::best_metric(&self.0, task.into()).into_option()
    }
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        FfiSearchSpace::evaluate(&self.0, request).into_result()
    }
    fn supernet_layout(&self) -> PluginResult<SupernetLayout> {
        FfiSearchSpace::supernet_layout(&self.0).into_result()
    }
    fn build_supernet(&self, spec: &SupernetSpec) -> PluginResult<SupernetBox> {
        FfiSearchSpace::build_supernet(&self.0, spec).into_result()
    }
    fn supernet_genome(&self, selection: &[i32]) -> PluginResult<Vec<u32>> {
        FfiSearchSpace::supernet_genome(&self.0, selection.into())
            .into_result()
            .map(Vec::from)
    }
    /// A space built against interface 0.2.0 has no `neighbours`: it gets the default.
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        match FfiSearchSpace::neighbours(&self.0, genome.into()).into_result() {
            Ok(v) => Ok(v.into_iter().map(Vec::from).collect()),
            Err(e) if e.kind == ErrorKind::UNSUPPORTED => single_changes(self, genome),
            Err(e) => Err(e),
        }
    }
}

// --- optimizer ---------------------------------------------------------------------------------

struct GuardedOptimizer<T>(T);

impl<T: Optimizer> FfiOptimizer for GuardedOptimizer<T> {
    fn ask(&mut self, n: u32) -> RResult<RVec<Proposal>, PluginError> {
        guard("ask", || self.0.ask(n as usize).map(RVec::from))
    }
    fn tell(&mut self, observations: RSlice<'_, Observation>) -> RResult<(), PluginError> {
        guard("tell", || self.0.tell(observations.as_slice()))
    }
    fn save_state(&self) -> RResult<RVec<u8>, PluginError> {
        guard("save_state", || self.0.save_state().map(RVec::from))
    }
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError> {
        guard("load_state", || self.0.load_state(state.as_slice()))
    }
    fn predict(&mut self, genomes: RSlice<'_, Genome>) -> RResult<RVec<f64>, PluginError> {
        guard("predict", || {
            let g: Vec<Vec<u32>> = genomes.iter().map(|g| g.to_vec()).collect();
            self.0.predict(&g).map(RVec::from)
        })
    }
}

/// Wraps an optimizer into its ABI object.
pub fn optimizer_box<T: Optimizer>(optimizer: T) -> OptimizerBox {
    OptimizerBox(FfiOptimizer_TO::from_value(
        GuardedOptimizer(optimizer),
        TD_Opaque,
    ))
}

impl Optimizer for OptimizerBox {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        let n = u32::try_from(n).map_err(|_| PluginError::other("ask: n too large"))?;
        FfiOptimizer::ask(&mut self.0, n)
            .into_result()
            .map(Vec::from)
    }
    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        FfiOptimizer::tell(&mut self.0, observations.into()).into_result()
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        FfiOptimizer::save_state(&self.0)
            .into_result()
            .map(Vec::from)
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        FfiOptimizer::load_state(&mut self.0, state.into()).into_result()
    }
    fn predict(&mut self, genomes: &[Vec<u32>]) -> PluginResult<Vec<f64>> {
        let g: Vec<Genome> = genomes.iter().map(|g| Genome::from(g.clone())).collect();
        FfiOptimizer::predict(&mut self.0, g.as_slice().into())
            .into_result()
            .map(Vec::from)
    }
}

// --- heads -------------------------------------------------------------------------------------

struct GuardedHead<T>(T);

impl<T: Head> FfiHead for GuardedHead<T> {
    fn forward(
        &mut self,
        features: &Matrix,
        tasks: RSlice<'_, u32>,
        train: bool,
    ) -> RResult<Matrix, PluginError> {
        guard("head forward", || {
            self.0.forward(features, tasks.as_slice(), train)
        })
    }
    fn backward(&mut self, grad_output: &Matrix) -> RResult<Matrix, PluginError> {
        guard("head backward", || self.0.backward(grad_output))
    }
    fn step(&mut self) -> RResult<(), PluginError> {
        guard("head step", || self.0.step())
    }
    fn save_state(&self) -> RResult<RVec<u8>, PluginError> {
        guard("head save_state", || self.0.save_state().map(RVec::from))
    }
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError> {
        guard("head load_state", || self.0.load_state(state.as_slice()))
    }
}

/// Wraps a head into its ABI object.
pub fn head_box<T: Head>(head: T) -> HeadBox {
    HeadBox(FfiHead_TO::from_value(GuardedHead(head), TD_Opaque))
}

impl Head for HeadBox {
    fn forward(&mut self, features: &Matrix, tasks: &[u32], train: bool) -> PluginResult<Matrix> {
        FfiHead::forward(&mut self.0, features, tasks.into(), train).into_result()
    }
    fn backward(&mut self, grad_output: &Matrix) -> PluginResult<Matrix> {
        FfiHead::backward(&mut self.0, grad_output).into_result()
    }
    fn step(&mut self) -> PluginResult<()> {
        FfiHead::step(&mut self.0).into_result()
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        FfiHead::save_state(&self.0).into_result().map(Vec::from)
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        FfiHead::load_state(&mut self.0, state.into()).into_result()
    }
}

struct GuardedHeadFactory<T>(Arc<T>);

impl<T> Clone for GuardedHeadFactory<T> {
    fn clone(&self) -> Self {
        GuardedHeadFactory(Arc::clone(&self.0))
    }
}

impl<T: HeadFactory> FfiHeadFactory for GuardedHeadFactory<T> {
    fn describe(&self) -> RString {
        catch_unwind(AssertUnwindSafe(|| self.0.describe()))
            .unwrap_or_else(|_| "head factory".into())
            .into()
    }
    fn uses_all_tasks(&self) -> bool {
        catch_unwind(AssertUnwindSafe(|| self.0.uses_all_tasks())).unwrap_or(false)
    }
    fn make_head(&self, spec: &HeadSpec) -> RResult<HeadBox, PluginError> {
        guard("make_head", || self.0.make_head(spec))
    }
    fn plan(&self) -> TransferPlan {
        catch_unwind(AssertUnwindSafe(|| self.0.plan())).unwrap_or_else(|_| TransferPlan::plain())
    }
}

/// Wraps a head factory into its ABI object.
pub fn head_factory_box<T: HeadFactory>(factory: T) -> HeadFactoryBox {
    HeadFactoryBox(FfiHeadFactory_TO::from_value(
        GuardedHeadFactory(Arc::new(factory)),
        TD_Opaque,
    ))
}

impl HeadFactory for HeadFactoryBox {
    fn describe(&self) -> String {
        FfiHeadFactory::describe(&self.0).into()
    }
    fn uses_all_tasks(&self) -> bool {
        FfiHeadFactory::uses_all_tasks(&self.0)
    }
    fn make_head(&self, spec: &HeadSpec) -> PluginResult<HeadBox> {
        FfiHeadFactory::make_head(&self.0, spec).into_result()
    }
    fn plan(&self) -> TransferPlan {
        FfiHeadFactory::plan(&self.0)
    }
}

// --- transfer and similarity -------------------------------------------------------------------

struct GuardedTransfer<T>(T);

impl<T: Transfer> FfiTransfer for GuardedTransfer<T> {
    fn head_factory(&self) -> RResult<HeadFactoryBox, PluginError> {
        guard("head_factory", || self.0.head_factory())
    }
    fn wrap(
        &mut self,
        inner: OptimizerBox,
        init: &OptimizerInit,
    ) -> RResult<OptimizerBox, PluginError> {
        guard("wrap", || self.0.wrap(inner, init))
    }
}

/// Wraps a transfer decorator into its ABI object.
pub fn transfer_box<T: Transfer>(transfer: T) -> TransferBox {
    TransferBox(FfiTransfer_TO::from_value(
        GuardedTransfer(transfer),
        TD_Opaque,
    ))
}

impl Transfer for TransferBox {
    fn head_factory(&self) -> PluginResult<HeadFactoryBox> {
        FfiTransfer::head_factory(&self.0).into_result()
    }
    fn wrap(&mut self, inner: OptimizerBox, init: &OptimizerInit) -> PluginResult<OptimizerBox> {
        FfiTransfer::wrap(&mut self.0, inner, init).into_result()
    }
}

struct GuardedSimilarity<T>(T);

impl<T: Similarity> FfiSimilarity for GuardedSimilarity<T> {
    fn embed(&mut self, task: RStr<'_>) -> RResult<RVec<f32>, PluginError> {
        guard("embed", || self.0.embed(task.as_str()).map(RVec::from))
    }
    fn distance(&self, a: RSlice<'_, f32>, b: RSlice<'_, f32>) -> RResult<f64, PluginError> {
        guard("distance", || self.0.distance(a.as_slice(), b.as_slice()))
    }
    fn landmarks(&mut self) -> RResult<RVec<Genome>, PluginError> {
        guard("landmarks", || {
            self.0
                .landmarks()
                .map(|l| l.into_iter().map(RVec::from).collect())
        })
    }
    fn embed_scores(
        &mut self,
        task: RStr<'_>,
        scores: RSlice<'_, f64>,
    ) -> RResult<RVec<f32>, PluginError> {
        guard("embed_scores", || {
            self.0
                .embed_scores(task.as_str(), scores.as_slice())
                .map(RVec::from)
        })
    }
}

/// Wraps a similarity measure into its ABI object.
pub fn similarity_box<T: Similarity>(similarity: T) -> SimilarityBox {
    SimilarityBox(FfiSimilarity_TO::from_value(
        GuardedSimilarity(similarity),
        TD_Opaque,
    ))
}

impl Similarity for SimilarityBox {
    fn embed(&mut self, task: &str) -> PluginResult<Vec<f32>> {
        FfiSimilarity::embed(&mut self.0, task.into())
            .into_result()
            .map(Vec::from)
    }
    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64> {
        FfiSimilarity::distance(&self.0, a.into(), b.into()).into_result()
    }
    fn landmarks(&mut self) -> PluginResult<Vec<Vec<u32>>> {
        FfiSimilarity::landmarks(&mut self.0)
            .into_result()
            .map(|l| l.into_iter().map(Vec::from).collect())
    }
    fn embed_scores(&mut self, task: &str, scores: &[f64]) -> PluginResult<Vec<f32>> {
        FfiSimilarity::embed_scores(&mut self.0, task.into(), scores.into())
            .into_result()
            .map(Vec::from)
    }
}

/// An observation with no result yet is never built; this helper makes a failed one.
pub fn failed_observation(trial_id: u64, task: &str, genome: Vec<u32>) -> Observation {
    Observation {
        trial_id,
        task: task.into(),
        genome: genome.into(),
        metric: f64::NAN,
        test_metric: RNone,
        cost_seconds: 0.0,
        budget: RNone,
        curve: RVec::new(),
        status: TrialStatus::FAILED,
    }
}
