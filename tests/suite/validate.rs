//! `xnas validate`: every mistake is reported once, with its position, before anything runs.

use crate::nbg_experiment;
use xnas_tests::*;

/// Validates `text` and returns (exit code, stderr).
fn validate(text: &str) -> (i32, String) {
    nasbench_graph_data();
    let sb = Sandbox::new();
    sb.write("exp.toml", text);
    let out = sb.run(&["validate", "exp.toml"]);
    (out.code(), out.stderr())
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .expect("needle in text")
        + 1
}

#[test]
fn a_good_file_validates() {
    let sb = Sandbox::new();
    nasbench_graph_data();
    sb.write(
        "exp.toml",
        &nbg_experiment("ok", "evolution", 10, "sources = [\"citeseer\"]\n"),
    );
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(0);
    assert_eq!(
        out.stdout().trim(),
        "exp.toml: ok — evolution with nasbench-graph on cora (1 source task)"
    );
    assert!(
        !sb.path().join("runs").exists(),
        "validate must not run anything"
    );
}

#[test]
fn unknown_key_names_key_and_position() {
    let text = nbg_experiment("t", "random", 10, "").replace("seed = 11", "seed = 11\nbugdet = 5");
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    let line = line_of(&text, "bugdet");
    assert!(
        err.contains(&format!("exp.toml:{line}:1: unknown field `bugdet`")),
        "{err}"
    );
    assert_eq!(err.lines().count(), 1, "one message: {err}");
}

#[test]
fn wrong_type_is_reported_with_position() {
    let text = nbg_experiment("t", "random", 10, "").replace("seed = 11", "seed = \"eleven\"");
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("exp.toml:{}:", line_of(&text, "eleven"))),
        "{err}"
    );
    assert!(
        err.contains("invalid type: string \"eleven\", expected u64"),
        "{err}"
    );
}

#[test]
fn unknown_plugin_lists_the_available_ones() {
    let text = nbg_experiment("t", "evolutoin", 10, "");
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("exp.toml:{}:10:", line_of(&text, "evolutoin"))),
        "{err}"
    );
    assert!(
        err.contains("no optimizer plugin named `evolutoin`; available:"),
        "{err}"
    );
    assert!(err.contains("evolution") && err.contains("random"), "{err}");
}

#[test]
fn plugin_of_the_wrong_kind_is_named() {
    let (code, err) = validate(&nbg_experiment("t", "tabular", 10, ""));
    assert_eq!(code, 2);
    assert!(
        err.contains("no optimizer plugin named `tabular` (`tabular` is a search-space plugin)"),
        "{err}"
    );
}

#[test]
fn plugin_parameters_are_checked_by_the_plugin_and_name_the_key() {
    let text = nbg_experiment("t", "evolution", 10, "").replace(
        "plugin = \"evolution\"",
        "plugin = \"evolution\"\n[optimizer.params]\npopsize = 20",
    );
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    assert!(
        err.contains("optimizer `evolution` parameters: unknown field `popsize`"),
        "{err}"
    );
    assert!(
        err.contains(&format!("exp.toml:{}:", line_of(&text, "popsize"))),
        "{err}"
    );

    let text = nbg_experiment("t", "evolution", 10, "").replace(
        "plugin = \"evolution\"",
        "plugin = \"evolution\"\n[optimizer.params]\npopulation = \"big\"",
    );
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    assert!(
        err.contains(
            "optimizer `evolution` parameters: `population`: invalid type: string \"big\""
        ),
        "{err}"
    );
    assert!(
        err.contains(&format!("exp.toml:{}:1:", line_of(&text, "population = "))),
        "{err}"
    );
}

#[test]
fn unknown_task_is_reported_at_the_target() {
    let text =
        nbg_experiment("t", "random", 10, "").replace("target = \"cora\"", "target = \"coraa\"");
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    assert!(
        err.contains(&format!("exp.toml:{}:", line_of(&text, "coraa"))),
        "{err}"
    );
    assert!(
        err.contains("coraa") && err.contains("citeseer"),
        "names the task and the valid ones: {err}"
    );
}

#[test]
fn target_may_not_be_a_source() {
    let text = nbg_experiment("t", "random", 10, "sources = [\"pubmed\", \"cora\"]\n");
    let (code, err) = validate(&text);
    assert_eq!(code, 2);
    assert!(
        err.contains("source task `cora` is the target task"),
        "{err}"
    );
}

#[test]
fn missing_budget_and_bad_workers_are_refused() {
    let (code, err) = validate(
        &nbg_experiment("t", "random", 10, "")
            .replace("budget = { evaluations = 10 }", "budget = {}"),
    );
    assert_eq!(code, 2);
    assert!(
        err.contains("budget needs `evaluations`, `seconds` or both"),
        "{err}"
    );
    let (code, err) = validate(&nbg_experiment(
        "t",
        "random",
        10,
        "[executor]\nworkers = 0\n",
    ));
    assert_eq!(code, 2);
    assert!(err.contains("workers must be at least 1"), "{err}");
}

#[test]
fn transfer_plugin_that_is_not_installed_is_reported() {
    let (code, err) = validate(&nbg_experiment(
        "t",
        "evolution",
        10,
        "[transfer]\nplugin = \"xfer-typo\"\n",
    ));
    assert_eq!(code, 2);
    assert!(
        err.contains("no transfer plugin named `xfer-typo`"),
        "{err}"
    );
}

#[test]
fn missing_benchmark_data_says_how_to_get_it() {
    let sb = Sandbox::new();
    sb.write("exp.toml", &nbg_experiment("t", "random", 10, ""));
    let out = Out(sb
        .xnas()
        .env("XNAS_DATA_DIR", sb.path().join("nowhere"))
        .args(["validate", "exp.toml"])
        .output()
        .unwrap());
    assert_ne!(out.code(), 0);
    let err = out.stderr();
    assert!(
        err.contains("nowhere") && err.contains("make data"),
        "{err}"
    );
}

#[test]
fn tabular_table_errors_name_file_and_line() {
    let sb = Sandbox::new();
    sb.write("table.csv", "task,genome,metric\na,0-0,0.5\na,0-9,0.7\n");
    sb.write(
        "exp.toml",
        r#"[experiment]
name = "t"
budget = { evaluations = 3 }
[search_space]
plugin = "tabular"
[search_space.params]
choices = [2, 2]
table = "table.csv"
[optimizer]
plugin = "random"
[tasks]
target = "a"
"#,
    );
    let out = sb.run(&["validate", "exp.toml"]);
    assert_eq!(out.code(), 2, "{}", out.stderr());
    assert!(
        out.stderr().contains("table.csv") && out.stderr().contains("line 3"),
        "{}",
        out.stderr()
    );
}
