//! BASE's few-shot mode through `xnas run` and `xnas resume` (the real binary, `base` and
//! `nasnet` libraries, real Fashion-MNIST images) at a tiny scale: meta-training over 3-way
//! 5-shot episodes of classes 0-6, the meta-test on episodes of the held-out classes 7-9;
//! the same seed gives the same episodes and figures, kill -9 then resume equals an
//! uninterrupted run, and bad episode settings are refused before a run directory.

use super::oneshot_run::{recorded_epochs, NASNET};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use xnas_tests::*;

/// Classes 0-6 of Fashion-MNIST for meta-training, 7-9 (sneaker, bag, ankle boot) held out.
fn space() -> String {
    let subset = |name: &str, classes: &str, n: u32| {
        format!(
            "[search_space.params.tasks.{name}]\npreset = \"fashion-mnist\"\nclasses = \
             {classes}\nlimit_train = {n}\n"
        )
    };
    [
        NASNET.to_string(),
        subset("fmnist-06", "[0, 1, 2, 3, 4, 5, 6]", 280),
        subset("fmnist-79", "[7, 8, 9]", 120),
    ]
    .concat()
}

const TASKS: &str = "target = \"fmnist-79\"\nsources = [\"fmnist-06\"]\n";

/// `base` in few-shot mode: `epochs` epochs of `per` meta-steps of 2 episodes × 3 inner steps,
/// then 3 meta-test episodes of K′ = 40 steps (the weights at a learning rate of 0.1:
/// at 5 steps this tiny network is still at chance on the held-out classes).
fn fewshot(epochs: u32, per: u32, episodes: &str) -> String {
    format!(
        "[optimizer]\nplugin = \"base\"\n[optimizer.params]\ncells = 2\nchannels = 4\n\
         epochs = {epochs}\nsteps_per_epoch = {per}\ninner_steps = 3\ntasks_per_step = 2\n\
         adapt_steps = 40\nlearning_rate = 0.1\narch_learning_rate = 0.05\nepisodes = {episodes}\n"
    )
}

const EPISODES: &str = "{ way = 3, shot = 5, query = 5, test_episodes = 3 }";

fn experiment(optimizer: &str, tasks: &str) -> String {
    format!(
        "[experiment]\nname = \"fewshot\"\nseed = 4\nbudget = {{ epochs = 20 }}\n{}\
         {optimizer}\n[tasks]\n{tasks}",
        space()
    )
}

/// One few-shot run for every test.
fn fewshot_run() -> PathBuf {
    static RUN: OnceLock<(Sandbox, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let sb = Sandbox::new();
        let run = sb.run_experiment(&experiment(&fewshot(3, 1, EPISODES), TASKS), 1);
        (sb, run)
    })
    .1
    .clone()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn f(v: &serde_json::Value) -> f64 {
    v.as_f64().unwrap_or_else(|| panic!("not a number: {v}"))
}

