//! Source knowledge: what the optimizer is told about the source tasks before the search, from up
//! to three origins, combined in this order:
//!
//! 1. `source_samples`: architectures per source task sampled by the host and evaluated, stored
//!    as `role = source` trials of this run;
//! 2. `source_runs`: the successful trials (source and target roles alike) of earlier runs on
//!    this run's source tasks, read from their stores without writing to them;
//! 3. `source_file`: a meta-dataset CSV (`task,arch,metric[,test_metric,cost_seconds]`, or a
//!    run's `trials.csv`).
//!
//! The target task never enters: a run or file with a row on the target is refused, not filtered,
//! since it means the user pointed at the wrong data. What was loaded (counts per origin and task
//! and a fingerprint of each imported origin) is recorded in the store and in `sources.json`; a
//! resumed run re-reads the origins and stops if they changed, so it is told exactly what the
//! interrupted run was told.
//!
//! Imported observations are never trials of this run: they get trial ids from
//! [`IMPORTED_TRIAL_ID_BASE`] upward in load order, far above any id this run gives its own trials
//! and below the seed tags at the top of the u64 range.

use super::progress::Progress;
use super::{Runner, SOURCE_SEED_TAG};
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::store::{Outcome, Role, Status, Store, TrialRecord};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use toml::Spanned;
use xnas_core::abi_stable::std_types::{RNone, RVec};
use xnas_core::{derive_seed, Observation, SearchSpace, SpaceBox, TrialStatus};

/// First trial id of imported observations (2^62).
pub const IMPORTED_TRIAL_ID_BASE: u64 = 1 << 62;

/// Store meta key of the recorded origins.
const META_KEY: &str = "source_knowledge";

/// Where source knowledge came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OriginKind {
    /// Sampled by this run (`source_samples`).
    Samples,
    /// An earlier run directory (`source_runs`).
    Run,
    /// A meta-dataset file (`source_file`).
    File,
    /// The similarity plugin's landmark architectures, evaluated on the chosen sources.
    Landmarks,
}

/// What one origin gave, as recorded in the store and in `sources.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct OriginRecord {
    pub origin: OriginKind,
    /// The path as written in the experiment file (imported origins).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    /// The path it was resolved to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resolved: Option<String>,
    /// Successful observations per source task.
    pub counts: BTreeMap<String, u64>,
    /// Trial id of the origin's first observation (imported origins; the rest follow in order).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub first_trial_id: Option<u64>,
    /// FNV-1a 64 of the imported observations (task, genome, metrics, cost), in hex: notices an
    /// origin whose contents changed while its counts did not.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fingerprint: Option<String>,
}

impl OriginRecord {
    fn describe(&self) -> String {
        let path = self.resolved.as_deref().unwrap_or("");
        match self.origin {
            OriginKind::Samples => "sampled source knowledge".into(),
            OriginKind::Run => format!("source run {path}"),
            OriginKind::File => format!("source file {path}"),
            OriginKind::Landmarks => "landmark architectures".into(),
        }
    }
}

/// Observations of one imported origin, with the record describing them.
pub struct Imported {
    pub record: OriginRecord,
    pub observations: Vec<Observation>,
}

fn counts_of(obs: &[Observation]) -> BTreeMap<String, u64> {
    let mut counts = BTreeMap::new();
    for o in obs {
        *counts.entry(o.task.to_string()).or_insert(0) += 1;
    }
    counts
}

fn counts_text(counts: &BTreeMap<String, u64>) -> String {
    if counts.is_empty() {
        return "none".into();
    }
    counts
        .iter()
        .map(|(t, n)| format!("{t} {n}"))
        .collect::<Vec<_>>()
        .join(", ")
}

