//! `xnas ablation`: the XferNAS ablation (Wistuba 2019, Figure 3) as an experiment kind.
//!
//! How well does the transferred surrogate rank unseen target architectures, as a function of
//! the source knowledge (architectures per source task) and the target knowledge (evaluated
//! target architectures)? For every target and split: `held_out` distinct architectures with a
//! metric on the target are set aside; target knowledge is the first K of a further pool, source
//! knowledge the first S of a pool per source task. For every (S, K) a fresh optimizer (with its
//! transfer plugin, as in a run) is told that knowledge and asked to `predict` the held-out set;
//! the cell's figure is Spearman's ρ between prediction and truth. The optimizer must declare the
//! `predict` capability (nao does).
//!
//! Cells are appended to `cells.jsonl` per finished split, so an interrupted ablation resumes.

use crate::compare::{plot, stats};
use crate::config::{folder_of, toml_error, Experiment};
use crate::error::{HostError, HostResult};
use crate::plugins::assemble;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use toml::{Table, Value};
use xnas_core::abi_stable::std_types::{RNone, RVec};
use xnas_core::*;

/// The copy of the ablation file kept in its directory.
pub const ABLATION_FILE: &str = "ablation.toml";
const CELLS: &str = "cells.jsonl";
/// Seed tags of the ablation's samples (apart from the trial seeds of runs).
const TARGET_TAG: u64 = u64::MAX - 16;
const SOURCE_TAG: u64 = u64::MAX - 17;
const MODEL_TAG: u64 = u64::MAX - 18;

#[derive(Debug, Deserialize)]
struct AblationDoc {
    ablation: Option<AblationSection>,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AblationSection {
    /// Target tasks (default: `[tasks] target`); each one's sources are `[tasks] sources` but itself.
    #[serde(default)]
    pub targets: Vec<String>,
    /// Architectures per source task (S).
    #[serde(default = "default_source")]
    pub source_knowledge: Vec<usize>,
    /// Evaluated target architectures (K).
    #[serde(default = "default_target")]
    pub target_knowledge: Vec<usize>,
    /// Held-out target architectures the correlation is measured on.
    #[serde(default = "default_held_out")]
    pub held_out: usize,
    #[serde(default = "default_splits")]
    pub splits: u64,
    #[serde(default = "default_confidence")]
    pub confidence: f64,
}

fn default_source() -> Vec<usize> {
    vec![0, 50, 100, 150]
}
fn default_target() -> Vec<usize> {
    vec![0, 10, 25, 50, 100, 150]
}
fn default_held_out() -> usize {
    50
}
fn default_splits() -> u64 {
    10
}
fn default_confidence() -> f64 {
    0.95
}

/// An ablation file: its section and the experiment it varies.
pub struct Ablation {
    pub section: AblationSection,
    pub name: String,
    pub targets: Vec<String>,
    /// The experiment part as an ordinary experiment file (budget filled in if absent).
    pub experiment_text: String,
}

pub fn parse(text: &str, path: &Path) -> HostResult<Ablation> {
    let err = |m: String| HostError::ConfigFile {
        file: path.display().to_string(),
        message: m,
    };
    let position = |e: toml::de::Error| toml_error(text, path, &e);
    let doc: AblationDoc = toml::from_str(text).map_err(position)?;
    let mut section = doc.ablation.ok_or_else(|| {
        err("no [ablation] section: `xnas ablation` needs one (see docs/config.md#ablation)".into())
    })?;
    let mut t: Table = toml::from_str(text).map_err(position)?;
    t.remove("ablation");
    let exp = t
        .entry("experiment")
        .or_insert_with(|| Value::Table(Table::new()));
    let name = exp
        .get("name")
        .and_then(Value::as_str)
        .ok_or_else(|| err("[experiment] needs a `name`".into()))?
        .to_string();
    if let Some(e) = exp.as_table_mut() {
        // The ablation asks no architecture; a run needs a budget, so one is filled in.
        e.entry("budget").or_insert_with(|| {
            let mut b = Table::new();
            b.insert("evaluations".into(), Value::Integer(1));
            Value::Table(b)
        });
    }
    let target = t
        .get("tasks")
        .and_then(|x| x.get("target"))
        .and_then(Value::as_str)
        .map(String::from);
    let targets = if section.targets.is_empty() {
        vec![target.ok_or_else(|| {
            err("name the targets: `[tasks] target` or `[ablation] targets`".into())
        })?]
    } else {
        section.targets.clone()
    };
    if section.splits == 0 || section.held_out < 3 {
        return Err(err("[ablation] needs splits ≥ 1 and held_out ≥ 3".into()));
    }
    if section.source_knowledge.is_empty() || section.target_knowledge.is_empty() {
        return Err(err(
            "[ablation] source_knowledge and target_knowledge need at least one size each".into(),
        ));
    }
    if !(section.confidence > 0.0 && section.confidence < 1.0) {
        return Err(err("confidence must lie between 0 and 1".into()));
    }
    section.source_knowledge.sort_unstable();
    section.source_knowledge.dedup();
    section.target_knowledge.sort_unstable();
    section.target_knowledge.dedup();
    // The experiment part stands for the first target; each target's own is made from it.
    if let Some(tasks) = t.get_mut("tasks").and_then(Value::as_table_mut) {
        tasks.insert("target".into(), Value::String(targets[0].clone()));
    }
    Ok(Ablation {
        section,
        name,
        targets,
        experiment_text: toml::to_string(&t).expect("a TOML table serialises"),
    })
}

/// One (target, split, S, K) figure.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Cell {
    pub target: String,
    pub split: u64,
    pub source_knowledge: usize,
    pub target_knowledge: usize,
    pub spearman: f64,
}

