use super::*;
use crate::testkit::layouts::{bench201_layout, darts_layout, DARTS_OPS};

/// Weights over all 8 DARTS ops on all 28 edges: 0.01 everywhere, then `(edge, op, value)`.
fn darts_weights(set: &[(usize, u32, f64)]) -> Weights {
    let candidates = vec![(0..8).collect::<Vec<u32>>(); 28];
    let mut values = vec![0.01; 28 * 8];
    for &(e, op, x) in set {
        values[e * 8 + op as usize] = x;
    }
    Weights::new(candidates, values).unwrap()
}

const NONE: u32 = 0;
const MAX: u32 = 1;
const AVG: u32 = 2;
const SKIP: u32 = 3;
const SEP3: u32 = 4;
const SEP5: u32 = 5;
const DIL3: u32 = 6;
const DIL5: u32 = 7;

/// Normal-cell edges: node 0 = 0,1; node 1 = 2,3,4; node 2 = 5..8; node 3 = 9..13.
fn normal_cell_weights() -> Vec<(usize, u32, f64)> {
    vec![
        // node 0: `none` dominates edge 0 but is never chosen: sep_conv_3x3 is.
        (0, NONE, 0.6),
        (0, SEP3, 0.2),
        (1, SKIP, 0.3),
        // node 1: edge 2 is mostly `none` (its strongest real op 0.05): ranked by 0.05, dropped.
        (2, NONE, 0.9),
        (2, DIL5, 0.05),
        (3, SKIP, 0.3),
        (4, MAX, 0.25),
        // node 2: edges 6 and 8.
        (5, AVG, 0.11),
        (6, SEP5, 0.4),
        (7, DIL3, 0.12),
        (8, SKIP, 0.35),
        // node 3: edges 12 and 9.
        (9, SKIP, 0.2),
        (10, SEP3, 0.15),
        (12, DIL3, 0.5),
        (13, SKIP, 0.16),
    ]
}

#[test]
fn the_darts_rule_excludes_none_from_ranking_and_choice() {
    let layout = darts_layout(&DARTS_OPS);
    let w = darts_weights(&normal_cell_weights());
    let sel = derive(&layout, &w, &[]).unwrap();
    let normal: Vec<i32> = sel[..14].to_vec();
    #[rustfmt::skip]
    let want = vec![
        SEP3 as i32, SKIP as i32,
        -1, SKIP as i32, MAX as i32,
        -1, SEP5 as i32, -1, SKIP as i32,
        SKIP as i32, -1, -1, DIL3 as i32, -1,
    ];
    assert_eq!(normal, want);
    assert_eq!(skip_count(&layout, &sel), 4);
    // The reduce cell is all ties (0.01): the first two edges of each node and the first
    // op that is not `none` (max_pool_3x3).
    #[rustfmt::skip]
    let reduce = vec![1, 1, 1, 1, -1, 1, 1, -1, -1, 1, 1, -1, -1, -1];
    assert_eq!(&sel[14..], &reduce[..]);
}

#[test]
fn skip_count_reads_the_skip_cell_only() {
    let layout = darts_layout(&DARTS_OPS);
    let mut set = normal_cell_weights();
    // Skips in the reduce cell do not count.
    set.push((14, SKIP, 0.9));
    set.push((15, SKIP, 0.9));
    let sel = derive(&layout, &darts_weights(&set), &[]).unwrap();
    assert_eq!((sel[14], sel[15]), (SKIP as i32, SKIP as i32));
    assert_eq!(skip_count(&layout, &sel), 4);
}

#[test]
fn nas_bench_201_keeps_every_edge_with_its_argmax_none_included() {
    let layout = bench201_layout();
    let candidates = vec![(0..5).collect::<Vec<u32>>(); 6];
    #[rustfmt::skip]
    let values = vec![
        0.6, 0.1, 0.1, 0.1, 0.1,    // none
        0.1, 0.5, 0.2, 0.1, 0.1,    // skip
        0.2, 0.2, 0.2, 0.2, 0.2,    // tie: the first column (none)
        0.1, 0.1, 0.1, 0.6, 0.1,
        0.1, 0.1, 0.1, 0.1, 0.6,
        0.0, 0.1, 0.7, 0.1, 0.1,
    ];
    let w = Weights::new(candidates, values).unwrap();
    assert_eq!(derive(&layout, &w, &[]).unwrap(), vec![0, 1, 0, 3, 4, 2]);
}