/// FNV-1a 64: stable across Rust versions, unlike `DefaultHasher`, so it can be stored.
fn fingerprint(obs: &[Observation]) -> String {
    let mut h = xnas_core::Fnv1a64::default();
    let mut eat = |bytes: &[u8]| h.write(bytes);
    for o in obs {
        eat(o.task.as_bytes());
        eat(&[0xff]);
        for g in o.genome.iter() {
            eat(&g.to_le_bytes());
        }
        eat(&o.metric.to_bits().to_le_bytes());
        match o.test_metric.into_option() {
            Some(t) => eat(&t.to_bits().to_le_bytes()),
            None => eat(&[0xfe]),
        }
        eat(&o.cost_seconds.to_bits().to_le_bytes());
    }
    format!("{:016x}", h.finish())
}

fn knowledge_err(origin: impl Into<String>, message: impl Into<String>) -> HostError {
    HostError::SourceKnowledge {
        origin: origin.into(),
        message: message.into(),
    }
}

/// The canonical genome of an architecture text in this experiment's space.
fn arch_genome(space: &SpaceBox, text: &str) -> Result<Vec<u32>, String> {
    let genome = space.parse(text).map_err(|e| e.message().to_string())?;
    let arch = space
        .canonical(&genome)
        .map_err(|e| e.message().to_string())?;
    Ok(arch.genome.to_vec())
}

// --- meta-dataset CSV -------------------------------------------------------------------------

/// One usable row of a meta-dataset file (the architecture still as text).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaRow {
    /// 1-based line the row starts on.
    pub line: u64,
    pub task: String,
    pub arch: String,
    pub metric: f64,
    pub test_metric: Option<f64>,
    pub cost_s: f64,
}

/// What a meta-dataset file holds for an experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaRows {
    /// Rows on the source tasks whose status is ok, in file order.
    pub rows: Vec<MetaRow>,
    /// Rows skipped because their task is not a source task, per task.
    pub other_tasks: BTreeMap<String, u64>,
    /// Rows skipped because their `status` column is not `ok`.
    pub not_ok: u64,
}

const META_COLUMNS: &str = "task,arch,metric (optional: test_metric, cost_seconds, status)";

