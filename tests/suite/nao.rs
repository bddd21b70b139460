//! `nao` through the real binary on NAS-Bench-Graph: a search runs to its budget with gradient
//! ascent after the random phase, the same seed gives the same trials, and `kill -9` then
//! `xnas resume` (which restores the saved optimizer state) gives the trials of an uninterrupted run.

use crate::nbg_experiment;
use std::time::Duration;
use xnas_tests::*;

/// Short training rounds: these tests check the wiring, not NAO's search quality.
fn experiment(evaluations: u64, epochs_first: u32, epochs: u32) -> String {
    nbg_experiment(
        "nbg-nao",
        "nao",
        evaluations,
        &format!("\n[optimizer.params]\nepochs_first = {epochs_first}\nepochs = {epochs}\n"),
    )
}

fn run(sb: &Sandbox, text: &str, verbose: bool) -> Out {
    sb.write("exp.toml", text);
    let mut args = vec![if verbose { "-v" } else { "--quiet" }];
    args.extend(["run", "exp.toml", "--out", "run"]);
    let out = sb.run(&args);
    out.expect_code(0);
    out
}

#[test]
fn nao_searches_nasbench_graph() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let out = run(&sb, &experiment(32, 60, 30), true);
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows.len(), 32);
    assert!(rows.iter().all(|r| r.status == "ok" && r.task == "cora"));
    let mut archs: Vec<&str> = rows.iter().map(|r| r.arch.as_str()).collect();
    archs.sort_unstable();
    archs.dedup();
    assert_eq!(archs.len(), 32, "nao never proposes an architecture twice");
    // The plugin's log lines reach the host: after 16 random proposals (two batches of 8 below
    // `initial_random = 10`), rounds of training and gradient ascent.
    let log = out.stderr();
    assert_eq!(log.matches("nao: training round").count(), 2, "{log}");
    assert_eq!(log.matches("nao: gradient ascent from").count(), 2, "{log}");
    assert!(log.contains("heads: plain"), "{log}");
    let s = read_summary(&sb.path().join("run"));
    assert_eq!(s["evaluations"], 32);
}

#[test]
fn same_seed_same_trials() {
    nasbench_graph_data();
    let (a, b) = (Sandbox::new(), Sandbox::new());
    let text = experiment(30, 40, 20);
    run(&a, &text, false);
    run(&b, &text, false);
    let csv = |sb: &Sandbox| std::fs::read_to_string(sb.path().join("run/trials.csv")).unwrap();
    assert_eq!(csv(&a), csv(&b));
    assert_eq!(read_trials(&a.path().join("run")).len(), 30);
}

#[test]
fn kill_9_then_resume_matches_an_uninterrupted_run() {
    nasbench_graph_data();
    // Long enough rounds (a few hundred steps) that the kill lands inside a search.
    let text = experiment(40, 300, 200);
    let reference = Sandbox::new();
    run(&reference, &text, false);
    let expected = read_trials(&reference.path().join("run"));

    let sb = Sandbox::new();
    sb.write("exp.toml", &text);
    // Three batches of 8 done: two random, one from the first trained model. The saved state
    // holds that model; the kill lands in the next training round.
    let at_kill = run_and_kill(&sb, 24, finished_trials, Duration::from_secs(120));
    assert!(at_kill < 40, "killed too late to test anything");

    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows, expected);
}