#[test]
fn the_skip_limit_removes_the_weakest_skips_one_at_a_time() {
    let layout = darts_layout(&DARTS_OPS);
    let w = darts_weights(&normal_cell_weights());
    // Chosen skips: edge 1 (0.3), 3 (0.3), 8 (0.35), 9 (0.2).
    assert_eq!(
        derive_limited(&layout, &w, 4).unwrap()[..14],
        derive(&layout, &w, &[]).unwrap()[..14]
    );
    let m3 = derive_limited(&layout, &w, 3).unwrap();
    // Edge 9's skip (0.2) goes first; node 3 then takes edge 13's skip (0.16), which goes
    // next: node 3 keeps 12 and 10 (sep_conv_3x3, 0.15).
    assert_eq!(&m3[9..14], &[-1, SEP3 as i32, -1, DIL3 as i32, -1]);
    assert_eq!(skip_count(&layout, &m3), 3);
    let m2 = derive_limited(&layout, &w, 2).unwrap();
    // Then the first of the 0.3 ties, edge 1: node 0 keeps both its edges, with max_pool_3x3
    // (the first 0.01 op) on edge 1.
    assert_eq!(m2[1], MAX as i32);
    assert_eq!(m2[3], SKIP as i32);
    assert_eq!(skip_count(&layout, &m2), 2);
    let m0 = derive_limited(&layout, &w, 0).unwrap();
    assert_eq!(skip_count(&layout, &m0), 0);
    // Node 1: edge 3 lost its skip (now 0.01), so edge 2's 0.05 ranks second behind edge 4.
    assert_eq!(&m0[2..5], &[DIL5 as i32, -1, MAX as i32]);
}

#[test]
fn the_skip_limit_finds_the_skip_op_by_its_index_whatever_the_order() {
    // The same ops reordered: skip_connect at 6, none at 2. The same weights per op name give
    // the same cells, op for op (the 0.01 background is made distinct per name so that no tie
    // is broken by column order).
    let order = crate::testkit::REORDERED_OPS;
    let weights = |ops: &[&str]| {
        let index = |op: u32| {
            ops.iter()
                .position(|o| *o == DARTS_OPS[op as usize])
                .unwrap()
        };
        let mut values = vec![0.0; 28 * 8];
        for e in 0..28 {
            for op in 0..8 {
                values[e * 8 + index(op)] = 0.01 + 1e-4 * f64::from(op);
            }
        }
        for (e, op, x) in normal_cell_weights() {
            values[e * 8 + index(op)] = x;
        }
        Weights::new(vec![(0..8).collect(); 28], values).unwrap()
    };
    let names = |sel: &[i32], ops: &[&str]| -> Vec<String> {
        let name = |o: i32| {
            if o < 0 {
                "-".to_string()
            } else {
                ops[o as usize].to_string()
            }
        };
        sel.iter().map(|&o| name(o)).collect()
    };
    let (standard, reordered) = (darts_layout(&DARTS_OPS), darts_layout(&order));
    let (w_std, w_new) = (weights(&DARTS_OPS), weights(&order));
    for m in [4, 3, 2, 1, 0] {
        let a = derive_limited(&standard, &w_std, m).unwrap();
        let b = derive_limited(&reordered, &w_new, m).unwrap();
        assert_eq!(names(&a, &DARTS_OPS), names(&b, &order), "M = {m}");
        assert_eq!(skip_count(&standard, &a), m.min(4));
        assert_eq!(skip_count(&reordered, &b), m.min(4));
    }
}

