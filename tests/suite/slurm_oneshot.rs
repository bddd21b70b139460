//! A one-shot search on Slurm: `xnas run` submits the run as one job and waits for it; the job
//! is requeued mid-search (by `scontrol requeue`, as a preemption does, or by its own script on the signal
//! Slurm sends before the time limit) and still ends on the genotype and α of an uninterrupted
//! local search (tiny DARTS on the NAS-Bench-201 cell, 256 digits images); `xnas resume` of such a
//! run follows its live job, reports its completed one, and submits again after a failed one; and
//! `xnas compare` runs a one-shot and an ask/tell run each as one job.

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xnas_tests::{read_trials, Sandbox};

const SEARCH: &str = r#"[experiment]
name = "os-slurm"
seed = 3
budget = { epochs = 12 }

[search_space]
plugin = "nb201"
[search_space.params]
threads = 1
epochs = 1
channels = 4
cells = 1
batch_size = 64
[search_space.params.tasks.digits]
limit_train = 256
preset = "digits"

[optimizer]
plugin = "darts"
derive = 1
[optimizer.params]
channels = 4
cells = 1
epochs = 12
batch_size = 32

[tasks]
target = "digits"
"#;

/// Epochs the run's store has checkpointed (0 before it exists).
fn epochs_done(run: &Path) -> i64 {
    use rusqlite::{Connection, OpenFlags};
    Connection::open_with_flags(run.join("store.sqlite"), OpenFlags::SQLITE_OPEN_READ_ONLY)
        .and_then(|c| {
            c.busy_timeout(Duration::from_secs(10))?;
            c.query_row("SELECT COUNT(*) FROM one_shot_epochs", [], |r| r.get(0))
        })
        .unwrap_or(0)
}

/// `scontrol show job` of `job`: its state and how often it was requeued.
fn job(job: &str) -> (String, u32) {
    let out = Command::new("scontrol")
        .args(["show", "job", job])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    let field = |key: &str| {
        text.split_whitespace()
            .find_map(|w| w.strip_prefix(key))
            .unwrap_or_default()
            .to_string()
    };
    (field("JobState="), field("Restarts=").parse().unwrap_or(0))
}

