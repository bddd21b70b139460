//! The Slurm executor against a real Slurm: a single-node cluster on loopback that
//! `tests/slurm/cluster.sh up` starts (`make test` does). Without one these tests say so and pass,
//! unless `XNAS_SLURM_TESTS=1` asks for them: then a missing cluster is a failure.

use crate::nbg_experiment;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};
use xnas_tests::{read_trials, Sandbox};

/// Whether a cluster answers; panics when `XNAS_SLURM_TESTS=1` and none does.
fn cluster() -> bool {
    let up = Command::new("scontrol")
        .arg("ping")
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains("UP"));
    if !up {
        assert!(
            std::env::var("XNAS_SLURM_TESTS").as_deref() != Ok("1"),
            "XNAS_SLURM_TESTS=1 but no Slurm controller answers `scontrol ping`: start the test \
             cluster with `tests/slurm/cluster.sh install && tests/slurm/cluster.sh up` (as root) \
             or run `make test`"
        );
        eprintln!(
            "no Slurm cluster answers: Slurm test not run (set XNAS_SLURM_TESTS=1 to require it)"
        );
    }
    up
}

/// A NAS-Bench-Graph evolution search on Slurm; `setup` is the jobs' setup script.
fn slurm_experiment(name: &str, evaluations: u64, setup: &str) -> String {
    nbg_experiment(
        name,
        "evolution",
        evaluations,
        &format!(
            "[executor]\nkind = \"slurm\"\ntime_limit = \"00:05:00\"\nmem_per_trial = \"150M\"\n\
             poll_seconds = 0.3\nresubmits = 2\nsetup = '''\n{setup}\n'''\n"
        ),
    )
}

/// The same search on local workers.
fn local_trials(name: &str, evaluations: u64) -> Vec<xnas_tests::Row> {
    let sb = Sandbox::new();
    read_trials(&sb.run_experiment(&nbg_experiment(name, "evolution", evaluations, ""), 2))
}

