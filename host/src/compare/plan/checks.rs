//! The checks of a `[compare]` section and what they expand to: variants, (transfer, plain)
//! pairs, targets with their sources, seeds and the budgets the tables report.

use super::{slug, CompareSection, Ctx, Pair, Seeds, Targets, VariantSpec};
use crate::error::HostResult;
use serde::Deserialize;
use std::collections::BTreeSet;
use toml::Table;

/// The variants' names, each checked: not empty, listed once, a directory of its own, and an
/// optimizer to run.
pub(super) fn check_variants(section: &CompareSection, ctx: &Ctx) -> HostResult<Vec<String>> {
    if section.variants.is_empty() {
        return Err(ctx.err("[compare] lists no variant: add [[compare.variant]] entries"));
    }
    let mut names = BTreeSet::new();
    let mut slugs = BTreeSet::new();
    for v in &section.variants {
        if v.name.trim().is_empty() {
            return Err(ctx.err("a [[compare.variant]] has an empty name"));
        }
        if !names.insert(v.name.clone()) {
            return Err(ctx.err(format!("variant `{}` is listed twice", v.name)));
        }
        if !slugs.insert(slug(&v.name)) {
            return Err(ctx.err(format!(
                "variant `{}` has the same directory name `{}` as another variant: rename one",
                v.name,
                slug(&v.name)
            )));
        }
        if v.optimizer.is_none() && v.transfer.is_none() {
            return Err(ctx.err(format!(
                "variant `{}` needs `optimizer = {{ plugin = \"…\" }}` (and `transfer` for a transfer variant)",
                v.name
            )));
        }
    }
    Ok(section.variants.iter().map(|v| v.name.clone()).collect())
}

/// Each target with its sources: the listed sources but the target, or (leave-one-out) the
/// other tasks of the pool.
pub(super) fn targets(
    section: &CompareSection,
    listed_sources: &[String],
    ctx: &Ctx,
) -> HostResult<Vec<(String, Vec<String>)>> {
    let targets: Vec<(String, Vec<String>)> = match &section.targets {
        Targets::Mode(m) if m == "leave-one-out" => {
            if section.tasks.len() < 2 {
                return Err(ctx.err(
                    "targets = \"leave-one-out\" needs `tasks = [...]` in [compare] with at least two tasks",
                ));
            }
            section
                .tasks
                .iter()
                .map(|t| {
                    let others = section.tasks.iter().filter(|s| *s != t).cloned().collect();
                    (t.clone(), others)
                })
                .collect()
        }
        Targets::Mode(m) => {
            return Err(ctx.err(format!(
                "targets = \"{m}\": give a list of task names or \"leave-one-out\""
            )))
        }
        Targets::Named(list) => {
            if list.is_empty() {
                return Err(ctx.err("targets is empty: name at least one target task"));
            }
            if !section.tasks.is_empty() {
                return Err(ctx.err(
                    "[compare] tasks is only for targets = \"leave-one-out\"; with named targets, sources come from [tasks] sources",
                ));
            }
            // A target never learns from itself: it is dropped from the listed sources.
            list.iter()
                .map(|t| {
                    let s = listed_sources.iter().filter(|s| *s != t).cloned().collect();
                    (t.clone(), s)
                })
                .collect()
        }
    };
    let mut seen = BTreeSet::new();
    for (t, _) in &targets {
        if !seen.insert(t) {
            return Err(ctx.err(format!("target `{t}` is listed twice")));
        }
    }
    Ok(targets)
}

pub(super) fn seeds(section: &CompareSection, base_seed: u64, ctx: &Ctx) -> HostResult<Vec<u64>> {
    match &section.seeds {
        Seeds::Count(0) => Err(ctx.err("seeds must be at least 1")),
        Seeds::Count(n) => Ok((0..*n).map(|i| base_seed + i).collect()),
        Seeds::List(l) if l.is_empty() => Err(ctx.err("seeds is empty")),
        Seeds::List(l) => {
            if l.iter().collect::<BTreeSet<_>>().len() != l.len() {
                return Err(ctx.err("seeds lists a seed twice"));
            }
            Ok(l.clone())
        }
    }
}

/// The budgets the tables report: as listed, or 10, 20, 50, 100 below the budget, and the budget.
pub(super) fn budgets(section: &CompareSection, budget: u64, ctx: &Ctx) -> HostResult<Vec<u64>> {
    match section.budgets.as_slice() {
        [] => {
            let mut b: Vec<u64> = [10, 20, 50, 100]
                .into_iter()
                .filter(|b| *b < budget)
                .collect();
            b.push(budget);
            Ok(b)
        }
        list => {
            if let Some(b) = list.iter().find(|b| **b == 0 || **b > budget) {
                return Err(ctx.err(format!(
                    "budgets: {b} is outside 1..={budget} (the evaluation budget)"
                )));
            }
            let mut b = list.to_vec();
            b.sort_unstable();
            b.dedup();
            Ok(b)
        }
    }
}

/// The plugin names a variant's `optimizer` or `transfer` table gives; its other keys are the
/// runs' to check.
#[derive(Debug, Default, Deserialize)]
struct Names {
    plugin: Option<String>,
    wraps: Option<String>,
}

impl Names {
    fn of(table: &Option<Table>) -> Names {
        table
            .as_ref()
            .and_then(|t| t.clone().try_into().ok())
            .unwrap_or_default()
    }
}

/// Transfer variants and their plain counterparts.
pub(super) fn pairs(section: &CompareSection, ctx: &Ctx) -> HostResult<Vec<Pair>> {
    // The optimizer a variant runs: its own, or the one its transfer wraps.
    let inner = |v: &VariantSpec| {
        Names::of(&v.optimizer)
            .plugin
            .or(Names::of(&v.transfer).wraps)
    };
    let mut out = Vec::new();
    for v in section.variants.iter().filter(|v| v.transfer.is_some()) {
        let plain = match &v.plain {
            Some(p) => {
                let Some(pv) = section.variants.iter().find(|x| &x.name == p) else {
                    return Err(ctx.err(format!(
                        "variant `{}`: plain = \"{p}\" is not a variant",
                        v.name
                    )));
                };
                if pv.transfer.is_some() {
                    return Err(ctx.err(format!(
                        "variant `{}`: plain = \"{p}\" is itself a transfer variant",
                        v.name
                    )));
                }
                p.clone()
            }
            None => {
                let wrapped = inner(v);
                match section
                    .variants
                    .iter()
                    .find(|x| x.transfer.is_none() && Names::of(&x.optimizer).plugin == wrapped)
                {
                    Some(x) => x.name.clone(),
                    // A transfer variant without a plain one is shown, just not tested.
                    None => continue,
                }
            }
        };
        out.push(Pair {
            transfer: v.name.clone(),
            plain,
        });
    }
    Ok(out)
}
