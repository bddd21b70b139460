//! Workspace tests: each drives the real `xnas` binary with real plugin libraries.

mod ablation;
mod base;
mod base_fewshot;
mod compare;
mod decorators;
mod examples;
mod faults;
mod faults_run;
mod faults_start;
mod faults_store;
mod inputs;
mod nao;
mod nasnet;
mod nb201;
mod oneshot;
mod oneshot_run;
mod out_of_tree;
mod plugins;
mod reproducibility;
mod resume;
mod rl_controller;
mod search;
mod similarity;
mod slurm;
mod source_knowledge;
mod validate;
mod ws_darts;
mod ws_darts_meta;
mod xfer;
mod xfer_cost;

/// An experiment on NAS-Bench-Graph; `extra` is appended verbatim (more sections or keys).
pub fn nbg_experiment(name: &str, optimizer: &str, evaluations: u64, extra: &str) -> String {
    format!(
        r#"[experiment]
name = "{name}"
seed = 11
budget = {{ evaluations = {evaluations} }}
batch_size = 8

[search_space]
plugin = "nasbench-graph"

[optimizer]
plugin = "{optimizer}"

[tasks]
target = "cora"
{extra}"#
    )
}
