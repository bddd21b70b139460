//! The ablation's tables: per target, and (with several targets) the mean over targets of each
//! split, Spearman's ρ of every (S, K) cell as a mean with its Student-t interval over splits.

use super::plan::Ablation;
use super::Cell;
use crate::stats::{self, Interval};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, Serialize)]
pub struct CellSummary {
    pub source_knowledge: usize,
    pub target_knowledge: usize,
    /// Spearman's ρ over splits: mean and Student-t interval.
    pub spearman: Interval,
}

#[derive(Debug, Clone, Serialize)]
pub struct TargetSummary {
    /// A target name, or [`MEAN_OVER_TARGETS`] (each split's mean over targets).
    pub target: String,
    pub cells: Vec<CellSummary>,
}

/// The name of the table of means over targets.
pub const MEAN_OVER_TARGETS: &str = "mean over targets";

#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub name: String,
    pub held_out: usize,
    pub splits: u64,
    pub confidence: f64,
    pub tables: Vec<TargetSummary>,
}

pub fn summarize(ab: &Ablation, cells: &[Cell]) -> Summary {
    let s = &ab.section;
    let table = |pick: &dyn Fn(usize, usize) -> Vec<f64>| -> Vec<CellSummary> {
        let mut out = Vec::new();
        for &sk in &s.source_knowledge {
            for &tk in &s.target_knowledge {
                out.push(CellSummary {
                    source_knowledge: sk,
                    target_knowledge: tk,
                    spearman: stats::t_interval(&pick(sk, tk), s.confidence),
                });
            }
        }
        out
    };
    let mut tables = Vec::new();
    for t in &ab.targets {
        tables.push(TargetSummary {
            target: t.clone(),
            cells: table(&|sk, tk| {
                cells
                    .iter()
                    .filter(|c| {
                        &c.target == t && c.source_knowledge == sk && c.target_knowledge == tk
                    })
                    .map(|c| c.spearman)
                    .filter(|r| r.is_finite())
                    .collect()
            }),
        });
    }
    if ab.targets.len() > 1 {
        tables.push(TargetSummary {
            target: MEAN_OVER_TARGETS.into(),
            cells: table(&|sk, tk| {
                let mut by_split: BTreeMap<u64, Vec<f64>> = BTreeMap::new();
                for c in cells
                    .iter()
                    .filter(|c| c.source_knowledge == sk && c.target_knowledge == tk)
                {
                    by_split.entry(c.split).or_default().push(c.spearman);
                }
                by_split
                    .into_values()
                    .filter(|v| v.len() == ab.targets.len() && v.iter().all(|r| r.is_finite()))
                    .map(|v| stats::mean(&v))
                    .collect()
            }),
        });
    }
    Summary {
        name: ab.name.clone(),
        held_out: s.held_out,
        splits: s.splits,
        confidence: s.confidence,
        tables,
    }
}
