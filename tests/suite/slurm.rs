//! The Slurm executor against a real Slurm: a single-node cluster on loopback that
//! `tests/slurm/cluster.sh up` starts (`make test` does). Without one these tests say so and pass,
//! unless `XNAS_SLURM_TESTS=1` asks for them: then a missing cluster is a failure.

#[path = "slurm_compare.rs"]
mod compare_runs;
#[path = "slurm_oneshot.rs"]
mod oneshot;

use crate::nbg_experiment;
use std::path::{Path, PathBuf};
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

/// A NAS-Bench-Graph evolution search on Slurm; `setup` is the jobs' setup script, `keys` more
/// `[executor]` lines.
fn slurm_experiment_with(name: &str, evaluations: u64, setup: &str, keys: &str) -> String {
    nbg_experiment(
        name,
        "evolution",
        evaluations,
        &format!(
            "[executor]\nkind = \"slurm\"\nmem_per_trial = \"150M\"\npoll_seconds = 0.3\n\
             resubmits = 2\n{keys}\nsetup = '''\n{setup}\n'''\n"
        ),
    )
}

fn slurm_experiment(name: &str, evaluations: u64, setup: &str) -> String {
    slurm_experiment_with(name, evaluations, setup, "time_limit = \"00:05:00\"")
}

/// The same search on local workers.
fn local_trials(name: &str, evaluations: u64) -> Vec<xnas_tests::Row> {
    let sb = Sandbox::new();
    read_trials(&sb.run_experiment(&nbg_experiment(name, "evolution", evaluations, ""), 2))
}

/// A submission script's `KEY=value` line (the last one: setup lines come first).
fn script_value(script: &Path, key: &str) -> String {
    let text = std::fs::read_to_string(script).unwrap();
    let prefix = format!("{key}=");
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix(&prefix))
        .unwrap_or_else(|| panic!("{} has no {key}= line", script.display()))
        .to_string()
}

/// A run's submission scripts, `submission-N.sh` by N.
fn scripts(run: &Path) -> Vec<PathBuf> {
    let mut scripts: Vec<PathBuf> = std::fs::read_dir(run.join("slurm/jobs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    scripts.sort_by_key(|p| {
        let name = p.file_stem().unwrap().to_str().unwrap();
        name["submission-".len()..].parse::<u64>().unwrap()
    });
    scripts
}

