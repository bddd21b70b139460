//! The comparison's results, rebuilt from its run directories: `curves.csv` (tidy best-so-far
//! and regret curves), `summary.json`, `summary.md` and the plots.
//!
//! Regret is the best metric the benchmark knows for the target minus the best found so far.
//! Where the space knows no best (a trainable space), the best metric any run of the comparison
//! found on that target stands in, and the summary says so.

use super::plan::Plan;
use super::plot;
use super::stats::{self, Interval, Wilcoxon};
use crate::error::{HostError, HostResult};
use crate::report::best_so_far;
use crate::store::Store;
use serde::Serialize;
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// Bootstrap resamples of the speed-up interval, and their fixed seed (same data, same interval).
const RESAMPLES: usize = 4000;
const BOOTSTRAP_SEED: u64 = 0x5eed_c0de;
/// Significance level of the per-target verdicts.
const ALPHA: f64 = 0.05;

/// One finished run's curve.
#[derive(Debug, Clone)]
pub struct RunCurve {
    pub target: String,
    pub variant: String,
    pub seed: u64,
    /// Best metric after each target evaluation (None before the first success).
    pub best: Vec<Option<f64>>,
    pub best_possible: Option<f64>,
    pub wall_seconds: f64,
}

/// Reads every finished run of the plan; the others are listed as missing.
pub fn collect(dir: &Path, plan: &Plan) -> HostResult<(Vec<RunCurve>, Vec<PathBuf>)> {
    let mut curves = Vec::new();
    let mut missing = Vec::new();
    for r in &plan.runs {
        let run_dir = dir.join(&r.dir);
        let summary_path = run_dir.join("summary.json");
        let Ok(text) = std::fs::read_to_string(&summary_path) else {
            missing.push(r.dir.clone());
            continue;
        };
        let summary: serde_json::Value =
            serde_json::from_str(&text).map_err(|e| HostError::Store {
                path: summary_path.clone(),
                message: format!(
                    "not a run summary ({e}); rebuild it with `xnas report {}`",
                    run_dir.display()
                ),
            })?;
        let store = Store::open_read_only(&run_dir.join("store.sqlite"))?;
        curves.push(RunCurve {
            target: r.target.clone(),
            variant: r.variant.clone(),
            seed: r.seed,
            best: best_so_far(&store.trials()?),
            best_possible: summary["best_possible"].as_f64(),
            wall_seconds: summary["wall_seconds"].as_f64().unwrap_or(f64::NAN),
        });
    }
    Ok((curves, missing))
}

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
    /// `better`, `worse` (p < 0.05) or `no difference`.
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
    pub reference_is_best_found: bool,
    pub threshold: f64,
    pub variants: Vec<VariantResult>,
    pub pairs: Vec<PairResult>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverallVariant {
    pub variant: String,
    /// Mean over targets; the interval is over seeds (each seed's mean over targets).
    pub regret: Vec<AtBudget<Interval>>,
    /// Mean rank over targets (1 = lowest mean regret on that target).
    pub average_rank: Vec<AtBudget<f64>>,
}

#[derive(Debug, Clone, Serialize)]
pub struct OverallPair {
    pub transfer: String,
    pub plain: String,
    pub speedup: Option<Interval>,
    /// Targets where transfer is significantly better / worse at the full budget, and the rest.
    pub better: Vec<String>,
    pub worse: Vec<String>,
    pub no_difference: Vec<String>,
}

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
    pub missing_runs: Vec<String>,
    pub per_target: Vec<TargetResult>,
    pub overall: Vec<OverallVariant>,
    pub overall_pairs: Vec<OverallPair>,
}

/// What `write` produced.
#[derive(Debug, Clone)]
pub struct Written {
    pub summary: Summary,
    pub files: Vec<PathBuf>,
    pub plot_error: Option<String>,
}

/// Per (target, variant): seed → regret curve.
type Curves = BTreeMap<(String, String), BTreeMap<u64, Vec<Option<f64>>>>;

