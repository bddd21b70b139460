//! A comparison that mixes one-shot and ask/tell variants, compared by wall time: a one-shot
//! run spends its time training a supernet and then evaluates one or a few cells, an ask/tell
//! run spends it on many evaluations, so evaluations are no common axis. Each run's best metric
//! so far is placed at the seconds it had spent when each target evaluation finished (a
//! one-shot run's search seconds, then its evaluations; an ask/tell run's evaluation seconds
//! divided by its workers), and the tables and curves give the best metric reached by given
//! times: the budget's `seconds` (or the longest run) and its quarters.

use super::collect::RunCurve;
use crate::chart::{png_and_svg, Chart, Res, Series};
use crate::compare::plan::{slug, Plan};
use crate::stats::{t_interval, Interval};
use serde::Serialize;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

/// What the summary says about its axis.
pub const AXIS_NOTE: &str = "the variants mix one-shot and ask/tell optimizers, so runs are \
                             compared by the wall time they spent (search seconds, then the \
                             evaluations), not by evaluations";

/// What the figures are: no regret here (a trainable space has no known best), the best metric.
pub const UNITS: &str = "per target, the best validation metric reached by each time, in the \
                         metric's own units (no rescaling)";

/// Fractions of the time budget the tables report.
const FRACTIONS: [f64; 4] = [0.25, 0.5, 0.75, 1.0];
/// Points of each plotted curve.
const PLOT_POINTS: usize = 40;

#[derive(Debug, Clone, Serialize)]
pub struct AtSeconds {
    pub seconds: f64,
    /// Best validation metric reached by then, over the seeds that had one.
    pub best: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct VariantBySeconds {
    pub variant: String,
    /// `one-shot` or `ask/tell`.
    pub kind: String,
    pub runs: usize,
    pub best: Vec<AtSeconds>,
    /// Best metric at the end of each run, and the seconds the runs spent.
    pub final_best: Interval,
    pub mean_seconds: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetBySeconds {
    pub target: String,
    pub variants: Vec<VariantBySeconds>,
}

/// The comparison's `by_seconds` section.
#[derive(Debug, Clone, Serialize)]
pub struct BySeconds {
    pub axis: String,
    /// The times the tables report.
    pub seconds: Vec<f64>,
    pub per_target: Vec<TargetBySeconds>,
}

/// Whether the comparison must be read by seconds: some run is one-shot.
pub fn mixed(runs: &[RunCurve]) -> bool {
    runs.iter().any(|r| r.one_shot)
}

/// The best metric `r` had reached by `t` seconds.
fn best_at(r: &RunCurve, t: f64) -> Option<f64> {
    r.seconds
        .iter()
        .zip(&r.best)
        .take_while(|(s, _)| **s <= t)
        .filter_map(|(_, b)| *b)
        .last()
}

/// The time axis: the budget's seconds, else the longest run.
fn horizon(plan: &Plan, runs: &[RunCurve]) -> f64 {
    plan.seconds.unwrap_or_else(|| {
        runs.iter()
            .filter_map(|r| r.seconds.last().copied())
            .fold(0.0, f64::max)
    })
}

fn interval(values: &[f64], plan: &Plan) -> Interval {
    t_interval(values, plan.section.confidence)
}

pub fn build(plan: &Plan, runs: &[RunCurve]) -> BySeconds {
    let end = horizon(plan, runs);
    let seconds: Vec<f64> = FRACTIONS.iter().map(|f| f * end).collect();
    let per_target = plan
        .targets
        .iter()
        .map(|target| TargetBySeconds {
            target: target.clone(),
            variants: plan
                .variants
                .iter()
                .map(|v| {
                    let of: Vec<&RunCurve> = runs
                        .iter()
                        .filter(|r| &r.target == target && &r.variant == v)
                        .collect();
                    let at =
                        |t: f64| -> Vec<f64> { of.iter().filter_map(|r| best_at(r, t)).collect() };
                    let finals: Vec<f64> = of
                        .iter()
                        .filter_map(|r| best_at(r, f64::INFINITY))
                        .collect();
                    let spent: Vec<f64> = of
                        .iter()
                        .filter_map(|r| r.seconds.last().copied())
                        .collect();
                    VariantBySeconds {
                        variant: v.clone(),
                        kind: if of.iter().any(|r| r.one_shot) {
                            "one-shot"
                        } else {
                            "ask/tell"
                        }
                        .into(),
                        runs: of.len(),
                        best: seconds
                            .iter()
                            .map(|&t| AtSeconds {
                                seconds: t,
                                best: interval(&at(t), plan),
                            })
                            .collect(),
                        final_best: interval(&finals, plan),
                        mean_seconds: crate::stats::mean(&spent),
                    }
                })
                .collect(),
        })
        .collect();
    BySeconds {
        axis: AXIS_NOTE.into(),
        seconds,
        per_target,
    }
}

/// `curves.csv` rows: one per run and target evaluation, at its seconds.
pub fn curve_rows(runs: &[RunCurve]) -> impl Iterator<Item = [String; 5]> + '_ {
    runs.iter().flat_map(|r| {
        r.seconds.iter().zip(&r.best).map(|(s, b)| {
            [
                r.target.clone(),
                r.variant.clone(),
                r.seed.to_string(),
                format!("{s:.3}"),
                crate::report::number(*b),
            ]
        })
    })
}

/// Decimals of the metric in the tables (an accuracy as a fraction to a hundredth of a point).
const DIGITS: usize = 4;

pub const CURVE_HEADER: [&str; 5] = ["target", "variant", "seed", "seconds", "best_so_far"];

/// The tables as markdown (the metric in its own units).
pub fn markdown(
    name: &str,
    seeds: usize,
    missing: usize,
    b: &BySeconds,
    confidence: f64,
) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "# Comparison `{name}`\n");
    let _ = writeln!(
        o,
        "By search seconds: {}. Cells are the best validation metric reached by each time, in \
         the metric's own units, mean ± half-width of the {:.0} % Student-t interval over {seeds} seeds (runs that had \
         no result by then are left out of that cell).\n",
        b.axis,
        confidence * 100.0
    );
    if missing > 0 {
        let _ = writeln!(
            o,
            "**{missing} runs are missing** (not finished); the tables cover the others.\n"
        );
    }
    let heads: Vec<String> = b.seconds.iter().map(|s| format!("best@{s:.0} s")).collect();
    for t in &b.per_target {
        let _ = writeln!(o, "## {}\n", t.target);
        let _ = writeln!(
            o,
            "| variant | kind | {} | final best | mean seconds |",
            heads.join(" | ")
        );
        let _ = writeln!(o, "|---|---|{}---|---|", "---|".repeat(heads.len()));
        for v in &t.variants {
            let cells: Vec<String> = v
                .best
                .iter()
                .map(|a| super::markdown::cell(&a.best, DIGITS))
                .collect();
            let _ = writeln!(
                o,
                "| {} | {} | {} | {} | {:.1} |",
                v.variant,
                v.kind,
                cells.join(" | "),
                super::markdown::cell(&v.final_best, DIGITS),
                v.mean_seconds
            );
        }
        let _ = writeln!(o);
    }
    o
}