fn wait_until(what: &str, patience: Duration, mut done: impl FnMut() -> bool) {
    let t = Instant::now();
    while !done() {
        assert!(t.elapsed() < patience, "waited {patience:?} for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Submits the search, interrupts its job with `interrupt` (given the job id) once an epoch is
/// checkpointed, and checks that the requeued job ends as the uninterrupted search did.
/// The search on Slurm with `setup` in its job script.
fn on_slurm(search: &str, setup: &str) -> String {
    format!(
        "{search}\n[executor]\nkind = \"slurm\"\ntime_limit = \"00:10:00\"\n\
         mem_per_trial = \"1G\"\npoll_seconds = 0.5\nsetup = '''\n{setup}\n'''\n"
    )
}

/// Starts `xnas run` of exp.toml in the background; returns it and the run's first job id once
/// that job is submitted.
fn submit(sb: &Sandbox) -> (std::process::Child, String) {
    let host = sb
        .xnas()
        .args(["run", "exp.toml", "--out", "run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = sb.path().join("run");
    let mut id = String::new();
    wait_until("the job", Duration::from_secs(120), || {
        id = submitted(&run).first().cloned().unwrap_or_default();
        !id.is_empty()
    });
    (host, id)
}

/// The job ids the run recorded (slurm/job.json), oldest first.
fn submitted(run: &Path) -> Vec<String> {
    std::fs::read_to_string(run.join("slurm/job.json"))
        .ok()
        .and_then(|t| serde_json::from_str::<serde_json::Value>(&t).ok())
        .map(|r| {
            r["jobs"]
                .as_array()
                .unwrap()
                .iter()
                .map(|j| j.as_str().unwrap().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// Every job Slurm knows under the run's job name.
fn jobs_named_after(run: &Path) -> Vec<String> {
    let text = std::fs::read_to_string(run.join("slurm/run.json")).unwrap();
    let run_id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["run_id"]
        .as_str()
        .unwrap()
        .to_string();
    super::squeue(&["--format=%i", &format!("--name=xnas-{run_id}")])
}

/// The run ends on the genotype and α of the uninterrupted local search in `whole`.
fn same_search(run: &Path, whole: &Path) {
    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&run.join("alpha.csv")), read(&whole.join("alpha.csv")));
    let (a, b) = (read_trials(run), read_trials(whole));
    assert_eq!(a.len(), 1);
    assert_eq!((&a[0].arch, a[0].metric), (&b[0].arch, b[0].metric));
}

/// Submits the search, interrupts its job with `interrupt` (given the job id) once an epoch is
/// checkpointed, and checks that the requeued job ends as the uninterrupted search did.
fn requeued_search_ends_like_an_uninterrupted_one(interrupt: fn(&str)) {
    let reference = Sandbox::new();
    let whole = reference.run_experiment(SEARCH, 1);

    let sb = Sandbox::new();
    sb.write("exp.toml", &on_slurm(SEARCH, ""));
    let (host, id) = submit(&sb);
    let run = sb.path().join("run");
    wait_until("the first epoch", Duration::from_secs(300), || {
        epochs_done(&run) >= 1
    });
    assert_eq!(job(&id).0, "RUNNING");
    assert!(
        epochs_done(&run) < 12,
        "the search ended before it was interrupted"
    );
    interrupt(&id);
    // The host follows the job through its requeue (Slurm holds a requeued job back for a
    // while) to its end.
    let out = host.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{stderr}");
    assert!(
        String::from_utf8_lossy(&out.stdout).contains(&format!("Slurm job {id} completed")),
        "{out:?}"
    );
    assert_eq!(job(&id), ("COMPLETED".to_string(), 1));
    let log = std::fs::read_to_string(run.join(format!("slurm/logs/job-{id}.err"))).unwrap();
    assert!(log.contains("stopped by SIGTERM"), "{log}");
    same_search(&run, &whole);
}

/// `scontrol requeue`: what a preemption with requeue does to the job.
pub fn one_shot_job_requeued_by_slurm() {
    requeued_search_ends_like_an_uninterrupted_one(|id| {
        let out = Command::new("scontrol")
            .args(["requeue", id])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
}

/// USR1 to the batch script: what Slurm sends before the time limit (`--signal=B:USR1@N`); the
/// script stops the search and requeues its own job.
pub fn one_shot_job_requeues_itself_before_its_time_limit() {
    requeued_search_ends_like_an_uninterrupted_one(|id| {
        let out = Command::new("scancel")
            .args(["--batch", "--signal=USR1", id])
            .output()
            .unwrap();
        assert!(out.status.success(), "{out:?}");
    });
}

/// The host following the search's job killed (`kill -9`) mid-search: `xnas resume` follows the
/// same job (submits none, runs nothing here) to its end, on the uninterrupted search's genotype;
/// resumed again once the job COMPLETED, it reports the finished run and submits nothing.
pub fn resume_follows_the_live_job_and_reports_the_completed_one() {
    let reference = Sandbox::new();
    let whole = reference.run_experiment(SEARCH, 1);
    let sb = Sandbox::new();
    sb.write("exp.toml", &on_slurm(SEARCH, ""));
    let (mut host, id) = submit(&sb);
    let run = sb.path().join("run");
    wait_until("the first epoch", Duration::from_secs(300), || {
        epochs_done(&run) >= 1
    });
    host.kill().unwrap();
    host.wait().unwrap();
    assert_eq!(job(&id).0, "RUNNING");
    assert!(
        epochs_done(&run) < 12,
        "the search ended before the host was killed"
    );

    let out = sb.run(&["resume", "run"]);
    out.expect_code(0);
    assert!(
        out.stderr()
            .contains(&format!("the run goes on as Slurm job {id} ")),
        "{}",
        out.stderr()
    );
    assert!(
        out.stdout().contains(&format!("Slurm job {id} completed")),
        "{}",
        out.stdout()
    );
    assert_eq!(submitted(&run), std::slice::from_ref(&id));
    assert_eq!(jobs_named_after(&run), std::slice::from_ref(&id));
    assert_eq!(job(&id), ("COMPLETED".to_string(), 0));
    same_search(&run, &whole);

    let out = sb.run(&["resume", "run"]);
    out.expect_code(0);
    assert!(
        out.stdout().contains(&format!("Slurm job {id} completed")),
        "{}",
        out.stdout()
    );
    assert_eq!(submitted(&run), std::slice::from_ref(&id));
    assert_eq!(jobs_named_after(&run), [id]);
}

/// The search's first job fails (its setup exits 3) while no host follows it: `xnas resume` says
/// how it ended, with its log, and submits the run again, which then finishes.
pub fn resume_after_a_failed_job_says_why_and_submits_again() {
    let sb = Sandbox::new();
    let marker = sb.path().join("failed-once");
    let setup = format!(
        "if mkdir '{}' 2>/dev/null; then sleep 2; echo 'setup failed on purpose' >&2; exit 3; fi",
        marker.display()
    );
    let search = SEARCH.replace("epochs = 12", "epochs = 2");
    sb.write("exp.toml", &on_slurm(&search, &setup));
    let (mut host, id) = submit(&sb);
    host.kill().unwrap();
    host.wait().unwrap();
    wait_until("the job to fail", Duration::from_secs(120), || {
        job(&id).0 == "FAILED"
    });
    let run = sb.path().join("run");
    let out = sb.run(&["resume", "run"]);
    out.expect_code(0);
    let err = out.stderr();
    assert!(
        err.contains(&format!("its last Slurm job {id} ended FAILED"))
            && err.contains("exit code 3")
            && err.contains(&format!("job-{id}.err"))
            && err.contains("submitting it again"),
        "{err}"
    );
    let jobs = submitted(&run);
    assert_eq!(jobs.len(), 2, "{jobs:?}");
    assert_eq!(jobs[0], id);
    assert!(
        out.stdout()
            .contains(&format!("Slurm job {} completed", jobs[1])),
        "{}",
        out.stdout()
    );
    assert_eq!(read_trials(&run).len(), 1);
    let log = std::fs::read_to_string(run.join(format!("slurm/logs/job-{id}.err"))).unwrap();
    assert!(log.contains("setup failed on purpose"), "{log}");
}

/// `xnas compare` with `[executor] kind = "slurm"`: the one-shot variant's run and the ask/tell
/// variant's run are each one Slurm job; the comparison summarises both.
pub fn compare_runs_one_shot_and_ask_tell_runs_as_jobs() {
    let sb = Sandbox::new();
    let space =
        &SEARCH[SEARCH.find("[search_space]").unwrap()..SEARCH.find("[optimizer]").unwrap()];
    let text = format!(
        "[experiment]\nname = \"cmp-slurm\"\nseed = 4\nbudget = {{ evaluations = 2, seconds = 600 }}\n\
         batch_size = 2\n{space}[tasks]\n\n[executor]\nkind = \"slurm\"\ntime_limit = \"00:10:00\"\n\
         mem_per_trial = \"1G\"\npoll_seconds = 0.5\n\n[compare]\ntargets = [\"digits\"]\nseeds = 1\n\
         jobs = 2\n\n[[compare.variant]]\nname = \"darts\"\noptimizer = {{ plugin = \"darts\", \
         params = {{ epochs = 2, batch_size = 32, channels = 4, cells = 1 }} }}\n\n\
         [[compare.variant]]\nname = \"random\"\noptimizer = {{ plugin = \"random\" }}\n"
    );
    sb.write("cmp.toml", &text);
    let out = sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"]);
    out.expect_code(0);
    let runs = sb.path().join("cmp/runs/digits");
    for (variant, trials) in [("darts", 1), ("random", 2)] {
        let run = runs.join(format!("{variant}/seed-4"));
        let jobs = submitted(&run);
        assert_eq!(jobs.len(), 1, "{variant}: {jobs:?}");
        assert_eq!(job(&jobs[0]).0, "COMPLETED");
        assert!(run
            .join(format!("slurm/logs/job-{}.out", jobs[0]))
            .is_file());
        assert_eq!(read_trials(&run).len(), trials);
        // No array task evaluated the ask/tell run's trials: its job did.
        assert!(!run.join("slurm/results").exists());
    }
    assert!(runs.join("darts/seed-4/alpha.csv").is_file());
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("cmp/summary.json")).unwrap())
            .unwrap();
    let variants = s["by_seconds"]["per_target"][0]["variants"]
        .as_array()
        .unwrap();
    assert_eq!(variants.len(), 2, "{s}");
}