/// Reads a meta-dataset CSV. Columns are found by header name, so their order is free and other
/// columns are ignored; `xnas report`'s `trials.csv` (with `cost_s` and `status`) reads as is.
/// `name` is how messages name the file. Rows of tasks outside `sources` are skipped; a row on
/// `target` is an error, as is any malformed row of a source task.
pub fn read_meta_csv(
    reader: impl Read,
    name: &str,
    target: &str,
    sources: &[String],
) -> HostResult<MetaRows> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let at = |line: u64| format!("{name}:{line}");
    let headers = csv
        .headers()
        .map_err(|e| knowledge_err(at(1), format!("cannot read the header: {e}")))?
        .clone();
    if headers.iter().all(str::is_empty) {
        return Err(knowledge_err(
            at(1),
            format!("the file is empty: it needs a header line naming the columns {META_COLUMNS}"),
        ));
    }
    let names: Vec<&str> = headers
        .iter()
        .map(|h| h.trim_start_matches('\u{feff}'))
        .collect();
    for (i, n) in names.iter().enumerate() {
        if !n.is_empty() && names[..i].contains(n) {
            return Err(knowledge_err(
                at(1),
                format!("column `{n}` appears twice in the header: keep one"),
            ));
        }
    }
    let find = |n: &str| names.iter().position(|h| *h == n);
    let required = |n: &str| {
        find(n).ok_or_else(|| {
            knowledge_err(
                at(1),
                format!(
                    "the header has no `{n}` column (it has: {}); the columns are {META_COLUMNS}",
                    names.join(",")
                ),
            )
        })
    };
    let (task_col, arch_col, metric_col) =
        (required("task")?, required("arch")?, required("metric")?);
    let test_col = find("test_metric");
    let cost_col = find("cost_seconds").or_else(|| find("cost_s"));
    let status_col = find("status");

    let mut out = MetaRows::default();
    for record in csv.records() {
        let record = record.map_err(|e| {
            let line = e.position().map_or(0, |p| p.line());
            let message = match e.kind() {
                csv::ErrorKind::UnequalLengths {
                    expected_len, len, ..
                } => format!(
                    "the row has {len} fields and the header {expected_len}: give every column a \
                     value (empty for a missing optional one) and quote fields that contain commas"
                ),
                csv::ErrorKind::Utf8 { .. } => {
                    "the row is not valid UTF-8: save the file as UTF-8".into()
                }
                _ => format!("cannot read the row: {e}"),
            };
            knowledge_err(at(line), message)
        })?;
        let line = record.position().map_or(0, |p| p.line());
        let field = |col: usize| record.get(col).unwrap_or("");
        let task = field(task_col);
        if task.is_empty() {
            return Err(knowledge_err(
                at(line),
                "column `task` is empty: name the task the row was measured on",
            ));
        }
        if task == target {
            return Err(knowledge_err(
                at(line),
                format!(
                    "the row is on the target task `{target}`: the target never counts as source \
                     knowledge; remove the target's rows from the file (tasks.source_file)"
                ),
            ));
        }
        if !sources.iter().any(|s| s == task) {
            *out.other_tasks.entry(task.to_string()).or_insert(0) += 1;
            continue;
        }
        if let Some(col) = status_col {
            match field(col) {
                "ok" => {}
                "failed" | "pending" => {
                    out.not_ok += 1;
                    continue;
                }
                other => {
                    return Err(knowledge_err(
                        at(line),
                        format!(
                        "column `status`: `{other}` is not `ok`, `failed` or `pending`; only `ok` \
                             rows are used (or drop the column)"
                    ),
                    ))
                }
            }
        }
        let arch = field(arch_col);
        if arch.is_empty() {
            return Err(knowledge_err(
                at(line),
                "column `arch` is empty: give the architecture in the space's canonical text, as \
                 in the `arch` column of trials.csv",
            ));
        }
        let number = |col: usize, what: &str| -> HostResult<Option<f64>> {
            let text = field(col);
            if text.is_empty() {
                return Ok(None);
            }
            match text.parse::<f64>() {
                Ok(v) if v.is_finite() => Ok(Some(v)),
                _ => Err(knowledge_err(
                    at(line),
                    format!(
                        "column `{}`: `{text}` is not a finite number; write {what}",
                        names[col]
                    ),
                )),
            }
        };
        let metric = number(
            metric_col,
            "the validation metric as a number (higher is better)",
        )?
        .ok_or_else(|| {
            knowledge_err(
                at(line),
                "column `metric` is empty: give the validation metric (leave out rows of failed \
                 evaluations, or mark them with a `status` column saying `failed`)",
            )
        })?;
        let test_metric = test_col
            .map(|c| number(c, "the test metric as a number, or leave it empty"))
            .transpose()?
            .flatten();
        let cost_s = match cost_col {
            None => 0.0,
            Some(c) => {
                let cost = number(c, "the evaluation cost in seconds (≥ 0), or leave it empty")?
                    .unwrap_or(0.0);
                if cost < 0.0 {
                    return Err(knowledge_err(
                        at(line),
                        format!(
                            "column `{}`: {cost} is negative; write the evaluation cost in seconds \
                             (≥ 0), or leave it empty",
                            names[c]
                        ),
                    ));
                }
                cost
            }
        };
        out.rows.push(MetaRow {
            line,
            task: task.to_string(),
            arch: arch.to_string(),
            metric,
            test_metric,
            cost_s,
        });
    }
    Ok(out)
}

// --- loading the imported origins ------------------------------------------------------------

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
    Ok(store
        .meta("experiment")?
        .and_then(|text| text.parse::<toml::Table>().ok())
        .and_then(|t| {
            t.get("search_space")?
                .get("plugin")?
                .as_str()
                .map(str::to_string)
        }))
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