/// Trial ids each submission script of a run names (its line `TRIALS=(...)`).
fn submissions(run: &Path) -> Vec<Vec<u64>> {
    scripts(run)
        .iter()
        .map(|s| {
            let line = script_value(s, "TRIALS");
            line[1..line.len() - 1]
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

/// The states `squeue --states=all` shows for `job`: one per task, or one for an array cancelled
/// before any task started.
fn job_states(job: &str) -> Vec<String> {
    squeue(&["--array", "--format=%T", &format!("--jobs={job}")])
}

/// The lines of `squeue --noheader --states=all ARGS`, trimmed.
fn squeue(args: &[&str]) -> Vec<String> {
    let out = Command::new("squeue")
        .args(["--noheader", "--states=all"])
        .args(args)
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
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

/// The cases that need the cluster. Most of their time is waiting for Slurm (a time-limit kill
/// takes it about 80 s), so they run side by side, each on its own thread whatever the test
/// harness's thread count; the test fails naming every case that failed. `XNAS_SLURM_CASES=a,b`
/// runs only the cases named.
#[test]
fn slurm_cases_against_a_real_cluster() {
    if !cluster() {
        return;
    }
    type Case = (&'static str, fn());
    let cases: &[Case] = &[
        (
            "search_equals_local_run",
            search_through_job_arrays_equals_the_local_run,
        ),
        (
            "chunks_equal_local_run",
            chunks_of_trials_per_task_equal_the_local_run,
        ),
        (
            "host_killed_and_resumed",
            host_killed_mid_run_resumes_without_resubmitting_running_trials,
        ),
        (
            "unrecorded_jobs",
            jobs_submitted_but_never_recorded_are_adopted_or_cancelled,
        ),
        ("cancelled_task", cancelled_task_is_resubmitted),
        (
            "cancelled_without_resubmits",
            cancelled_task_without_resubmits_is_a_failed_trial,
        ),
        (
            "resources_limit_stop",
            resources_concurrency_one_query_per_poll_and_a_clean_stop,
        ),
        ("time_limit", task_past_its_time_limit_is_resubmitted),
        (
            "crashing_worker",
            crashing_worker_is_a_failed_trial_with_slurms_reason,
        ),
        ("one_shot_requeued", oneshot::one_shot_job_requeued_by_slurm),
        (
            "compare_one_shot",
            oneshot::compare_runs_one_shot_and_ask_tell_runs_as_jobs,
        ),
        (
            "compare_jobs_reattached",
            compare_runs::compare_runs_each_run_as_a_job_and_reattaches,
        ),
        (
            "compare_arrays",
            compare_runs::compare_with_trials_as_arrays,
        ),
        (
            "one_shot_resume_follows",
            oneshot::resume_follows_the_live_job_and_reports_the_completed_one,
        ),
        (
            "one_shot_resume_after_failure",
            oneshot::resume_after_a_failed_job_says_why_and_submits_again,
        ),
        (
            "one_shot_time_limit_signal",
            oneshot::one_shot_job_requeues_itself_before_its_time_limit,
        ),
    ];
    let only = std::env::var("XNAS_SLURM_CASES").ok();
    let chosen = |name: &str| {
        only.as_deref()
            .is_none_or(|o| o.split(',').any(|c| c == name))
    };
    let failed: Vec<&str> = std::thread::scope(|scope| {
        let running: Vec<_> = cases
            .iter()
            .filter(|(name, _)| chosen(name))
            .map(|&(name, case)| (name, scope.spawn(case)))
            .collect();
        running
            .into_iter()
            .filter_map(|(name, handle)| handle.join().is_err().then_some(name))
            .collect()
    });
    assert!(failed.is_empty(), "Slurm cases failed: {failed:?}");
}

/// 50 trials, batches of 8 split into arrays of at most 5 tasks: the trials of the local run.
fn search_through_job_arrays_equals_the_local_run() {
    let sb = Sandbox::new();
    let text = slurm_experiment_with(
        "slurm-equal",
        50,
        "",
        "time_limit = \"00:05:00\"\narray_limit = 5",
    );
    let run = sb.run_experiment(&text, 1);
    compare(&read_trials(&run), &local_trials("slurm-equal", 50));
    // Each batch of 8 (the last of 2) as arrays of 5 and 3; each trial submitted once.
    let subs = submissions(&run);
    let sizes: Vec<usize> = subs.iter().map(Vec::len).collect();
    assert_eq!(sizes, [5, 3, 5, 3, 5, 3, 5, 3, 5, 3, 5, 3, 2], "{subs:?}");
    assert_eq!(subs.concat(), (0..50).collect::<Vec<u64>>());
    assert_eq!(
        std::fs::read_dir(run.join("slurm/results"))
            .unwrap()
            .count(),
        50
    );
    assert!(jobs_json(&run)["resubmitted"]
        .as_object()
        .is_none_or(|r| r.is_empty()));
}

/// Three trials per array task: 24 trials, each batch of 8 one array of 3 tasks (3 + 3 + 2
/// trials), the same search as the local run.
fn chunks_of_trials_per_task_equal_the_local_run() {
    let sb = Sandbox::new();
    let text = slurm_experiment_with(
        "slurm-chunks",
        24,
        "",
        "time_limit = \"00:05:00\"\ntrials_per_task = 3",
    );
    let run = sb.run_experiment(&text, 1);
    compare(&read_trials(&run), &local_trials("slurm-chunks", 24));
    assert_eq!(submissions(&run).len(), 3);
    for script in scripts(&run) {
        assert_eq!(script_value(&script, "PER_TASK"), "3");
    }
    // Three tasks per array, each with its own log.
    let mut logs: Vec<String> = std::fs::read_dir(run.join("slurm/logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".out"))
        .collect();
    logs.sort();
    assert_eq!(logs.len(), 9, "{logs:?}");
    for task in ["_0.out", "_1.out", "_2.out"] {
        assert_eq!(
            logs.iter().filter(|n| n.ends_with(task)).count(),
            3,
            "{logs:?}"
        );
    }
    let placed = jobs_json(&run)["placed"].clone();
    assert!(placed.as_object().is_none_or(|p| p.is_empty()), "{placed}");
}

fn host_killed_mid_run_resumes_without_resubmitting_running_trials() {
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

/// The host killed after `sbatch` returned but before it recorded the job (jobs.json gone), and
/// a held duplicate of the same array under the run's job name: the resumed host finds both by
/// name, adopts the first, cancels the duplicate (its trials have a job), and submits nothing
/// for the adopted trials.
fn jobs_submitted_but_never_recorded_are_adopted_or_cancelled() {
    let sb = Sandbox::new();
    sb.write(
        "exp.toml",
        &slurm_experiment("slurm-orphans", 16, "sleep 20"),
    );
    let mut host = start_and_wait_for_tasks(&sb);
    host.kill().unwrap();
    host.wait().unwrap();
    let run = sb.path().join("run");
    let jobs = jobs_json(&run);
    let first = jobs["placed"]["0"][0].as_str().unwrap().to_string();
    assert_eq!(jobs["next_submission"], 1, "{jobs}");
    std::fs::remove_file(run.join("slurm/jobs.json")).unwrap();
    // The run's job name, as the first array carries it.
    let out = Command::new("squeue")
        .args(["--noheader", "--format=%j", "--jobs", &first])
        .output()
        .unwrap();
    let name = String::from_utf8_lossy(&out.stdout)
        .lines()
        .next()
        .unwrap()
        .trim()
        .to_string();
    assert!(name.starts_with("xnas-"), "{name}");
    let out = Command::new("sbatch")
        .args(["--parsable", "--hold", "--array=0-7", "--mem=50M"])
        .arg(format!("--job-name={name}"))
        .arg(format!("--output={}/dup-%a.out", sb.path().display()))
        .arg(run.join("slurm/jobs/submission-0.sh"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    let duplicate = String::from_utf8_lossy(&out.stdout).trim().to_string();

    let out = sb.run(&["resume", "run"]);
    out.expect_code(0);
    assert!(
        out.stderr().contains(&format!("adopting task {first}_")),
        "{}",
        out.stderr()
    );
    compare(&read_trials(&run), &local_trials("slurm-orphans", 16));
    // The adopted array evaluated batch 0: the only other submission is batch 1, numbered after
    // the adopted script (which is kept).
    assert_eq!(
        submissions(&run),
        vec![(0..8).collect::<Vec<u64>>(), (8..16).collect()]
    );
    let states = job_states(&duplicate);
    assert!(
        !states.is_empty() && states.iter().all(|s| s == "CANCELLED"),
        "{states:?}"
    );
}

fn cancelled_task_is_resubmitted() {
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

/// With `resubmits = 0`, a cancelled task's trial is not submitted again: it is a failed trial
/// naming the job, its end and the spent resubmissions; the other trials are the local run's.
fn cancelled_task_without_resubmits_is_a_failed_trial() {
    let sb = Sandbox::new();
    let text =
        slurm_experiment("slurm-no-retry", 8, "sleep 3").replace("resubmits = 2", "resubmits = 0");
    sb.write("exp.toml", &text);
    let host = start_and_wait_for_tasks(&sb);
    let run = sb.path().join("run");
    let placed = jobs_json(&run)["placed"]["2"].clone();
    let task = format!("{}_{}", placed[0].as_str().unwrap(), placed[1]);
    let out = Command::new("scancel").arg(&task).output().unwrap();
    assert!(out.status.success(), "{out:?}");
    let out = host.wait_with_output().unwrap();
    // A run with failed trials exits 1 (docs/user-guide.md).
    assert_eq!(out.status.code(), Some(1), "{out:?}");
    let csv = std::fs::read_to_string(run.join("trials.csv")).unwrap();
    let failed: Vec<&str> = csv.lines().filter(|l| l.contains(",failed,")).collect();
    assert_eq!(failed.len(), 1, "{csv}");
    assert!(
        // A task cancelled before its array started is no longer listed on its own.
        (failed[0].contains(&format!("Slurm job {task} ended CANCELLED"))
            || failed[0].contains(&format!("Slurm job {task} no longer known to Slurm")))
            && failed[0].contains("after 0 resubmission(s)"),
        "{}",
        failed[0]
    );
    let local = local_trials("slurm-no-retry", 8);
    for (s, l) in read_trials(&run).iter().zip(&local) {
        if s.trial_id == 2 {
            assert_eq!(s.status, "failed");
        } else {
            assert_eq!(
                (s.trial_id, &s.arch, s.metric),
                (l.trial_id, &l.arch, l.metric)
            );
        }
    }
    assert_eq!(submissions(&run).len(), 1);
}

/// `partition`, `cpus_per_trial` and `sbatch_args` reach `sbatch`; `max_concurrent_jobs = 3`
/// keeps at most 3 tasks queued or running; the host asks `squeue` once per poll for the whole
/// run (counted through a shim on PATH), not once per trial; SIGTERM stops it cleanly, cancelling
/// the run's tasks; `xnas resume` then ends with the local run's trials.
fn resources_concurrency_one_query_per_poll_and_a_clean_stop() {
    let sb = Sandbox::new();
    let keys = "time_limit = \"00:05:00\"\nmax_concurrent_jobs = 3\npartition = \"debug\"\n\
                cpus_per_trial = 1\nsbatch_args = [\"--comment=xnas-case\"]";
    sb.write(
        "exp.toml",
        &slurm_experiment_with("slurm-stop", 16, "sleep 3", keys),
    );
    let shim = sb.path().join("shim");
    std::fs::create_dir_all(&shim).unwrap();
    let calls = sb.path().join("squeue.calls");
    let counting = shim.join("squeue");
    std::fs::write(
        &counting,
        format!(
            "#!/bin/sh\necho x >>'{}'\nexec '{}' \"$@\"\n",
            calls.display(),
            which("squeue").display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&counting, std::fs::Permissions::from_mode(0o755)).unwrap();
    let path = format!("{}:{}", shim.display(), std::env::var("PATH").unwrap());
    let started = Instant::now();
    let host = sb
        .xnas()
        .env("PATH", path)
        .args(["--quiet", "run", "exp.toml", "--out", "run"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let run = sb.path().join("run");
    let t = Instant::now();
    while jobs_json(&run)["placed"]
        .as_object()
        .is_none_or(|p| p.is_empty())
    {
        assert!(t.elapsed() < Duration::from_secs(120), "nothing submitted");
        std::thread::sleep(Duration::from_millis(50));
    }
    let job = jobs_json(&run)["placed"]["0"][0]
        .as_str()
        .unwrap()
        .to_string();
    let out = Command::new("scontrol")
        .args(["show", "job", &format!("{job}_0")])
        .output()
        .unwrap();
    let show = String::from_utf8_lossy(&out.stdout).to_string();
    for field in ["Partition=debug", "Comment=xnas-case", "NumCPUs=1"] {
        assert!(show.contains(field), "{field}: {show}");
    }
    // For a few seconds: never more than 3 of the run's tasks queued or running.
    let run_name = format!(
        "--name=xnas-{}",
        serde_json::from_str::<serde_json::Value>(
            &std::fs::read_to_string(run.join("slurm/run.json")).unwrap()
        )
        .unwrap()["run_id"]
            .as_str()
            .unwrap()
    );
    let live = || {
        squeue(&["--array", "--format=%T", &run_name])
            .into_iter()
            .filter(|s| ["PENDING", "CONFIGURING", "RUNNING"].contains(&s.as_str()))
            .count()
    };
    let t = Instant::now();
    let mut seen = 0;
    while t.elapsed() < Duration::from_secs(4) {
        let n = live();
        assert!(n <= 3, "{n} tasks queued or running");
        seen = seen.max(n);
        std::thread::sleep(Duration::from_millis(100));
    }
    assert!(seen > 0);
    let ok = Command::new("kill")
        .args(["-TERM", &host.id().to_string()])
        .status()
        .unwrap();
    assert!(ok.success());
    let out = host.wait_with_output().unwrap();
    let elapsed = started.elapsed().as_secs_f64();
    assert!(!out.status.success(), "{out:?}");
    // The stop cancelled the run's tasks and forgot them.
    std::thread::sleep(Duration::from_secs(1));
    assert_eq!(live(), 0);
    assert!(jobs_json(&run)["placed"]
        .as_object()
        .is_none_or(|p| p.is_empty()));
    // One query per 0.3 s poll at most (16 trials: per-trial queries would be many more).
    let queries = std::fs::read_to_string(&calls).unwrap().lines().count() as f64;
    assert!(
        queries <= elapsed / 0.3 + 3.0,
        "{queries} squeue calls in {elapsed:.1} s"
    );

    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    compare(&read_trials(&run), &local_trials("slurm-stop", 16));
    for trials in submissions(&run) {
        assert!(trials.len() <= 3, "{trials:?}");
    }
}

/// The program `name` on PATH.
fn which(name: &str) -> PathBuf {
    std::env::var("PATH")
        .unwrap()
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
        .unwrap_or_else(|| panic!("no {name} on PATH"))
}

/// Trial 3's first task sleeps past the one-minute limit; Slurm ends it TIMEOUT and the host
/// submits the trial again, which then finishes: the same trials as the local run.
fn task_past_its_time_limit_is_resubmitted() {
    let sb = Sandbox::new();
    let marker = sb.path().join("slept-once");
    let setup = format!(
        "if [ \"$SLURM_ARRAY_TASK_ID\" = 3 ] && mkdir '{}' 2>/dev/null; then sleep 600; fi",
        marker.display()
    );
    let text = slurm_experiment_with("slurm-timeout", 8, &setup, "time_limit = \"00:01:00\"");
    sb.write("exp.toml", &text);
    let out = sb.run(&["run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    let run = sb.path().join("run");
    compare(&read_trials(&run), &local_trials("slurm-timeout", 8));
    assert_eq!(jobs_json(&run)["resubmitted"]["3"], 1);
    assert_eq!(
        submissions(&run),
        vec![(0..8).collect::<Vec<u64>>(), vec![3]]
    );
    assert!(
        out.stderr().contains("trial 3: Slurm job")
            && out.stderr().contains("ended TIMEOUT")
            && out.stderr().contains("resubmitting (1 of 2)"),
        "{}",
        out.stderr()
    );
}

fn crashing_worker_is_a_failed_trial_with_slurms_reason() {
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
