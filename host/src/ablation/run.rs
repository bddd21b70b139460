//! Running the splits: for each (target, split), the held-out set and the knowledge pools are
//! sampled, and for every (S, K) a fresh optimizer is told that knowledge and asked to predict the
//! held-out set. Each split's cells are appended to `cells.jsonl` when it finishes.

use super::plan::{Ablation, AblationSection};
use super::{Cell, CELLS};
use crate::config::validate::Resolved;
use crate::config::Experiment;
use crate::error::{HostError, HostResult};
use crate::plugins::assemble;
use crate::pool::{Flow, Pool};
use crate::run::knowledge::successful;
use crate::stats;
use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use xnas_core::abi_stable::std_types::RNone;
use xnas_core::*;

/// Seed tags of the ablation's samples (apart from the trial seeds of runs).
const TARGET_TAG: u64 = u64::MAX - 16;
const SOURCE_TAG: u64 = u64::MAX - 17;
const MODEL_TAG: u64 = u64::MAX - 18;

/// One target's experiment, resolved and checked: everything that can be wrong is found before
/// the first split runs.
pub(super) struct Prepared {
    pub(super) target: String,
    exp: Experiment,
    resolved: Resolved,
    space: SpaceBox,
}

pub(super) fn prepare(
    target: &str,
    exp: Experiment,
    plugin_dirs: &[PathBuf],
) -> HostResult<Prepared> {
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
    Ok(Prepared {
        target: target.to_string(),
        exp,
        resolved,
        space,
    })
}

/// Runs the splits not in `cells.jsonl` yet, one at a time: each trains surrogates whose
/// libtorch thread count is a process-wide setting, so splits side by side would not repeat.
pub(super) fn run_splits(
    ab: &Ablation,
    prepared: Vec<Prepared>,
    out: &Path,
    quiet: bool,
) -> HostResult<()> {
    let cells_path = out.join(CELLS);
    let done: BTreeSet<(String, u64)> = read_cells(&cells_path)?
        .into_iter()
        .map(|c| (c.target, c.split))
        .collect();
    let s = &ab.section;
    let todo: Vec<(usize, u64)> = (0..prepared.len())
        .flat_map(|t| (0..s.splits).map(move |k| (t, k)))
        .filter(|(t, k)| !done.contains(&(prepared[*t].target.clone(), *k)))
        .collect();
    let bar = crate::run::progress::count_bar(quiet, todo.len(), "ablation", "splits");
    let (prepared, section, started) = (Arc::new(prepared), s.clone(), bar.clone());
    let mut pool = Pool::new("xnas-ablation", 1, move |(t, k): (usize, u64)| {
        started.set_message(format!("{} split {k}", prepared[t].target));
        split(&prepared[t], &section, k)
    });
    pool.run(todo, |_, cells| {
        let cells = cells.unwrap_or_else(|panicked| Err(HostError::Run(panicked.to_string())))?;
        append_cells(&cells_path, &cells)?;
        bar.inc(1);
        Ok::<_, HostError>(Flow::Continue)
    })?;
    bar.finish_and_clear();
    Ok(())
}

/// The cells of one (target, split).
fn split(p: &Prepared, s: &AblationSection, split: u64) -> HostResult<Vec<Cell>> {
    let (target, exp, space) = (&p.target, &p.exp, &p.space);
    let max_s = *s.source_knowledge.last().expect("checked");
    let max_k = *s.target_knowledge.last().expect("checked");
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
            .map(|(j, (g, m))| successful(((si as u64 + 1) << 32) | j as u64, src, &g, m))
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
                exp,
                &p.resolved,
                space,
                target,
                &sources,
                history,
                model_seed,
            )?;
            let told: Vec<Observation> = pool[..tk]
                .iter()
                .enumerate()
                .map(|(j, (g, m))| successful(j as u64, target, g, *m))
                .collect();
            let plugin = |e: PluginError| p.resolved.optimizer.error(e);
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
    Ok(cells)
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

pub(super) fn read_cells(path: &Path) -> HostResult<Vec<Cell>> {
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

/// One append per split: a killed ablation loses at most the split in progress.
fn append_cells(path: &Path, cells: &[Cell]) -> HostResult<()> {
    let mut lines = String::new();
    for c in cells {
        lines += &serde_json::to_string(c).expect("cell serialises");
        lines.push('\n');
    }
    std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)
        .and_then(|mut f| f.write_all(lines.as_bytes()))
        .map_err(|e| HostError::io(path, e))
}