/// Refuses to resume with imported origins that no longer give what the run started with.
fn check_unchanged(stored: &[OriginRecord], now: &[OriginRecord]) -> HostResult<()> {
    let imported =
        |r: &&OriginRecord| !matches!(r.origin, OriginKind::Samples | OriginKind::Landmarks);
    let then: Vec<&OriginRecord> = stored.iter().filter(imported).collect();
    let now: Vec<&OriginRecord> = now.iter().filter(imported).collect();
    for (a, b) in then.iter().zip(&now) {
        if a == b {
            continue;
        }
        let what = if a.counts != b.counts {
            format!(
                "it gave {} observations when the run started and gives {} now",
                counts_text(&a.counts),
                counts_text(&b.counts)
            )
        } else {
            format!(
                "it gives as many observations as when the run started ({}) but different ones",
                counts_text(&a.counts)
            )
        };
        return Err(knowledge_err(
            b.describe(),
            format!(
                "changed since the run started: {what}; a resumed run must be told what the \
                 interrupted one was told: restore it as it was, or start a new run"
            ),
        ));
    }
    if then.len() != now.len() {
        return Err(HostError::Run(format!(
            "cannot resume: the run recorded {} imported source-knowledge origins and its experiment \
             now names {}",
            then.len(),
            now.len()
        )));
    }
    Ok(())
}

/// What `xnas validate` reports: the imported origins loaded for the listed sources.
pub fn preview(
    exp: &Experiment,
    space: &SpaceBox,
    space_name: &str,
) -> HostResult<Vec<OriginRecord>> {
    let sources: Vec<String> = exp
        .file
        .tasks
        .sources
        .iter()
        .map(|s| s.get_ref().clone())
        .collect();
    Ok(load_imported(exp, space, space_name, &sources, None)?
        .into_iter()
        .map(|i| i.record)
        .collect())
}

// --- the run's side --------------------------------------------------------------------------

impl Runner {
    /// Gathers every origin's source knowledge for `sources` (the ranked, chosen source tasks),
    /// records it (or, on resume, checks it is what was recorded) and writes `sources.json`.
    pub(super) fn source_knowledge(
        &mut self,
        sources: &[String],
        records: &[TrialRecord],
        progress: &Progress,
    ) -> HostResult<Vec<Observation>> {
        // Imported origins first: a changed file stops a resume before anything is evaluated.
        let space_name = self.resolved.space.name().to_string();
        let imported = load_imported(
            &self.exp,
            &self.space,
            &space_name,
            sources,
            Some(&self.run_dir),
        )?;
        let stored: Option<Vec<OriginRecord>> = match self.store.meta(META_KEY)? {
            Some(text) => Some(serde_json::from_str(&text).map_err(|e| HostError::Store {
                path: self.store.path().to_path_buf(),
                message: format!("bad `{META_KEY}`: {e}"),
            })?),
            None => None,
        };
        if let Some(stored) = &stored {
            let now: Vec<OriginRecord> = imported.iter().map(|i| i.record.clone()).collect();
            check_unchanged(stored, &now)?;
        }

        let mut history = self.sampled_knowledge(sources, records, progress)?;
        let mut origins = Vec::new();
        if self.exp.file.tasks.source_samples > 0 {
            origins.push(OriginRecord {
                origin: OriginKind::Samples,
                path: None,
                resolved: None,
                counts: counts_of(&history),
                first_trial_id: None,
                fingerprint: None,
            });
        }
        for i in imported {
            if i.observations.is_empty() {
                tracing::warn!(
                    "{} gave no successful observation on the source tasks ({})",
                    i.record.describe(),
                    sources.join(", ")
                );
            }
            origins.push(i.record);
            history.extend(i.observations);
        }
        // Landmark evaluations on the chosen sources are source knowledge too (never wasted).
        let landmark_obs = landmark_source_observations(records, sources);
        if !landmark_obs.is_empty() {
            origins.push(OriginRecord {
                origin: OriginKind::Landmarks,
                path: None,
                resolved: None,
                counts: counts_of(&landmark_obs),
                first_trial_id: None,
                fingerprint: None,
            });
            history.extend(landmark_obs);
        }
        // The last word on leakage, whatever the origins did.
        if let Some(o) = history.iter().find(|o| o.task.as_str() == self.target) {
            return Err(HostError::Run(format!(
                "source knowledge holds an observation on the target task `{}` (trial {}); this is a \
                 bug in xnas: please report it",
                self.target, o.trial_id
            )));
        }
        if stored.is_none() {
            // Recorded once all sampled trials are evaluated, before the optimizer exists.
            self.store.set_meta(
                META_KEY,
                &serde_json::to_string(&origins).unwrap_or_default(),
            )?;
        }
        self.write_sources_json(sources, &origins, &history)?;
        if !history.is_empty() {
            tracing::info!(
                "source knowledge: {} observations ({})",
                history.len(),
                origins
                    .iter()
                    .map(|o| format!("{}: {}", o.describe(), o.counts.values().sum::<u64>()))
                    .collect::<Vec<_>>()
                    .join("; ")
            );
        }
        Ok(history)
    }

