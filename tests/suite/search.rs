//! Full searches with each standard plugin, through the real binary.

use crate::nbg_experiment;
use xnas_tests::*;

fn run_in(sb: &Sandbox, text: &str, args: &[&str]) -> std::path::PathBuf {
    sb.write("exp.toml", text);
    let mut all = vec!["--quiet", "run", "exp.toml", "--out", "run"];
    all.extend_from_slice(args);
    sb.run(&all).expect_code(0);
    sb.path().join("run")
}

fn assert_png(path: &std::path::Path) {
    let bytes = std::fs::read(path).expect("plot written");
    assert!(
        bytes.len() > 5_000 && bytes.starts_with(b"\x89PNG"),
        "{} is not a real PNG",
        path.display()
    );
}

#[test]
fn random_search_on_nasbench_graph() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let run = run_in(&sb, &nbg_experiment("nbg-random", "random", 40, ""), &[]);
    let rows = read_trials(&run);
    assert_eq!(rows.len(), 40);
    assert!(rows
        .iter()
        .all(|r| r.role == "target" && r.task == "cora" && r.status == "ok"));
    assert!(rows
        .iter()
        .all(|r| r.metric.is_some_and(|m| (0.0..=1.0).contains(&m))));
    assert!(
        rows.iter().all(|r| r.test_metric.is_some()),
        "nasbench-graph records the test metric"
    );
    assert!(
        rows.iter().all(|r| r.arch.contains('|')),
        "canonical architecture text"
    );
    let ids: Vec<u64> = rows.iter().map(|r| r.trial_id).collect();
    assert_eq!(ids, (0..40).collect::<Vec<_>>());

    let s = read_summary(&run);
    let best = rows
        .iter()
        .filter_map(|r| r.metric)
        .fold(f64::MIN, f64::max);
    assert_eq!(s["best"]["metric"].as_f64().unwrap(), best);
    assert_eq!(s["evaluations"], 40);
    let possible = s["best_possible"].as_f64().unwrap();
    assert!(possible >= best && s["regret"].as_f64().unwrap() >= 0.0);
    assert!(s["wall_seconds"].as_f64().unwrap() > 0.0);
    assert_png(&run.join("best_so_far.png"));
}

#[test]
fn evolution_on_nasbench_graph_with_source_knowledge() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let extra = "sources = [\"citeseer\", \"pubmed\"]\nsource_samples = 12\n";
    let text = nbg_experiment("nbg-evo", "evolution", 120, extra).replace(
        "plugin = \"evolution\"",
        "plugin = \"evolution\"\n[optimizer.params]\npopulation = 20\nsample_size = 5",
    );
    let run = run_in(&sb, &text, &["--workers", "2"]);
    let rows = read_trials(&run);
    let sources: Vec<&Row> = rows.iter().filter(|r| r.role == "source").collect();
    assert_eq!(sources.len(), 24);
    assert_eq!(sources.iter().filter(|r| r.task == "citeseer").count(), 12);
    assert_eq!(sources.iter().filter(|r| r.task == "pubmed").count(), 12);
    let target: Vec<&Row> = rows.iter().filter(|r| r.role == "target").collect();
    assert_eq!(target.len(), 120);
    assert!(target.iter().all(|r| r.task == "cora"));
    // After the random initial population, evolution's children must beat its initial samples.
    let initial = target[..20]
        .iter()
        .filter_map(|r| r.metric)
        .fold(f64::MIN, f64::max);
    let later = target[20..]
        .iter()
        .filter_map(|r| r.metric)
        .fold(f64::MIN, f64::max);
    assert!(
        later >= initial,
        "evolution never improved on its initial population ({later} < {initial})"
    );
    assert_eq!(read_summary(&run)["source_evaluations"], 24);
}

/// A benchmark the test writes: 3 positions × 3 choices, metric known for every genome.
fn write_table(sb: &Sandbox) -> f64 {
    let mut csv = String::from("task,genome,metric,test_metric,cost\n");
    let mut best = f64::MIN;
    for a in 0..3 {
        for b in 0..3 {
            for c in 0..3 {
                let m = (a * 9 + b * 3 + c) as f64 / 26.0;
                best = best.max(m);
                csv.push_str(&format!("target,{a}-{b}-{c},{m},{},{}\n", m / 2.0, 10 + a));
                csv.push_str(&format!("source,{a}-{b}-{c},{},,\n", 1.0 - m));
            }
        }
    }
    sb.write("table.csv", &csv);
    best
}

fn tabular_experiment(optimizer: &str, params: &str, evaluations: u64) -> String {
    format!(
        r#"[experiment]
name = "tab"
seed = 3
budget = {{ evaluations = {evaluations} }}
batch_size = 4
[search_space]
plugin = "tabular"
[search_space.params]
choices = [3, 3, 3]
table = "table.csv"
[optimizer]
plugin = "{optimizer}"
[optimizer.params]
{params}
[tasks]
target = "target"
sources = ["source"]
"#
    )
}

#[test]
fn random_search_on_a_users_table_finds_its_optimum() {
    let sb = Sandbox::new();
    let best = write_table(&sb);
    // 27 unique draws cover the whole table: the best found must be the table's best, exactly.
    let run = run_in(&sb, &tabular_experiment("random", "unique = true", 27), &[]);
    let rows = read_trials(&run);
    assert_eq!(rows.len(), 27);
    let archs: std::collections::HashSet<&str> = rows.iter().map(|r| r.arch.as_str()).collect();
    assert_eq!(archs.len(), 27, "unique draws");
    let s = read_summary(&run);
    assert_eq!(s["best"]["metric"].as_f64().unwrap(), best);
    assert_eq!(s["best"]["arch"], "2-2-2");
    assert_eq!(s["regret"].as_f64().unwrap(), 0.0);
    let row = rows.iter().find(|r| r.arch == "2-2-2").unwrap();
    assert_eq!(
        row.test_metric,
        Some(best / 2.0),
        "test metric read from the table"
    );
}

#[test]
fn evolution_on_a_users_table() {
    let sb = Sandbox::new();
    write_table(&sb);
    let run = run_in(
        &sb,
        &tabular_experiment("evolution", "population = 6\nsample_size = 3", 40),
        &[],
    );
    let rows = read_trials(&run);
    assert_eq!(rows.len(), 40);
    assert!(rows.iter().all(|r| r.status == "ok"));
}
