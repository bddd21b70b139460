//! The imported origins of source knowledge: earlier runs' stores (`tasks.source_runs`, opened
//! read-only) and a meta-dataset file (`tasks.source_file`).

use super::meta_csv::read_meta_csv;
use super::{
    arch_genome, counts_of, fingerprint, knowledge_err, Imported, OriginKind, OriginRecord,
    IMPORTED_TRIAL_ID_BASE,
};
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::store::{Outcome, Status, Store};
use serde::Deserialize;
use std::collections::BTreeMap;
use std::path::Path;
use toml::Spanned;
use xnas_core::abi_stable::std_types::{RNone, RVec};
use xnas_core::{Observation, SpaceBox, TrialStatus};

/// Loads `tasks.source_runs` and `tasks.source_file` for `sources` (after the path checks).
/// `space_name` is this experiment's search-space plugin; `own_run_dir` is the run being made,
/// which cannot be its own source. Trial ids run from [`IMPORTED_TRIAL_ID_BASE`] in load order.
pub fn load_imported(
    exp: &Experiment,
    space: &SpaceBox,
    space_name: &str,
    sources: &[String],
    own_run_dir: Option<&Path>,
) -> HostResult<Vec<Imported>> {
    exp.check_source_paths()?;
    let tasks = &exp.file.tasks;
    let target = tasks.target.get_ref();
    let mut next_id = IMPORTED_TRIAL_ID_BASE;
    let mut out = Vec::new();
    let mut push = |kind, written: &Spanned<String>, resolved: &Path, mut obs: Vec<Observation>| {
        let first = next_id;
        for o in &mut obs {
            o.trial_id = next_id;
            next_id += 1;
        }
        let record = OriginRecord {
            origin: kind,
            path: Some(written.get_ref().clone()),
            resolved: Some(resolved.display().to_string()),
            counts: counts_of(&obs),
            first_trial_id: Some(first),
            fingerprint: Some(fingerprint(&obs)),
        };
        out.push(Imported {
            record,
            observations: obs,
        });
    };
    for run in &tasks.source_runs {
        let dir = exp.resolve_path(run.get_ref());
        let dir = std::fs::canonicalize(&dir).unwrap_or(dir);
        if let Some(own) = own_run_dir {
            if std::fs::canonicalize(own).is_ok_and(|o| o == dir) {
                return Err(exp.error_at(
                    run.span(),
                    "tasks.source_runs names this run's own directory: a run cannot be its own source",
                ));
            }
        }
        let obs = read_run(&dir, space, space_name, target, sources)?;
        push(OriginKind::Run, run, &dir, obs);
    }
    if let Some(file) = &tasks.source_file {
        let path = exp.resolve_path(file.get_ref());
        let obs = read_file(&path, space, space_name, target, sources)?;
        push(OriginKind::File, file, &path, obs);
    }
    Ok(out)
}

/// The search-space plugin a run used: its `search_space` meta, else its stored experiment text.
fn run_space(store: &Store) -> HostResult<Option<String>> {
    if let Some(s) = store.meta("search_space")? {
        return Ok(Some(s));
    }
    #[derive(Deserialize)]
    struct Stored {
        search_space: Plugin,
    }
    #[derive(Deserialize)]
    struct Plugin {
        plugin: String,
    }
    Ok(store
        .meta("experiment")?
        .and_then(|text| toml::from_str::<Stored>(&text).ok())
        .map(|s| s.search_space.plugin))
}

fn read_run(
    dir: &Path,
    space: &SpaceBox,
    space_name: &str,
    target: &str,
    sources: &[String],
) -> HostResult<Vec<Observation>> {
    let origin = format!("source run {}", dir.display());
    let store = Store::open_read_only(&dir.join("store.sqlite"))?;
    match run_space(&store)? {
        Some(s) if s == space_name => {}
        Some(s) => {
            return Err(knowledge_err(
                origin,
                format!(
                    "it used search space `{s}` and this experiment uses `{space_name}`: source \
                     knowledge must come from the same space; remove the run from tasks.source_runs"
                ),
            ))
        }
        None => {
            return Err(knowledge_err(
                origin,
                "its store does not say which search space it used: it was not made by `xnas run`",
            ))
        }
    }
    let records = store.trials()?;
    if let Some(r) = records.iter().find(|r| r.spec.task == target) {
        return Err(knowledge_err(
            origin,
            format!(
                "trial {} ({}) is on the target task `{target}`: the target never counts as source \
                 knowledge; remove the run from tasks.source_runs (use runs that never evaluated \
                 `{target}`)",
                r.spec.id,
                r.spec.role.as_str()
            ),
        ));
    }
    let mut obs = Vec::new();
    let mut other_tasks: BTreeMap<&str, u64> = BTreeMap::new();
    for r in &records {
        let s = &r.spec;
        if !sources.contains(&s.task) {
            *other_tasks.entry(&s.task).or_insert(0) += 1;
            continue;
        }
        let Some(Outcome {
            status: Status::Ok,
            metric: Some(metric),
            test_metric,
            cost_s,
            curve,
            ..
        }) = &r.outcome
        else {
            continue; // failed or never finished: no knowledge
        };
        let genome = arch_genome(space, &s.arch).map_err(|m| {
            knowledge_err(
                origin.as_str(),
                format!(
                    "trial {}: search space `{space_name}` cannot read its architecture `{}`: {m} \
                     (were the run's [search_space] parameters different?)",
                    s.id, s.arch
                ),
            )
        })?;
        obs.push(Observation {
            trial_id: 0,
            task: s.task.as_str().into(),
            genome: genome.into(),
            metric: *metric,
            test_metric: (*test_metric).into(),
            cost_seconds: *cost_s,
            budget: s.budget.into(),
            curve: RVec::from(curve.clone()),
            status: TrialStatus::OK,
        });
    }
    if !other_tasks.is_empty() {
        tracing::debug!(
            "{origin}: skipped trials on tasks that are not source tasks here: {}",
            other_tasks
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(obs)
}

fn read_file(
    path: &Path,
    space: &SpaceBox,
    space_name: &str,
    target: &str,
    sources: &[String],
) -> HostResult<Vec<Observation>> {
    let name = path.display().to_string();
    let file = std::fs::File::open(path).map_err(|e| HostError::io(path, e))?;
    let rows = read_meta_csv(std::io::BufReader::new(file), &name, target, sources)?;
    if !rows.other_tasks.is_empty() {
        tracing::debug!(
            "source file {name}: ignored rows of tasks that are not source tasks here: {}",
            rows.other_tasks
                .iter()
                .map(|(t, n)| format!("{t} {n}"))
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    if rows.not_ok > 0 {
        tracing::debug!(
            "source file {name}: ignored {} rows whose status is not ok",
            rows.not_ok
        );
    }
    rows.rows
        .into_iter()
        .map(|r| {
            let genome = arch_genome(space, &r.arch).map_err(|m| {
                knowledge_err(
                    format!("{name}:{}", r.line),
                    format!("column `arch`: search space `{space_name}`: {m}"),
                )
            })?;
            Ok(Observation {
                trial_id: 0,
                task: r.task.into(),
                genome: genome.into(),
                metric: r.metric,
                test_metric: r.test_metric.into(),
                cost_seconds: r.cost_s,
                budget: RNone,
                curve: RVec::new(),
                status: TrialStatus::OK,
            })
        })
        .collect()
}