#[derive(Debug, Clone)]
pub struct AblationOptions {
    pub quiet: bool,
    pub plugin_dirs: Vec<PathBuf>,
}

/// The experiment text for one target: sources are the listed ones but the target.
fn experiment_text_for(ab: &Ablation, target: &str) -> String {
    let mut t: Table = toml::from_str(&ab.experiment_text).expect("written by parse");
    if let Some(tasks) = t.get_mut("tasks").and_then(Value::as_table_mut) {
        tasks.insert("target".into(), Value::String(target.into()));
        if let Some(s) = tasks.get_mut("sources").and_then(Value::as_array_mut) {
            s.retain(|v| v.as_str() != Some(target));
        }
    }
    toml::to_string(&t).expect("a TOML table serialises")
}

/// One target's experiment, resolved and checked: everything that can be wrong is found before
/// the first split runs.
type Prepared = (
    String,
    Experiment,
    crate::config::validate::Resolved,
    SpaceBox,
);

fn prepare(target: &str, exp: Experiment, plugin_dirs: &[PathBuf]) -> HostResult<Prepared> {
    let registry = crate::run::discover(&exp, plugin_dirs);
    let resolved = exp.resolve_plugins(&registry)?;
    if !resolved.optimizer.info.has(capability::PREDICT) {
        return Err(exp.error_at(
            exp.optimizer_name().span(),
            format!(
                "the ablation needs an optimizer with a surrogate that predicts (capability `predict`); `{}` has none — use nao",
                resolved.optimizer.name()
            ),
        ));
    }
    let space = assemble::space(&exp, &resolved.space)?;
    Ok((target.to_string(), exp, resolved, space))
}

/// `xnas validate` of an ablation file: the checks `xnas ablation` makes before its first split,
/// without writing anything. An error in a target's experiment names the target.
pub fn check(file: &Path, plugin_dirs: &[PathBuf]) -> HostResult<Ablation> {
    let text = std::fs::read_to_string(file).map_err(|e| HostError::ConfigFile {
        file: file.display().to_string(),
        message: format!("cannot read the ablation file: {e}"),
    })?;
    let ab = parse(&text, file)?;
    for target in &ab.targets {
        let in_target = |e: HostError| e.in_file(file, &format!("ablation target `{target}`: "));
        let exp = Experiment::parse(
            experiment_text_for(&ab, target),
            file.to_path_buf(),
            folder_of(file),
        )
        .map_err(in_target)?;
        prepare(target, exp, plugin_dirs).map_err(in_target)?;
    }
    Ok(ab)
}

