//! Source knowledge beyond the host's sampling: earlier run directories (`tasks.source_runs`) and
//! a meta-dataset file (`tasks.source_file`), combined with sampled knowledge; the target task's
//! data is refused wherever it appears; bad rows, foreign spaces and changed origins are clear
//! errors. The `heady-random` fixture logs the history it was given, so the tests see exactly what
//! reached the optimizer.

use std::path::Path;
use xnas_tests::*;

/// Trial ids of imported observations start here (documented in the user guide).
const IMPORTED_BASE: u64 = 1 << 62;

fn sandbox() -> Sandbox {
    nasbench_graph_data();
    let sb = Sandbox::new();
    sb.add_plugin("fixture_decorators", "libdeco.so");
    sb
}

/// A NAS-Bench-Graph experiment with the fixture library; `tasks` is the body of `[tasks]`.
fn experiment(name: &str, optimizer: &str, evaluations: u64, tasks: &str) -> String {
    format!(
        r#"[experiment]
name = "{name}"
seed = 5
budget = {{ evaluations = {evaluations} }}
batch_size = 4
[plugins]
files = ["plugins/libdeco.so"]
[search_space]
plugin = "nasbench-graph"
[optimizer]
plugin = "{optimizer}"
[tasks]
{tasks}
"#
    )
}

/// An earlier run: 8 evaluations on `target` after 3 sampled architectures per source (if any).
fn earlier_run(sb: &Sandbox, dir: &str, target: &str, sources: &[&str]) -> Vec<Row> {
    let sources = sources
        .iter()
        .map(|s| format!("\"{s}\""))
        .collect::<Vec<_>>()
        .join(", ");
    let mut tasks = format!("target = \"{target}\"");
    if !sources.is_empty() {
        tasks.push_str(&format!("\nsources = [{sources}]\nsource_samples = 3"));
    }
    let file = format!("{dir}.toml");
    sb.write(&file, &experiment(dir, "random", 8, &tasks));
    sb.run(&["--quiet", "run", &file, "--out", dir])
        .expect_code(0);
    read_trials(&sb.path().join(dir))
}

/// The line `heady-random` logs about its history: (size per task, metric sum, distinct ids,
/// ids from 2^62).
fn history_line(stderr: &str) -> String {
    stderr
        .lines()
        .find_map(|l| l.split_once("heady-random: history ").map(|(_, r)| r))
        // The host's subscriber appends the plugin's name as a field.
        .map(|r| r.split(" plugin=").next().unwrap_or(r).to_string())
        .unwrap_or_else(|| panic!("no history line in\n{stderr}"))
}

fn sources_json(run: &Path) -> serde_json::Value {
    read_json(&run.join("sources.json"))
}

