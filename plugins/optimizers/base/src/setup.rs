//! What a `base` run starts from: its meta-training tasks, or the meta-network of a source run.

use crate::params::BaseParams;
use crate::META_NETWORK;
use xnas_core::{OneShotInit, PluginError, PluginResult, SourceArtifacts};
use xnas_oneshot::transfer::{self, artifact};
use xnas_oneshot::{Stage, TransferArch};

/// The first source run that keeps a meta-network; source runs that all lack one are refused.
pub(crate) fn meta_source(sources: &[SourceArtifacts]) -> PluginResult<Option<&SourceArtifacts>> {
    if sources.is_empty() {
        return Ok(None);
    }
    match sources.iter().find(|s| artifact(s, META_NETWORK).is_some()) {
        Some(s) => Ok(Some(s)),
        None => Err(PluginError::data(format!(
            "tasks.source_runs names {} without a meta-network (artifacts/{META_NETWORK}): name \
             a meta-training run of `base` (a run without source_runs) to adapt its \
             meta-network, or remove source_runs to meta-train",
            sources[0].run
        ))),
    }
}

/// Meta-training's tasks: `meta_tasks`, or the target and the sources.
pub(crate) fn meta_tasks(params: &BaseParams, init: &OneShotInit) -> PluginResult<Vec<String>> {
    let tasks: Vec<String> = if params.meta_tasks.is_empty() {
        std::iter::once(init.target.to_string())
            .chain(init.sources.iter().map(|s| s.to_string()))
            .collect()
    } else {
        params.meta_tasks.clone()
    };
    if params.tasks_per_step as usize > tasks.len() {
        return Err(PluginError::invalid_params(format!(
            "`tasks_per_step` is {}, and meta-training has {} tasks ({}): draw at most as many \
             as there are, or list more in `meta_tasks`",
            params.tasks_per_step,
            tasks.len(),
            tasks.join(", ")
        )));
    }
    Ok(tasks)
}

pub(crate) fn adapt_epochs(p: &BaseParams) -> u32 {
    p.adapt_steps.div_ceil(p.steps_per_epoch)
}

/// The meta-network's Θ and weights into a freshly built stage on the target. Every weight but a
/// classifier or a stem (a new task's input shape gets a fresh one) must load.
pub(crate) fn start_from(
    stage: &mut Stage,
    source: &SourceArtifacts,
    arch: &TransferArch,
) -> PluginResult<()> {
    let fresh_stem = |n: &str| n.starts_with("stem");
    let misfits = transfer::start_from(stage, source, arch, "the meta-network's Θ", fresh_stem)?;
    if let Some(first) = misfits.first() {
        return Err(PluginError::data(format!(
            "source run {}: its meta-network does not fit this task's search network ({} of \
             its tensors absent there or of another shape, such as `{first}`); adapt with the \
             [search_space] settings that meta-trained it",
            source.run,
            misfits.len()
        )));
    }
    Ok(())
}
