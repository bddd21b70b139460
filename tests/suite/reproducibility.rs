//! Same seed, same search — whatever the number of workers.

use crate::nbg_experiment;
use xnas_tests::*;

fn run(workers: usize, seed: u64) -> Vec<Row> {
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
    read_trials(&sb.run_experiment(&text, workers))
}

#[test]
fn one_and_two_workers_give_the_same_trials() {
    nasbench_graph_data();
    let one = run(1, 4);
    let two = run(2, 4);
    assert_eq!(one.len(), 104);
    assert_eq!(one, two);
    let other_seed = run(2, 5);
    assert_ne!(one, other_seed, "a different seed gives a different search");
}