#[test]
fn an_earlier_run_is_source_knowledge_combined_with_samples() {
    let sb = sandbox();
    // citeseer searched with pubmed samples: 8 citeseer + 3 pubmed trials, none on cora.
    let early = earlier_run(&sb, "early", "citeseer", &["pubmed"]);
    assert_eq!(early.len(), 11);
    assert!(early.iter().all(|r| r.status == "ok"), "{early:?}");
    let early_store = std::fs::read(sb.path().join("early/store.sqlite")).unwrap();

    sb.write(
        "exp.toml",
        &experiment(
            "new",
            "heady-random",
            4,
            "target = \"cora\"\nsources = [\"citeseer\", \"pubmed\"]\nsource_samples = 2\n\
             source_runs = [\"early\"]",
        ),
    );
    let v = sb.run(&["validate", "exp.toml"]);
    v.expect_code(0);
    assert!(
        v.stdout()
            .contains("source knowledge: 11 observations from run early"),
        "{}",
        v.stdout()
    );
    let out = sb.run(&["-v", "--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    let run = sb.path().join("run");

    // History order: this run's samples (trial-id order), then the earlier run's trials.
    let rows = read_trials(&run);
    let sampled: Vec<&Row> = rows.iter().filter(|r| r.role == "source").collect();
    assert_eq!(sampled.len(), 4);
    let sum = sampled
        .iter()
        .chain(early.iter().collect::<Vec<_>>().iter())
        .map(|r| r.metric.unwrap())
        .sum::<f64>();
    assert_eq!(
        history_line(&out.stderr()),
        format!(
            "15 [citeseer 10, pubmed 5], metric sum {sum:.6}, 15 distinct trial ids, 11 from 2^62"
        )
    );

    let json = sources_json(&run);
    assert_eq!(json["target"], "cora");
    assert_eq!(json["observations"], 15);
    assert_eq!(
        json["totals"],
        serde_json::json!({"citeseer": 10, "pubmed": 5})
    );
    assert_eq!(json["origins"][0]["origin"], "samples");
    assert_eq!(
        json["origins"][0]["counts"],
        serde_json::json!({"citeseer": 2, "pubmed": 2})
    );
    assert_eq!(json["origins"][1]["origin"], "run");
    assert_eq!(json["origins"][1]["path"], "early");
    assert_eq!(
        json["origins"][1]["counts"],
        serde_json::json!({"citeseer": 8, "pubmed": 3})
    );
    assert_eq!(json["origins"][1]["first_trial_id"], IMPORTED_BASE);
    // The store records the same, for resume.
    let meta: serde_json::Value =
        serde_json::from_str(&store_meta(&run, "source_knowledge").unwrap()).unwrap();
    assert_eq!(meta, json["origins"]);
    assert_eq!(
        store_meta(&run, "search_space").as_deref(),
        Some("nasbench-graph")
    );
    // Imported knowledge is not a trial of this run.
    assert_eq!(rows.len(), 8);
    assert_eq!(read_summary(&run)["source_evaluations"], 4);
    // The earlier run was only read.
    assert_eq!(
        std::fs::read(sb.path().join("early/store.sqlite")).unwrap(),
        early_store
    );

    // The trials.csv that `xnas report` writes reads as a meta-dataset file too.
    sb.write(
        "csv.toml",
        &experiment(
            "csv",
            "heady-random",
            4,
            "target = \"cora\"\nsources = [\"citeseer\", \"pubmed\"]\n\
             source_file = \"early/trials.csv\"",
        ),
    );
    let v = sb.run(&["validate", "csv.toml"]);
    v.expect_code(0);
    assert!(
        v.stdout()
            .contains("source knowledge: 11 observations from file early/trials.csv"),
        "{}",
        v.stdout()
    );
}

/// Three nasbench-graph architectures in canonical text (as trials.csv writes them).
fn archs(sb: &Sandbox) -> Vec<String> {
    let mut a: Vec<String> = earlier_run(sb, "early", "citeseer", &[])
        .into_iter()
        .map(|r| r.arch)
        .collect();
    a.sort();
    a.dedup();
    a.truncate(3);
    assert_eq!(a.len(), 3);
    a
}

fn meta_csv(archs: &[String]) -> String {
    format!(
        "task,arch,metric,test_metric,cost_seconds\n\
         citeseer,\"{a}\",0.5,0.25,3\n\
         photo,\"{a}\",0.125,,\n\
         pubmed,\"{b}\",0.75,,1.5\n\
         citeseer,\"{c}\",0.0625,0.5,\n",
        a = archs[0],
        b = archs[1],
        c = archs[2]
    )
}

#[test]
fn a_meta_dataset_file_is_source_knowledge_and_resume_checks_it() {
    let sb = sandbox();
    let archs = archs(&sb);
    sb.write("meta.csv", &meta_csv(&archs));
    sb.write(
        "exp.toml",
        &experiment(
            "meta",
            "heady-random",
            8,
            "target = \"cora\"\nsources = [\"citeseer\", \"pubmed\"]\nsource_file = \"meta.csv\"",
        ),
    );
    let v = sb.run(&["validate", "exp.toml"]);
    v.expect_code(0);
    assert!(
        v.stdout()
            .contains("source knowledge: 3 observations from file meta.csv"),
        "{}",
        v.stdout()
    );
    let out = sb.run(&["-vv", "--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    // photo is not a source task: ignored, with a debug line.
    assert_eq!(
        history_line(&out.stderr()),
        "3 [citeseer 2, pubmed 1], metric sum 1.312500, 3 distinct trial ids, 3 from 2^62"
    );
    assert!(
        out.stderr()
            .contains("ignored rows of tasks that are not source tasks here: photo 1"),
        "{}",
        out.stderr()
    );
    let run = sb.path().join("run");
    let json = sources_json(&run);
    assert_eq!(json["origins"][0]["origin"], "file");
    assert_eq!(json["origins"][0]["path"], "meta.csv");
    assert_eq!(
        json["origins"][0]["counts"],
        serde_json::json!({"citeseer": 2, "pubmed": 1})
    );
    let before = read_trials(&run);

    // Unchanged: resume goes through (the run is finished, so nothing changes).
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    assert_eq!(read_trials(&run), before);

    // One more row: the count differs.
    let mut more = meta_csv(&archs);
    more.push_str(&format!("pubmed,\"{}\",0.5,,\n", archs[2]));
    sb.write("meta.csv", &more);
    let out = sb.run(&["--quiet", "resume", "run"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(
        err.contains(
            "meta.csv: changed since the run started: it gave citeseer 2, pubmed 1 \
                      observations when the run started and gives citeseer 2, pubmed 2 now"
        ),
        "{err}"
    );
    assert!(
        err.contains("restore it as it was, or start a new run"),
        "{err}"
    );

    // Same counts, one metric changed: still refused.
    sb.write("meta.csv", &meta_csv(&archs).replace("0.75", "0.7"));
    let out = sb.run(&["--quiet", "resume", "run"]);
    out.expect_code(2);
    assert!(
        out.stderr()
            .contains("gives as many observations as when the run started (citeseer 2, pubmed 1) but different ones"),
        "{}",
        out.stderr()
    );
    assert_eq!(
        read_trials(&run),
        before,
        "a refused resume changes nothing"
    );
}

#[test]
fn the_target_in_a_file_or_a_run_is_refused() {
    let sb = sandbox();
    let archs = archs(&sb);
    let tasks =
        "target = \"cora\"\nsources = [\"citeseer\", \"pubmed\"]\nsource_file = \"meta.csv\"";
    sb.write("exp.toml", &experiment("leak", "random", 4, tasks));
    sb.write(
        "meta.csv",
        &format!("{}cora,\"{}\",0.9,,\n", meta_csv(&archs), archs[1]),
    );
    for args in [
        &["validate", "exp.toml"][..],
        &["--quiet", "run", "exp.toml", "--out", "run"],
    ] {
        let out = sb.run(args);
        out.expect_code(2);
        let err = out.stderr();
        assert!(
            err.contains("meta.csv:6: the row is on the target task `cora`"),
            "{err}"
        );
        assert!(
            err.contains("remove the target's rows from the file"),
            "{err}"
        );
    }
    assert!(
        !sb.path().join("run").exists(),
        "refused before a run directory is made"
    );

    // A run that evaluated cora (as its target) cannot be a source for cora. `early` searched
    // citeseer; `cora-run` searched cora.
    earlier_run(&sb, "cora-run", "cora", &["pubmed"]);
    sb.write(
        "exp2.toml",
        &experiment(
            "leak2",
            "random",
            4,
            "target = \"cora\"\nsources = [\"citeseer\", \"pubmed\"]\nsource_runs = [\"early\", \"cora-run\"]",
        ),
    );
    let out = sb.run(&["--quiet", "run", "exp2.toml", "--out", "run2"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(err.contains("source run "), "{err}");
    assert!(
        err.contains("cora-run: trial 3 (target) is on the target task `cora`"),
        "{err}"
    );
    assert!(
        err.contains("remove the run from tasks.source_runs"),
        "{err}"
    );
    assert!(!sb.path().join("run2").exists());
}

#[test]
fn bad_lines_are_reported_with_file_and_line() {
    let sb = sandbox();
    let archs = archs(&sb);
    let tasks =
        "target = \"cora\"\nsources = [\"citeseer\", \"pubmed\"]\nsource_file = \"meta.csv\"";
    sb.write("exp.toml", &experiment("bad", "random", 4, tasks));

    sb.write(
        "meta.csv",
        &format!(
            "task,arch,metric\nciteseer,\"{}\",0.5\npubmed,\"{}\",high\n",
            archs[0], archs[1]
        ),
    );
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains(
            "meta.csv:3: column `metric`: `high` is not a finite number; write the validation metric"
        ),
        "{}",
        out.stderr()
    );

    // An architecture the space cannot parse: the space's own message.
    sb.write(
        "meta.csv",
        &format!(
            "task,arch,metric\nciteseer,\"{}\",0.5\npubmed,\"0-0-0-0|gcn,gcn,conv,gcn\",0.5\n",
            archs[0]
        ),
    );
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(
        err.contains("meta.csv:3: column `arch`: search space `nasbench-graph`: cannot parse nasbench-graph architecture"),
        "{err}"
    );
    assert!(err.contains("`conv` is not one of"), "{err}");

    // A missing file or run directory is a config error at its key.
    sb.write(
        "exp.toml",
        &experiment("bad", "random", 4, &tasks.replace("meta.csv", "nope.csv")),
    );
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("exp.toml:15:15: tasks.source_file: ")
            && out.stderr().contains("nope.csv is not a file"),
        "{}",
        out.stderr()
    );
    sb.write(
        "exp.toml",
        &experiment(
            "bad",
            "random",
            4,
            "target = \"cora\"\nsources = [\"citeseer\"]\nsource_runs = [\"early\", \"gone\"]",
        ),
    );
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr()
            .contains("exp.toml:15:25: tasks.source_runs: run directory ")
            && out.stderr().contains("gone does not exist"),
        "{}",
        out.stderr()
    );
}

#[test]
fn a_run_on_another_space_is_refused() {
    let sb = sandbox();
    sb.add_plugin("fixture_panicky", "libother.so");
    sb.write(
        "other.toml",
        r#"[experiment]
name = "other"
budget = { evaluations = 4 }
[plugins]
files = ["plugins/libother.so"]
[search_space]
plugin = "panicky-space"
[optimizer]
plugin = "random"
[tasks]
target = "t"
"#,
    );
    sb.run(&["--quiet", "run", "other.toml", "--out", "other"])
        .expect_code(0);
    sb.write(
        "exp.toml",
        &experiment(
            "x",
            "random",
            4,
            "target = \"cora\"\nsources = [\"citeseer\"]\nsource_runs = [\"other\"]",
        ),
    );
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    let err = out.stderr();
    assert!(err.contains("source run "), "{err}");
    assert!(
        err.contains(
            "other: it used search space `panicky-space` and this experiment uses `nasbench-graph`"
        ),
        "{err}"
    );
}

/// Sampled source trials that fail (proteins' table lacks most of cora's space when the space
/// follows the target) are one warning per task with a count and the first error, not one line
/// per trial; the run goes on with the rest and the failures are stored.
#[test]
fn failed_source_samples_are_one_warning_per_task() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let text = crate::nbg_experiment(
        "failing-sources",
        "random",
        8,
        "sources = [\"citeseer\", \"proteins\"]\nsource_samples = 40\n\
         [search_space.params]\nops = \"target\"\n",
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    let log = out.stderr();
    let rows = read_trials(&sb.path().join("run"));
    let failed = rows
        .iter()
        .filter(|r| r.role == "source" && r.task == "proteins" && r.status == "failed")
        .count();
    assert!(failed > 10, "{failed} proteins samples failed:\n{log}");
    assert!(
        log.contains(&format!(
            "{failed} of 40 source trials on `proteins` failed and are left out"
        )),
        "{log}"
    );
    assert!(!log.contains("on `citeseer` failed"), "{log}");
    assert!(
        !log.contains("failed: evaluation failed"),
        "one line per trial:\n{log}"
    );
    assert_eq!(rows.iter().filter(|r| r.role == "target").count(), 8);
}
