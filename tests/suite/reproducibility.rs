//! Same seed, same search — whatever the number of workers.

use crate::nbg_experiment;
use xnas_tests::*;

fn run(workers: &str, seed: u64) -> Vec<Row> {
    let sb = Sandbox::new();
    let text = nbg_experiment(
        "rep",
        "evolution",
        96,
        "sources = [\"photo\"]\nsource_samples = 8\n",
    )
    .replace("seed = 11", &format!("seed = {seed}"))
    .replace(
        "plugin = \"evolution\"",
        "plugin = \"evolution\"\n[optimizer.params]\npopulation = 16\nsample_size = 4",
    );
    sb.write("exp.toml", &text);
    sb.run(&[
        "--quiet",
        "run",
        "exp.toml",
        "--out",
        "run",
        "--workers",
        workers,
    ])
    .expect_code(0);
    read_trials(&sb.path().join("run"))
}

#[test]
fn one_and_two_workers_give_the_same_trials() {
    nasbench_graph_data();
    let one = run("1", 4);
    let two = run("2", 4);
    assert_eq!(one.len(), 104);
    assert_eq!(one, two);
    let other_seed = run("2", 5);
    assert_ne!(one, other_seed, "a different seed gives a different search");
}
