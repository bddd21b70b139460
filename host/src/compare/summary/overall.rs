//! The overall rows: each variant's normalised regret (each target's regret over its metric
//! range, so targets of any scale weigh alike) averaged over targets (a seed counts where every
//! target has its run), its average rank over targets, and each pair's speed-up and verdicts.

use super::regret::{regret_at, Regrets};
use super::{speedup, AtBudget, OverallPair, OverallVariant, TargetResult};
use crate::compare::plan::{Pair, Plan};
use crate::stats;
use std::collections::BTreeMap;

/// The seeds of `v` that have a finished run on every target.
fn complete_seeds(plan: &Plan, r: &Regrets, v: &str) -> Vec<u64> {
    plan.seeds
        .iter()
        .copied()
        .filter(|s| plan.targets.iter().all(|t| r.seeds(t, v).contains_key(s)))
        .collect()
}

pub(super) fn variants(plan: &Plan, r: &Regrets) -> Vec<OverallVariant> {
    plan.variants
        .iter()
        .map(|v| {
            let seeds = complete_seeds(plan, r, v);
            let regret = |b: u64| -> Vec<f64> {
                seeds
                    .iter()
                    .filter_map(|s| {
                        let at: Vec<f64> = plan
                            .targets
                            .iter()
                            .filter_map(|t| r.normalized(t, regret_at(&r.seeds(t, v)[s], b)?))
                            .collect();
                        (at.len() == plan.targets.len()).then(|| stats::mean(&at))
                    })
                    .collect()
            };
            OverallVariant {
                variant: v.clone(),
                normalized_regret: plan
                    .budgets
                    .iter()
                    .map(|&b| AtBudget {
                        budget: b,
                        value: stats::t_interval(&regret(b), plan.section.confidence),
                    })
                    .collect(),
                average_rank: plan
                    .budgets
                    .iter()
                    .map(|&b| AtBudget {
                        budget: b,
                        value: average_ranks(plan, r, b)
                            .get(v)
                            .copied()
                            .unwrap_or(f64::NAN),
                    })
                    .collect(),
            }
        })
        .collect()
}

pub(super) fn pairs(plan: &Plan, r: &Regrets, per_target: &[TargetResult]) -> Vec<OverallPair> {
    plan.pairs
        .iter()
        .map(|p| pair(plan, r, p, per_target))
        .collect()
}

fn pair(plan: &Plan, r: &Regrets, p: &Pair, per_target: &[TargetResult]) -> OverallPair {
    let plain_seeds = complete_seeds(plan, r, &p.plain);
    let seeds: Vec<u64> = complete_seeds(plan, r, &p.transfer)
        .into_iter()
        .filter(|s| plain_seeds.contains(s))
        .collect();
    // Per seed, the mean over targets of the evaluations to each target's threshold.
    let needed = |v: &str| -> Vec<f64> {
        seeds
            .iter()
            .map(|s| {
                let e: Vec<f64> = per_target
                    .iter()
                    .filter_map(|tr| r.evaluations(&tr.target, v, *s, tr.threshold))
                    .collect();
                stats::mean(&e)
            })
            .collect()
    };
    let mut o = OverallPair {
        transfer: p.transfer.clone(),
        plain: p.plain.clone(),
        speedup: speedup(&needed(&p.plain), &needed(&p.transfer), plan),
        better: Vec::new(),
        worse: Vec::new(),
        underpowered: Vec::new(),
        no_difference: Vec::new(),
    };
    for tr in per_target {
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
            v if v.starts_with("underpowered") => o.underpowered.push(tr.target.clone()),
            _ => o.no_difference.push(tr.target.clone()),
        }
    }
    o
}

/// Mean over targets of each variant's rank by mean regret at `k` (ties share the average rank;
/// a target counts where every variant has a regret there).
pub fn average_ranks(plan: &Plan, r: &Regrets, k: u64) -> BTreeMap<String, f64> {
    let mut sum: BTreeMap<String, (f64, usize)> = BTreeMap::new();
    for t in &plan.targets {
        let means: Vec<(String, f64)> = plan
            .variants
            .iter()
            .filter_map(|v| {
                let at = r.at(t, v, k);
                (!at.is_empty()).then(|| (v.clone(), stats::mean(&at)))
            })
            .collect();
        if means.len() < plan.variants.len() {
            continue;
        }
        let values: Vec<f64> = means.iter().map(|(_, m)| *m).collect();
        for ((v, _), rank) in means.iter().zip(stats::ranks(&values)) {
            let e = sum.entry(v.clone()).or_insert((0.0, 0));
            e.0 += rank;
            e.1 += 1;
        }
    }
    sum.into_iter()
        .map(|(v, (s, n))| (v, s / n as f64))
        .collect()
}
