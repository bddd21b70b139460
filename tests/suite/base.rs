//! BASE through `xnas run`, `xnas resume` and `xnas compare` (the real binary, the real `base`,
//! `darts` and `nasnet` libraries) on real image data at a tiny scale: meta-training over
//! 5-class subsets of MNIST, Fashion-MNIST (28×28) and digits (8×8), 200 training images each, a
//! search network of C = 4 and 2 cells; kill -9 mid meta-training then resume equal to an
//! uninterrupted run; adaptation on MNIST's held-out classes from the meta-network; BASE beside
//! DARTS in a comparison by search seconds; and the bad input refused before a run directory.

use super::oneshot_run::{recorded_epochs, NASNET};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use xnas_tests::*;

/// The DARTS cell (on digits) with class-subset tasks of three datasets, and MNIST's other
/// five classes.
fn space() -> String {
    let subset = |name: &str, preset: &str, classes: &str| {
        format!(
            "[search_space.params.tasks.{name}]\npreset = \"{preset}\"\nclasses = {classes}\n\
             limit_train = 200\n"
        )
    };
    [
        NASNET.to_string(),
        subset("mnist-04", "mnist", "[0, 1, 2, 3, 4]"),
        subset("fmnist-04", "fashion-mnist", "[0, 1, 2, 3, 4]"),
        subset("digits-04", "digits", "[0, 1, 2, 3, 4]"),
        subset("mnist-59", "mnist", "[9, 8, 7, 6, 5]"),
    ]
    .concat()
}

/// Θ's learning rate of every run here: large enough for Θ to move in a few steps.
const ARCH_LR: f64 = 0.05;

/// `base` meta-training: `epochs` epochs of `per` meta-steps, 2 tasks × 2 inner steps each.
fn meta(epochs: u32, per: u32) -> String {
    format!(
        "[optimizer]\nplugin = \"base\"\n[optimizer.params]\ncells = 2\nchannels = 4\n\
         epochs = {epochs}\nsteps_per_epoch = {per}\ninner_steps = 2\ntasks_per_step = 2\n\
         batch_size = 32\narch_learning_rate = {ARCH_LR}\n"
    )
}

/// `base` adaptation: K′ = 3 steps in epochs of 2.
const ADAPT: &str = "[optimizer]\nplugin = \"base\"\n[optimizer.params]\nadapt_steps = 3\n\
                     steps_per_epoch = 2\nbatch_size = 32\narch_learning_rate = 0.05\n";

const META_TASKS: &str = "target = \"mnist-04\"\nsources = [\"fmnist-04\", \"digits-04\"]\n";

fn experiment(optimizer: &str, tasks: &str) -> String {
    format!(
        "[experiment]\nname = \"base\"\nseed = 2\nbudget = {{ epochs = 10 }}\n{}\
         {optimizer}\n[tasks]\n{tasks}",
        space()
    )
}

/// `[tasks]` of an adaptation to MNIST's classes 5-9 from the run `meta`.
fn adapt_tasks(meta: &Path) -> String {
    format!(
        "target = \"mnist-59\"\nsources = [\"mnist-04\"]\nsource_runs = [\"{}\"]\n",
        meta.display()
    )
}