    fn write_sources_json(
        &self,
        sources: &[String],
        origins: &[OriginRecord],
        history: &[Observation],
    ) -> HostResult<()> {
        if origins.is_empty() {
            return Ok(());
        }
        let json = serde_json::json!({
            "target": self.target,
            "sources": sources,
            "origins": origins,
            "totals": counts_of(history),
            "observations": history.len(),
        });
        let path = self.run_dir.join("sources.json");
        std::fs::write(
            &path,
            serde_json::to_string_pretty(&json).unwrap_or_default() + "\n",
        )
        .map_err(|e| HostError::io(&path, e))
    }

    /// Samples, persists and evaluates `source_samples` architectures per source task (once per
    /// run: on resume only what is still pending is evaluated). Returns the successful observations.
    fn sampled_knowledge(
        &mut self,
        sources: &[String],
        records: &[TrialRecord],
        progress: &Progress,
    ) -> HostResult<Vec<Observation>> {
        let per_task = self.exp.file.tasks.source_samples;
        let stored: Vec<TrialRecord> = records
            .iter()
            .filter(|r| r.spec.role == Role::Source && r.spec.batch == SAMPLED_BATCH)
            .cloned()
            .collect();
        let sampled = self.evaluate_planned(
            stored,
            |r| {
                let mut specs = Vec::new();
                for (ti, task) in sources.iter().enumerate() {
                    for j in 0..per_task {
                        let seed = derive_seed(
                            derive_seed(r.seed, SOURCE_SEED_TAG),
                            ((ti as u64) << 32) | j as u64,
                        );
                        let genome = r
                            .space
                            .sample(seed)
                            .map_err(|e| r.resolved.space.error(e))?;
                        specs.push(r.spec(SAMPLED_BATCH, Role::Source, task, genome, None));
                    }
                }
                if !specs.is_empty() {
                    tracing::info!(
                        "source knowledge: sampling {} architectures on {} source tasks",
                        specs.len(),
                        sources.len()
                    );
                }
                Ok(specs)
            },
            progress,
        )?;
        Ok(sampled
            .iter()
            .filter_map(|r| {
                let o = r.outcome.as_ref()?;
                (o.status == Status::Ok).then(|| Self::observation(&r.spec, o))
            })
            .collect())
    }
}

/// The successful landmark evaluations on `sources` (see `run::sources`).
fn landmark_source_observations(records: &[TrialRecord], sources: &[String]) -> Vec<Observation> {
    records
        .iter()
        .filter(|r| {
            r.spec.role == Role::Source
                && r.spec.batch == super::sources::LANDMARK_SOURCE_BATCH
                && sources.contains(&r.spec.task)
        })
        .filter_map(|r| {
            let o = r.outcome.as_ref()?;
            (o.status == Status::Ok).then(|| Runner::observation(&r.spec, o))
        })
        .collect()
}

