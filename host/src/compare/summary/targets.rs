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
            worst_metric_observed: r.worst.get(t).copied(),
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
    let untied = wilcoxon.as_ref().map_or(0, |w| w.n);
    let min_p_value = stats::wilcoxon_min_p(untied);
    PairTest {
        budget: b,
        mean_difference,
        verdict: verdict(&wilcoxon, mean_difference, x.len(), min_p_value),
        wilcoxon,
        pairs: x.len(),
        min_p_value,
    }
}

/// The verdict of one test. A test whose smallest attainable p is not below the threshold cannot
/// call anything significant: it says so instead of "no difference" (every pair tied is a real
/// "no difference").
pub(super) fn verdict(w: &Option<Wilcoxon>, diff: f64, pairs: usize, min_p: f64) -> String {
    match w {
        Some(w) if w.p_value < ALPHA && diff < 0.0 => "better".into(),
        Some(w) if w.p_value < ALPHA && diff > 0.0 => "worse".into(),
        Some(w) if min_p >= ALPHA => {
            let tied = pairs - w.n;
            let tied = if tied > 0 {
                format!(", {tied} tied")
            } else {
                String::new()
            };
            format!(
                "underpowered ({pairs} seed{}{tied}: min p = {})",
                if pairs == 1 { "" } else { "s" },
                round_p(min_p)
            )
        }
        _ => "no difference".into(),
    }
}

/// A p-value as a short decimal (0.0625, 0.125, 1).
fn round_p(p: f64) -> String {
    let s = format!("{p:.4}");
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stats::WilcoxonMethod;

    fn w(p: f64, n: usize) -> Option<Wilcoxon> {
        Some(Wilcoxon {
            statistic: 0.0,
            p_value: p,
            n,
            method: WilcoxonMethod::Exact,
        })
    }

    #[test]
    fn a_test_that_cannot_reach_the_threshold_says_so() {
        let min5 = stats::wilcoxon_min_p(5);
        assert_eq!(
            verdict(&w(0.0625, 5), -1.0, 5, min5),
            "underpowered (5 seeds: min p = 0.0625)"
        );
        assert_eq!(
            verdict(&w(0.125, 4), -1.0, 6, stats::wilcoxon_min_p(4)),
            "underpowered (6 seeds, 2 tied: min p = 0.125)"
        );
        let min6 = stats::wilcoxon_min_p(6);
        assert_eq!(verdict(&w(0.03125, 6), -1.0, 6, min6), "better");
        assert_eq!(verdict(&w(0.03125, 6), 1.0, 6, min6), "worse");
        assert_eq!(verdict(&w(0.3, 6), -1.0, 6, min6), "no difference");
        assert_eq!(verdict(&None, 0.0, 5, 1.0), "no difference");
    }
}
