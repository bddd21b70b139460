//! Which source tasks a run uses: as listed, or ranked (and cut to `top_k`) by a similarity
//! plugin. Decided once and recorded in the store and in `similarity.json`, so a resumed run
//! uses exactly the same sources.
//!
//! A measure with landmark architectures gets them evaluated here as trials: on the target as
//! batch 0 of the search (they count against the budget and the optimizer is told them before
//! its first ask), on every listed source as source trials (the chosen sources' become source
//! knowledge). Persisted like any trial, so a killed run resumes without evaluating them again.

use super::progress::Progress;
use super::runner::Runner;
use crate::error::{HostError, HostResult};
use crate::plugins::{assemble, PluginEntry};
use crate::report::write_json;
use crate::similarity;
use crate::store::{Role, Status, TrialRecord, TrialSpec};
use std::collections::BTreeMap;
use xnas_core::{derive_seed, Similarity};

/// Batch of the landmark trials on the target (the search's batches start at 1).
pub(super) const LANDMARK_TARGET_BATCH: u64 = 0;
/// Batch of the landmark trials on source tasks (sampled source knowledge is batch 0).
pub(crate) const LANDMARK_SOURCE_BATCH: u64 = 1;

/// The sources the run uses, and whether landmark trials were evaluated to choose them (the
/// caller's copy of the store's trials is then out of date).
pub(super) fn ranked_sources(
    r: &mut Runner,
    progress: &Progress,
) -> HostResult<(Vec<String>, bool)> {
    if let Some(stored) = r.store.meta("sources")? {
        let sources = serde_json::from_str(&stored).map_err(|e| HostError::Store {
            path: r.store.path().to_path_buf(),
            message: format!("bad `sources`: {e}"),
        })?;
        return Ok((sources, false));
    }
    let listed = r.exp.sources();
    let (chosen, evaluated) = match (r.resolved.similarity.clone(), &r.exp.file.similarity) {
        (Some(entry), Some(section)) => {
            let top_k = section.top_k.as_ref().map(|k| *k.get_ref());
            rank(r, &entry, top_k, listed, progress)?
        }
        _ => (listed, false),
    };
    r.store.set_meta(
        "sources",
        &serde_json::to_string(&chosen).unwrap_or_default(),
    )?;
    Ok((chosen, evaluated))
}