fn regret_at(curve: &[Option<f64>], k: u64) -> Option<f64> {
    curve.get(k as usize - 1).copied().flatten()
}

/// First evaluation (1-based) at which regret ≤ threshold.
fn evaluations_to(curve: &[Option<f64>], threshold: f64) -> Option<u64> {
    curve
        .iter()
        .position(|r| r.is_some_and(|r| r <= threshold + 1e-12))
        .map(|i| i as u64 + 1)
}

pub fn build(plan: &Plan, runs: &[RunCurve], missing: &[PathBuf]) -> Summary {
    let all_runs = runs;
    let conf = plan.section.confidence;
    // Reference metric per target.
    let mut reference: BTreeMap<&str, (f64, bool)> = BTreeMap::new();
    for t in &plan.targets {
        let mine: Vec<&RunCurve> = runs.iter().filter(|r| &r.target == t).collect();
        let known = mine.iter().find_map(|r| r.best_possible);
        let found = mine
            .iter()
            .filter_map(|r| r.best.iter().flatten().copied().reduce(f64::max))
            .reduce(f64::max);
        if let Some(b) = known {
            reference.insert(t, (b, false));
        } else if let Some(b) = found {
            reference.insert(t, (b, true));
        }
    }
    let mut curves: Curves = BTreeMap::new();
    for r in runs {
        let Some(&(best, _)) = reference.get(r.target.as_str()) else {
            continue;
        };
        let regret = r.best.iter().map(|b| b.map(|b| best - b)).collect();
        curves
            .entry((r.target.clone(), r.variant.clone()))
            .or_default()
            .insert(r.seed, regret);
    }
    let empty = BTreeMap::new();
    let seeds_of = |t: &str, v: &str| {
        curves
            .get(&(t.to_string(), v.to_string()))
            .unwrap_or(&empty)
    };
    let regrets = |t: &str, v: &str, k: u64| -> Vec<f64> {
        seeds_of(t, v)
            .values()
            .filter_map(|c| regret_at(c, k))
            .collect()
    };
    let threshold_of = |t: &str| {
        plan.section.threshold.unwrap_or_else(|| {
            let r = regrets(t, &plan.reference, plan.budget);
            if r.is_empty() {
                0.0
            } else {
                stats::mean(&r)
            }
        })
    };
    let capped = |t: &str, v: &str, seed: u64, threshold: f64| -> Option<f64> {
        seeds_of(t, v)
            .get(&seed)
            .map(|c| evaluations_to(c, threshold).unwrap_or(plan.budget) as f64)
    };
    let verdict = |w: &Option<Wilcoxon>, diff: f64| match w {
        Some(w) if w.p_value < ALPHA && diff < 0.0 => "better",
        Some(w) if w.p_value < ALPHA && diff > 0.0 => "worse",
        _ => "no difference",
    };

    let mut per_target = Vec::new();
    for t in &plan.targets {
        let Some(&(reference_metric, reference_is_best_found)) = reference.get(t.as_str()) else {
            continue;
        };
        let threshold = threshold_of(t);
        let variants = plan
            .variants
            .iter()
            .map(|v| {
                let runs = seeds_of(t, v);
                let needed: Vec<f64> = runs
                    .keys()
                    .filter_map(|s| capped(t, v, *s, threshold))
                    .collect();
                let reached = runs
                    .values()
                    .filter(|c| evaluations_to(c, threshold).is_some())
                    .count();
                let walls: Vec<f64> = all_runs
                    .iter()
                    .filter(|r| &r.target == t && &r.variant == v && r.wall_seconds.is_finite())
                    .map(|r| r.wall_seconds)
                    .collect();
                VariantResult {
                    variant: v.clone(),
                    runs: runs.len(),
                    regret: plan
                        .budgets
                        .iter()
                        .map(|&b| AtBudget {
                            budget: b,
                            value: stats::t_interval(&regrets(t, v, b), conf),
                        })
                        .collect(),
                    evaluations_to_threshold: EvaluationsToThreshold {
                        reached,
                        runs: runs.len(),
                        mean: stats::t_interval(&needed, conf),
                    },
                    mean_wall_seconds: if walls.is_empty() {
                        f64::NAN
                    } else {
                        stats::mean(&walls)
                    },
                }
            })
            .collect();
        let pairs = plan
            .pairs
            .iter()
            .map(|p| {
                let common: Vec<u64> = seeds_of(t, &p.transfer)
                    .keys()
                    .filter(|s| seeds_of(t, &p.plain).contains_key(s))
                    .copied()
                    .collect();
                let e_plain: Vec<f64> = common
                    .iter()
                    .filter_map(|s| capped(t, &p.plain, *s, threshold))
                    .collect();
                let e_xfer: Vec<f64> = common
                    .iter()
                    .filter_map(|s| capped(t, &p.transfer, *s, threshold))
                    .collect();
                let speedup = (!common.is_empty()).then(|| {
                    stats::bootstrap_ratio_interval(
                        &e_plain,
                        &e_xfer,
                        conf,
                        RESAMPLES,
                        BOOTSTRAP_SEED,
                    )
                });
                let tests = plan
                    .budgets
                    .iter()
                    .map(|&b| {
                        let (mut x, mut y) = (Vec::new(), Vec::new());
                        for s in &common {
                            let rx = regret_at(&seeds_of(t, &p.transfer)[s], b);
                            let ry = regret_at(&seeds_of(t, &p.plain)[s], b);
                            if let (Some(rx), Some(ry)) = (rx, ry) {
                                x.push(rx);
                                y.push(ry);
                            }
                        }
                        let diff: Vec<f64> = x.iter().zip(&y).map(|(a, b)| a - b).collect();
                        let mean_difference = if diff.is_empty() {
                            f64::NAN
                        } else {
                            stats::mean(&diff)
                        };
                        let wilcoxon = if x.is_empty() {
                            None
                        } else {
                            stats::wilcoxon_signed_rank(&x, &y)
                        };
                        PairTest {
                            budget: b,
                            mean_difference,
                            verdict: verdict(&wilcoxon, mean_difference).into(),
                            wilcoxon,
                        }
                    })
                    .collect();
                PairResult {
                    transfer: p.transfer.clone(),
                    plain: p.plain.clone(),
                    speedup,
                    tests,
                }
            })
            .collect();
        per_target.push(TargetResult {
            target: t.clone(),
            reference_metric,
            reference_is_best_found,
            threshold,
            variants,
            pairs,
        });
    }

    // Overall: a seed counts where every target has its run.
    let complete_seeds = |v: &str| -> Vec<u64> {
        plan.seeds
            .iter()
            .copied()
            .filter(|s| plan.targets.iter().all(|t| seeds_of(t, v).contains_key(s)))
            .collect()
    };
    let overall = plan
        .variants
        .iter()
        .map(|v| {
            let seeds = complete_seeds(v);
            OverallVariant {
                variant: v.clone(),
                regret: plan
                    .budgets
                    .iter()
                    .map(|&b| {
                        let per_seed: Vec<f64> = seeds
                            .iter()
                            .filter_map(|s| {
                                let r: Vec<f64> = plan
                                    .targets
                                    .iter()
                                    .filter_map(|t| regret_at(&seeds_of(t, v)[s], b))
                                    .collect();
                                (r.len() == plan.targets.len()).then(|| stats::mean(&r))
                            })
                            .collect();
                        AtBudget {
                            budget: b,
                            value: stats::t_interval(&per_seed, conf),
                        }
                    })
                    .collect(),
                average_rank: plan
                    .budgets
                    .iter()
                    .map(|&b| AtBudget {
                        budget: b,
                        value: average_ranks(plan, &regrets, b)
                            .get(v)
                            .copied()
                            .unwrap_or(f64::NAN),
                    })
                    .collect(),
            }
        })
        .collect();
    let overall_pairs = plan
        .pairs
        .iter()
        .map(|p| {
            let seeds: Vec<u64> = complete_seeds(&p.transfer)
                .into_iter()
                .filter(|s| complete_seeds(&p.plain).contains(s))
                .collect();
            let per_seed = |v: &str| -> Vec<f64> {
                seeds
                    .iter()
                    .map(|s| {
                        let e: Vec<f64> = per_target
                            .iter()
                            .filter_map(|tr| capped(&tr.target, v, *s, tr.threshold))
                            .collect();
                        stats::mean(&e)
                    })
                    .collect()
            };
            let speedup = (!seeds.is_empty()).then(|| {
                stats::bootstrap_ratio_interval(
                    &per_seed(&p.plain),
                    &per_seed(&p.transfer),
                    conf,
                    RESAMPLES,
                    BOOTSTRAP_SEED,
                )
            });
            let mut o = OverallPair {
                transfer: p.transfer.clone(),
                plain: p.plain.clone(),
                speedup,
                better: Vec::new(),
                worse: Vec::new(),
                no_difference: Vec::new(),
            };
            for tr in &per_target {
                let Some(pr) = tr
                    .pairs
                    .iter()
                    .find(|x| x.transfer == p.transfer && x.plain == p.plain)
                else {
                    continue;
                };
                let last = pr
                    .tests
                    .last()
                    .map_or("no difference", |t| t.verdict.as_str());
                match last {
                    "better" => o.better.push(tr.target.clone()),
                    "worse" => o.worse.push(tr.target.clone()),
                    _ => o.no_difference.push(tr.target.clone()),
                }
            }
            o
        })
        .collect();

    Summary {
        name: plan.name.clone(),
        variants: plan.variants.clone(),
        targets: plan.targets.clone(),
        seeds: plan.seeds.clone(),
        budget: plan.budget,
        budgets: plan.budgets.clone(),
        confidence: conf,
        threshold_rule: match plan.section.threshold {
            Some(t) => format!("regret ≤ {t} (from the comparison file)"),
            None => format!(
                "per target, regret ≤ the mean regret of `{}` after {} evaluations",
                plan.reference, plan.budget
            ),
        },
        missing_runs: missing.iter().map(|p| p.display().to_string()).collect(),
        per_target,
        overall,
        overall_pairs,
    }
}

