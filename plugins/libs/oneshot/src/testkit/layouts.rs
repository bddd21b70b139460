//! Layouts of the two kinds of cell the derivation rules know, for tests.

use xnas_core::abi_stable::std_types::ROption;
use xnas_core::{SupernetEdge, SupernetLayout};

/// DARTS's eight primitives in the reference order (`none` 0, `skip_connect` 3).
pub const DARTS_OPS: [&str; 8] = [
    "none",
    "max_pool_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "sep_conv_3x3",
    "sep_conv_5x5",
    "dil_conv_3x3",
    "dil_conv_5x5",
];

/// The DARTS cell over `ops` (a `normal` and a `reduce` cell of 4 nodes, node `i` reading states
/// `0..i+2`: 14 edges each, normal first), top-2 edges per node, `none` never chosen.
pub fn darts_layout(ops: &[&str]) -> SupernetLayout {
    let mut edges = Vec::new();
    for cell in ["normal", "reduce"] {
        for node in 0..4u32 {
            for input in 0..node + 2 {
                edges.push(SupernetEdge {
                    cell: cell.into(),
                    node,
                    input,
                });
            }
        }
    }
    let find = |name: &str| match ops.iter().position(|o| *o == name) {
        Some(i) => ROption::RSome(i as u32),
        None => ROption::RNone,
    };
    SupernetLayout {
        edges: edges.into(),
        ops: ops.iter().map(|o| (*o).into()).collect(),
        zero_op: find("none"),
        skip_op: find("skip_connect"),
        edges_per_node: 2,
        zero_op_selectable: false,
        skip_cell: "normal".into(),
    }
}

/// The NAS-Bench-201 cell: nodes 1..3 read every earlier node (6 edges), five ops with `none`
/// allowed, every edge kept.
pub fn bench201_layout() -> SupernetLayout {
    let mut edges = Vec::new();
    for node in 0..3u32 {
        for input in 0..=node {
            edges.push(SupernetEdge {
                cell: "cell".into(),
                node,
                input,
            });
        }
    }
    SupernetLayout {
        edges: edges.into(),
        ops: [
            "none",
            "skip_connect",
            "nor_conv_1x1",
            "nor_conv_3x3",
            "avg_pool_3x3",
        ]
        .iter()
        .map(|o| (*o).into())
        .collect(),
        zero_op: ROption::RSome(0),
        skip_op: ROption::RSome(1),
        edges_per_node: 0,
        zero_op_selectable: true,
        skip_cell: "cell".into(),
    }
}
