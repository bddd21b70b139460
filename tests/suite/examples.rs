//! Every runnable example in `examples/` runs to its budget.

use std::path::Path;
use xnas_tests::*;

fn run_example(rel: &str, evaluations: u64) -> serde_json::Value {
    nasbench_graph_data();
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples")
        .join(rel);
    let sb = Sandbox::new();
    let out_dir = sb.path().join("run");
    let out = sb.run(&[
        "--quiet",
        "run",
        file.to_str().unwrap(),
        "--out",
        out_dir.to_str().unwrap(),
    ]);
    out.expect_code(0);
    assert!(out.stdout().contains("best "), "{}", out.stdout());
    let s = read_summary(&out_dir);
    assert_eq!(s["evaluations"], evaluations, "{s}");
    assert!(s["regret"].as_f64().is_some_and(|r| r >= 0.0), "{s}");
    s
}

#[test]
fn demo() {
    let s = run_example("demo.toml", 200);
    assert_eq!(s["source_evaluations"], 100);
}

#[test]
fn nasbench_graph_random() {
    run_example("nasbench-graph-random.toml", 100);
}

#[test]
fn nasbench_graph_evolution_on_proteins() {
    let s = run_example("nasbench-graph-evolution.toml", 100);
    assert_eq!(s["target"], "proteins");
}

#[test]
fn tabular_users_table() {
    let s = run_example("tabular/experiment.toml", 150);
    // The table's rows are real NAS-Bench-Graph values: the best found is one of them.
    let best = s["best"]["metric"].as_f64().unwrap();
    assert!((0.5..0.8).contains(&best), "{s}");
    assert!(
        s["best"]["arch"].as_str().unwrap().starts_with('l'),
        "labels in the text form: {s}"
    );
}

/// `xnas validate` on a file of the repository (relative to its root) succeeds and says `expect`.
fn validates(rel: &str, expect: &str) {
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join(rel);
    let out = Sandbox::new().run(&["validate", file.to_str().unwrap()]);
    out.expect_code(0);
    assert!(out.stdout().contains(expect), "{rel}: {}", out.stdout());
}

/// The 30-minute image example is too long for the suite: it is validated (its plugins, its
/// parameters and every task's data files are checked and loaded), and `nasnet.rs` runs the same
/// optimizers on the same space with smaller settings.
#[test]
fn nasnet_fashion_mnist_xfer_validates() {
    validates(
        "examples/nasnet-fashion-mnist-xfer.toml",
        "xfer(nao) with nasnet on fashion-mnist (2 source tasks)",
    );
}

/// Its plain baseline has the same space and optimizer and no sources.
#[test]
fn nasnet_fashion_mnist_nao_validates() {
    validates(
        "examples/nasnet-fashion-mnist-nao.toml",
        "nao with nasnet on fashion-mnist (0 source tasks)",
    );
}

/// The NAS-Bench-201 example (a couple of minutes) is validated here; `nb201.rs` runs the same
/// space and optimizer with smaller settings.
#[test]
fn nb201_fashion_mnist_random_validates() {
    validates(
        "examples/nb201-fashion-mnist-random.toml",
        "random with nb201 on fashion-mnist (0 source tasks)",
    );
}

/// The Task2Vec example names the four image tasks, each with a dataset, and a similarity plugin
/// that finds them (`similarity.rs` runs `xnas similarity` with smaller settings).
#[test]
fn similarity_images_validates() {
    validates(
        "examples/similarity-images.toml",
        "random with nasnet on fashion-mnist (3 source tasks)",
    );
}

/// The comparison and ablation files shipped in `examples/` and `bench/` validate as such (each
/// planned run, each ablation target), so a change of a plugin's parameters cannot leave one
/// behind.
#[test]
fn comparison_and_ablation_files_validate() {
    nasbench_graph_data();
    for (rel, expect) in [
        (
            "examples/compare.toml",
            "comparison of 4 variants on 3 targets × 6 seeds (72 runs)",
        ),
        (
            "bench/similarity_compare.toml",
            "comparison of 4 variants on 9 targets × 5 seeds (180 runs)",
        ),
        (
            "examples/ablation.toml",
            "ablation on citeseer (4 source × 6 target knowledge sizes, 10 splits)",
        ),
        (
            "bench/transfer.toml",
            "comparison of 6 variants on 1 target × 2 seeds (12 runs)",
        ),
        (
            "bench/ablation.toml",
            "ablation on citeseer (4 source × 6 target knowledge sizes, 3 splits)",
        ),
    ] {
        validates(rel, expect);
    }
}

/// The one-shot examples validate (their supernet is built once); the DARTS one (a minute)
/// also runs to its epoch budget, with its derived cell evaluated. `oneshot_run.rs` runs both
/// optimizers on smaller settings.
#[test]
fn one_shot_examples_validate_and_darts_runs() {
    validates(
        "examples/darts-fashion-mnist.toml",
        "one-shot search: a supernet of 28 edges over 8 candidate ops, 1 derived architecture",
    );
    validates(
        "examples/pdarts-fashion-mnist.toml",
        "pdarts with nasnet on fashion-mnist (0 source tasks)",
    );
    let file = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .join("examples/darts-fashion-mnist.toml");
    let sb = Sandbox::new();
    let out = sb.run(&["--quiet", "run", file.to_str().unwrap(), "--out", "run"]);
    out.expect_code(0);
    let s = read_summary(&sb.path().join("run"));
    assert_eq!(
        (s["evaluations"].as_u64(), s["failed"].as_u64()),
        (Some(1), Some(0)),
        "{s}"
    );
    assert_eq!(s["search"]["epochs"], 2, "{s}");
    assert!(sb.path().join("run/alpha.csv").is_file());
}

/// The Slurm example needs a cluster to run (tests/suite/slurm.rs runs the executor); it validates.
#[test]
fn nasbench_graph_slurm_validates() {
    validates(
        "examples/nasbench-graph-slurm.toml",
        "ok — evolution with nasbench-graph on proteins",
    );
}