/// Mean over targets of each variant's rank by mean regret at `k` (ties share the average rank).
fn average_ranks(
    plan: &Plan,
    regrets: &dyn Fn(&str, &str, u64) -> Vec<f64>,
    k: u64,
) -> BTreeMap<String, f64> {
    let mut sum: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for t in &plan.targets {
        let means: Vec<(String, f64)> = plan
            .variants
            .iter()
            .filter_map(|v| {
                let r = regrets(t, v, k);
                (!r.is_empty()).then(|| (v.clone(), stats::mean(&r)))
            })
            .collect();
        if means.len() < plan.variants.len() {
            continue;
        }
        let values: Vec<f64> = means.iter().map(|(_, m)| *m).collect();
        for ((v, _), r) in means.iter().zip(stats::ranks(&values)) {
            let e = sum.entry(v.clone()).or_insert((0.0, 0));
            e.0 += r;
            e.1 += 1;
        }
    }
    sum.into_iter()
        .map(|(v, (s, n))| (v, s / n as f64))
        .collect()
}

/// Mean regret with its interval after every evaluation, per variant.
fn curve_bands(plan: &Plan, per_seed: &dyn Fn(&str, u64) -> Vec<f64>) -> Vec<plot::Series> {
    plan.variants
        .iter()
        .map(|v| plot::Series {
            name: v.clone(),
            points: (1..=plan.budget)
                .filter_map(|k| {
                    let r = per_seed(v, k);
                    (!r.is_empty()).then(|| {
                        let i = stats::t_interval(&r, plan.section.confidence);
                        (k as f64, i.mean, i.lo, i.hi)
                    })
                })
                .collect(),
        })
        .collect()
}