/// The overview `xnas compare` prints.
pub fn overview(name: &str, b: &BySeconds) -> String {
    let mut o = String::new();
    let _ = writeln!(o, "{name}: by search seconds ({})", b.axis);
    for t in &b.per_target {
        for v in &t.variants {
            let _ = writeln!(
                o,
                "  {} {:<12} {:<9} final best {}, {:.1} s",
                t.target,
                v.variant,
                v.kind,
                super::markdown::cell(&v.final_best, DIGITS),
                v.mean_seconds
            );
        }
    }
    o
}

/// `best-<target>.png/.svg`: each variant's mean best metric against seconds.
pub fn plots(plan: &Plan, runs: &[RunCurve], dir: &Path) -> Vec<Res<Vec<PathBuf>>> {
    let end = horizon(plan, runs).max(1e-9);
    plan.targets
        .iter()
        .map(|target| {
            let series: Vec<Series> = plan
                .variants
                .iter()
                .map(|v| Series {
                    name: v.clone(),
                    points: (1..=PLOT_POINTS)
                        .map(|i| end * i as f64 / PLOT_POINTS as f64)
                        .filter_map(|t| {
                            let at: Vec<f64> = runs
                                .iter()
                                .filter(|r| &r.target == target && &r.variant == v)
                                .filter_map(|r| best_at(r, t))
                                .collect();
                            let i = interval(&at, plan);
                            (i.n > 0).then_some((t, i.mean, i.lo, i.hi))
                        })
                        .collect(),
                })
                .collect();
            let (lo, hi) = series
                .iter()
                .flat_map(|s| s.points.iter().map(|p| p.1))
                .fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), m| {
                    (lo.min(m), hi.max(m))
                });
            let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
            let pad = ((hi - lo) * 0.1).max(1e-3);
            let title = format!(
                "{}: best validation metric on {target} by seconds",
                plan.name
            );
            png_and_svg(
                &dir.join(format!("best-by-seconds-{}", slug(target))),
                &Chart {
                    title: &title,
                    x_desc: "seconds spent (search, then evaluations)",
                    y_desc: "best validation metric so far",
                    series: &series,
                    x_from: 0.0,
                    y_range: (lo - pad, hi + pad),
                    bands: true,
                },
            )
        })
        .collect()
}
