//! Per-target statistics: each variant's regret at the reported budgets and evaluations to the
//! threshold, and each (transfer, plain) pair's speed-up and paired tests.

use super::collect::RunCurve;
use super::regret::{evaluations_to, regret_at, Regrets};
use super::{
    speedup, AtBudget, EvaluationsToThreshold, PairResult, PairTest, TargetResult, VariantResult,
    ALPHA,
};
use crate::compare::plan::{Pair, Plan};
use crate::stats::{self, Wilcoxon};

pub(super) fn per_target(plan: &Plan, runs: &[RunCurve], r: &Regrets) -> Vec<TargetResult> {
    let mut out = Vec::new();
    for t in &plan.targets {
        let Some(&(reference_metric, reference_is_best_found)) = r.reference.get(t) else {
            continue;
        };
        let threshold = r.threshold(t);
        out.push(TargetResult {
            target: t.clone(),
            reference_metric,
            reference_is_best_found,
            threshold,
            variants: plan
                .variants
                .iter()
                .map(|v| variant(plan, runs, r, t, v, threshold))
                .collect(),
            pairs: plan
                .pairs
                .iter()
                .map(|p| pair(plan, r, t, p, threshold))
                .collect(),
        });
    }
    out
}

fn variant(
    plan: &Plan,
    runs: &[RunCurve],
    r: &Regrets,
    t: &str,
    v: &str,
    threshold: f64,
) -> VariantResult {
    let conf = plan.section.confidence;
    let seeds = r.seeds(t, v);
    let needed: Vec<f64> = seeds
        .keys()
        .filter_map(|s| r.evaluations(t, v, *s, threshold))
        .collect();
    let reached = seeds
        .values()
        .filter(|c| evaluations_to(c, threshold).is_some())
        .count();
    let walls: Vec<f64> = runs
        .iter()
        .filter(|x| x.target == t && x.variant == v && x.wall_seconds.is_finite())
        .map(|x| x.wall_seconds)
        .collect();
    VariantResult {
        variant: v.to_string(),
        runs: seeds.len(),
        regret: plan
            .budgets
            .iter()
            .map(|&b| AtBudget {
                budget: b,
                value: stats::t_interval(&r.at(t, v, b), conf),
            })
            .collect(),
        evaluations_to_threshold: EvaluationsToThreshold {
            reached,
            runs: seeds.len(),
            mean: stats::t_interval(&needed, conf),
        },
        mean_wall_seconds: if walls.is_empty() {
            f64::NAN
        } else {
            stats::mean(&walls)
        },
    }
}

fn pair(plan: &Plan, r: &Regrets, t: &str, p: &Pair, threshold: f64) -> PairResult {
    let common: Vec<u64> = r
        .seeds(t, &p.transfer)
        .keys()
        .filter(|s| r.seeds(t, &p.plain).contains_key(s))
        .copied()
        .collect();
    let needed = |v: &str| -> Vec<f64> {
        common
            .iter()
            .filter_map(|s| r.evaluations(t, v, *s, threshold))
            .collect()
    };
    PairResult {
        transfer: p.transfer.clone(),
        plain: p.plain.clone(),
        speedup: speedup(&needed(&p.plain), &needed(&p.transfer), plan),
        tests: plan
            .budgets
            .iter()
            .map(|&b| test(r, t, p, &common, b))
            .collect(),
    }
}

/// The paired test of a pair on `t` after `b` evaluations, over the seeds both have.
fn test(r: &Regrets, t: &str, p: &Pair, common: &[u64], b: u64) -> PairTest {
    let (mut x, mut y) = (Vec::new(), Vec::new());
    for s in common {
        let rx = regret_at(&r.seeds(t, &p.transfer)[s], b);
        let ry = regret_at(&r.seeds(t, &p.plain)[s], b);
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
}

fn verdict(w: &Option<Wilcoxon>, diff: f64) -> &'static str {
    match w {
        Some(w) if w.p_value < ALPHA && diff < 0.0 => "better",
        Some(w) if w.p_value < ALPHA && diff > 0.0 => "worse",
        _ => "no difference",
    }
}