/// One meta-training run for every test.
fn meta_run() -> PathBuf {
    static RUN: OnceLock<(Sandbox, PathBuf)> = OnceLock::new();
    RUN.get_or_init(|| {
        let sb = Sandbox::new();
        let run = sb.run_experiment(&experiment(&meta(2, 2), META_TASKS), 1);
        (sb, run)
    })
    .1
    .clone()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Θ of a network description (`meta_network.json`, `adapted_network.json`), flat.
fn theta(network: &serde_json::Value) -> Vec<f64> {
    network["alpha"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|row| row.as_array().unwrap().iter().map(|a| a.as_f64().unwrap()))
        .collect()
}

#[test]
fn meta_training_on_class_subsets_keeps_the_meta_network_and_evaluates_its_cell() {
    let run = meta_run();
    let s = read_summary(&run);
    assert_eq!(s["optimizer"], "base");
    assert_eq!(
        (s["search"]["epochs"].clone(), s["search"]["ended"].clone()),
        (2.into(), "finished".into())
    );
    let net = read_json(&run.join("artifacts/meta_network.json"));
    assert_eq!(net["task"], "mnist-04,fmnist-04,digits-04");
    assert_eq!(
        (net["cells"].clone(), net["channels"].clone()),
        (2.into(), 4.into())
    );
    assert_eq!(net["weights"], "supernet.weights");
    assert!(run.join("artifacts/supernet.weights").is_file());
    let th = theta(&net);
    assert_eq!(th.len(), 28 * 8);
    // Θ starts at 1e-3·N(0, 1); 4 meta-steps × 2 tasks × 2 steps of Adam at 0.05 move it.
    let moved = th.iter().fold(0.0f64, |m, a| m.max(a.abs()));
    assert!(moved > 0.02, "Θ barely moved: {moved}");
    // One alpha.csv row per (epoch, edge); the cell derived from Θ trained on the target.
    assert_eq!(read(&run.join("alpha.csv")).lines().count(), 1 + 2 * 28);
    let trials = read_trials(&run);
    assert_eq!(trials.len(), 1);
    assert_eq!(
        (trials[0].task.as_str(), trials[0].status.as_str()),
        ("mnist-04", "ok")
    );
}

#[test]
fn meta_training_killed_mid_run_resumes_to_the_same_meta_network() {
    // One meta-step per epoch: every meta-step is a checkpoint.
    let text = experiment(&meta(3, 1), META_TASKS);
    let reference = Sandbox::new();
    let whole = reference.run_experiment(&text, 1);

    let sb = Sandbox::new();
    sb.write("exp.toml", &text);
    let at_kill = run_and_kill(&sb, 1, recorded_epochs, Duration::from_secs(600));
    assert!(at_kill < 3, "killed too late to test anything");
    let run = sb.path().join("run");
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);

    for file in ["alpha.csv", "artifacts/meta_network.json"] {
        assert_eq!(read(&run.join(file)), read(&whole.join(file)), "{file}");
    }
    let weights = |r: &Path| std::fs::read(r.join("artifacts/supernet.weights")).unwrap();
    assert!(
        weights(&run) == weights(&whole),
        "the same meta-network weights"
    );
    assert_eq!(read_trials(&run)[0].arch, read_trials(&whole)[0].arch);
    assert_eq!(read_summary(&run)["search"]["epochs"], 3);
}

#[test]
fn adaptation_to_held_out_classes_starts_from_the_meta_network() {
    let meta = meta_run();
    let sb = Sandbox::new();
    let slow = ADAPT.replace("arch_learning_rate = 0.05", "arch_learning_rate = 1e-6");
    let run = sb.run_experiment(&experiment(&slow, &adapt_tasks(&meta)), 1);
    let s = read_summary(&run);
    // K′ = 3 steps in epochs of 2: two epochs, then the derived cell trained from scratch.
    assert_eq!(s["search"]["epochs"], 2);
    assert!(s["search"]["seconds"].as_f64().unwrap() > 0.0);
    let trials = read_trials(&run);
    assert_eq!(trials.len(), 1);
    assert_eq!(
        (trials[0].task.as_str(), trials[0].status.as_str()),
        ("mnist-59", "ok")
    );
    let adapted = read_json(&run.join("artifacts/adapted_network.json"));
    assert_eq!(adapted["task"], "mnist-59");
    assert!(!run.join("artifacts/meta_network.json").exists());
    let (a, m) = (
        theta(&adapted),
        theta(&read_json(&meta.join("artifacts/meta_network.json"))),
    );
    // Three Adam steps of 1e-6 from the meta-network's Θ, which meta-training moved by more
    // than 0.02 from a fresh Θ (1e-3·N(0, 1)).
    let dist = a
        .iter()
        .zip(&m)
        .fold(0.0f64, |d, (a, m)| d.max((a - m).abs()));
    assert!(dist > 0.0 && dist <= 2.0 * 3.0 * 1e-6, "{dist}");
    assert!(m.iter().any(|m| m.abs() > 0.02));
    // The last epoch evaluates the adapted network on the target's α split.
    let epochs = read(&run.join("epochs.csv"));
    let last = epochs.lines().last().unwrap();
    assert!(!last.contains(",,"), "{epochs}");
}

