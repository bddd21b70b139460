//! The comparison's results, rebuilt from its run directories: `curves.csv` (tidy best-so-far
//! and regret curves), `summary.json`, `summary.md` and the plots.
//!
//! The steps: [`collect`] the finished runs, their [`regret`] curves, the statistics per target
//! ([`targets`]) and over targets ([`overall`]), then the files: [`markdown`] and the plots
//! (`compare::plot`).

pub mod collect;
pub mod markdown;
pub mod overall;
pub mod regret;
pub mod seconds;
mod targets;

pub use collect::{collect, RunCurve};
pub use markdown::{markdown, overview};

use super::plan::Plan;
use super::plot;
use crate::error::{HostError, HostResult};
use crate::report::{number, write_csv, write_json};
use crate::stats::{self, Interval, Wilcoxon};
use regret::Regrets;
use serde::Serialize;
use std::path::{Path, PathBuf};

/// Bootstrap resamples of the speed-up interval, and their fixed seed (same data, same interval).
const RESAMPLES: usize = 4000;
const BOOTSTRAP_SEED: u64 = 0x5eed_c0de;
/// Significance level of the per-target verdicts.
const ALPHA: f64 = 0.05;
pub const REGRET_UNITS: &str = "per target, regret = the reference metric − the best metric found, in the metric's own units (no rescaling)";
pub const OVERALL_RULE: &str = "each target's regret divided by its metric range in this comparison (the reference metric − the worst metric any run observed on the target; 0 = the best, 1 = the worst seen), then the mean over targets, so targets of any scale weigh alike";

#[derive(Debug, Clone, Serialize)]
pub struct AtBudget<T> {
    pub budget: u64,
    pub value: T,
}