#[test]
fn pruning_drops_the_lowest_first_column_on_ties() {
    let w = Weights::new(
        vec![(0..8).collect()],
        vec![0.3, 0.05, 0.1, 0.2, 0.05, 0.15, 0.1, 0.05],
    )
    .unwrap();
    assert_eq!(
        prune(&w, 5, Some(0), false).unwrap(),
        vec![vec![0, 2, 3, 5, 6]]
    );
    assert_eq!(
        prune(&w, 4, Some(0), false).unwrap(),
        vec![vec![0, 3, 5, 6]]
    );
    assert_eq!(
        prune(&w, 8, Some(0), true).unwrap(),
        vec![(0..8).collect::<Vec<u32>>()]
    );
}

#[test]
fn at_the_last_stage_none_is_dropped_first() {
    // Candidates none, skip, sep_conv_5x5 with none heaviest.
    let w = Weights::new(
        vec![vec![0, 3, 5], vec![1, 4, 6]],
        vec![0.5, 0.2, 0.3, 0.2, 0.5, 0.3],
    )
    .unwrap();
    assert_eq!(prune(&w, 1, Some(0), true).unwrap(), vec![vec![5], vec![4]]);
    assert_eq!(
        prune(&w, 1, Some(0), false).unwrap(),
        vec![vec![0], vec![4]]
    );
    assert_eq!(
        prune(&w, 2, Some(0), true).unwrap(),
        vec![vec![3, 5], vec![4, 6]]
    );
    assert!(prune(&w, 0, None, false).is_err());
    assert!(prune(&w, 4, None, false).is_err());
}

#[test]
fn a_node_without_enough_usable_edges_is_one_clear_error() {
    let layout = darts_layout(&DARTS_OPS);
    // One candidate per edge, and on edge 0 it is `none`: node 0 has one usable edge.
    let mut candidates = vec![vec![SEP3]; 28];
    candidates[0] = vec![NONE];
    let w = Weights::new(candidates, vec![0.5; 28]).unwrap();
    let e = derive(&layout, &w, &[]).unwrap_err();
    assert_eq!(
        e.message(),
        "cannot derive a cell: node 0 of the `normal` cell has 1 incoming edges with an op that \
         may be chosen (`none` and removed ops excluded); it needs 2"
    );
    let short = Weights::new(vec![vec![0, 1]; 3], vec![0.5; 6]).unwrap();
    assert!(derive(&layout, &short, &[])
        .unwrap_err()
        .message()
        .contains("weights for 3 edges, but the space's layout has 28"));
    assert!(Weights::new(vec![vec![0, 1], vec![0]], vec![0.5; 3]).is_err());
    assert!(Weights::new(vec![vec![0, 1]], vec![0.5; 3]).is_err());
}

#[test]
fn groups_follow_cells_and_nodes() {
    let g = node_groups(&darts_layout(&DARTS_OPS));
    assert_eq!(g.len(), 8);
    assert_eq!(g[0], vec![0, 1]);
    assert_eq!(g[3], vec![9, 10, 11, 12, 13]);
    assert_eq!(g[4], vec![14, 15]);
    assert_eq!(
        node_groups(&bench201_layout()),
        vec![vec![0], vec![1, 2], vec![3, 4, 5]]
    );
}

#[test]
fn the_last_stage_pruning_to_one_op_is_the_rules_op_choice() {
    // P-DARTS drops `none` first and then the lowest down to one op per edge; the rule picks the
    // strongest op other than `none`. On kept edges they agree.
    let layout = darts_layout(&DARTS_OPS);
    for seed in 0..10 {
        let mut r = crate::rng::ArchRng::new(seed);
        let candidates: Vec<Vec<u32>> = (0..28).map(|e| vec![0, 3, 4 + (e % 4) as u32]).collect();
        let logits: Vec<f64> = (0..28 * 3).map(|_| r.normal()).collect();
        let w = Weights::new(candidates, crate::mix::softmax(&logits, 3)).unwrap();
        let one = prune(&w, 1, Some(NONE), true).unwrap();
        let sel = derive(&layout, &w, &[]).unwrap();
        for (e, &op) in sel.iter().enumerate() {
            if op >= 0 {
                assert_eq!(one[e], vec![op as u32], "seed {seed} edge {e}");
            }
        }
    }
}
