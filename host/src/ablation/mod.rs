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
//! The file is read by [`plan`], the splits run in [`run`], and the report is rebuilt from the
//! cells: [`stats`] (tables), [`markdown`] and [`plot`], as `xnas compare` does from its runs.

pub mod markdown;
pub mod plan;
pub mod plot;
mod run;
pub mod stats;

pub use plan::{load, parse, Ablation, AblationSection};
pub use stats::{CellSummary, Summary, TargetSummary};

use crate::config::{folder_of, Experiment};
use crate::error::{HostError, HostResult};
use crate::report::write_json;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

/// The copy of the ablation file kept in its directory.
pub const ABLATION_FILE: &str = "ablation.toml";
const CELLS: &str = "cells.jsonl";

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

/// What `xnas ablation` and `xnas report` of an ablation wrote.
pub type Written = crate::report::Written<Summary>;

/// `xnas validate` of an ablation file: the checks `xnas ablation` makes before its first split,
/// without writing anything. An error in a target's experiment names the target.
pub fn check(file: &Path, plugin_dirs: &[PathBuf]) -> HostResult<Ablation> {
    let (_, ab) = load(file)?;
    for target in &ab.targets {
        let in_target = |e: HostError| e.in_file(file, &format!("ablation target `{target}`: "));
        let exp = Experiment::parse(
            ab.experiment_text_for(target),
            file.to_path_buf(),
            folder_of(file),
        )
        .map_err(in_target)?;
        run::prepare(target, exp, plugin_dirs).map_err(in_target)?;
    }
    Ok(ab)
}

/// `xnas ablation FILE --out DIR`.
pub fn ablation(file: &Path, out: &Path, opts: &AblationOptions) -> HostResult<Written> {
    let (text, ab) = load(file)?;
    std::fs::create_dir_all(out).map_err(|e| HostError::io(out, e))?;
    let _lock = crate::lock::DirLock::acquire(out)?;
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
        let text = ab.experiment_text_for(target);
        let path = out.join(format!(
            "experiment-{}.toml",
            crate::compare::plan::slug(target)
        ));
        std::fs::write(&path, &text).map_err(|e| HostError::io(&path, e))?;
        let exp = Experiment::parse(text, path, folder_of(file))?;
        prepared.push(run::prepare(target, exp, &opts.plugin_dirs)?);
    }
    std::fs::write(&copy, &text).map_err(|e| HostError::io(&copy, e))?;
    run::run_splits(&ab, prepared, out, opts.quiet)?;
    report(out)
}

pub fn is_ablation(dir: &Path) -> bool {
    dir.join(ABLATION_FILE).exists()
}

/// Rebuilds `correlation.json`, `correlation.md` and `plots/correlation*.png|svg` from `cells.jsonl`.
pub fn report(dir: &Path) -> HostResult<Written> {
    let file = dir.join(ABLATION_FILE);
    let text = std::fs::read_to_string(&file).map_err(|e| HostError::io(&file, e))?;
    let ab = parse(&text, &file)?;
    let cells = run::read_cells(&dir.join(CELLS))?;
    let mut written = Written::new(stats::summarize(&ab, &cells));
    let path = dir.join("correlation.json");
    write_json(&path, &written.summary)?;
    written.files.push(path);
    let path = dir.join("correlation.md");
    std::fs::write(&path, markdown::markdown(&written.summary, &ab.section))
        .map_err(|e| HostError::io(&path, e))?;
    written.files.push(path);
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| HostError::io(&plots, e))?;
    for drawn in plot::plots(&ab, &written.summary, &plots) {
        written.plotted(drawn);
    }
    Ok(written)
}