/// `n` distinct canonical architectures with a successful evaluation on `task`.
fn sample_evaluated(
    space: &SpaceBox,
    task: &str,
    n: usize,
    tag: u64,
) -> HostResult<Vec<(Vec<u32>, f64)>> {
    let mut seen = BTreeSet::new();
    let mut out = Vec::with_capacity(n);
    let mut i = 0u64;
    let attempts = (n as u64 + 10) * 50;
    while out.len() < n {
        if i >= attempts {
            return Err(HostError::Run(format!(
                "found only {} distinct architectures with a metric on `{task}` in {attempts} samples; the ablation needs {n}: lower held_out or the knowledge sizes",
                out.len()
            )));
        }
        let seed = derive_seed(tag, i);
        i += 1;
        let g = space
            .sample(seed)
            .map_err(|e| HostError::Run(format!("sampling for `{task}`: {e}")))?;
        let Ok(arch) = space.canonical(&g) else {
            continue;
        };
        if !seen.insert(arch.text.to_string()) {
            continue;
        }
        let request = EvalRequest {
            trial_id: i,
            task: task.into(),
            genome: arch.genome.clone(),
            seed,
            budget: RNone,
        };
        if let Ok(r) = space.evaluate(&request) {
            if r.metric.is_finite() {
                out.push((arch.genome.to_vec(), r.metric));
            }
        }
    }
    Ok(out)
}

fn observation(id: u64, task: &str, genome: &[u32], metric: f64) -> Observation {
    Observation {
        trial_id: id,
        task: task.into(),
        genome: genome.to_vec().into(),
        metric,
        test_metric: RNone,
        cost_seconds: 0.0,
        budget: RNone,
        curve: RVec::new(),
        status: TrialStatus::OK,
    }
}

fn read_cells(path: &Path) -> HostResult<Vec<Cell>> {
    let Ok(text) = std::fs::read_to_string(path) else {
        return Ok(Vec::new());
    };
    text.lines()
        .enumerate()
        .filter(|(_, l)| !l.trim().is_empty())
        .map(|(i, l)| {
            serde_json::from_str(l).map_err(|e| HostError::Store {
                path: path.to_path_buf(),
                message: format!("line {}: {e}", i + 1),
            })
        })
        .collect()
}

