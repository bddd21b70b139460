//! Reading a discrete cell off the mixing weights, driven by the space's [`SupernetLayout`]:
//!
//! * **The derivation rule** (DARTS, Liu et al. 2019, quark0/darts `model_search.py`
//!   `genotype()`): for every node keep the `edges_per_node` incoming edges whose strongest
//!   selectable op weighs most, and choose that op. With `zero_op_selectable = false` (the DARTS
//!   cell) `none` is excluded from both the ranking and the choice; with `edges_per_node = 0`
//!   (NAS-Bench-201) every edge is kept with its argmax, `none` included. Ties go to the earlier
//!   edge and the earlier column.
//! * **P-DARTS's pruning** (Chen et al. 2019, chenxin061/pdarts `train_search.py`): per edge,
//!   drop the lowest-weight candidates; at the last stage `none` goes first.
//! * **P-DARTS's skip limit** (`check_sk_number` / `delete_min_sk_prob` loop): while the
//!   `skip_cell` has more than M skip connections, remove the weakest chosen skip and derive
//!   again. The skip op is found by its index in the layout, never a fixed column.

use serde::{Deserialize, Serialize};
use xnas_core::{PluginError, PluginResult, SupernetLayout};

/// Mixing weights with the op index of each column: `values[e * cols + c]` weighs op
/// `candidates[e][c]` on layout edge `e`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Weights {
    pub candidates: Vec<Vec<u32>>,
    pub values: Vec<f64>,
    pub cols: usize,
}

impl Weights {
    pub fn new(candidates: Vec<Vec<u32>>, values: Vec<f64>) -> PluginResult<Self> {
        let cols = candidates.first().map_or(0, Vec::len);
        if cols == 0 || candidates.iter().any(|c| c.len() != cols) {
            return Err(PluginError::data(
                "every edge needs the same number (at least 1) of candidate ops",
            ));
        }
        if values.len() != candidates.len() * cols {
            return Err(PluginError::data(format!(
                "{} mixing weights for {} edges of {cols} candidates",
                values.len(),
                candidates.len()
            )));
        }
        Ok(Weights {
            candidates,
            values,
            cols,
        })
    }

    pub fn edges(&self) -> usize {
        self.candidates.len()
    }

    pub fn row(&self, e: usize) -> &[f64] {
        &self.values[e * self.cols..(e + 1) * self.cols]
    }

    /// The column of op `op` on edge `e`, if it is a candidate there.
    pub fn column(&self, e: usize, op: u32) -> Option<usize> {
        self.candidates[e].iter().position(|&o| o == op)
    }
}

/// Layout edges grouped by (cell, node), groups in the order they first appear.
pub fn node_groups(layout: &SupernetLayout) -> Vec<Vec<usize>> {
    let mut keys: Vec<(&str, u32)> = Vec::new();
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (e, edge) in layout.edges.iter().enumerate() {
        let key = (edge.cell.as_str(), edge.node);
        match keys.iter().position(|k| *k == key) {
            Some(g) => groups[g].push(e),
            None => {
                keys.push(key);
                groups.push(vec![e]);
            }
        }
    }
    groups
}

/// Whether column `c` of edge `e` may be chosen (not removed; not the zero op where excluded).
fn selectable(layout: &SupernetLayout, w: &Weights, removed: &[bool], e: usize, c: usize) -> bool {
    let zero = layout.zero_op.into_option();
    let is_zero = zero == Some(w.candidates[e][c]);
    !removed.get(e * w.cols + c).copied().unwrap_or(false)
        && (!is_zero || layout.zero_op_selectable)
}

/// The best selectable column of edge `e` and its weight (first on ties).
fn best_column(
    layout: &SupernetLayout,
    w: &Weights,
    removed: &[bool],
    e: usize,
) -> Option<(usize, f64)> {
    let mut best: Option<(usize, f64)> = None;
    for (c, &x) in w.row(e).iter().enumerate() {
        if selectable(layout, w, removed, e, c) && best.is_none_or(|(_, b)| x > b) {
            best = Some((c, x));
        }
    }
    best
}

/// Incoming edges a node keeps: `edges_per_node`, or all of them when it is 0 or the node has fewer.
pub fn edges_kept(layout: &SupernetLayout, group_len: usize) -> usize {
    match layout.edges_per_node as usize {
        0 => group_len,
        k => k.min(group_len),
    }
}

fn check_shape(layout: &SupernetLayout, w: &Weights) -> PluginResult<()> {
    if w.edges() != layout.edges.len() {
        return Err(PluginError::data(format!(
            "mixing weights for {} edges, but the space's layout has {}",
            w.edges(),
            layout.edges.len()
        )));
    }
    Ok(())
}

