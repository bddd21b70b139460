//! Glue between the author layer and the ABI layer for one-shot search (see `adapters` for the
//! other kinds): guarded ABI objects for supernets and one-shot optimizers, and the author traits
//! on their boxes.

use crate::abi::*;
use crate::adapters::guard;
use crate::error::{PluginError, PluginResult};
use crate::traits::{OneShot, Supernet};
use abi_stable::sabi_trait::TD_Opaque;
use abi_stable::std_types::{ROption, RResult, RSlice, RVec};

struct GuardedSupernet<T>(T);

impl<T: Supernet> FfiSupernet for GuardedSupernet<T> {
    fn info(&self) -> RResult<SupernetInfo, PluginError> {
        guard("supernet info", || self.0.info())
    }
    fn train_step(&mut self, mix: &Matrix) -> RResult<BatchStats, PluginError> {
        guard("train_step", || self.0.train_step(mix))
    }
    fn arch_grad(&mut self, mix: &Matrix) -> RResult<ArchGrad, PluginError> {
        guard("arch_grad", || self.0.arch_grad(mix))
    }
    fn unrolled_arch_grad(&mut self, mix: &Matrix) -> RResult<ArchGrad, PluginError> {
        guard("unrolled_arch_grad", || self.0.unrolled_arch_grad(mix))
    }
    fn evaluate(&mut self, mix: &Matrix) -> RResult<BatchStats, PluginError> {
        guard("supernet evaluate", || self.0.evaluate(mix))
    }
    fn end_epoch(&mut self) -> RResult<u32, PluginError> {
        guard("end_epoch", || self.0.end_epoch())
    }
    fn set_skip_dropout(&mut self, p: f64) -> RResult<(), PluginError> {
        guard("set_skip_dropout", || self.0.set_skip_dropout(p))
    }
    fn set_task(&mut self, task: u32) -> RResult<(), PluginError> {
        guard("set_task", || self.0.set_task(task))
    }
    fn save_state(&self) -> RResult<RVec<u8>, PluginError> {
        guard("supernet save_state", || {
            self.0.save_state().map(RVec::from)
        })
    }
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError> {
        guard("supernet load_state", || {
            self.0.load_state(state.as_slice())
        })
    }
    fn snapshot(&mut self) -> RResult<u32, PluginError> {
        guard("snapshot", || self.0.snapshot())
    }
    fn restore(&mut self, id: u32) -> RResult<(), PluginError> {
        guard("restore", || self.0.restore(id))
    }
    fn drop_snapshot(&mut self, id: u32) -> RResult<(), PluginError> {
        guard("drop_snapshot", || self.0.drop_snapshot(id))
    }
    fn interpolate(
        &mut self,
        base: u32,
        others: RSlice<'_, u32>,
        epsilon: f64,
    ) -> RResult<(), PluginError> {
        guard("interpolate", || {
            self.0.interpolate(base, others.as_slice(), epsilon)
        })
    }
    fn export_weights(&self) -> RResult<RVec<u8>, PluginError> {
        guard("export_weights", || self.0.export_weights().map(RVec::from))
    }
    fn import_weights(&mut self, weights: RSlice<'_, u8>) -> RResult<ImportReport, PluginError> {
        guard("import_weights", || {
            self.0.import_weights(weights.as_slice())
        })
    }
    fn set_episode(&mut self, episode: ROption<Episode>) -> RResult<RVec<u32>, PluginError> {
        guard("set_episode", || {
            self.0.set_episode(episode.into_option()).map(RVec::from)
        })
    }
}

/// Wraps a supernet into its ABI object.
pub fn supernet_box<T: Supernet>(supernet: T) -> SupernetBox {
    SupernetBox(FfiSupernet_TO::from_value(
        GuardedSupernet(supernet),
        TD_Opaque,
    ))
}