/// The batch of the source trials sampled as source knowledge (`source_samples`).
pub(super) const SAMPLED_BATCH: u64 = 0;

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> HostResult<MetaRows> {
        read_meta_csv(
            text.as_bytes(),
            "meta.csv",
            "cora",
            &["citeseer".to_string(), "pubmed".to_string()],
        )
    }

    fn err(text: &str) -> String {
        read(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn columns_by_name_optional_ones_may_be_missing_or_empty() {
        let m = read(
            "metric,arch,task\n\
             0.7,\"0-0-0-0|gcn,gcn,gcn,gcn\",citeseer\n\
             0.25,x,photo\n\
             0.5,y,pubmed\n",
        )
        .unwrap();
        assert_eq!(
            m.rows,
            vec![
                MetaRow {
                    line: 2,
                    task: "citeseer".into(),
                    arch: "0-0-0-0|gcn,gcn,gcn,gcn".into(),
                    metric: 0.7,
                    test_metric: None,
                    cost_s: 0.0,
                },
                MetaRow {
                    line: 4,
                    task: "pubmed".into(),
                    arch: "y".into(),
                    metric: 0.5,
                    test_metric: None,
                    cost_s: 0.0,
                },
            ]
        );
        assert_eq!(m.other_tasks, BTreeMap::from([("photo".to_string(), 1)]));

        let m = read(
            "task,arch,metric,test_metric,cost_seconds\nciteseer,a,0.7,,\npubmed,b,0.6,0.55,3.5\n",
        )
        .unwrap();
        assert_eq!((m.rows[0].test_metric, m.rows[0].cost_s), (None, 0.0));
        assert_eq!((m.rows[1].test_metric, m.rows[1].cost_s), (Some(0.55), 3.5));
    }

    #[test]
    fn reads_the_trials_csv_that_report_writes() {
        // The header of `report::write_trials_csv`; failed rows are skipped, cost_s is the cost.
        let m = read(
            "trial_id,role,task,arch,genome,metric,test_metric,cost_s,status,seed,error\n\
             0,source,citeseer,\"0-0-0-0|gcn,gcn,gcn,gcn\",0-1-1-1-1,0.7,0.69,2.5,ok,17,\n\
             1,source,pubmed,\"0-0-0-0|gat,gcn,gcn,gcn\",0-0-1-1-1,,,0,failed,18,evaluation failed: x\n\
             2,target,photo,\"0-0-0-0|gat,gcn,gcn,gcn\",0-0-1-1-1,0.9,0.9,1,ok,19,\n",
        )
        .unwrap();
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].task, "citeseer");
        assert_eq!(m.rows[0].arch, "0-0-0-0|gcn,gcn,gcn,gcn");
        assert_eq!((m.rows[0].test_metric, m.rows[0].cost_s), (Some(0.69), 2.5));
        assert_eq!(m.not_ok, 1);
        assert_eq!(m.other_tasks.get("photo"), Some(&1));
    }

    #[test]
    fn a_row_on_the_target_is_an_error_naming_the_line() {
        let e = err("task,arch,metric\nciteseer,a,0.5\ncora,b,0.6\npubmed,c,0.7\n");
        assert!(e.starts_with("meta.csv:3: "), "{e}");
        assert!(e.contains("target task `cora`"), "{e}");
        // Even with a bad metric, the leak is what is reported.
        let e = err("task,arch,metric\ncora,b,oops\n");
        assert!(e.contains("target task `cora`"), "{e}");
    }

    #[test]
    fn bad_values_name_line_column_and_fix() {
        let e = err("task,arch,metric\nciteseer,a,0.5\npubmed,b,abc\n");
        assert!(
            e.starts_with("meta.csv:3: column `metric`: `abc` is not a finite number"),
            "{e}"
        );
        let e = err("task,arch,metric\npubmed,b,NaN\n");
        assert!(e.starts_with("meta.csv:2: column `metric`"), "{e}");
        let e = err("task,arch,metric\npubmed,b,\n");
        assert!(e.starts_with("meta.csv:2: column `metric` is empty"), "{e}");
        let e = err("task,arch,metric\npubmed,,0.5\n");
        assert!(e.starts_with("meta.csv:2: column `arch` is empty"), "{e}");
        let e = err("task,arch,metric\n,a,0.5\n");
        assert!(e.starts_with("meta.csv:2: column `task` is empty"), "{e}");
        let e = err("task,arch,metric,test_metric\npubmed,a,0.5,x\n");
        assert!(e.starts_with("meta.csv:2: column `test_metric`"), "{e}");
        let e = err("task,arch,metric,cost_seconds\npubmed,a,0.5,-1\n");
        assert!(
            e.starts_with("meta.csv:2: column `cost_seconds`: -1 is negative"),
            "{e}"
        );
        let e = err("task,arch,metric,status\npubmed,a,0.5,maybe\n");
        assert!(e.starts_with("meta.csv:2: column `status`"), "{e}");
    }

    #[test]
    fn rows_of_other_tasks_are_not_checked() {
        let m = read("task,arch,metric\nphoto,,not a number\n").unwrap();
        assert!(m.rows.is_empty());
        assert_eq!(m.other_tasks.get("photo"), Some(&1));
    }

    #[test]
    fn unequal_rows_and_header_problems() {
        let e = err("task,arch,metric\npubmed,a,0.5\npubmed,0-0-0-0|gcn,gcn,gcn,gcn,0.5\n");
        assert!(
            e.starts_with("meta.csv:3: the row has 6 fields and the header 3"),
            "{e}"
        );
        assert!(e.contains("quote fields that contain commas"), "{e}");
        let e = err("task,architecture,metric\npubmed,a,0.5\n");
        assert!(
            e.starts_with("meta.csv:1: the header has no `arch` column"),
            "{e}"
        );
        let e = err("task,arch,metric,metric\n");
        assert!(e.contains("column `metric` appears twice"), "{e}");
        let e = err("");
        assert!(e.starts_with("meta.csv:1: the file is empty"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let m = read("\u{feff}task,arch,metric\npubmed,a,0.5\n").unwrap();
        assert_eq!(m.rows.len(), 1);
    }

    fn obs(task: &str, metric: f64) -> Observation {
        Observation {
            trial_id: 0,
            task: task.into(),
            genome: vec![1, 2].into(),
            metric,
            test_metric: RNone,
            cost_seconds: 0.0,
            budget: RNone,
            curve: RVec::new(),
            status: TrialStatus::OK,
        }
    }

    fn record(kind: OriginKind, obs: &[Observation]) -> OriginRecord {
        OriginRecord {
            origin: kind,
            path: Some("meta.csv".into()),
            resolved: Some("/x/meta.csv".into()),
            counts: counts_of(obs),
            first_trial_id: Some(IMPORTED_TRIAL_ID_BASE),
            fingerprint: Some(fingerprint(obs)),
        }
    }

    #[test]
    fn a_changed_origin_is_refused_on_resume() {
        let a = [obs("citeseer", 0.5), obs("pubmed", 0.6)];
        let stored = vec![record(OriginKind::File, &a)];
        check_unchanged(&stored, &stored.clone()).unwrap();
        // Sampled knowledge comes from the store itself and is not compared.
        let mut with_samples = stored.clone();
        with_samples.insert(0, record(OriginKind::Samples, &a[..1]));
        check_unchanged(&with_samples, &stored).unwrap();

        let more = [obs("citeseer", 0.5), obs("pubmed", 0.6), obs("pubmed", 0.7)];
        let e = check_unchanged(&stored, &[record(OriginKind::File, &more)])
            .unwrap_err()
            .to_string();
        assert!(
            e.starts_with("source file /x/meta.csv: changed since the run started"),
            "{e}"
        );
        assert!(e.contains("citeseer 1, pubmed 1 observations when the run started and gives citeseer 1, pubmed 2 now"), "{e}");

        let other = [obs("citeseer", 0.5), obs("pubmed", 0.61)];
        let e = check_unchanged(&stored, &[record(OriginKind::File, &other)])
            .unwrap_err()
            .to_string();
        assert!(
            e.contains("as many observations as when the run started"),
            "{e}"
        );
    }

    #[test]
    fn the_fingerprint_sees_every_field() {
        let base = fingerprint(&[obs("a", 0.5)]);
        assert_eq!(base, fingerprint(&[obs("a", 0.5)]));
        assert_ne!(base, fingerprint(&[obs("b", 0.5)]));
        assert_ne!(base, fingerprint(&[obs("a", 0.25)]));
        let mut t = obs("a", 0.5);
        t.test_metric = Some(0.5).into();
        assert_ne!(base, fingerprint(&[t]));
        let mut g = obs("a", 0.5);
        g.genome = vec![2, 1].into();
        assert_ne!(base, fingerprint(&[g]));
    }
}
