//! The next-best cells after the derived one, for `derive(n > 1)`.
//!
//! A cell's score is `Σ ln w[e, op]` over its kept edges: the log-probability of choosing those
//! ops on those edges. Under the derivation rule's constraints (per node `edges_per_node` edges,
//! `none` excluded where the layout says so) the top-scoring cell is exactly the rule's cell
//! (the strongest op per edge and the strongest edges per node), so ranking by this score
//! extends the rule to the 2nd, 3rd, … best. Nodes are independent, so the `n` best cells are
//! found exactly by merging each node's `n` best options; with a skip limit (P-DARTS) the merge
//! keeps the `n` best per skip count and drops cells over the limit.

use crate::derive::{edges_kept, node_groups, Weights};
use crate::report::genotype;
use std::collections::HashSet;
use xnas_core::{Arch, PluginResult, SearchSpace, SupernetLayout};

/// A cell with its score and skip count.
#[derive(Clone, Debug, PartialEq)]
pub struct RankedCell {
    /// Op per layout edge, −1 where dropped.
    pub selection: Vec<i32>,
    pub score: f64,
    pub skips: u32,
}

#[derive(Clone, Debug)]
struct Partial {
    score: f64,
    skips: u32,
    picks: Vec<(usize, u32)>,
}

/// Keeps the `n` best of each skip count (at most `max_skips`), best first.
fn trim(mut list: Vec<Partial>, n: usize, max_skips: u32) -> Vec<Partial> {
    list.retain(|p| p.skips <= max_skips);
    list.sort_by(|a, b| b.score.total_cmp(&a.score));
    let mut per_count: Vec<usize> = Vec::new();
    list.retain(|p| {
        let s = p.skips as usize;
        if per_count.len() <= s {
            per_count.resize(s + 1, 0);
        }
        per_count[s] += 1;
        per_count[s] <= n
    });
    list
}

fn merge(a: &[Partial], b: &[Partial], n: usize, max_skips: u32) -> Vec<Partial> {
    let mut out = Vec::with_capacity(a.len() * b.len());
    for x in a {
        for y in b {
            let mut picks = x.picks.clone();
            picks.extend_from_slice(&y.picks);
            out.push(Partial {
                score: x.score + y.score,
                skips: x.skips + y.skips,
                picks,
            });
        }
    }
    trim(out, n, max_skips)
}

/// Every `k`-subset of `0..m`, in lexicographic order.
fn subsets(m: usize, k: usize) -> Vec<Vec<usize>> {
    let mut out = Vec::new();
    let mut idx: Vec<usize> = (0..k).collect();
    loop {
        out.push(idx.clone());
        let Some(i) = (0..k).rev().find(|&i| idx[i] != i + m - k) else {
            return out;
        };
        idx[i] += 1;
        for j in i + 1..k {
            idx[j] = idx[j - 1] + 1;
        }
    }
}

/// The `n` best cells by score, best first, each with at most `max_skips` skip connections in
/// the layout's `skip_cell` (`None`: no limit). Ops of weight 0 are never chosen.
pub fn best_cells(
    layout: &SupernetLayout,
    w: &Weights,
    n: usize,
    max_skips: Option<u32>,
) -> Vec<RankedCell> {
    let limit = max_skips.unwrap_or(u32::MAX);
    let zero = layout.zero_op.into_option();
    let skip = layout.skip_op.into_option();
    let options = |e: usize| -> Vec<Partial> {
        let counts = layout.edges[e].cell == layout.skip_cell;
        let mut v: Vec<Partial> = w.candidates[e]
            .iter()
            .zip(w.row(e))
            .filter(|(&op, &x)| x > 0.0 && (layout.zero_op_selectable || Some(op) != zero))
            .map(|(&op, &x)| Partial {
                score: x.ln(),
                skips: u32::from(counts && Some(op) == skip),
                picks: vec![(e, op)],
            })
            .collect();
        v = trim(v, n, limit);
        v
    };
    let empty = vec![Partial {
        score: 0.0,
        skips: 0,
        picks: Vec::new(),
    }];
    let mut total = empty.clone();
    for group in node_groups(layout) {
        let keep = edges_kept(layout, group.len());
        let mut node = Vec::new();
        for subset in subsets(group.len(), keep) {
            let mut part = empty.clone();
            for i in subset {
                part = merge(&part, &options(group[i]), n, limit);
            }
            node.extend(part);
        }
        total = merge(&total, &trim(node, n, limit), n, limit);
    }
    total.truncate(n);
    total
        .into_iter()
        .map(|p| {
            let mut selection = vec![-1; w.edges()];
            for (e, op) in p.picks {
                selection[e] = op as i32;
            }
            RankedCell {
                selection,
                score: p.score,
                skips: p.skips,
            }
        })
        .collect()
}

/// `first` (the method's derived cell) and then the next-best cells by score, as distinct
/// canonical architectures, at most `n` of them. Cells the space maps to one canonical genome
/// count once.
pub fn distinct_cells<S: SearchSpace + ?Sized>(
    space: &S,
    layout: &SupernetLayout,
    w: &Weights,
    first: &[i32],
    n: usize,
    max_skips: Option<u32>,
) -> PluginResult<Vec<Arch>> {
    if n == 0 {
        return Ok(Vec::new());
    }
    let first = genotype(space, first)?;
    let mut k = n + 1;
    loop {
        let ranked = best_cells(layout, w, k, max_skips);
        let mut out = vec![first.clone()];
        let mut seen = HashSet::from([first.genome.to_vec()]);
        for cell in &ranked {
            if out.len() == n {
                break;
            }
            let arch = genotype(space, &cell.selection)?;
            if seen.insert(arch.genome.to_vec()) {
                out.push(arch);
            }
        }
        // Done, or every cell there is has been seen (fewer than asked came back).
        if out.len() == n || ranked.len() < k || k >= 64 * n {
            return Ok(out);
        }
        k *= 2;
    }
}

#[cfg(test)]
#[path = "kbest_tests.rs"]
mod tests;