fn write_err(path: &Path, e: impl std::fmt::Display) -> HostError {
    HostError::Run(format!("writing {}: {e}", path.display()))
}

/// Collects the runs and writes `curves.csv`, `summary.json`, `summary.md` and `plots/`.
pub fn write(dir: &Path, plan: &Plan) -> HostResult<Written> {
    let (runs, missing) = collect(dir, plan)?;
    let summary = build(plan, &runs, &missing);
    let mut files = Vec::new();

    // Tidy curves: one row per run and evaluation.
    let path = dir.join("curves.csv");
    let mut w = csv::Writer::from_path(&path).map_err(|e| write_err(&path, e))?;
    w.write_record([
        "target",
        "variant",
        "seed",
        "evaluation",
        "best_so_far",
        "regret",
    ])
    .map_err(|e| write_err(&path, e))?;
    let reference: BTreeMap<&str, f64> = summary
        .per_target
        .iter()
        .map(|t| (t.target.as_str(), t.reference_metric))
        .collect();
    let num = |v: Option<f64>| v.map(|x| format!("{x}")).unwrap_or_default();
    for r in &runs {
        let best = reference.get(r.target.as_str()).copied();
        for (i, b) in r.best.iter().enumerate() {
            w.write_record([
                r.target.clone(),
                r.variant.clone(),
                r.seed.to_string(),
                (i + 1).to_string(),
                num(*b),
                num(b.zip(best).map(|(b, best)| best - b)),
            ])
            .map_err(|e| write_err(&path, e))?;
        }
    }
    w.flush().map_err(|e| write_err(&path, e))?;
    files.push(path);

    let path = dir.join("summary.json");
    let json = serde_json::to_string_pretty(&summary).map_err(|e| write_err(&path, e))?;
    std::fs::write(&path, json + "\n").map_err(|e| HostError::io(&path, e))?;
    files.push(path);
    let path = dir.join("summary.md");
    std::fs::write(&path, markdown(&summary)).map_err(|e| HostError::io(&path, e))?;
    files.push(path);

    // Plots: regret per target, overall, and the average rank.
    let mut regret: BTreeMap<(String, String, u64), Vec<f64>> = BTreeMap::new();
    let mut by_seed: BTreeMap<(String, u64, u64), Vec<f64>> = BTreeMap::new();
    for r in &runs {
        let Some(best) = reference.get(r.target.as_str()) else {
            continue;
        };
        for (i, b) in r.best.iter().enumerate() {
            if let Some(b) = b {
                let k = i as u64 + 1;
                regret
                    .entry((r.target.clone(), r.variant.clone(), k))
                    .or_default()
                    .push(best - b);
                by_seed
                    .entry((r.variant.clone(), r.seed, k))
                    .or_default()
                    .push(best - b);
            }
        }
    }
    let plots = dir.join("plots");
    std::fs::create_dir_all(&plots).map_err(|e| HostError::io(&plots, e))?;
    let mut plot_error = None;
    let mut note = |r: Result<Vec<PathBuf>, String>| match r {
        Ok(p) => files.extend(p),
        Err(e) => {
            tracing::warn!("plot not written: {e}");
            plot_error.get_or_insert(e);
        }
    };
    for t in &summary.per_target {
        let series = curve_bands(plan, &|v, k| {
            regret
                .get(&(t.target.clone(), v.to_string(), k))
                .cloned()
                .unwrap_or_default()
        });
        note(plot::regret_curves(
            &plots.join(format!("regret-{}", super::plan::slug(&t.target))),
            &format!("{}: regret on {}", plan.name, t.target),
            &series,
            plan.section.confidence,
        ));
    }
    let n_targets = summary.per_target.len();
    let overall = curve_bands(plan, &|v, k| {
        plan.seeds
            .iter()
            .filter_map(|s| {
                let r = by_seed.get(&(v.to_string(), *s, k))?;
                (r.len() == n_targets).then(|| stats::mean(r))
            })
            .collect()
    });
    note(plot::regret_curves(
        &plots.join("regret-overall"),
        &format!("{}: regret, mean over {n_targets} targets", plan.name),
        &overall,
        plan.section.confidence,
    ));
    let mean_regret = |t: &str, v: &str, k: u64| -> Vec<f64> {
        regret
            .get(&(t.to_string(), v.to_string(), k))
            .cloned()
            .unwrap_or_default()
    };
    let ranks: Vec<BTreeMap<String, f64>> = (1..=plan.budget)
        .map(|k| average_ranks(plan, &mean_regret, k))
        .collect();
    let rank_series: Vec<plot::Series> = plan
        .variants
        .iter()
        .map(|v| plot::Series {
            name: v.clone(),
            points: ranks
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.get(v).map(|r| ((i + 1) as f64, *r, f64::NAN, f64::NAN)))
                .collect(),
        })
        .collect();
    note(plot::average_rank(
        &plots.join("average-rank"),
        &format!("{}: average rank over {n_targets} targets", plan.name),
        &rank_series,
        plan.variants.len(),
    ));
    Ok(Written {
        summary,
        files,
        plot_error,
    })
}

