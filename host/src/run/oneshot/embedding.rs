//! The similarity embedding of a one-shot run's target, kept with the run
//! (`artifacts/embedding.json`) when its experiment has a `[similarity]` section. Warm-started
//! DARTS keeps each source's transfer architecture "with the task's similarity embedding"
//! (Grobelnik & Vanschoren): a later warm start that ranks this run as a source reads the
//! embedding instead of embedding the task again, when it was made the same way — the same
//! plugin and version, parameters (other than `tasks`), definition of the task and seed. Else
//! the task is embedded anew, as before.

use super::artifacts;
use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::HostResult;
use crate::plugins::{assemble, PluginEntry};
use crate::similarity;
use serde::{Deserialize, Serialize};
use std::path::Path;
use xnas_core::{capability, derive_seed, Artifact, SourceArtifacts, SpaceBox};

/// The artifact's name.
pub const FILE: &str = "embedding.json";
const FORMAT: u32 = 1;

/// What an embedding was made with: two embeddings compare only when these are equal.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Made {
    pub similarity: String,
    pub version: String,
    /// The seed the measure was created with (the `random` control draws from it).
    pub seed: u64,
    /// `[similarity.params]` without `tasks`.
    pub params: serde_json::Value,
    /// The task's entry in the measure's task table (its own, or the search space's).
    pub task_spec: serde_json::Value,
}

/// `artifacts/embedding.json`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stored {
    pub format: u32,
    pub task: String,
    pub made: Made,
    pub embedding: Vec<f32>,
}

/// The seed of the experiment's similarity measure.
pub fn seed(exp: &Experiment) -> u64 {
    derive_seed(exp.file.experiment.seed, crate::run::SIMILARITY_SEED_TAG)
}

/// How this experiment's measure would embed `task`.
pub fn made(exp: &Experiment, entry: &PluginEntry, task: &str) -> Made {
    let f = &exp.file;
    let mut params = (f.similarity.as_ref())
        .and_then(|s| s.params.as_ref())
        .map(|p| p.get_ref().clone())
        .unwrap_or_default();
    let tasks = params.remove("tasks").or_else(|| {
        (f.search_space.params.as_ref()).and_then(|p| p.get_ref().get("tasks").cloned())
    });
    let spec = tasks.as_ref().and_then(|t| t.get(task)).cloned();
    let json = |v: Option<toml::Value>| {
        v.and_then(|v| serde_json::to_value(v).ok())
            .unwrap_or(serde_json::Value::Null)
    };
    Made {
        similarity: entry.name().to_string(),
        version: entry.info.version.to_string(),
        seed: seed(exp),
        params: json(Some(toml::Value::Table(params))),
        task_spec: json(spec),
    }
}

/// For a one-shot optimizer that does not warm-start and an experiment with a `[similarity]`
/// section: the target embedded now (before the run exists, so a measure that cannot embed it is
/// bad input there). None otherwise, or for a run that kept its embedding already (`run_dir`).
pub fn of_target(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
    run_dir: Option<&Path>,
) -> HostResult<Option<Stored>> {
    let Some(entry) = &resolved.similarity else {
        return Ok(None);
    };
    if resolved.optimizer.info.has(capability::WARM_START)
        || run_dir.is_some_and(|d| d.join(artifacts::DIR).join(FILE).is_file())
    {
        return Ok(None);
    }
    if entry.info.has(capability::LANDMARKS) {
        let at = exp.file.similarity.as_ref().map(|s| s.plugin.span());
        return Err(exp.error_at(
            at.unwrap_or_else(|| exp.optimizer_name().span()),
            format!(
                "similarity `{}` embeds a task by evaluating landmark architectures, which a \
                 one-shot run does not do: keep a measure that reads the data (`task2vec`, \
                 `landmark-net`), or remove [similarity]",
                entry.name()
            ),
        ));
    }
    let target = exp.file.tasks.target.get_ref();
    let mut sim = assemble::similarity(exp, entry, space, seed(exp))?;
    let embedding =
        similarity::embed_task(entry, &mut sim, target, None)?.map_err(|e| entry.error(e))?;
    Ok(Some(Stored {
        format: FORMAT,
        task: target.clone(),
        made: made(exp, entry, target),
        embedding,
    }))
}

impl Stored {
    pub fn artifact(&self) -> Artifact {
        Artifact {
            name: FILE.into(),
            data: serde_json::to_vec_pretty(self).unwrap_or_default().into(),
        }
    }
}

/// The embedding a source run kept, if it was made as `made` would make it now.
pub fn kept(source: &SourceArtifacts, made: &Made) -> Option<Vec<f32>> {
    let a = source.artifacts.iter().find(|a| a.name.as_str() == FILE)?;
    let s: Stored = serde_json::from_slice(&a.data).ok()?;
    (s.format == FORMAT && s.task == source.task.as_str() && &s.made == made).then_some(s.embedding)
}
