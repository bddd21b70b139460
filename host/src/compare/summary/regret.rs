//! Regret curves. Regret is the best metric the benchmark knows for the target minus the best
//! found so far, in the metric's own units ([`crate::report::regret`]). Where the space knows no
//! best (a trainable space), the best metric any run of the comparison found on that target
//! stands in, and the summary says so.
//!
//! Targets may differ in scale (accuracies in [0, 1] beside accuracies in percent or losses), so
//! the overall rows divide each target's regret by its metric range in the comparison: the
//! reference minus the worst metric any run observed on that target (0 = the best, 1 = as bad
//! as the worst architecture seen).

use super::collect::RunCurve;
use crate::compare::plan::Plan;
use crate::stats;
use std::collections::BTreeMap;

/// Seed → regret after each target evaluation.
pub type BySeed = BTreeMap<u64, Vec<Option<f64>>>;

/// Every finished run's regret curve, by target and variant.
pub struct Regrets<'a> {
    plan: &'a Plan,
    /// Per target: the reference metric, and whether it is the best found rather than the
    /// benchmark's.
    pub reference: BTreeMap<String, (f64, bool)>,
    /// Per target: the lowest metric any run observed (the other end of its range).
    pub worst: BTreeMap<String, f64>,
    curves: BTreeMap<(String, String), BySeed>,
    none: BySeed,
}

impl<'a> Regrets<'a> {
    pub fn new(plan: &'a Plan, runs: &[RunCurve]) -> Self {
        let mut reference = BTreeMap::new();
        let mut worst = BTreeMap::new();
        for t in &plan.targets {
            let mine: Vec<&RunCurve> = runs.iter().filter(|r| &r.target == t).collect();
            let known = mine.iter().find_map(|r| r.best_possible);
            let found = mine
                .iter()
                .filter_map(|r| r.best.iter().flatten().copied().reduce(f64::max))
                .reduce(f64::max);
            if let Some(b) = known {
                reference.insert(t.clone(), (b, false));
            } else if let Some(b) = found {
                reference.insert(t.clone(), (b, true));
            }
            if let Some(w) = mine.iter().filter_map(|r| r.worst).reduce(f64::min) {
                worst.insert(t.clone(), w);
            }
        }
        let mut curves: BTreeMap<(String, String), BySeed> = BTreeMap::new();
        for r in runs {
            let Some(&(best, _)) = reference.get(&r.target) else {
                continue;
            };
            curves
                .entry((r.target.clone(), r.variant.clone()))
                .or_default()
                .insert(r.seed, r.regret(best).collect());
        }
        Regrets {
            plan,
            reference,
            worst,
            curves,
            none: BTreeMap::new(),
        }
    }

    /// The reference metric of a target (None: no run of it finished).
    pub fn best(&self, target: &str) -> Option<f64> {
        self.reference.get(target).map(|r| r.0)
    }

    /// The metric range observed on `target`: the reference minus the worst metric any run saw
    /// (None without runs; 0 when every evaluation scored the same).
    pub fn range(&self, target: &str) -> Option<f64> {
        Some(self.best(target)? - self.worst.get(target)?).map(|r| r.max(0.0))
    }

    /// `regret` on `target` as a fraction of the target's metric range (0 when the range is 0,
    /// as every regret then is).
    pub fn normalized(&self, target: &str, regret: f64) -> Option<f64> {
        let range = self.range(target)?;
        Some(if range > 0.0 { regret / range } else { 0.0 })
    }

    /// The curves of `variant` on `target`, by seed.
    pub fn seeds(&self, target: &str, variant: &str) -> &BySeed {
        self.curves
            .get(&(target.to_string(), variant.to_string()))
            .unwrap_or(&self.none)
    }

    /// The regrets of `variant` on `target` after `k` evaluations, over seeds.
    pub fn at(&self, target: &str, variant: &str, k: u64) -> Vec<f64> {
        self.seeds(target, variant)
            .values()
            .filter_map(|c| regret_at(c, k))
            .collect()
    }

    /// The regret that counts as good enough on `target`: the file's threshold, else the
    /// reference variant's mean regret at the full budget.
    pub fn threshold(&self, target: &str) -> f64 {
        self.plan.section.threshold.unwrap_or_else(|| {
            let r = self.at(target, &self.plan.reference, self.plan.budget);
            if r.is_empty() {
                0.0
            } else {
                stats::mean(&r)
            }
        })
    }

    /// Evaluations one run needed to reach `threshold`, the full budget if it never did.
    pub fn evaluations(&self, t: &str, v: &str, seed: u64, threshold: f64) -> Option<f64> {
        self.seeds(t, v)
            .get(&seed)
            .map(|c| evaluations_to(c, threshold).unwrap_or(self.plan.budget) as f64)
    }
}

pub fn regret_at(curve: &[Option<f64>], k: u64) -> Option<f64> {
    curve.get(k as usize - 1).copied().flatten()
}

/// First evaluation (1-based) at which regret ≤ threshold.
pub fn evaluations_to(curve: &[Option<f64>], threshold: f64) -> Option<u64> {
    curve
        .iter()
        .position(|r| r.is_some_and(|r| r <= threshold + 1e-12))
        .map(|i| i as u64 + 1)
}