/// `xnas ablation FILE --out DIR`.
pub fn ablation(file: &Path, out: &Path, opts: &AblationOptions) -> HostResult<Written> {
    let text = std::fs::read_to_string(file).map_err(|e| HostError::ConfigFile {
        file: file.display().to_string(),
        message: format!("cannot read the ablation file: {e}"),
    })?;
    let ab = parse(&text, file)?;
    std::fs::create_dir_all(out).map_err(|e| HostError::io(out, e))?;
    let copy = out.join(ABLATION_FILE);
    if let Ok(old) = std::fs::read_to_string(&copy) {
        if old != text && out.join(CELLS).exists() {
            return Err(HostError::Usage(format!(
                "{} holds an ablation made from a different file: use another --out, or delete it to start over",
                out.display()
            )));
        }
    }
    // Everything is checked before the first split runs. Each target's experiment is written
    // beside the cells, so an error's line and column point into a file that exists.
    let mut prepared = Vec::new();
    for target in &ab.targets {
        let text = experiment_text_for(&ab, target);
        let path = out.join(format!(
            "experiment-{}.toml",
            crate::compare::plan::slug(target)
        ));
        std::fs::write(&path, &text).map_err(|e| HostError::io(&path, e))?;
        let exp = Experiment::parse(text, path, folder_of(file))?;
        prepared.push(prepare(target, exp, &opts.plugin_dirs)?);
    }
    std::fs::write(&copy, &text).map_err(|e| HostError::io(&copy, e))?;

    let cells_path = out.join(CELLS);
    let done: BTreeSet<(String, u64)> = read_cells(&cells_path)?
        .into_iter()
        .map(|c| (c.target, c.split))
        .collect();
    let s = &ab.section;
    let todo: Vec<(usize, u64)> = (0..prepared.len())
        .flat_map(|t| (0..s.splits).map(move |k| (t, k)))
        .filter(|(t, k)| !done.contains(&(prepared[*t].0.clone(), *k)))
        .collect();
    let bar = crate::run::progress::count_bar(opts.quiet, todo.len(), "ablation", "splits");
    let max_s = *s.source_knowledge.last().expect("checked");
    let max_k = *s.target_knowledge.last().expect("checked");
    for (ti, split) in todo {
        let (target, exp, resolved, space) = &prepared[ti];
        bar.set_message(format!("{target} split {split}"));
        // Keyed by the target's name, not its place in `targets`: a target's splits are the same
        // in every ablation file with the same seed and sources, so files compare cell by cell.
        let seed = component_seed(derive_seed(exp.file.experiment.seed, split), target);
        let arches = sample_evaluated(
            space,
            target,
            s.held_out + max_k,
            derive_seed(seed, TARGET_TAG),
        )?;
        let (held, pool) = arches.split_at(s.held_out);
        let held_genomes: Vec<Vec<u32>> = held.iter().map(|(g, _)| g.clone()).collect();
        let held_metric: Vec<f64> = held.iter().map(|(_, m)| *m).collect();
        let sources = exp
            .tasks()
            .into_iter()
            .filter(|t| t != target)
            .collect::<Vec<_>>();
        let mut source_obs = Vec::new();
        for (si, src) in sources.iter().enumerate() {
            let tag = derive_seed(derive_seed(seed, SOURCE_TAG), si as u64);
            let obs: Vec<Observation> = sample_evaluated(space, src, max_s, tag)?
                .into_iter()
                .enumerate()
                .map(|(j, (g, m))| observation(((si as u64 + 1) << 32) | j as u64, src, &g, m))
                .collect();
            source_obs.push(obs);
        }
        let mut cells = Vec::new();
        for (ci, &sk) in s.source_knowledge.iter().enumerate() {
            for (cj, &tk) in s.target_knowledge.iter().enumerate() {
                let history: Vec<Observation> = source_obs
                    .iter()
                    .flat_map(|o| o[..sk.min(o.len())].iter().cloned())
                    .collect();
                let model_seed = derive_seed(derive_seed(seed, MODEL_TAG), (ci * 1000 + cj) as u64);
                let mut opt = assemble::optimizer(
                    exp, resolved, space, target, &sources, history, model_seed,
                )?;
                let told: Vec<Observation> = pool[..tk]
                    .iter()
                    .enumerate()
                    .map(|(j, (g, m))| observation(j as u64, target, g, *m))
                    .collect();
                let plugin = |e: PluginError| resolved.optimizer.error(e);
                opt.tell(&told).map_err(plugin)?;
                let pred = opt.predict(&held_genomes).map_err(plugin)?;
                if pred.len() != held_genomes.len() {
                    return Err(plugin(PluginError::other(format!(
                        "predict returned {} values for {} architectures",
                        pred.len(),
                        held_genomes.len()
                    ))));
                }
                cells.push(Cell {
                    target: target.clone(),
                    split,
                    source_knowledge: sk,
                    target_knowledge: tk,
                    spearman: stats::spearman(&pred, &held_metric),
                });
            }
        }
        // One append per split: a killed ablation loses at most the split in progress.
        let mut lines = String::new();
        for c in &cells {
            lines += &serde_json::to_string(c).expect("cell serialises");
            lines.push('\n');
        }
        use std::io::Write;
        std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&cells_path)
            .and_then(|mut f| f.write_all(lines.as_bytes()))
            .map_err(|e| HostError::io(&cells_path, e))?;
        bar.inc(1);
    }
    bar.finish_and_clear();
    report(out)
}

