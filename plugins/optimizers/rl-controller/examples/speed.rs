//! Times the two tch hot paths that the PyTorch peer (bench/pytorch_peer.py) also times:
//!
//! * `nao-epoch`: one training epoch of `nao` (encoder, predictor head through the head protocol,
//!   attention decoder; batches of 100) over 1,000 observations;
//! * `ppo-update`: one `rl-controller` update on M = 20 told architectures (PPO, K = 4 epochs).
//!
//! on a NASNet-size cell space (40 decisions) and on NAS-Bench-Graph (5 decisions). Prints one
//! JSON line per measurement. bench/speed.sh runs it in release:
//!
//! ```text
//! cargo run --release -p xnas-opt-rl-controller --example speed -- [--threads N] [--runs R]
//! ```

#[path = "../tests/common/mod.rs"]
mod common;

use common::{init, nasbench_graph, NasnetCells};
use std::time::Instant;
use xnas_core::*;
use xnas_opt_nao::Nao;
use xnas_opt_rl_controller::RlController;

/// An observation of `genome` with `metric`.
fn observation(trial_id: u64, task: &str, genome: Vec<u32>, metric: f64) -> Observation {
    let mut o = failed_observation(trial_id, task, genome);
    o.metric = metric;
    o.status = TrialStatus::OK;
    o
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn report(what: &str, space_name: &str, threads: usize, times_ms: Vec<f64>) {
    let runs: Vec<f64> = times_ms
        .iter()
        .map(|t| (t * 1000.0).round() / 1000.0)
        .collect();
    println!(
        "{}",
        serde_json::json!({
            "peer": "xnas", "what": what, "space": space_name, "threads": threads,
            "median_ms": (median(times_ms) * 1000.0).round() / 1000.0, "runs": runs,
        })
    );
}

fn nao_epoch(space: &SpaceBox, name: &str, target: &str, threads: usize, runs: usize) {
    let params: xnas_opt_nao::NaoParams = parse_params(&format!(
        "threads = {threads}\nepochs_first = 1\nepochs = 1\nbatch_size = 100\naugment = false"
    ))
    .expect("nao params");
    let mut rng = SplitMix64::new(7);
    let obs: Vec<Observation> = (0..1000)
        .map(|i| {
            let g = space.sample(derive_seed(3, i)).expect("sample");
            observation(i, target, g, rng.next_f64())
        })
        .collect();
    let mut times = Vec::new();
    for r in 0..=runs {
        let mut nao = Nao::new(params.clone(), &init(space, target, 1)).expect("nao");
        nao.tell(&obs).expect("tell");
        let t = Instant::now();
        assert!(nao.train_if_needed().expect("train"));
        if r > 0 {
            // run 0 warms libtorch up
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    report("nao-epoch", name, threads, times);
}

fn ppo_update(space: &SpaceBox, name: &str, target: &str, threads: usize, runs: usize) {
    let params: xnas_opt_rl_controller::RlParams =
        parse_params(&format!("threads = {threads}")).expect("rl params");
    let mut rl = RlController::new(params, &init(space, target, 1)).expect("rl-controller");
    let mut rng = SplitMix64::new(9);
    let mut times = Vec::new();
    for r in 0..runs + 2 {
        let proposals = rl.ask(20).expect("ask");
        let told: Vec<Observation> = proposals
            .iter()
            .enumerate()
            .map(|(i, p)| {
                observation(
                    (r * 20 + i) as u64,
                    target,
                    p.genome.to_vec(),
                    rng.next_f64(),
                )
            })
            .collect();
        let t = Instant::now();
        rl.tell(&told).expect("tell");
        if r >= 2 {
            // the first two updates warm libtorch up (the very first only sets baselines)
            times.push(t.elapsed().as_secs_f64() * 1e3);
        }
    }
    report("ppo-update", name, threads, times);
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str, default: usize| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1))
            .map_or(default, |v| v.parse().expect("a number"))
    };
    let (threads, runs) = (arg("--threads", 1), arg("--runs", 10));
    let cells = space_box(NasnetCells { blocks: 5, ops: 5 });
    let graph = nasbench_graph(&["cora"]);
    nao_epoch(&cells, "nasnet-cells-40", "t", threads, runs);
    nao_epoch(&graph, "nasbench-graph-5", "cora", threads, runs);
    ppo_update(&cells, "nasnet-cells-40", "t", threads, runs);
    ppo_update(&graph, "nasbench-graph-5", "cora", threads, runs);
}