#[test]
fn compare_reports_base_adaptation_beside_darts_by_search_seconds() {
    let meta = meta_run();
    let sb = Sandbox::new();
    let text = format!(
        "[experiment]\nname = \"cmp\"\nseed = 2\nbudget = {{ evaluations = 1, seconds = 120 }}\n\
         {}[tasks]\nsources = [\"mnist-04\"]\nsource_runs = [\"{}\"]\n\n[compare]\n\
         targets = [\"mnist-59\"]\nseeds = 1\njobs = 1\n\n[[compare.variant]]\nname = \"base\"\n\
         optimizer = {{ plugin = \"base\", params = {{ adapt_steps = 2, steps_per_epoch = 2, \
         batch_size = 32 }} }}\n\n[[compare.variant]]\nname = \"darts\"\noptimizer = {{ plugin = \
         \"darts\", params = {{ epochs = 1, batch_size = 32, channels = 4, cells = 2 }} }}\n",
        space(),
        meta.display()
    );
    sb.write("cmp.toml", &text);
    sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"])
        .expect_code(0);
    let s = read_json(&sb.path().join("cmp/summary.json"));
    let variants = s["by_seconds"]["per_target"][0]["variants"]
        .as_array()
        .unwrap();
    let kinds: Vec<(&str, &str)> = variants
        .iter()
        .map(|v| (v["variant"].as_str().unwrap(), v["kind"].as_str().unwrap()))
        .collect();
    assert_eq!(kinds, [("base", "one-shot"), ("darts", "one-shot")]);
    for v in variants {
        assert!(v["mean_seconds"].as_f64().unwrap() > 0.0, "{v}");
        assert_eq!(v["final_best"]["n"], 1, "{v}");
    }
    let base_run = sb.path().join("cmp/runs/mnist-59/base/seed-2");
    assert!(base_run.join("artifacts/adapted_network.json").is_file());
}

#[test]
fn bad_input_is_refused_before_a_run_directory() {
    let meta_dir = meta_run();
    let sb = Sandbox::new();
    // A darts run keeps no meta-network.
    let darts = "[optimizer]\nplugin = \"darts\"\n[optimizer.params]\nepochs = 1\n\
                 batch_size = 32\nchannels = 4\ncells = 2\n";
    let src = sb.run_experiment(&experiment(darts, "target = \"digits-04\"\n"), 1);
    let cases = [
        (
            experiment(ADAPT, &adapt_tasks(&src)),
            format!(
                "optimizer `base`: tasks.source_runs names {} without a meta-network \
                 (artifacts/meta_network.json)",
                src.display()
            ),
        ),
        (
            experiment(&format!("{ADAPT}cells = 3\n"), &adapt_tasks(&meta_dir)),
            "`cells` is 3, and the meta-network of source run".to_string(),
        ),
        (
            experiment(
                &meta(1, 1).replace("tasks_per_step = 2", "tasks_per_step = 4"),
                META_TASKS,
            ),
            "`tasks_per_step` is 4, and meta-training has 3 tasks (mnist-04, fmnist-04, \
             digits-04)"
                .to_string(),
        ),
        (
            experiment(&meta(1, 1), META_TASKS).replace(
                "[0, 1, 2, 3, 4]\nlimit_train = 200\n[search_space.params.tasks.fmnist",
                "[0, 1, 12]\nlimit_train = 200\n[search_space.params.tasks.fmnist",
            ),
            "`classes` lists class 12, but the dataset has 10 classes (0 to 9)".to_string(),
        ),
    ];
    for (i, (text, want)) in cases.iter().enumerate() {
        sb.expect_refused(&i.to_string(), text, want);
    }
}

#[test]
fn the_examples_validate() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    let sb = Sandbox::new();
    let meta = root.join("examples/base-meta.toml");
    let out = sb.run(&["validate", meta.to_str().unwrap()]);
    out.expect_code(0);
    assert!(
        out.stdout()
            .contains("base with nasnet on mnist-04 (2 source tasks)"),
        "{}",
        out.stdout()
    );
    // The adaptation example, with its source run pointed at this suite's meta-training run.
    let text = read(&root.join("examples/base-adapt.toml")).replace(
        "source_runs = [\"../runs/base-meta\"]",
        &format!("source_runs = [\"{}\"]", meta_run().display()),
    );
    sb.write("adapt.toml", &text);
    let out = sb.run(&["validate", "adapt.toml"]);
    out.expect_code(0);
    assert!(
        out.stdout()
            .contains("base with nasnet on mnist-59 (1 source task)"),
        "{}",
        out.stdout()
    );
}