fn pm(i: &Interval, scale: f64) -> String {
    if i.n == 0 {
        "–".into()
    } else if i.lo.is_finite() {
        format!("{:.2} ± {:.2}", i.mean * scale, (i.hi - i.lo) / 2.0 * scale)
    } else {
        format!("{:.2}", i.mean * scale)
    }
}

fn ratio(i: &Option<Interval>) -> String {
    match i {
        Some(i) if i.mean.is_finite() => format!("{:.2}× [{:.2}, {:.2}]", i.mean, i.lo, i.hi),
        _ => "–".into(),
    }
}

/// The summary as markdown tables. Regret is shown ×100 (metric points for accuracies).
pub fn markdown(s: &Summary) -> String {
    let mut o = String::new();
    let pct = (s.confidence * 100.0).round();
    let _ = writeln!(o, "# Comparison `{}`\n", s.name);
    let _ = writeln!(
        o,
        "{} target{} × {} variants × {} seeds, {} target evaluations per run. Regret = best metric of the benchmark − best found, ×100; \
         cells are mean ± half-width of the {pct:.0} % Student-t interval over seeds. \
         Threshold: {}.\n",
        s.targets.len(),
        if s.targets.len() == 1 { "" } else { "s" },
        s.variants.len(),
        s.seeds.len(),
        s.budget,
        s.threshold_rule
    );
    if !s.missing_runs.is_empty() {
        let _ = writeln!(
            o,
            "**{} runs are missing** (not finished); the tables cover the others.\n",
            s.missing_runs.len()
        );
    }
    let heads: Vec<String> = s.budgets.iter().map(|b| format!("regret@{b}")).collect();
    let _ = writeln!(o, "## Overall (mean over targets)\n");
    let _ = writeln!(
        o,
        "| variant | {} | average rank@{} |",
        heads.join(" | "),
        s.budget
    );
    let _ = writeln!(o, "|---{}|---|", "|---".repeat(heads.len()));
    for v in &s.overall {
        let cells: Vec<String> = v.regret.iter().map(|r| pm(&r.value, 100.0)).collect();
        let rank = v.average_rank.last().map_or(f64::NAN, |r| r.value);
        let _ = writeln!(o, "| {} | {} | {rank:.2} |", v.variant, cells.join(" | "));
    }
    if !s.overall_pairs.is_empty() {
        let _ = writeln!(
            o,
            "\n## Transfer against plain\n\nSpeed-up: mean evaluations the plain variant needs to reach the threshold over the transfer variant's \
             (runs that never reach it count as the full budget), {pct:.0} % paired bootstrap interval over seeds. \
             Better / worse: paired Wilcoxon signed-rank test over seeds at {} evaluations, p < {ALPHA}.\n",
            s.budget
        );
        let _ = writeln!(
            o,
            "| transfer | plain | speed-up | better on | worse on | no difference on |"
        );
        let _ = writeln!(o, "|---|---|---|---|---|---|");
        for p in &s.overall_pairs {
            let list = |v: &Vec<String>| {
                if v.is_empty() {
                    "–".to_string()
                } else {
                    v.join(", ")
                }
            };
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {} | {} |",
                p.transfer,
                p.plain,
                ratio(&p.speedup),
                list(&p.better),
                list(&p.worse),
                list(&p.no_difference)
            );
        }
    }
    for t in &s.per_target {
        let _ = writeln!(
            o,
            "\n## {}\n\n{} {:.4}; threshold regret {:.2} (×100).\n",
            t.target,
            if t.reference_is_best_found {
                "Best metric found by any run (the space knows no best):"
            } else {
                "Best metric in the benchmark:"
            },
            t.reference_metric,
            t.threshold * 100.0
        );
        let _ = writeln!(
            o,
            "| variant | {} | evaluations to threshold | reached | s / run |",
            heads.join(" | ")
        );
        let _ = writeln!(o, "|---{}|---|---|---|", "|---".repeat(heads.len()));
        for v in &t.variants {
            let cells: Vec<String> = v.regret.iter().map(|r| pm(&r.value, 100.0)).collect();
            let e = &v.evaluations_to_threshold;
            let _ = writeln!(
                o,
                "| {} | {} | {} | {}/{} | {:.1} |",
                v.variant,
                cells.join(" | "),
                pm(&e.mean, 1.0),
                e.reached,
                e.runs,
                v.mean_wall_seconds
            );
        }
        for p in &t.pairs {
            let tests: Vec<String> = p
                .tests
                .iter()
                .map(|x| match &x.wilcoxon {
                    Some(w) => format!(
                        "@{}: W = {:.1}, p = {:.3} ({})",
                        x.budget,
                        w.statistic.abs(),
                        w.p_value,
                        x.verdict
                    ),
                    None => format!("@{}: all tied", x.budget),
                })
                .collect();
            let _ = writeln!(
                o,
                "\n{} against {}: speed-up {}; Wilcoxon {}.",
                p.transfer,
                p.plain,
                ratio(&p.speedup),
                tests.join("; ")
            );
        }
    }
    o
}

