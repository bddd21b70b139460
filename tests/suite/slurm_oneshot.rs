//! A one-shot search on Slurm: `xnas run` submits the run as one job and waits for it; the job
//! is requeued mid-search (by `scontrol requeue`, as a preemption does, or by its own script on the signal
//! Slurm sends before the time limit) and still ends on the genotype and α of an uninterrupted
//! local search (tiny DARTS on the NAS-Bench-201 cell, 256 digits images).

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
fn requeued_search_ends_like_an_uninterrupted_one(interrupt: fn(&str)) {
    let reference = Sandbox::new();
    let whole = reference.run_experiment(SEARCH, 1);

    let sb = Sandbox::new();
    sb.write(
        "exp.toml",
        &format!(
            "{SEARCH}\n[executor]\nkind = \"slurm\"\ntime_limit = \"00:10:00\"\n\
             mem_per_trial = \"1G\"\npoll_seconds = 0.5\n"
        ),
    );
    let host = sb
        .xnas()
        .args(["run", "exp.toml", "--out", "run"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let run = sb.path().join("run");
    // The job, by the run's job name.
    let mut id = String::new();
    wait_until("the job", Duration::from_secs(120), || {
        let Ok(text) = std::fs::read_to_string(run.join("slurm/run.json")) else {
            return false;
        };
        let run_id = serde_json::from_str::<serde_json::Value>(&text).unwrap()["run_id"]
            .as_str()
            .unwrap()
            .to_string();
        let out = Command::new("squeue")
            .args(["--noheader", "--format=%i"])
            .arg(format!("--name=xnas-{run_id}"))
            .output()
            .unwrap();
        id = String::from_utf8_lossy(&out.stdout).trim().to_string();
        !id.is_empty()
    });
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

/// `xnas compare` with `[executor] kind = "slurm"`: the one-shot variant's run is one Slurm job,
/// the ask/tell variant's trials are job arrays; the comparison summarises both.
pub fn compare_runs_each_one_shot_run_as_a_job() {
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
    // The one-shot run: one job, completed, which searched and derived its cell.
    let darts = runs.join("darts/seed-4");
    let logs: Vec<String> = std::fs::read_dir(darts.join("slurm/logs"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    let job = logs
        .iter()
        .find_map(|l| l.strip_prefix("oneshot-")?.strip_suffix(".out"))
        .unwrap_or_else(|| panic!("{logs:?}"));
    assert_eq!(self::job(job).0, "COMPLETED");
    assert_eq!(read_trials(&darts).len(), 1);
    assert!(darts.join("alpha.csv").is_file());
    // The ask/tell run: its two trials evaluated by array tasks.
    let random = runs.join("random/seed-4");
    for id in 0..2 {
        assert!(random.join(format!("slurm/results/{id}.json")).is_file());
    }
    let s: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("cmp/summary.json")).unwrap())
            .unwrap();
    let variants = s["by_seconds"]["per_target"][0]["variants"]
        .as_array()
        .unwrap();
    assert_eq!(variants.len(), 2, "{s}");
}
