//! Which source run a warm-starting one-shot optimizer (capability `warm-start`: `ws-darts`)
//! starts from. Its source runs' artifacts are ranked by the distance of each run's task to the
//! target under the experiment's `[similarity]` measure and handed to the optimizer nearest
//! first. Decided once, before the run directory is made (a measure that cannot embed is bad
//! input there), then recorded in the store and in `similarity.json`, so a resumed run starts
//! from the same source without embedding again.

use super::embedding;
use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::plugins::assemble;
use crate::similarity;
use crate::store::Store;
use xnas_core::{capability, Similarity, SourceArtifacts, SpaceBox};

/// The store's record of the ranked source runs.
pub const RANKING_KEY: &str = "warm_start_sources";

/// A ranking made now, for the run to record.
pub struct Ranking {
    /// Source run directories, nearest first.
    pub runs: Vec<String>,
    /// What `similarity.json` says.
    pub json: serde_json::Value,
}

/// The source artifacts in the order the optimizer gets them: as listed for an optimizer that
/// does not warm-start; else as `stored` (a resumed run), or ranked now.
pub fn order(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
    mut artifacts: Vec<SourceArtifacts>,
    stored: Option<Vec<String>>,
) -> HostResult<(Vec<SourceArtifacts>, Option<Ranking>)> {
    if !resolved.optimizer.info.has(capability::WARM_START) {
        return Ok((artifacts, None));
    }
    // A listed run without artifacts would otherwise be left out unnamed.
    for run in &exp.file.tasks.source_runs {
        let dir = exp.resolve_path(run.get_ref()).display().to_string();
        if !artifacts.iter().any(|a| a.run.as_str() == dir) {
            return Err(exp.error_at(
                run.span(),
                format!(
                    "tasks.source_runs: {dir} keeps no artifacts: optimizer `{}` starts from a \
                     transfer architecture, which runs of `pdarts` with `transfer_search = true` \
                     keep; remove the run or make one",
                    resolved.optimizer.name()
                ),
            ));
        }
    }
    if let Some(runs) = stored {
        let at = |a: &SourceArtifacts| {
            runs.iter()
                .position(|r| r == a.run.as_str())
                .unwrap_or(usize::MAX)
        };
        artifacts.sort_by_key(at);
        return Ok((artifacts, None));
    }
    let ranked = if artifacts.len() < 2 {
        // Nothing to choose between: no embedding.
        artifacts.iter().map(|_| None).collect()
    } else {
        distances(exp, resolved, space, &artifacts)?
    };
    let mut order: Vec<(SourceArtifacts, Option<Ranked>)> =
        artifacts.into_iter().zip(ranked).collect();
    // Stable: equal distances (or none) keep the listed order.
    order.sort_by(|a, b| {
        let d = |x: &Option<Ranked>| x.map_or(f64::INFINITY, |r| r.distance);
        d(&a.1).total_cmp(&d(&b.1))
    });
    let json = serde_json::json!({
        "similarity": resolved.similarity.as_ref().map(|e| e.name()),
        "target": exp.file.tasks.target.get_ref(),
        "distances": order.iter().map(|(a, d)| serde_json::json!({
            "run": a.run.as_str(),
            "task": a.task.as_str(),
            "distance": d.map(|r| r.distance).filter(|d| d.is_finite()),
            // Whether the run's kept embedding was used (embedding::kept) rather than a new one.
            "kept_embedding": d.map(|r| r.kept_embedding),
        })).collect::<Vec<_>>(),
        "chosen": order.first().map(|(a, _)| a.run.as_str()),
    });
    if let Some((first, d)) = order.first() {
        tracing::info!(
            "warm start: source run {} ({}{})",
            first.run,
            first.task,
            d.map(|r| format!(", distance {:.4}", r.distance))
                .unwrap_or_default()
        );
    }
    let artifacts: Vec<SourceArtifacts> = order.into_iter().map(|(a, _)| a).collect();
    let runs = artifacts.iter().map(|a| a.run.to_string()).collect();
    Ok((artifacts, Some(Ranking { runs, json })))
}

/// A source run's distance to the target, and whether the embedding kept with the run gave it.
#[derive(Clone, Copy)]
struct Ranked {
    distance: f64,
    kept_embedding: bool,
}

/// Each source run's distance to the target under `[similarity]`; None for a task the measure
/// could not embed (ranked last, as for ask/tell runs).
fn distances(
    exp: &Experiment,
    resolved: &Resolved,
    space: &SpaceBox,
    artifacts: &[SourceArtifacts],
) -> HostResult<Vec<Option<Ranked>>> {
    let opt = resolved.optimizer.name();
    let (Some(entry), Some(section)) = (&resolved.similarity, &exp.file.similarity) else {
        return Err(exp.error_at(
            exp.optimizer_name().span(),
            format!(
                "optimizer `{opt}` starts from the nearest of {} source runs: add a [similarity] \
                 section (for example `plugin = \"task2vec\"`) to say how tasks are compared, or \
                 name one run in tasks.source_runs",
                artifacts.len()
            ),
        ));
    };
    if entry.info.has(capability::LANDMARKS) {
        return Err(exp.error_at(
            section.plugin.span(),
            format!(
                "similarity `{}` embeds a task by evaluating landmark architectures, which a \
                 one-shot run does not do: rank the source runs of `{opt}` with a measure that \
                 reads the data (`task2vec`, `landmark-net`)",
                entry.name()
            ),
        ));
    }
    let mut sim = assemble::similarity(exp, entry, space, embedding::seed(exp))?;
    let target = similarity::embed_task(entry, &mut sim, exp.file.tasks.target.get_ref(), None)?
        .map_err(|e| entry.error(e))?;
    let mut out = Vec::with_capacity(artifacts.len());
    for a in artifacts {
        // The embedding kept with the source run, if made the same way; else embedded now.
        let kept = embedding::kept(a, &embedding::made(exp, entry, a.task.as_str()));
        if kept.is_some() {
            tracing::info!(
                "source run {}: its kept similarity embedding is used",
                a.run
            );
        }
        let kept_embedding = kept.is_some();
        let embedded = match kept {
            Some(e) => Ok(e),
            None => similarity::embed_task(entry, &mut sim, a.task.as_str(), None)?,
        };
        let d = match embedded {
            Ok(e) => Some(Ranked {
                distance: sim.distance(&target, &e).map_err(|e| entry.error(e))?,
                kept_embedding,
            }),
            Err(e) => {
                tracing::warn!("source run {} ranked last: {}", a.run, entry.error(e));
                None
            }
        };
        out.push(d);
    }
    Ok(out)
}

/// The ranking a run recorded, if any.
pub fn stored(store: &Store) -> HostResult<Option<Vec<String>>> {
    let Some(text) = store.meta(RANKING_KEY)? else {
        return Ok(None);
    };
    serde_json::from_str(&text)
        .map(Some)
        .map_err(|e| HostError::Store {
            path: store.path().to_path_buf(),
            message: format!("bad `{RANKING_KEY}`: {e}"),
        })
}
