//! Comparison plots, each as PNG and SVG: regret curves with confidence bands (per target and
//! the mean over targets), and the average rank of the variants over targets.

use super::plan::{slug, Plan};
use super::summary::overall::average_ranks;
use super::summary::regret::{regret_at, Regrets};
use super::summary::Summary;
use crate::chart::{png_and_svg, Chart, Res, Series};
use crate::stats;
use std::path::{Path, PathBuf};

/// Draws every plot of the comparison into `dir`, one result per plot.
pub fn plots(plan: &Plan, summary: &Summary, r: &Regrets, dir: &Path) -> Vec<Res<Vec<PathBuf>>> {
    let mut drawn = Vec::new();
    for t in &summary.per_target {
        let series = curve_bands(plan, &|v, k| r.at(&t.target, v, k));
        drawn.push(regret_curves(
            &dir.join(format!("regret-{}", slug(&t.target))),
            &format!("{}: regret on {}", plan.name, t.target),
            &series,
            &format!(
                "regret, metric units (mean, {:.0} % interval)",
                plan.section.confidence * 100.0
            ),
        ));
    }
    // Over targets: per seed, the mean over the targets of regret / the target's metric range
    // (each target must have the seed's run).
    let n_targets = summary.per_target.len();
    let overall = curve_bands(plan, &|v, k| {
        plan.seeds
            .iter()
            .filter_map(|s| {
                let at: Vec<f64> = summary
                    .per_target
                    .iter()
                    .filter_map(|t| {
                        r.normalized(&t.target, regret_at(r.seeds(&t.target, v).get(s)?, k)?)
                    })
                    .collect();
                (at.len() == n_targets).then(|| stats::mean(&at))
            })
            .collect()
    });
    drawn.push(regret_curves(
        &dir.join("regret-overall"),
        &format!(
            "{}: normalised regret, mean over {n_targets} targets",
            plan.name
        ),
        &overall,
        &format!(
            "regret / metric range (mean, {:.0} % interval)",
            plan.section.confidence * 100.0
        ),
    ));
    let ranks: Vec<_> = (1..=plan.budget)
        .map(|k| average_ranks(plan, r, k))
        .collect();
    let rank_series: Vec<Series> = plan
        .variants
        .iter()
        .map(|v| Series {
            name: v.clone(),
            points: ranks
                .iter()
                .enumerate()
                .filter_map(|(i, m)| m.get(v).map(|r| ((i + 1) as f64, *r, f64::NAN, f64::NAN)))
                .collect(),
        })
        .collect();
    drawn.push(average_rank(
        &dir.join("average-rank"),
        &format!("{}: average rank over {n_targets} targets", plan.name),
        &rank_series,
        plan.variants.len(),
    ));
    drawn
}

/// Mean regret with its interval after every evaluation, per variant.
fn curve_bands(plan: &Plan, per_seed: &dyn Fn(&str, u64) -> Vec<f64>) -> Vec<Series> {
    plan.variants
        .iter()
        .map(|v| Series {
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

/// Mean regret per variant against evaluations, with the confidence band, as it is (metric
/// units, or normalised for the overall plot: `y_desc` says which).
fn regret_curves(stem: &Path, title: &str, scaled: &[Series], y_desc: &str) -> Res<Vec<PathBuf>> {
    // The first evaluations' regret dwarfs the rest: the axes start after 10 % of the budget so
    // the differences that matter stay visible (curves.csv has every evaluation).
    let x_max = scaled
        .iter()
        .flat_map(|s| s.points.iter().map(|p| p.0))
        .fold(1.0, f64::max);
    let from = (x_max * 0.1).round().max(1.0);
    let values = scaled.iter().flat_map(|s| {
        s.points
            .iter()
            .filter(move |p| p.0 >= from)
            .flat_map(|p| [p.1, p.2, p.3])
    });
    let (lo, hi) = values
        .filter(|v| v.is_finite())
        .fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), v| {
            (l.min(v), h.max(v))
        });
    let (lo, hi) = if lo.is_finite() { (lo, hi) } else { (0.0, 1.0) };
    let pad = ((hi - lo) * 0.08).max(1e-3 * hi.abs().max(1e-6));
    png_and_svg(
        stem,
        &Chart {
            title,
            x_desc: "target evaluations",
            y_desc,
            series: scaled,
            x_from: from,
            y_range: ((lo - pad).max(0.0), hi + pad),
            bands: true,
        },
    )
}

/// Average rank (1 = best) per variant against evaluations.
fn average_rank(stem: &Path, title: &str, series: &[Series], variants: usize) -> Res<Vec<PathBuf>> {
    png_and_svg(
        stem,
        &Chart {
            title,
            x_desc: "target evaluations",
            y_desc: "average rank over targets (1 = best)",
            series,
            x_from: 1.0,
            y_range: (0.8, variants as f64 + 0.2),
            bands: false,
        },
    )
}