#[derive(Debug, Clone, Serialize)]
pub struct CellSummary {
    pub source_knowledge: usize,
    pub target_knowledge: usize,
    /// Spearman's ρ over splits: mean and Student-t interval.
    pub spearman: stats::Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetSummary {
    /// A target name, or `mean over targets` (each split's mean over targets).
    pub target: String,
    pub cells: Vec<CellSummary>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub held_out: usize,
    pub splits: u64,
    pub confidence: f64,
    pub tables: Vec<TargetSummary>,
}

#[derive(Debug)]
pub struct Written {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    pub plot_error: Option<String>,
}

pub fn is_ablation(dir: &Path) -> bool {
    dir.join(ABLATION_FILE).exists()
}

/// Rebuilds `correlation.json`, `correlation.md` and `plots/correlation*.png|svg` from `cells.jsonl`.
pub fn report(dir: &Path) -> HostResult<Written> {
    let file = dir.join(ABLATION_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| HostError::io(&file, e))?;
    let ab = parse(&text, &file)?;
    let cells = read_cells(&dir.join(CELLS))?;
    let s = &ab.section;
    let table = |pick: &dyn Fn(usize, usize) -> Vec<f64>| -> Vec<CellSummary> {
        let mut out = Vec::new();
        for &sk in &s.source_knowledge {
            for &tk in &s.target_knowledge {
                out.push(CellSummary {
                    source_knowledge: sk,
                    target_knowledge: tk,
                    spearman: stats::t_interval(&pick(sk, tk), s.confidence),
                });
            }
        }
        out
    };
    let mut tables = Vec::new();
    for t in &ab.targets {
        tables.push(TargetSummary {
            target: t.clone(),
            cells: table(&|sk, tk| {
                cells
                    .iter()
                    .filter(|c| {
                        &c.target == t && c.source_knowledge == sk && c.target_knowledge == tk
                    })
                    .map(|c| c.spearman)
                    .filter(|r| r.is_finite())
                    .collect()
            }),
        });
    }
    if ab.targets.len() > 1 {
        tables.push(TargetSummary {
            target: "mean over targets".into(),
            cells: table(&|sk, tk| {
                let mut by_split: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                for c in cells
                    .iter()
                    .filter(|c| c.source_knowledge == sk && c.target_knowledge == tk)
                {
                    by_split.entry(c.split).or_default().push(c.spearman);
                }
                by_split
                    .into_values()
                    .filter(|v| v.len() == ab.targets.len() && v.iter().all(|r| r.is_finite()))
                    .map(|v| stats::mean(&v))
                    .collect()
            }),
        });
    }
    let summary = Summary {
        name: ab.name.clone(),
        held_out: s.held_out,
        splits: s.splits,
        confidence: s.confidence,
        tables,
    };
    let mut files = Vec::new();
    let path = dir.join("correlation.json");
    let json = serde_json::to_string_pretty(&summary).expect("summary serialises");
    std::fs::write(&path, json + "\n").map_err(|e| HostError::io(&path, e))?;
    files.push(path);
    let path = dir.join("correlation.md");
    std::fs::write(&path, markdown(&summary, s)).map_err(|e| HostError::io(&path, e))?;
    files.push(path);
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| HostError::io(&plots, e))?;
    let mut plot_error = None;
    for t in &summary.tables {
        let series: Vec<plot::Series> = s
            .source_knowledge
            .iter()
            .map(|&sk| plot::Series {
                name: format!("{sk} per source task"),
                points: t
                    .cells
                    .iter()
                    .filter(|c| c.source_knowledge == sk && c.spearman.n > 0)
                    .map(|c| {
                        (
                            c.target_knowledge as f64,
                            c.spearman.mean,
                            c.spearman.lo,
                            c.spearman.hi,
                        )
                    })
                    .collect(),
            })
            .collect();
        // One target: `correlation`; several: one per target and `correlation` for the mean.
        let stem = if t.target == "mean over targets" || ab.targets.len() == 1 {
            plots.join("correlation")
        } else {
            plots.join(format!(
                "correlation-{}",
                crate::compare::plan::slug(&t.target)
            ))
        };
        match plot::knowledge_curves(
            &stem,
            &format!(
                "{}: Spearman ρ on {} held-out architectures of {}",
                ab.name, s.held_out, t.target
            ),
            &series,
        ) {
            Ok(p) => files.extend(p),
            Err(e) => {
                tracing::warn!("plot not written: {e}");
                plot_error.get_or_insert(e);
            }
        }
    }
    Ok(Written {
        summary,
        files,
        plot_error,
    })
}

fn markdown(s: &Summary, sec: &AblationSection) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "# Ablation `{}`\n\nSpearman's ρ between the transferred surrogate's predictions and the true metric on {} held-out target architectures; \
         mean ± half-width of the {:.0} % Student-t interval over {} splits. Rows: source knowledge (architectures per source task); \
         columns: target knowledge (evaluated target architectures).",
        s.name,
        s.held_out,
        s.confidence * 100.0,
        s.splits
    );
    for t in &s.tables {
        let _ = writeln!(o, "\n## {}\n", t.target);
        let heads: Vec<String> = sec
            .target_knowledge
            .iter()
            .map(|k| format!("K = {k}"))
            .collect();
        let _ = writeln!(o, "| S per source | {} |", heads.join(" | "));
        let _ = writeln!(o, "|---{}|", "|---".repeat(heads.len()));
        for &sk in &sec.source_knowledge {
            let row: Vec<String> = t
                .cells
                .iter()
                .filter(|c| c.source_knowledge == sk)
                .map(|c| {
                    let i = &c.spearman;
                    if i.n == 0 {
                        "–".into()
                    } else if i.lo.is_finite() {
                        format!("{:.2} ± {:.2}", i.mean, (i.hi - i.lo) / 2.0)
                    } else {
                        format!("{:.2}", i.mean)
                    }
                })
                .collect();
            let _ = writeln!(o, "| {sk} | {} |", row.join(" | "));
        }
    }
    o
}
