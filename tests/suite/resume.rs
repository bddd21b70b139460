//! `kill -9` then `xnas resume`: no evaluation lost or run twice, and a deterministic optimizer
//! ends on the same best architecture as an uninterrupted run.

use std::time::Duration;
use xnas_tests::*;

/// The slow toy search of the fault suite (panicky fixture, evolution, 2 workers), 15 ms a trial.
fn experiment(evaluations: u64) -> String {
    crate::faults_run::slow_experiment(evaluations, 15)
}

#[test]
fn kill_9_then_resume_loses_nothing_and_repeats_nothing() {
    let evaluations = 80;
    // Uninterrupted reference run.
    let reference = Sandbox::new();
    reference.add_plugin("fixture_panicky", "libslow.so");
    reference.write("exp.toml", &experiment(evaluations));
    reference
        .run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let expected = read_trials(&reference.path().join("run"));

    // The same run, killed with SIGKILL part-way, then resumed.
    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libslow.so");
    sb.write("exp.toml", &experiment(evaluations));
    let at_kill = run_and_kill(&sb, 30, finished_trials, Duration::from_secs(60));
    assert!(
        at_kill < evaluations as i64,
        "killed too late to test anything"
    );

    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows.len(), evaluations as usize);
    let ids: Vec<u64> = rows.iter().map(|r| r.trial_id).collect();
    assert_eq!(
        ids,
        (0..evaluations).collect::<Vec<_>>(),
        "no trial lost or repeated"
    );
    // Same architectures, seeds and metrics, trial by trial, as the uninterrupted run.
    assert_eq!(rows, expected);
    let (a, b) = (
        read_summary(&sb.path().join("run")),
        read_summary(&reference.path().join("run")),
    );
    assert_eq!(a["best"], b["best"]);
    // The store never holds a second result for a trial (recording one is refused), and the
    // evaluation counter of the fixture shows no finished trial was evaluated again.
    assert_eq!(
        finished_trials(&sb.path().join("run/store.sqlite")),
        evaluations as i64
    );
}

#[test]
fn resume_of_a_finished_run_changes_nothing() {
    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libslow.so");
    sb.write(
        "exp.toml",
        &experiment(12).replace("delay_ms = 15", "delay_ms = 0"),
    );
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let before = read_trials(&sb.path().join("run"));
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    assert_eq!(read_trials(&sb.path().join("run")), before);
}

#[test]
fn run_refuses_to_overwrite_a_run_directory() {
    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libslow.so");
    sb.write(
        "exp.toml",
        &experiment(4).replace("delay_ms = 15", "delay_ms = 0"),
    );
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    assert!(
        out.stderr()
            .contains("already holds a run: continue it with `xnas resume"),
        "{}",
        out.stderr()
    );
}

#[test]
fn resume_of_a_directory_that_is_not_a_run() {
    let sb = Sandbox::new();
    std::fs::create_dir(sb.path().join("empty")).unwrap();
    let out = sb.run(&["resume", "empty"]);
    out.expect_code(2);
    assert!(
        out.stderr()
            .contains("empty is not a run directory (it has no store.sqlite)"),
        "{}",
        out.stderr()
    );
}
