//! The host's wiring for transfer decorators and similarity plugins, through a fixture library:
//! the transfer plugin's head factory reaches the inner optimizer, the decorated optimizer is
//! what runs, a non-heads optimizer is refused, and a similarity plugin ranks and cuts sources.

use xnas_tests::*;

fn sandbox(extra: &str, optimizer: &str) -> Sandbox {
    nasbench_graph_data();
    let sb = Sandbox::new();
    sb.add_plugin("fixture_decorators", "libdeco.so");
    sb.write(
        "exp.toml",
        &format!(
            r#"[experiment]
name = "deco"
seed = 2
budget = {{ evaluations = 16 }}
[plugins]
files = ["plugins/libdeco.so"]
[search_space]
plugin = "nasbench-graph"
[optimizer]
plugin = "{optimizer}"
[tasks]
target = "cora"
sources = ["citeseer", "pubmed", "photo", "computers"]
source_samples = 3
{extra}"#
        ),
    );
    sb
}

#[test]
fn transfer_plugin_gives_heads_to_the_inner_optimizer_and_wraps_it() {
    let sb = sandbox("[transfer]\nplugin = \"passthrough\"\n", "heady-random");
    sb.run(&["validate", "exp.toml"]).expect_code(0);
    let out = sb.run(&["-vv", "--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    let err = out.stderr();
    assert!(
        err.contains("heady-random: head factory `passthrough: linear heads`, all tasks: true, 12 source observations"),
        "{err}"
    );
    assert!(
        err.contains("passthrough: wrapped the optimizer for target cora"),
        "{err}"
    );
    // The head built by the transfer plugin answered across the ABI: 2 * 1.5 + target index 4.
    assert!(err.contains("heady-random: head(1.5) = 7, grad 2"), "{err}");
    assert!(
        err.contains("passthrough: tell 8 after 1 asks"),
        "the decorated optimizer ran: {err}"
    );
    assert_eq!(
        read_summary(&sb.path().join("run"))["transfer"],
        "passthrough"
    );
}

#[test]
fn without_transfer_the_optimizer_gets_no_head_factory() {
    let sb = sandbox("", "heady-random");
    let out = sb.run(&["-v", "--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    assert!(
        out.stderr().contains("heady-random: no head factory"),
        "{}",
        out.stderr()
    );
}

/// `xfer` around a heads-taking surrogate written without tch (the fixture's `heady-surrogate`,
/// the case of issue 30's third-party optimizer): it runs with xfer's defaults and with a bounded
/// source replay, each repeating with the same seed, and the plain surrogate runs on its own head.
#[test]
fn xfer_decorates_a_surrogate_written_without_tch() {
    let trials = |extra: &str| {
        let sb = sandbox(extra, "heady-surrogate");
        sb.run(&["validate", "exp.toml"]).expect_code(0);
        let out = sb.run(&["-v", "--quiet", "run", "exp.toml", "--out", "run"]);
        out.expect_code(0);
        let rows = read_trials(&sb.path().join("run"));
        assert_eq!(rows.iter().filter(|r| r.role == "target").count(), 16);
        (rows, out.stderr())
    };
    let (plain, _) = trials("");
    let xfer = "[transfer]\nplugin = \"xfer\"\n";
    let (decorated, log) = trials(xfer);
    assert!(
        log.contains("transfer `xfer` decorates `heady-surrogate` with heads"),
        "{log}"
    );
    assert_eq!(trials(xfer).0, decorated, "same seed, same trials");
    let replay = format!("{xfer}[transfer.params]\nsource_replay = 4\n");
    let (bounded, _) = trials(&replay);
    assert_eq!(trials(&replay).0, bounded, "same seed, same trials");
    let target = |rows: &[Row]| -> Vec<String> {
        rows.iter()
            .filter(|r| r.role == "target")
            .map(|r| r.arch.clone())
            .collect()
    };
    assert_ne!(
        target(&plain),
        target(&decorated),
        "the sources changed the search"
    );
}

#[test]
fn transfer_refuses_an_optimizer_without_heads() {
    let sb = sandbox("[transfer]\nplugin = \"passthrough\"\n", "random");
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains(
            "transfer `passthrough` decorates optimizers that take heads, and `random` does not"
        ),
        "{}",
        out.stderr()
    );
}

#[test]
fn similarity_ranks_the_sources_and_keeps_the_top_k() {
    let sb = sandbox(
        "[similarity]\nplugin = \"name-length\"\ntop_k = 2\n",
        "random",
    );
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let run = sb.path().join("run");
    let sim: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(run.join("similarity.json")).unwrap())
            .unwrap();
    // |len(cora) - len(x)|: photo 1, pubmed 2, citeseer 4, computers 5.
    assert_eq!(sim["chosen"], serde_json::json!(["photo", "pubmed"]));
    let order: Vec<&str> = sim["distances"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["task"].as_str().unwrap())
        .collect();
    assert_eq!(order, ["photo", "pubmed", "citeseer", "computers"]);
    assert_eq!(sim["distances"][3]["distance"], 5.0);
    let sources: Vec<String> = read_trials(&run)
        .into_iter()
        .filter(|r| r.role == "source")
        .map(|r| r.task)
        .collect();
    assert_eq!(
        sources.len(),
        6,
        "3 samples from each of the 2 chosen sources"
    );
    assert!(
        sources.iter().all(|t| t == "photo" || t == "pubmed"),
        "{sources:?}"
    );
}
