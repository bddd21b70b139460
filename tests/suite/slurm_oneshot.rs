//! A one-shot search on Slurm: `xnas run` submits the run as one job, which is requeued
//! mid-search (by `scontrol requeue`, as a preemption does, or by its own script on the signal
//! Slurm sends before the time limit) and still ends on the genotype and α of an uninterrupted
//! local search (tiny DARTS on the NAS-Bench-201 cell, 256 digits images).

use std::path::Path;
use std::process::Command;
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
fn requeued_search_ends_like_an_uninterrupted_one(interrupt: fn(&str)) {
    let reference = Sandbox::new();
    let whole = reference.run_experiment(SEARCH, 1);

    let sb = Sandbox::new();
    sb.write(
        "exp.toml",
        &format!(
            "{SEARCH}\n[executor]\nkind = \"slurm\"\ntime_limit = \"00:10:00\"\n\
             mem_per_trial = \"1G\"\n"
        ),
    );
    let out = sb.run(&["run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    let id: String = out
        .stdout()
        .split("Slurm job ")
        .nth(1)
        .unwrap_or_else(|| panic!("{}", out.stdout()))
        .chars()
        .take_while(char::is_ascii_digit)
        .collect();
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
    // Slurm holds a requeued job back for a while (BeginTime) before starting it again.
    wait_until("the requeued job to end", Duration::from_secs(480), || {
        let (state, _) = job(&id);
        assert!(
            !["FAILED", "CANCELLED", "TIMEOUT", "NODE_FAIL"].contains(&state.as_str()),
            "job {id} ended {state}: {}",
            std::fs::read_to_string(run.join(format!("slurm/logs/oneshot-{id}.err")))
                .unwrap_or_default()
        );
        state == "COMPLETED"
    });
    assert_eq!(job(&id).1, 1, "job {id} was not requeued once");
    let log = std::fs::read_to_string(run.join(format!("slurm/logs/oneshot-{id}.err"))).unwrap();
    assert!(log.contains("stopped by SIGTERM"), "{log}");

    let read = |p: &Path| std::fs::read_to_string(p).unwrap();
    assert_eq!(read(&run.join("alpha.csv")), read(&whole.join("alpha.csv")));
    let (a, b) = (read_trials(&run), read_trials(&whole));
    assert_eq!(a.len(), 1);
    assert_eq!((&a[0].arch, a[0].metric), (&b[0].arch, b[0].metric));
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