impl Supernet for SupernetBox {
    fn info(&self) -> PluginResult<SupernetInfo> {
        FfiSupernet::info(&self.0).into_result()
    }
    fn train_step(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        FfiSupernet::train_step(&mut self.0, mix).into_result()
    }
    fn arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        FfiSupernet::arch_grad(&mut self.0, mix).into_result()
    }
    fn unrolled_arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        FfiSupernet::unrolled_arch_grad(&mut self.0, mix).into_result()
    }
    fn evaluate(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        FfiSupernet::evaluate(&mut self.0, mix).into_result()
    }
    fn end_epoch(&mut self) -> PluginResult<u32> {
        FfiSupernet::end_epoch(&mut self.0).into_result()
    }
    fn set_skip_dropout(&mut self, p: f64) -> PluginResult<()> {
        FfiSupernet::set_skip_dropout(&mut self.0, p).into_result()
    }
    fn set_task(&mut self, task: u32) -> PluginResult<()> {
        FfiSupernet::set_task(&mut self.0, task).into_result()
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        FfiSupernet::save_state(&self.0)
            .into_result()
            .map(Vec::from)
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        FfiSupernet::load_state(&mut self.0, state.into()).into_result()
    }
    fn snapshot(&mut self) -> PluginResult<u32> {
        FfiSupernet::snapshot(&mut self.0).into_result()
    }
    fn restore(&mut self, id: u32) -> PluginResult<()> {
        FfiSupernet::restore(&mut self.0, id).into_result()
    }
    fn drop_snapshot(&mut self, id: u32) -> PluginResult<()> {
        FfiSupernet::drop_snapshot(&mut self.0, id).into_result()
    }
    fn interpolate(&mut self, base: u32, others: &[u32], epsilon: f64) -> PluginResult<()> {
        FfiSupernet::interpolate(&mut self.0, base, others.into(), epsilon).into_result()
    }
    fn export_weights(&self) -> PluginResult<Vec<u8>> {
        FfiSupernet::export_weights(&self.0)
            .into_result()
            .map(Vec::from)
    }
    fn import_weights(&mut self, weights: &[u8]) -> PluginResult<ImportReport> {
        FfiSupernet::import_weights(&mut self.0, weights.into()).into_result()
    }
    fn set_episode(&mut self, episode: Option<Episode>) -> PluginResult<Vec<u32>> {
        FfiSupernet::set_episode(&mut self.0, episode.into())
            .into_result()
            .map(Vec::from)
    }
}

struct GuardedOneShot<T>(T);

impl<T: OneShot> FfiOneShot for GuardedOneShot<T> {
    fn run(&mut self, max_steps: u32) -> RResult<SearchProgress, PluginError> {
        guard("run", || self.0.run(max_steps))
    }
    fn save_state(&self) -> RResult<RVec<u8>, PluginError> {
        guard("save_state", || self.0.save_state().map(RVec::from))
    }
    fn load_state(&mut self, state: RSlice<'_, u8>) -> RResult<(), PluginError> {
        guard("load_state", || self.0.load_state(state.as_slice()))
    }
    fn derive(&mut self, n: u32) -> RResult<RVec<Proposal>, PluginError> {
        guard("derive", || self.0.derive(n as usize).map(RVec::from))
    }
    fn artifacts(&self) -> RResult<RVec<Artifact>, PluginError> {
        guard("artifacts", || self.0.artifacts().map(RVec::from))
    }
}

/// Wraps a one-shot optimizer into its ABI object.
pub fn one_shot_box<T: OneShot>(optimizer: T) -> OneShotBox {
    OneShotBox(FfiOneShot_TO::from_value(
        GuardedOneShot(optimizer),
        TD_Opaque,
    ))
}

impl OneShot for OneShotBox {
    fn run(&mut self, max_steps: u32) -> PluginResult<SearchProgress> {
        FfiOneShot::run(&mut self.0, max_steps).into_result()
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        FfiOneShot::save_state(&self.0).into_result().map(Vec::from)
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        FfiOneShot::load_state(&mut self.0, state.into()).into_result()
    }
    fn derive(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        let n = u32::try_from(n).unwrap_or(u32::MAX);
        FfiOneShot::derive(&mut self.0, n)
            .into_result()
            .map(Vec::from)
    }
    fn artifacts(&self) -> PluginResult<Vec<Artifact>> {
        FfiOneShot::artifacts(&self.0).into_result().map(Vec::from)
    }
}