/// Trial ids each submission script of a run names (one line `TRIALS=(...)` each).
fn submissions(run: &Path) -> Vec<Vec<u64>> {
    let mut scripts: Vec<_> = std::fs::read_dir(run.join("slurm/jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scripts.sort();
    scripts
        .iter()
        .map(|s| {
            let text = std::fs::read_to_string(s).unwrap();
            let line = text.lines().find(|l| l.starts_with("TRIALS=(")).unwrap();
            line["TRIALS=(".len()..line.len() - 1]
                .split_whitespace()
                .map(|t| t.parse().unwrap())
                .collect()
        })
        .collect()
}

fn jobs_json(run: &Path) -> serde_json::Value {
    std::fs::read_to_string(run.join("slurm/jobs.json"))
        .ok()
        .and_then(|t| serde_json::from_str(&t).ok())
        .unwrap_or_default()
}

/// Starts `xnas run` in the background and waits until the run has tasks on the cluster.
fn start_and_wait_for_tasks(sb: &Sandbox) -> std::process::Child {
    let child = sb
        .xnas()
        .args(["--quiet", "run", "exp.toml", "--out", "run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while jobs_json(&sb.path().join("run"))["placed"]
        .as_object()
        .is_none_or(|p| p.is_empty())
    {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "no job was submitted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child
}

fn compare(slurm: &[xnas_tests::Row], local: &[xnas_tests::Row]) {
    assert_eq!(slurm.len(), local.len());
    for (s, l) in slurm.iter().zip(local) {
        assert_eq!(
            (s.trial_id, &s.arch, s.seed, s.metric, &s.status),
            (l.trial_id, &l.arch, l.seed, l.metric, &l.status)
        );
    }
}

#[test]
fn slurm_search_through_job_arrays_equals_the_local_run() {
    if !cluster() {
        return;
    }
    let sb = Sandbox::new();
    let run = sb.run_experiment(&slurm_experiment("slurm-equal", 24, ""), 1);
    compare(&read_trials(&run), &local_trials("slurm-equal", 24));
    // One array per batch of 8, each trial submitted once.
    let subs = submissions(&run);
    assert_eq!(subs.len(), 3, "{subs:?}");
    assert!(subs.iter().all(|s| s.len() == 8));
    assert_eq!(
        std::fs::read_dir(run.join("slurm/results"))
            .unwrap()
            .count(),
        24
    );
}

#[test]
fn slurm_host_killed_mid_run_resumes_without_resubmitting_running_trials() {
    if !cluster() {
        return;
    }
    let sb = Sandbox::new();
    sb.write("exp.toml", &slurm_experiment("slurm-kill", 16, "sleep 4"));
    let mut host = start_and_wait_for_tasks(&sb);
    std::thread::sleep(Duration::from_millis(500));
    host.kill().unwrap(); // SIGKILL: the tasks stay queued or running
    host.wait().unwrap();
    let run = sb.path().join("run");
    let before = jobs_json(&run)["placed"].as_object().unwrap().len();
    assert!(before > 0);
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    compare(&read_trials(&run), &local_trials("slurm-kill", 16));
    // Every trial went to exactly one array task: the resumed host re-attached.
    let mut ids: Vec<u64> = submissions(&run).concat();
    ids.sort_unstable();
    assert_eq!(ids, (0..16).collect::<Vec<u64>>());
}

#[test]
fn slurm_cancelled_task_is_resubmitted() {
    if !cluster() {
        return;
    }
    let sb = Sandbox::new();
    sb.write("exp.toml", &slurm_experiment("slurm-cancel", 8, "sleep 3"));
    let host = start_and_wait_for_tasks(&sb);
    let run = sb.path().join("run");
    let placed = jobs_json(&run)["placed"]["2"].clone();
    let task = format!("{}_{}", placed[0].as_str().unwrap(), placed[1]);
    let out = Command::new("scancel").arg(&task).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = host.wait_with_output().unwrap();
    assert!(out.status.success(), "{out:?}");
    compare(&read_trials(&run), &local_trials("slurm-cancel", 8));
    assert_eq!(jobs_json(&run)["resubmitted"]["2"], 1);
    let subs = submissions(&run);
    assert_eq!(subs.len(), 2, "{subs:?}");
    assert_eq!(subs[1], vec![2]);
}

#[test]
fn slurm_crashing_worker_is_a_failed_trial_with_slurms_reason() {
    if !cluster() {
        return;
    }
    let sb = Sandbox::new();
    let setup = "if [ \"$SLURM_ARRAY_TASK_ID\" = 1 ]; then echo 'worker crashed on purpose' >&2; kill -9 $$; fi";
    sb.write("exp.toml", &slurm_experiment("slurm-crash", 16, setup));
    // A run with failed trials exits 1 (docs/user-guide.md), and keeps them.
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(1);
    let run = sb.path().join("run");
    let csv = std::fs::read_to_string(run.join("trials.csv")).unwrap();
    for row in read_trials(&run) {
        // Task 1 of each array of 8: trials 1 and 9.
        let crashed = row.trial_id % 8 == 1;
        assert_eq!(row.status == "failed", crashed, "{csv}");
    }
    let failed: Vec<&str> = csv.lines().filter(|l| l.contains(",failed,")).collect();
    assert_eq!(failed.len(), 2);
    for line in failed {
        assert!(
            line.contains("Slurm job")
                && line.contains("FAILED")
                && line.contains("signal 9")
                && line.contains("worker crashed on purpose"),
            "{line}"
        );
    }
}

#[test]
fn slurm_keys_without_the_slurm_executor_are_refused() {
    let sb = Sandbox::new();
    let text = nbg_experiment(
        "slurm-keys",
        "random",
        4,
        "[executor]\npartition = \"gpu\"\n",
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr()
            .contains("[executor] partition is a Slurm setting")
            && out.stderr().contains("kind = \"slurm\""),
        "{}",
        out.stderr()
    );
    let bad = text.replace("partition = \"gpu\"", "kind = \"slurm\"\npoll_seconds = 0");
    sb.write("exp.toml", &bad);
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("poll_seconds must be a positive"),
        "{}",
        out.stderr()
    );
}

#[test]
fn worker_outside_a_slurm_run_is_refused_and_a_finished_trial_is_not_evaluated_again() {
    let sb = Sandbox::new();
    let run = sb.run_experiment(&nbg_experiment("local-run", "random", 2, ""), 1);
    let out = sb.run(&["worker", run.to_str().unwrap(), "--trial", "0"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("has no slurm/run.json"),
        "{}",
        out.stderr()
    );
    // A result already there: the worker exits 0 without building anything.
    std::fs::create_dir_all(run.join("slurm/results")).unwrap();
    std::fs::write(run.join("slurm/results/0.json"), "{}").unwrap();
    sb.run(&["worker", run.to_str().unwrap(), "--trial", "0"])
        .expect_code(0);
}