/// Ranks the listed sources by their distance to the target under the similarity plugin and
/// keeps the `top_k` nearest; writes `similarity.json`. Also says whether landmarks were
/// evaluated.
fn rank(
    r: &mut Runner,
    entry: &PluginEntry,
    top_k: Option<usize>,
    listed: Vec<String>,
    progress: &Progress,
) -> HostResult<(Vec<String>, bool)> {
    let seed = derive_seed(r.seed, super::SIMILARITY_SEED_TAG);
    let mut sim = assemble::similarity(&r.exp, entry, &r.space, seed)?;
    let err = |e| entry.error(e);
    let landmarks = similarity::landmarks(entry, &mut sim, &r.space)?;
    let mut scores = match &landmarks {
        Some(genomes) => landmark_scores(r, genomes, &listed, progress)?,
        None => BTreeMap::new(),
    };
    let mut embed =
        |task: &str| similarity::embed_task(entry, &mut sim, task, scores.remove(task).as_deref());
    let target = embed(&r.target)?.map_err(err)?;
    // A source the measure cannot embed (say, landmarks its benchmark has no entries for) is
    // ranked last rather than stopping the run.
    let mut embedded = Vec::with_capacity(listed.len());
    let mut unembedded = serde_json::Map::new();
    for s in &listed {
        match embed(s)? {
            Ok(e) => embedded.push((s.clone(), Some(e))),
            Err(e) => {
                let e = err(e);
                tracing::warn!("{s} ranked last: {e}");
                unembedded.insert(s.clone(), e.to_string().into());
                embedded.push((s.clone(), None));
            }
        }
    }
    let mut ranked = Vec::with_capacity(listed.len());
    for (s, e) in embedded {
        let d = match e {
            Some(e) => sim.distance(&target, &e).map_err(err)?,
            None => f64::INFINITY,
        };
        ranked.push((s, d));
    }
    ranked.sort_by(|a, b| a.1.total_cmp(&b.1).then_with(|| a.0.cmp(&b.0)));
    let keep = top_k.map_or(ranked.len(), |k| k.min(ranked.len()));
    let json = serde_json::json!({
        "similarity": entry.name(),
        "target": r.target,
        "distances": ranked.iter().map(|(t, d)| serde_json::json!({"task": t, "distance": d.is_finite().then_some(*d)})).collect::<Vec<_>>(),
        "not_embedded": unembedded,
        "chosen": ranked.iter().take(keep).map(|(t, _)| t).collect::<Vec<_>>(),
        "landmarks": landmarks.as_ref().map_or(0, Vec::len),
    });
    write_json(&r.run_dir.join("similarity.json"), &json)?;
    tracing::info!(
        "similarity `{}`: sources by distance to {}: {}; keeping {keep}",
        entry.name(),
        r.target,
        ranked
            .iter()
            .map(|(t, d)| format!("{t} {d:.4}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    let chosen = ranked.into_iter().take(keep).map(|(t, _)| t).collect();
    Ok((chosen, landmarks.is_some()))
}

fn is_landmark(rec: &TrialRecord) -> bool {
    match rec.spec.role {
        Role::Target => rec.spec.batch == LANDMARK_TARGET_BATCH,
        Role::Source => rec.spec.batch == LANDMARK_SOURCE_BATCH,
    }
}

/// Evaluates the landmarks on the target and every listed source (what is not stored yet) and
/// returns each task's scores in landmark order (NaN for a failed evaluation).
fn landmark_scores(
    r: &mut Runner,
    genomes: &[Vec<u32>],
    sources: &[String],
    progress: &Progress,
) -> HostResult<BTreeMap<String, Vec<f64>>> {
    let budget = r.exp.file.experiment.budget.get_ref().evaluations;
    if let Some(b) = budget {
        if (genomes.len() as u64) > b {
            return Err(HostError::Usage(format!(
                "the similarity plugin evaluates {} landmark architectures on the target, which count \
                 against the search budget of {b} evaluations: lower its `k` or raise \
                 experiment.budget.evaluations",
                genomes.len()
            )));
        }
    }
    let stored: Vec<TrialRecord> = r.store.trials()?.into_iter().filter(is_landmark).collect();
    let records = r.evaluate_planned(
        stored,
        |r| {
            let target = r.target.clone();
            let mut specs: Vec<TrialSpec> = Vec::new();
            for g in genomes {
                specs.push(r.spec(
                    LANDMARK_TARGET_BATCH,
                    Role::Target,
                    &target,
                    g.clone(),
                    None,
                ));
            }
            for task in sources {
                for g in genomes {
                    specs.push(r.spec(LANDMARK_SOURCE_BATCH, Role::Source, task, g.clone(), None));
                }
            }
            tracing::info!(
                "similarity: evaluating {} landmark architectures on {} tasks ({} on the target, \
                 counted against the budget)",
                genomes.len(),
                sources.len() + 1,
                genomes.len()
            );
            Ok(specs)
        },
        progress,
    )?;
    let mut scores: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    for rec in records {
        let metric = rec
            .outcome
            .filter(|o| o.status == Status::Ok)
            .and_then(|o| o.metric)
            .unwrap_or(f64::NAN);
        // Records come in trial-id order, which is landmark order within each task.
        scores.entry(rec.spec.task).or_default().push(metric);
    }
    for (task, s) in &scores {
        if s.len() != genomes.len() {
            return Err(HostError::Store {
                path: r.store.path().to_path_buf(),
                message: format!(
                    "{task} has {} landmark trials where the similarity plugin names {}: the run's \
                     landmarks changed",
                    s.len(),
                    genomes.len()
                ),
            });
        }
    }
    Ok(scores)
}