/// The derivation rule. `removed` marks entries (`e * cols + c`) that may not be chosen (empty:
/// none). Returns the op chosen per layout edge, −1 where the edge is dropped.
pub fn derive(layout: &SupernetLayout, w: &Weights, removed: &[bool]) -> PluginResult<Vec<i32>> {
    check_shape(layout, w)?;
    let mut selection = vec![-1i32; w.edges()];
    for group in node_groups(layout) {
        let keep = edges_kept(layout, group.len());
        let mut ranked: Vec<(usize, usize, f64)> = group
            .iter()
            .filter_map(|&e| best_column(layout, w, removed, e).map(|(c, x)| (e, c, x)))
            .collect();
        if ranked.len() < keep {
            let edge = &layout.edges[group[0]];
            return Err(PluginError::evaluation(format!(
                "cannot derive a cell: node {} of the `{}` cell has {} incoming edges with an \
                 op that may be chosen (`none` and removed ops excluded); it needs {keep}",
                edge.node,
                edge.cell,
                ranked.len()
            )));
        }
        // Stable: equal strengths keep the earlier edge first.
        ranked.sort_by(|a, b| b.2.total_cmp(&a.2));
        for &(e, c, _) in &ranked[..keep] {
            selection[e] = w.candidates[e][c] as i32;
        }
    }
    Ok(selection)
}

/// Skip connections in the layout's `skip_cell` of a selection.
pub fn skip_count(layout: &SupernetLayout, selection: &[i32]) -> u32 {
    let Some(skip) = layout.skip_op.into_option() else {
        return 0;
    };
    layout
        .edges
        .iter()
        .zip(selection)
        .filter(|(edge, &op)| edge.cell == layout.skip_cell && op == skip as i32)
        .count() as u32
}

/// P-DARTS's final derivation: the derivation rule, then while the `skip_cell` has more than
/// `max_skips` skip connections, the chosen skip with the lowest weight is removed and the cell
/// derived again (the next-best op takes that edge, or the node keeps other edges).
pub fn derive_limited(
    layout: &SupernetLayout,
    w: &Weights,
    max_skips: u32,
) -> PluginResult<Vec<i32>> {
    let mut removed = vec![false; w.values.len()];
    let mut selection = derive(layout, w, &removed)?;
    let Some(skip) = layout.skip_op.into_option() else {
        return Ok(selection);
    };
    while skip_count(layout, &selection) > max_skips {
        let mut weakest: Option<(usize, f64)> = None;
        for (e, edge) in layout.edges.iter().enumerate() {
            if edge.cell != layout.skip_cell || selection[e] != skip as i32 {
                continue;
            }
            let c = w.column(e, skip).expect("a chosen op is a candidate");
            let x = w.row(e)[c];
            if weakest.is_none_or(|(_, b)| x < b) {
                weakest = Some((e * w.cols + c, x));
            }
        }
        let (entry, _) = weakest.expect("more skips than the limit means at least one");
        removed[entry] = true;
        selection = derive(layout, w, &removed)?;
    }
    Ok(selection)
}

/// P-DARTS's pruning: per edge keep the `keep` heaviest candidates (in their order); with
/// `zero_first` the zero op, if still a candidate, is dropped before any other. The lowest are
/// found one at a time, first column on ties, as the reference's `get_min_k` does.
pub fn prune(
    w: &Weights,
    keep: usize,
    zero_op: Option<u32>,
    zero_first: bool,
) -> PluginResult<Vec<Vec<u32>>> {
    if keep == 0 || keep > w.cols {
        return Err(PluginError::invalid_params(format!(
            "cannot keep {keep} of {} candidate ops per edge",
            w.cols
        )));
    }
    let mut out = Vec::with_capacity(w.edges());
    for e in 0..w.edges() {
        let mut dropped = vec![false; w.cols];
        let mut to_drop = w.cols - keep;
        if zero_first && to_drop > 0 {
            if let Some(c) = zero_op.and_then(|z| w.column(e, z)) {
                dropped[c] = true;
                to_drop -= 1;
            }
        }
        for _ in 0..to_drop {
            let mut min: Option<(usize, f64)> = None;
            for (c, &x) in w.row(e).iter().enumerate() {
                if !dropped[c] && min.is_none_or(|(_, m)| x < m) {
                    min = Some((c, x));
                }
            }
            dropped[min.expect("fewer dropped than candidates").0] = true;
        }
        let kept = w.candidates[e]
            .iter()
            .zip(&dropped)
            .filter(|(_, &d)| !d)
            .map(|(&op, _)| op)
            .collect();
        out.push(kept);
    }
    Ok(out)
}

#[cfg(test)]
#[path = "derive_tests.rs"]
mod tests;
