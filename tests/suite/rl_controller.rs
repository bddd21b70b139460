//! The `rl-controller` optimizer through the real binary: a search on NAS-Bench-Graph, the same
//! seed giving the same trials, and `kill -9` + `xnas resume` matching an uninterrupted run
//! (the controller declares `state`: resume restores it and replays only the unfinished batch).

use crate::nbg_experiment;
use std::time::Duration;
use xnas_tests::*;

fn rl_experiment(name: &str, evaluations: u64) -> String {
    nbg_experiment(name, "rl-controller", evaluations, "").replace(
        "plugin = \"rl-controller\"",
        "plugin = \"rl-controller\"\n[optimizer.params]\nlr = 0.003",
    )
}

fn run(sb: &Sandbox, text: &str) -> std::path::PathBuf {
    sb.write("exp.toml", text);
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    sb.path().join("run")
}

#[test]
fn searches_nasbench_graph() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let dir = run(&sb, &rl_experiment("nbg-rl", 40));
    let rows = read_trials(&dir);
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r.role == "target" && r.task == "cora"));
    assert!(rows
        .iter()
        .all(|r| r.status == "ok" && r.metric.is_some_and(|m| (0.0..=1.0).contains(&m))));
    // Proposals are deduplicated on the canonical architecture.
    let distinct: std::collections::HashSet<&str> = rows.iter().map(|r| r.arch.as_str()).collect();
    assert_eq!(distinct.len(), 40);
    let s = read_summary(&dir);
    assert_eq!(s["evaluations"], 40);
    assert!(s["regret"].as_f64().is_some_and(|r| r >= 0.0), "{s}");
}

#[test]
fn the_same_seed_gives_identical_trials() {
    nasbench_graph_data();
    let text = rl_experiment("nbg-rl-seed", 32);
    let (a, b) = (Sandbox::new(), Sandbox::new());
    let (da, db) = (run(&a, &text), run(&b, &text));
    let csv = |d: &std::path::Path| std::fs::read_to_string(d.join("trials.csv")).unwrap();
    assert_eq!(csv(&da), csv(&db));
    // Another seed searches differently.
    let c = Sandbox::new();
    let dc = run(&c, &text.replace("seed = 11", "seed = 12"));
    assert_ne!(
        read_trials(&da).iter().map(|r| &r.arch).collect::<Vec<_>>(),
        read_trials(&dc).iter().map(|r| &r.arch).collect::<Vec<_>>()
    );
}

/// A slow toy space (the panicky fixture, 3 positions × 4 choices) so the run can be killed
/// part-way; small controller so the test stays fast.
fn slow_experiment() -> String {
    r#"[experiment]
name = "rl-resume"
seed = 5
budget = { evaluations = 40 }
batch_size = 4
[plugins]
files = ["plugins/libslow.so"]
[search_space]
plugin = "panicky-space"
[search_space.params]
delay_ms = 20
[optimizer]
plugin = "rl-controller"
[optimizer.params]
hidden = 32
lr = 0.01
[tasks]
target = "t"
[executor]
workers = 1
"#
    .into()
}

#[test]
fn resume_after_kill_9_matches_an_uninterrupted_run() {
    let reference = Sandbox::new();
    reference.add_plugin("fixture_panicky", "libslow.so");
    let expected = read_trials(&run(&reference, &slow_experiment()));
    assert_eq!(expected.len(), 40);

    let sb = Sandbox::new();
    sb.add_plugin("fixture_panicky", "libslow.so");
    sb.write("exp.toml", &slow_experiment());
    // Past a few saved states, with evaluations still to go.
    let at_kill = run_and_kill(&sb, 14, finished_trials, Duration::from_secs(120));
    assert!(at_kill < 40, "killed too late to test anything");

    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    let rows = read_trials(&sb.path().join("run"));
    let ids: Vec<u64> = rows.iter().map(|r| r.trial_id).collect();
    assert_eq!(
        ids,
        (0..40).collect::<Vec<_>>(),
        "no trial lost or repeated"
    );
    assert_eq!(rows, expected, "same architectures, seeds and metrics");
}

/// `examples/nasbench-graph-rl.toml` runs to its budget.
#[test]
fn the_example_runs() {
    nasbench_graph_data();
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples/nasbench-graph-rl.toml");
    let sb = Sandbox::new();
    sb.run(&["--quiet", "run", file.to_str().unwrap(), "--out", "run"])
        .expect_code(0);
    let s = read_summary(&sb.path().join("run"));
    assert_eq!(s["evaluations"], 200, "{s}");
    assert_eq!(s["target"], "cora", "{s}");
}

/// Decorated by the real `xfer` plugin: the controller pretrains on the source knowledge with
/// universal + residual heads, and the decorated search is deterministic too.
#[test]
fn decorated_by_xfer_pretrains_on_the_sources() {
    nasbench_graph_data();
    let text = rl_experiment("nbg-rl-xfer", 24)
        .replace("lr = 0.003", "lr = 0.003\npretrain_epochs = 3")
        .replace(
            "[tasks]\ntarget = \"cora\"\n",
            "[transfer]\nplugin = \"xfer\"\n\n[tasks]\ntarget = \"cora\"\n\
             sources = [\"citeseer\", \"pubmed\"]\nsource_samples = 30\n",
        );
    let (a, b) = (Sandbox::new(), Sandbox::new());
    let mut out = Vec::new();
    for sb in [&a, &b] {
        sb.write("exp.toml", &text);
        let o = sb.run(&["-v", "--quiet", "run", "exp.toml", "--out", "run"]);
        o.expect_code(0);
        out.push(o.stderr());
    }
    assert!(
        out[0].contains("rl-controller: pretrained on 60 source observations of 2 tasks: 3 epochs"),
        "{}",
        out[0]
    );
    let rows = read_trials(&a.path().join("run"));
    assert_eq!(rows.iter().filter(|r| r.role == "target").count(), 24);
    assert_eq!(rows.iter().filter(|r| r.role == "source").count(), 60);
    assert_eq!(rows, read_trials(&b.path().join("run")));
}