#[test]
fn fewshot_meta_trains_on_episodes_and_meta_tests_on_held_out_classes() {
    let run = fewshot_run();
    let s = read_summary(&run);
    // 3 meta-training epochs of one meta-step, then 3 meta-test episodes in epochs of one.
    assert_eq!(
        (s["search"]["epochs"].clone(), s["search"]["ended"].clone()),
        (6.into(), "finished".into())
    );
    let r = read_json(&run.join("artifacts/fewshot.json"));
    assert_eq!(r["task"], "fmnist-79");
    assert_eq!(r["meta_tasks"], serde_json::json!(["fmnist-06"]));
    assert_eq!(
        (r["way"].clone(), r["shot"].clone(), r["query"].clone()),
        (3.into(), 5.into(), 5.into())
    );
    assert_eq!(
        (r["adapt_steps"].clone(), r["test_episodes"].clone()),
        (40.into(), 3.into())
    );
    let episodes = r["episodes"].as_array().unwrap();
    assert_eq!(episodes.len(), 3);
    let mut orders = std::collections::BTreeSet::new();
    let mut accs = Vec::new();
    for e in episodes {
        // The held-out task's 3 classes (labels 0..3 of classes 7-9), each once.
        let mut c: Vec<u64> = e["classes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|c| c.as_u64().unwrap())
            .collect();
        orders.insert(c.clone());
        c.sort();
        assert_eq!(c, [0, 1, 2], "{e}");
        // 15 query images: accuracy in fifteenths.
        let a = f(&e["accuracy"]);
        assert!((a * 15.0 - (a * 15.0).round()).abs() < 1e-9, "{a}");
        accs.push(a);
        // K′ = 40 Adam steps of 0.05 moved Θ from the meta-network's.
        let shift = f(&e["theta_shift"]);
        assert!(shift > 0.01 && shift < 40.0 * 0.05 + 1e-9, "{shift}");
    }
    assert!(
        orders.len() > 1,
        "every episode relabelled the classes alike: {orders:?}"
    );
    let mean = accs.iter().sum::<f64>() / 3.0;
    assert!((f(&r["mean_accuracy"]) - mean).abs() < 1e-12);
    let [lo, hi] = [f(&r["interval95"][0]), f(&r["interval95"][1])];
    assert!(
        lo <= mean && mean <= hi && hi - lo > 0.0,
        "{lo} {mean} {hi}"
    );
    assert!((f(&r["chance"]) - 1.0 / 3.0).abs() < 1e-12);
    // summary.json carries the meta-test's headline.
    let m = &s["search"]["meta_test"];
    assert_eq!(
        (
            m["way"].clone(),
            m["shot"].clone(),
            m["test_episodes"].clone()
        ),
        (3.into(), 5.into(), 3.into())
    );
    assert_eq!(f(&m["mean_accuracy"]), f(&r["mean_accuracy"]));
    assert_eq!(m["interval95"], r["interval95"]);
    // After meta-training, 5 shots of each held-out class tell them apart better than chance.
    assert!(mean > 0.5, "meta-test accuracy {mean} (chance 1/3)");
    // Each meta-test epoch's valid figures are its episodes' query figures: here the last 3
    // epochs, one episode each, in order.
    let epochs = read(&run.join("epochs.csv"));
    let header: Vec<&str> = epochs.lines().next().unwrap().split(',').collect();
    let col = header.iter().position(|h| *h == "valid_accuracy").unwrap();
    let valid: Vec<f64> = epochs
        .lines()
        .skip(1 + 3)
        .map(|l| l.split(',').nth(col).unwrap().parse().unwrap())
        .collect();
    assert_eq!(valid.len(), 3, "{epochs}");
    for (v, a) in valid.iter().zip(&accs) {
        assert!((v - a).abs() < 1e-6, "{epochs}");
    }
    // The meta-network is kept, and its cell is trained from scratch on the held-out task.
    let net = read_json(&run.join("artifacts/meta_network.json"));
    assert_eq!(net["task"], "fmnist-06");
    let trials = read_trials(&run);
    assert_eq!(trials.len(), 1);
    assert_eq!(
        (trials[0].task.as_str(), trials[0].status.as_str()),
        ("fmnist-79", "ok")
    );
}

#[test]
fn fewshot_killed_mid_meta_training_resumes_to_the_same_figures() {
    // One meta-step per epoch: every meta-step is a checkpoint.
    let text = experiment(&fewshot(3, 1, EPISODES), TASKS);
    let sb = Sandbox::new();
    sb.write("exp.toml", &text);
    let at_kill = run_and_kill(&sb, 1, recorded_epochs, Duration::from_secs(600));
    assert!(at_kill < 3, "killed too late to test anything");
    let run = sb.path().join("run");
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    // The shared run has the same settings and seed: the same episodes and figures.
    let whole = fewshot_run();
    for file in [
        "alpha.csv",
        "artifacts/meta_network.json",
        "artifacts/fewshot.json",
    ] {
        assert_eq!(read(&run.join(file)), read(&whole.join(file)), "{file}");
    }
    let weights = |r: &Path| std::fs::read(r.join("artifacts/supernet.weights")).unwrap();
    assert!(
        weights(&run) == weights(&whole),
        "the same meta-network weights"
    );
    assert_eq!(read_trials(&run)[0].arch, read_trials(&whole)[0].arch);
}

#[test]
fn bad_episode_settings_are_refused_before_a_run_directory() {
    let sb = Sandbox::new();
    let cases = [
        (
            experiment(&fewshot(1, 1, "{ way = 4, shot = 1, query = 1 }"), TASKS),
            "optimizer `base`: task `fmnist-79` has 3 classes, and an episode draws `way = 4` \
             of them: lower `way` to at most 3",
        ),
        (
            experiment(&fewshot(1, 1, "{ way = 3, shot = 30, query = 15 }"), TASKS),
            "and an episode draws `shot + query = 45` of each class: lower `shot` or `query`, \
             or give the task more images (`limit_train`)",
        ),
        (
            experiment(&fewshot(1, 1, EPISODES), TASKS)
                .replace("classes = [7, 8, 9]", "classes = [7, 8, 10]"),
            "`classes` lists class 10, but the dataset has 10 classes (0 to 9)",
        ),
        (
            experiment(
                &format!("{}meta_tasks = [\"fmnist-79\"]\n", fewshot(1, 1, EPISODES)),
                TASKS,
            ),
            "meta-tests on the target `fmnist-79`, and it is among meta-training's tasks",
        ),
        (
            experiment(&fewshot(1, 1, EPISODES), "target = \"fmnist-79\"\n"),
            "name at least one source task",
        ),
        (
            experiment(&fewshot(1, 1, "{ way = 1, shot = 1 }"), TASKS),
            "`episodes.way` is 1: an episode tells at least 2 classes apart",
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        sb.expect_refused(&i.to_string(), text, want);
    }
}

#[test]
fn the_fewshot_example_validates() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sb = Sandbox::new();
    let path = root.join("examples/base-fewshot.toml");
    let out = sb.run(&["validate", path.to_str().unwrap()]);
    out.expect_code(0);
    assert!(
        out.stdout()
            .contains("base with nasnet on fmnist-79 (1 source task)"),
        "{}",
        out.stdout()
    );
}