/// A few lines for the terminal: overall regret at the full budget and the transfer verdicts.
pub fn overview(s: &Summary) -> String {
    let mut o = String::new();
    let _ = writeln!(
        o,
        "{}: {} targets × {} seeds, regret ×100 after {} evaluations (mean over targets, ± {:.0} % interval):",
        s.name,
        s.targets.len(),
        s.seeds.len(),
        s.budget,
        s.confidence * 100.0
    );
    let width = s
        .variants
        .iter()
        .map(|v| v.chars().count())
        .max()
        .unwrap_or(0);
    for v in &s.overall {
        if let Some(r) = v.regret.last() {
            let rank = v.average_rank.last().map_or(f64::NAN, |r| r.value);
            let _ = writeln!(
                o,
                "  {:<width$}  {}   average rank {rank:.2}",
                v.variant,
                pm(&r.value, 100.0)
            );
        }
    }
    for p in &s.overall_pairs {
        let _ = writeln!(
            o,
            "  {} vs {}: speed-up {}; better on {}, worse on {}, no difference on {} of {} targets",
            p.transfer,
            p.plain,
            ratio(&p.speedup),
            p.better.len(),
            p.worse.len(),
            p.no_difference.len(),
            s.per_target.len()
        );
    }
    if !s.missing_runs.is_empty() {
        let _ = writeln!(o, "  ({} runs missing)", s.missing_runs.len());
    }
    o
}