#[derive(Debug, Clone, Serialize)]
pub struct EvaluationsToThreshold {
    /// Runs that reached the threshold within the budget, of `runs`.
    pub reached: usize,
    pub runs: usize,
    /// Mean evaluations needed, a run that never reached it counted as the full budget (so a
    /// lower bound when `reached < runs`).
    pub mean: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantResult {
    pub variant: String,
    pub runs: usize,
    pub regret: Vec<AtBudget<Interval>>,
    pub evaluations_to_threshold: EvaluationsToThreshold,
    pub mean_wall_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairTest {
    pub budget: u64,
    /// Mean over seeds of transfer regret minus plain regret (negative: transfer better).
    pub mean_difference: f64,
    /// Paired Wilcoxon signed-rank test over seeds; None when every pair is tied.
    pub wilcoxon: Option<Wilcoxon>,
    /// Seeds with both runs (pairs), and the smallest two-sided p the test can give with its
    /// untied pairs.
    pub pairs: usize,
    pub min_p_value: f64,
    /// `better`, `worse` (p < 0.05), `no difference`, or `underpowered (5 seeds: min p =
    /// 0.0625)` when even the smallest p the test can give is not below 0.05.
    pub verdict: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct PairResult {
    pub transfer: String,
    pub plain: String,
    /// Mean evaluations the plain variant needs to reach the threshold over the mean the transfer
    /// variant needs, with a paired bootstrap interval over seeds.
    pub speedup: Option<Interval>,
    pub tests: Vec<PairTest>,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetResult {
    pub target: String,
    /// Best metric of the benchmark, or (when `reference_is_best_found`) the best found.
    pub reference_metric: f64,
    /// The worst metric any run observed on the target: with the reference, the metric range
    /// the overall rows divide regret by.
    pub worst_metric_observed: Option<f64>,
    pub reference_is_best_found: bool,
    pub threshold: f64,
    pub variants: Vec<VariantResult>,
    pub pairs: Vec<PairResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverallVariant {
    pub variant: String,
    /// Mean over targets of regret / the target's metric range (see `Summary::overall_rule`);
    /// the interval is over seeds (each seed's mean over targets).
    pub normalized_regret: Vec<AtBudget<Interval>>,
    /// Mean rank over targets (1 = lowest mean regret on that target).
    pub average_rank: Vec<AtBudget<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverallPair {
    pub transfer: String,
    pub plain: String,
    pub speedup: Option<Interval>,
    /// Targets where transfer is significantly better / worse at the full budget, where the
    /// test has too few seeds to decide, and the rest.
    pub better: Vec<String>,
    pub worse: Vec<String>,
    pub underpowered: Vec<String>,
    pub no_difference: Vec<String>,
}

/// `summary.json`.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub variants: Vec<String>,
    pub targets: Vec<String>,
    pub seeds: Vec<u64>,
    pub budget: u64,
    pub budgets: Vec<u64>,
    pub confidence: f64,
    /// How the threshold was chosen.
    pub threshold_rule: String,
    /// What the regret figures are: per target in the metric's own units.
    pub regret_units: String,
    /// How the overall rows make targets of different scales comparable.
    pub overall_rule: String,
    pub missing_runs: Vec<String>,
    pub per_target: Vec<TargetResult>,
    pub overall: Vec<OverallVariant>,
    pub overall_pairs: Vec<OverallPair>,
    /// Set when one-shot and ask/tell variants are mixed: the results by seconds, which then
    /// replace the tables by evaluations (left empty).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub by_seconds: Option<seconds::BySeconds>,
}

/// Mean evaluations to the threshold of the plain variant over the transfer variant's, paired
/// by seed (`plain[i]` and `transfer[i]` are one seed's), with its bootstrap interval; None
/// without pairs.
fn speedup(plain: &[f64], transfer: &[f64], plan: &Plan) -> Option<Interval> {
    (!plain.is_empty()).then(|| {
        stats::bootstrap_ratio_interval(
            plain,
            transfer,
            plan.section.confidence,
            RESAMPLES,
            BOOTSTRAP_SEED,
        )
    })
}

/// What `write` produced.
pub type Written = crate::report::Written<Summary>;

/// The summary of the finished runs; `missing` lists the runs that are not.
pub fn build(plan: &Plan, runs: &[RunCurve], regrets: &Regrets, missing: &[PathBuf]) -> Summary {
    let per_target = targets::per_target(plan, runs, regrets);
    Summary {
        name: plan.name.clone(),
        variants: plan.variants.clone(),
        targets: plan.targets.clone(),
        seeds: plan.seeds.clone(),
        budget: plan.budget,
        budgets: plan.budgets.clone(),
        confidence: plan.section.confidence,
        threshold_rule: match plan.section.threshold {
            Some(t) => format!("regret ≤ {t} (from the comparison file)"),
            None => format!(
                "per target, regret ≤ the mean regret of `{}` after {} evaluations",
                plan.reference, plan.budget
            ),
        },
        regret_units: REGRET_UNITS.into(),
        overall_rule: OVERALL_RULE.into(),
        missing_runs: missing.iter().map(|p| p.display().to_string()).collect(),
        overall: overall::variants(plan, regrets),
        overall_pairs: overall::pairs(plan, regrets, &per_target),
        per_target,
        by_seconds: None,
    }
}

/// The summary of a comparison that mixes one-shot and ask/tell variants: by seconds.
fn build_by_seconds(plan: &Plan, runs: &[RunCurve], missing: &[PathBuf]) -> Summary {
    Summary {
        name: plan.name.clone(),
        variants: plan.variants.clone(),
        targets: plan.targets.clone(),
        seeds: plan.seeds.clone(),
        budget: plan.budget,
        budgets: Vec::new(),
        confidence: plan.section.confidence,
        threshold_rule: seconds::AXIS_NOTE.into(),
        regret_units: seconds::UNITS.into(),
        overall_rule: String::new(),
        missing_runs: missing.iter().map(|p| p.display().to_string()).collect(),
        per_target: Vec::new(),
        overall: Vec::new(),
        overall_pairs: Vec::new(),
        by_seconds: Some(seconds::build(plan, runs)),
    }
}

/// Writes `summary.json` and `summary.md`; returns the plots folder, made.
fn summary_files(dir: &Path, written: &mut Written) -> HostResult<PathBuf> {
    let path = dir.join("summary.json");
    write_json(&path, &written.summary)?;
    written.files.push(path);
    let path = dir.join("summary.md");
    std::fs::write(&path, markdown(&written.summary)).map_err(|e| HostError::io(&path, e))?;
    written.files.push(path);
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| HostError::io(&plots, e))?;
    Ok(plots)
}

/// `write` for a comparison that mixes one-shot and ask/tell variants.
fn write_by_seconds(
    dir: &Path,
    plan: &Plan,
    runs: &[RunCurve],
    missing: &[PathBuf],
) -> HostResult<Written> {
    let mut written = Written::new(build_by_seconds(plan, runs, missing));
    let path = dir.join("curves.csv");
    write_csv(&path, &seconds::CURVE_HEADER, seconds::curve_rows(runs))?;
    written.files.push(path);
    let plots = summary_files(dir, &mut written)?;
    for drawn in seconds::plots(plan, runs, &plots) {
        written.plotted(drawn);
    }
    Ok(written)
}

/// Collects the runs and writes `curves.csv`, `summary.json`, `summary.md` and `plots/`.
pub fn write(dir: &Path, plan: &Plan) -> HostResult<Written> {
    let (runs, missing) = collect(dir, plan)?;
    if seconds::mixed(&runs) {
        return write_by_seconds(dir, plan, &runs, &missing);
    }
    let regrets = Regrets::new(plan, &runs);
    let mut written = Written::new(build(plan, &runs, &regrets, &missing));

    // Tidy curves: one row per run and evaluation.
    let path = dir.join("curves.csv");
    let header = [
        "target",
        "variant",
        "seed",
        "evaluation",
        "best_so_far",
        "regret",
    ];
    let rows = runs.iter().flat_map(|r| {
        // The regrets the tables use, not a second computation.
        let regret: Vec<Option<f64>> = regrets
            .seeds(&r.target, &r.variant)
            .get(&r.seed)
            .cloned()
            .unwrap_or_else(|| vec![None; r.best.len()]);
        r.best.iter().zip(regret).enumerate().map(|(i, (b, g))| {
            [
                r.target.clone(),
                r.variant.clone(),
                r.seed.to_string(),
                (i + 1).to_string(),
                number(*b),
                number(g),
            ]
        })
    });
    write_csv(&path, &header, rows)?;
    written.files.push(path);

    let plots = summary_files(dir, &mut written)?;
    for drawn in plot::plots(plan, &written.summary, &regrets, &plots) {
        written.plotted(drawn);
    }
    Ok(written)
}
