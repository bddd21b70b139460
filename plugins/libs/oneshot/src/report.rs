//! What a one-shot search reports: running means of batch figures, the genotype of a selection
//! (through the space), and the [`EpochReport`] the host prints, plots and writes to `alpha.csv`.

use crate::derive::{derive, derive_limited, skip_count, Weights};
use crate::kbest::distinct_cells;
use crate::mix::{mean_entropy, to_matrix};
use crate::stage::{ArchConfig, EpochEnd, Stage, StagePlan, StageProgress};
use serde::{Deserialize, Serialize};
use xnas_core::abi_stable::std_types::{ROption, RVec};
use xnas_core::{
    Arch, BatchStats, EpochReport, PluginResult, Proposal, SearchProgress, SearchSpace,
    SupernetLayout,
};

/// Example-weighted sums of batch losses and accuracies.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct StatsSum {
    loss: f64,
    accuracy: f64,
    examples: u64,
}

impl StatsSum {
    pub fn add(&mut self, s: &BatchStats) {
        let n = f64::from(s.examples);
        self.loss += s.loss * n;
        self.accuracy += s.accuracy * n;
        self.examples += u64::from(s.examples);
    }

    /// The example-weighted means (zeros when nothing was added).
    pub fn mean(&self) -> BatchStats {
        if self.examples == 0 {
            return BatchStats::default();
        }
        let n = self.examples as f64;
        BatchStats {
            loss: self.loss / n,
            accuracy: self.accuracy / n,
            examples: u32::try_from(self.examples).unwrap_or(u32::MAX),
        }
    }
}

/// The canonical architecture of a derived cell: the space's genome of the selection, then its
/// canonical form.
pub fn genotype<S: SearchSpace + ?Sized>(space: &S, selection: &[i32]) -> PluginResult<Arch> {
    let genome = space.supernet_genome(selection)?;
    space.canonical(&genome)
}

/// Where an epoch sits in the search and what training and validation measured.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EpochFigures {
    /// Over the whole search (stages included), 0-based.
    pub epoch: u32,
    pub stage: u32,
    pub train: BatchStats,
    /// `examples = 0` where the α split was not evaluated this epoch.
    pub valid: BatchStats,
}

/// The report of one epoch: `weights` are the mixing weights (softmax of α), `selection` the
/// cell the method's rule derives from them.
pub fn epoch_report<S: SearchSpace + ?Sized>(
    space: &S,
    layout: &SupernetLayout,
    weights: &Weights,
    selection: &[i32],
    figures: EpochFigures,
) -> PluginResult<EpochReport> {
    Ok(EpochReport {
        epoch: figures.epoch,
        stage: figures.stage,
        train: figures.train,
        valid: figures.valid,
        mix: to_matrix(&weights.values, weights.cols),
        candidates: weights
            .candidates
            .iter()
            .map(|c| RVec::from(c.clone()))
            .collect(),
        genotype: genotype(space, selection)?,
        skip_count: skip_count(layout, selection),
        entropy: mean_entropy(&weights.values, weights.cols),
    })
}

/// The derivation a method applies: DARTS's rule, or P-DARTS's with at most `max_skips` skip
/// connections in the layout's `skip_cell`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Rule {
    pub max_skips: Option<u32>,
}

impl Rule {
    pub fn select(&self, layout: &SupernetLayout, w: &Weights) -> PluginResult<Vec<i32>> {
        match self.max_skips {
            None => derive(layout, w, &[]),
            Some(m) => derive_limited(layout, w, m),
        }
    }
}

/// How a one-shot optimizer's epochs are reported: the space and layout the cell is derived in,
/// the derivation rule, and the stage (P-DARTS), whose epochs continue the earlier stages'.
pub struct Reporting<'a, S: SearchSpace + ?Sized> {
    pub space: &'a S,
    pub layout: &'a SupernetLayout,
    pub rule: Rule,
    pub stage: u32,
}

impl<'a, S: SearchSpace + ?Sized> Reporting<'a, S> {
    /// Stage 0 (single-stage methods).
    pub fn new(space: &'a S, layout: &'a SupernetLayout, rule: Rule) -> Self {
        Reporting {
            space,
            layout,
            rule,
            stage: 0,
        }
    }
}

impl Stage {
    /// The report of an ended epoch: its figures, the stage's weights, the rule's cell.
    pub fn report<S: SearchSpace + ?Sized>(
        &self,
        space: &S,
        layout: &SupernetLayout,
        rule: Rule,
        end: &EpochEnd,
        (epoch, stage): (u32, u32),
    ) -> PluginResult<EpochReport> {
        let w = self.weights();
        let selection = rule.select(layout, &w)?;
        let figures = EpochFigures {
            epoch,
            stage,
            train: end.train,
            valid: end.valid,
        };
        epoch_report(space, layout, &w, &selection, figures)
    }

