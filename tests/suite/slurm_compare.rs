//! `xnas compare` with `[executor] kind = "slurm"`: each run a Slurm job of its own (the
//! default), or, with `[compare] slurm_jobs = "trial"`, ask/tell runs in the comparison's process
//! with their trials as job arrays. Either way the comparison's table is the local one.

use super::{compare as same_trials, jobs_json};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use xnas_tests::{read_trials, Sandbox};

/// A NAS-Bench-Graph comparison of `variants` over `seeds` seeds; `extra` more `[compare]` lines
/// and `executor` the `[executor]` section (empty: local).
fn comparison(variants: &[&str], seeds: u64, extra: &str, executor: &str) -> String {
    let mut text = format!(
        "[experiment]\nname = \"cmp-nbg\"\nseed = 11\nbudget = {{ evaluations = 8 }}\n\
         batch_size = 4\n\n[search_space]\nplugin = \"nasbench-graph\"\n\n[tasks]\n\n{executor}\n\
         [compare]\ntargets = [\"cora\"]\nseeds = {seeds}\n{extra}\n"
    );
    for v in variants {
        text +=
            &format!("\n[[compare.variant]]\nname = \"{v}\"\noptimizer = {{ plugin = \"{v}\" }}\n");
    }
    text
}

const SLURM: &str = "[executor]\nkind = \"slurm\"\nworkers = 2\nmem_per_trial = \"150M\"\n\
                     time_limit = \"00:05:00\"\npoll_seconds = 0.3\n";

/// The local comparison's directory.
fn local(sb: &Sandbox, variants: &[&str], seeds: u64) -> std::path::PathBuf {
    sb.write("local.toml", &comparison(variants, seeds, "", ""));
    sb.run(&["--quiet", "compare", "local.toml", "--out", "local"])
        .expect_code(0);
    sb.path().join("local")
}

/// Every run of comparison `dir` has the trials of the same run in `local`, and the comparison
/// the same curves.
fn same_table(dir: &Path, local: &Path, runs: &[String]) {
    for run in runs {
        same_trials(&read_trials(&dir.join(run)), &read_trials(&local.join(run)));
    }
    let read = |d: &Path| std::fs::read_to_string(d.join("curves.csv")).unwrap();
    assert_eq!(read(dir), read(local));
}

/// Four ask/tell runs, each one job (its two workers on the job's CPUs); the comparison is
/// stopped with SIGTERM while the jobs run and started again: it follows the same jobs (none is
/// submitted twice) and ends with the local comparison's table.
pub fn compare_runs_each_run_as_a_job_and_reattaches() {
    let sb = Sandbox::new();
    let variants = ["random", "evolution"];
    let local = local(&sb, &variants, 2);
    let executor = format!("{SLURM}setup = \"sleep 8\"\n");
    sb.write("cmp.toml", &comparison(&variants, 2, "", &executor));
    let runs: Vec<String> = variants
        .iter()
        .flat_map(|v| [11, 12].map(|s| format!("runs/cora/{v}/seed-{s}")))
        .collect();
    let dir = sb.path().join("cmp");
    let host = sb
        .xnas()
        .args(["--quiet", "compare", "cmp.toml", "--out", "cmp"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let t = Instant::now();
    while !runs
        .iter()
        .all(|r| dir.join(r).join("slurm/job.json").exists())
    {
        assert!(
            t.elapsed() < Duration::from_secs(120),
            "not every run was submitted"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let kill = Command::new("kill")
        .args(["-TERM", &host.id().to_string()])
        .status()
        .unwrap();
    assert!(kill.success());
    let out = host.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("the Slurm jobs of unfinished runs go on"),
        "{stderr}"
    );

    // Stopping the comparison left its jobs queued or running (each sleeps 8 s first).
    for run in &runs {
        let record = std::fs::read_to_string(dir.join(run).join("slurm/job.json")).unwrap();
        let record: serde_json::Value = serde_json::from_str(&record).unwrap();
        let job = record["jobs"][0].as_str().unwrap();
        let states = super::job_states(job);
        assert!(
            states
                .iter()
                .all(|s| ["PENDING", "CONFIGURING", "RUNNING"].contains(&s.as_str())),
            "{run}: job {job} {states:?}"
        );
        // Two workers' CPUs (one per trial by default).
        let out = Command::new("scontrol")
            .args(["show", "job", job])
            .output()
            .unwrap();
        let show = String::from_utf8_lossy(&out.stdout);
        assert!(show.contains("NumCPUs=2"), "{show}");
    }

    sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"])
        .expect_code(0);
    for run in &runs {
        let run = dir.join(run);
        let record: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(run.join("slurm/job.json")).unwrap())
                .unwrap();
        assert_eq!(record["jobs"].as_array().unwrap().len(), 1, "{record}");
        assert_eq!(record["scale"], 2, "{record}");
        // The trials ran in the job, not as arrays.
        assert!(!run.join("slurm/results").exists());
        assert!(jobs_json(&run).is_null());
    }
    same_table(&dir, &local, &runs);
}

/// `slurm_jobs = "trial"`: the ask/tell run stays here and submits its trials as arrays.
pub fn compare_with_trials_as_arrays() {
    let sb = Sandbox::new();
    let local = local(&sb, &["random"], 1);
    sb.write(
        "cmp.toml",
        &comparison(&["random"], 1, "slurm_jobs = \"trial\"", SLURM),
    );
    sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"])
        .expect_code(0);
    let dir = sb.path().join("cmp");
    let run = "runs/cora/random/seed-11".to_string();
    for id in 0..8 {
        assert!(dir
            .join(&run)
            .join(format!("slurm/results/{id}.json"))
            .is_file());
    }
    assert!(!dir.join(&run).join("slurm/job.sh").exists());
    same_table(&dir, &local, &[run]);
}
