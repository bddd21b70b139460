use super::*;
use crate::derive::{derive, derive_limited, skip_count};
use crate::rng::ArchRng;
use crate::testkit::layouts::{bench201_layout, darts_layout, DARTS_OPS};
use crate::testkit::{ToyLayout, ToySpace};

fn random_weights(edges: usize, ops: usize, seed: u64) -> Weights {
    let mut r = ArchRng::new(seed);
    let logits: Vec<f64> = (0..edges * ops).map(|_| r.normal()).collect();
    let values = crate::mix::softmax(&logits, ops);
    Weights::new(vec![(0..ops as u32).collect(); edges], values).unwrap()
}

/// Every selection by brute force, filtered by the rule's constraints, sorted by score.
fn brute_force(
    layout: &SupernetLayout,
    w: &Weights,
    max_skips: Option<u32>,
) -> Vec<(f64, Vec<i32>)> {
    let groups = node_groups(layout);
    let zero = layout.zero_op.into_option().map(|z| z as i32);
    let mut all = Vec::new();
    let mut sel = vec![-1i32; w.edges()];
    fn walk(
        e: usize,
        sel: &mut Vec<i32>,
        w: &Weights,
        check: &dyn Fn(&[i32]) -> Option<f64>,
        all: &mut Vec<(f64, Vec<i32>)>,
    ) {
        if e == sel.len() {
            if let Some(score) = check(sel) {
                all.push((score, sel.clone()));
            }
            return;
        }
        for choice in std::iter::once(-1).chain(w.candidates[e].iter().map(|&o| o as i32)) {
            sel[e] = choice;
            walk(e + 1, sel, w, check, all);
        }
        sel[e] = -1;
    }
    let check = |sel: &[i32]| -> Option<f64> {
        for g in &groups {
            let kept = g.iter().filter(|&&e| sel[e] >= 0).count();
            if kept != edges_kept(layout, g.len()) {
                return None;
            }
        }
        if !layout.zero_op_selectable && sel.iter().any(|&o| Some(o) == zero) {
            return None;
        }
        if max_skips.is_some_and(|m| skip_count(layout, sel) > m) {
            return None;
        }
        let score = sel
            .iter()
            .enumerate()
            .filter(|(_, &o)| o >= 0)
            .map(|(e, &o)| w.row(e)[w.column(e, o as u32).unwrap()].ln())
            .sum();
        Some(score)
    };
    walk(0, &mut sel, w, &check, &mut all);
    all.sort_by(|a, b| b.0.total_cmp(&a.0));
    all
}

#[test]
fn the_best_cell_is_the_derivation_rules_cell() {
    let darts = darts_layout(&DARTS_OPS);
    let nb201 = bench201_layout();
    for seed in 0..20 {
        let w = random_weights(28, 8, seed);
        let best = &best_cells(&darts, &w, 1, None)[0];
        assert_eq!(
            best.selection,
            derive(&darts, &w, &[]).unwrap(),
            "seed {seed}"
        );
        assert_eq!(best.skips, skip_count(&darts, &best.selection));
        let w = random_weights(6, 5, seed);
        assert_eq!(
            best_cells(&nb201, &w, 1, None)[0].selection,
            derive(&nb201, &w, &[]).unwrap()
        );
    }
}

#[test]
fn the_next_best_cells_match_brute_force() {
    let nb201 = bench201_layout();
    // A DARTS cell cut to its first three nodes (9 edges) of three ops, to be enumerable.
    let mut small = darts_layout(&["none", "skip_connect", "sep_conv_3x3"]);
    small.edges.truncate(9);
    for seed in 0..3 {
        for (layout, w) in [
            (&nb201, random_weights(6, 5, seed)),
            (&small, random_weights(9, 3, seed)),
        ] {
            for limit in [None, Some(1), Some(0)] {
                let want = brute_force(layout, &w, limit);
                let got = best_cells(layout, &w, 12, limit);
                assert_eq!(got.len(), 12.min(want.len()));
                for (g, (score, _)) in got.iter().zip(&want) {
                    assert!(
                        (g.score - score).abs() < 1e-9,
                        "seed {seed} {limit:?}: {} vs {score}",
                        g.score
                    );
                    assert!(limit.is_none_or(|m| g.skips <= m));
                }
                // Distinct cells.
                let mut sels: Vec<_> = got.iter().map(|c| c.selection.clone()).collect();
                sels.sort();
                sels.dedup();
                assert_eq!(sels.len(), got.len());
            }
        }
    }
}

#[test]
fn asking_for_more_cells_than_exist_gives_them_all() {
    // One edge per node... the NAS-Bench-201 cell with two candidates per edge: 2^6 cells.
    let nb201 = bench201_layout();
    let w = Weights::new(vec![vec![1, 3]; 6], vec![0.5; 12]).unwrap();
    assert_eq!(best_cells(&nb201, &w, 100, None).len(), 64);
    assert_eq!(best_cells(&nb201, &w, 100, Some(0)).len(), 1);
}

#[test]
fn distinct_cells_start_with_the_derived_one_and_never_repeat() {
    let space = ToySpace::new(ToyLayout::Darts);
    let layout = space.layout();
    let w = random_weights(28, 8, 3);
    let first = derive_limited(&layout, &w, 2).unwrap();
    let cells = distinct_cells(&space, &layout, &w, &first, 5, Some(2)).unwrap();
    assert_eq!(cells.len(), 5);
    assert_eq!(cells[0], genotype(&space, &first).unwrap());
    let mut genomes: Vec<_> = cells.iter().map(|a| a.genome.to_vec()).collect();
    genomes.sort();
    genomes.dedup();
    assert_eq!(genomes.len(), 5);
    for a in &cells {
        let sel = space.selection(&a.genome);
        assert!(skip_count(&layout, &sel) <= 2);
    }
    assert!(distinct_cells(&space, &layout, &w, &first, 0, None)
        .unwrap()
        .is_empty());
}