    /// One `OneShot::run` call: [`Stage::run`] and, when it ended an epoch, that epoch's report,
    /// numbered over the whole search (`stage · epochs + epoch`).
    pub fn run_reported<S: SearchSpace + ?Sized>(
        &mut self,
        cfg: &ArchConfig,
        plan: &StagePlan,
        max_steps: u32,
        to: Reporting<'_, S>,
    ) -> PluginResult<(StageProgress, Option<EpochReport>)> {
        let p = self.run(cfg, plan, max_steps)?;
        let report = match &p.epoch_end {
            Some(end) => {
                let at = (to.stage * plan.epochs + end.epoch, to.stage);
                Some(self.report(to.space, to.layout, to.rule, end, at)?)
            }
            None => None,
        };
        Ok((p, report))
    }

    /// `derive(n)`: the rule's cell from the current weights, then the next-best distinct cells
    /// the rule allows (`crate::kbest`).
    pub fn derive_cells<S: SearchSpace + ?Sized>(
        &self,
        space: &S,
        layout: &SupernetLayout,
        rule: Rule,
        n: usize,
    ) -> PluginResult<Vec<Proposal>> {
        let w = self.weights();
        let first = rule.select(layout, &w)?;
        let cells = distinct_cells(space, layout, &w, &first, n, rule.max_skips)?;
        Ok(cells
            .into_iter()
            .map(|a| Proposal {
                genome: a.genome,
                budget: ROption::RNone,
            })
            .collect())
    }
}

impl StageProgress {
    /// What the host is told: this call's progress, the report of the epoch it ended, and
    /// whether the whole search (not only this stage) is over.
    pub fn search(&self, report: Option<EpochReport>, finished: bool) -> SearchProgress {
        SearchProgress {
            steps: self.steps,
            step_in_epoch: self.step_in_epoch,
            steps_per_epoch: self.steps_per_epoch,
            epoch_done: report.into(),
            finished,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::derive::derive;
    use crate::testkit::{ToyLayout, ToySpace};

    #[test]
    fn means_are_weighted_by_examples() {
        let mut s = StatsSum::default();
        assert_eq!(s.mean(), BatchStats::default());
        s.add(&BatchStats {
            loss: 1.0,
            accuracy: 0.5,
            examples: 3,
        });
        s.add(&BatchStats {
            loss: 3.0,
            accuracy: 1.0,
            examples: 1,
        });
        assert_eq!(
            s.mean(),
            BatchStats {
                loss: 1.5,
                accuracy: 0.625,
                examples: 4
            }
        );
    }

    #[test]
    fn a_report_carries_the_mix_the_genotype_and_its_skips() {
        let space = ToySpace::new(ToyLayout::Darts);
        let layout = space.layout();
        let mut values = vec![1.0 / 8.0; 28 * 8];
        // Normal cell node 0: skip_connect 0.5 on both edges, the other seven 1/14 each.
        for e in 0..2 {
            for k in 0..8 {
                values[e * 8 + k] = if k == 3 { 0.5 } else { 1.0 / 14.0 };
            }
        }
        let w = Weights::new(vec![(0..8).collect(); 28], values).unwrap();
        let sel = derive(&layout, &w, &[]).unwrap();
        let figures = EpochFigures {
            epoch: 4,
            stage: 1,
            train: BatchStats::default(),
            valid: BatchStats::default(),
        };
        let r = epoch_report(&space, &layout, &w, &sel, figures).unwrap();
        assert_eq!((r.epoch, r.stage, r.skip_count), (4, 1, 2));
        assert_eq!((r.mix.rows, r.mix.cols), (28, 8));
        assert_eq!(r.mix.row(0)[3], 0.5);
        assert_eq!(r.candidates.len(), 28);
        assert_eq!(r.genotype, genotype(&space, &sel).unwrap());
        assert!(r
            .genotype
            .text
            .starts_with("normal: n0 = skip_connect(s0) + skip_connect(s1)"));
        let uniform_rows = 26.0 * 8f64.ln();
        let skewed = 2.0 * -(0.5 * 0.5f64.ln() + 7.0 / 14.0 * (1.0f64 / 14.0).ln());
        assert!(
            (r.entropy - (uniform_rows + skewed) / 28.0).abs() < 1e-6,
            "{}",
            r.entropy
        );
    }
}
