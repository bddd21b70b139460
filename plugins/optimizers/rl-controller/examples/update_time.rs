//! Times one update (`tell` of M = 20 results; PPO: K = 4 epochs over the batch) and one `ask(20)`,
//! on a NASNet-size decision sequence (2 cells × 5 blocks × [in1, op1, in2, op2] = 40 decisions)
//! and on NAS-Bench-Graph (5 decisions). Run in release:
//!
//! ```text
//! cargo run --release -p xnas-opt-rl-controller --example update_time
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use common::*;
use std::time::Instant;
use xnas_core::{space_box, Observation, Optimizer, SpaceBox};
use xnas_opt_rl_controller::RlController;

fn time(label: &str, space: &SpaceBox, task: &str, text: &str) {
    let mut opt = RlController::new(params(text), &init(space, task, 1)).unwrap();
    let (mut asks, mut tells) = (Vec::new(), Vec::new());
    let mut id = 0u64;
    for round in 0..12 {
        let t = Instant::now();
        let proposals = opt.ask(20).unwrap();
        let ask = t.elapsed().as_secs_f64();
        let told: Vec<Observation> = proposals
            .iter()
            .map(|p| {
                id += 1;
                observe(space, task, id, &p.genome)
            })
            .collect();
        let t = Instant::now();
        opt.tell(&told).unwrap();
        let tell = t.elapsed().as_secs_f64();
        if round >= 2 {
            // The first rounds warm libtorch up.
            asks.push(ask);
            tells.push(tell);
        }
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2] * 1e3
    };
    println!(
        "{label}: tell (one update on M = 20) {:.1} ms (median of {}), ask(20) {:.1} ms",
        median(&mut tells),
        tells.len(),
        median(&mut asks)
    );
}

fn main() {
    let cells = space_box(NasnetCells { blocks: 5, ops: 5 });
    time("NASNet cells, 40 decisions", &cells, "t", "");
    time(
        "NAS-Bench-Graph, 5 decisions",
        &nasbench_graph(&["cora"]),
        "cora",
        "",
    );
    time(
        "NASNet cells, REINFORCE",
        &cells,
        "t",
        "algorithm = \"reinforce\"",
    );
    time("NASNet cells, torch's threads", &cells, "t", "threads = 0");
    let graph = nasbench_graph(&["cora"]);
    time(
        "NAS-Bench-Graph, torch's threads",
        &graph,
        "cora",
        "threads = 0",
    );
}
