//! `xnas ablation` (the XferNAS ablation as an experiment kind) end to end: real binary, nao and
//! xfer libraries, NAS-Bench-Graph.

use xnas_tests::*;

fn sandbox() -> Sandbox {
    nasbench_graph_data();
    for lib in ["xnas_nao", "xnas_xfer", "xnas_random"] {
        artefact(&lib_file(lib));
    }
    Sandbox::new()
}

const FILE: &str = r#"[experiment]
name = "abl"
seed = 3

[search_space]
plugin = "nasbench-graph"

[optimizer]
plugin = "nao"
params = { epochs_first = 4, normalise = "rank" }

[transfer]
plugin = "xfer"

[tasks]
target = "citeseer"
sources = ["cora", "pubmed", "citeseer"]

[ablation]
targets = ["citeseer", "cora"]
source_knowledge = [0, 30]
target_knowledge = [0, 20]
held_out = 20
splits = 2
"#;

fn cells(dir: &std::path::Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("cells.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_ablation_writes_its_table_and_plot_resumes_and_is_reproducible() {
    let sb = sandbox();
    sb.write("abl.toml", FILE);
    let out = sb.run(&["ablation", "abl.toml", "--out", "abl"]);
    out.expect_code(0);
    // xfer warns when it has no source knowledge, which every S = 0 cell is by design: once per
    // target, not once per cell (4 cells each here).
    let log = out.stderr();
    for t in ["citeseer", "cora"] {
        let warning = format!("xfer: no source knowledge for target `{t}`");
        assert_eq!(log.matches(&warning).count(), 1, "{log}");
    }
    let dir = sb.path().join("abl");
    let all = cells(&dir);
    // 2 targets × 2 splits × 2 source sizes × 2 target sizes.
    assert_eq!(all.len(), 16);
    for c in &all {
        let r = c["spearman"].as_f64().unwrap();
        assert!((-1.0..=1.0).contains(&r), "{c}");
    }
    let md = std::fs::read_to_string(dir.join("correlation.md")).unwrap();
    for needle in [
        "## citeseer",
        "## cora",
        "## mean over targets",
        "| S per source | K = 0 | K = 20 |",
        "| 30 | ",
    ] {
        assert!(
            md.contains(needle),
            "correlation.md lacks {needle:?}:\n{md}"
        );
    }
    let j: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("correlation.json")).unwrap())
            .unwrap();
    let cite = &j["tables"][0];
    assert_eq!(cite["target"], "citeseer");
    // The table's cell is the mean of the splits' figures.
    let pick: Vec<f64> = all
        .iter()
        .filter(|c| {
            c["target"] == "citeseer" && c["source_knowledge"] == 30 && c["target_knowledge"] == 20
        })
        .map(|c| c["spearman"].as_f64().unwrap())
        .collect();
    assert_eq!(pick.len(), 2);
    let cell = cite["cells"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["source_knowledge"] == 30 && c["target_knowledge"] == 20)
        .unwrap();
    assert!((cell["spearman"]["mean"].as_f64().unwrap() - (pick[0] + pick[1]) / 2.0).abs() < 1e-12);
    for f in [
        "correlation.png",
        "correlation.svg",
        "correlation-citeseer.png",
        "correlation-cora.svg",
    ] {
        assert!(dir.join("plots").join(f).exists(), "plots/{f} missing");
    }
    // A split lost to an interruption is redone, identically; finished ones are kept.
    let text = std::fs::read_to_string(dir.join("cells.jsonl")).unwrap();
    let kept: Vec<&str> = text.lines().take(12).collect();
    std::fs::write(dir.join("cells.jsonl"), kept.join("\n") + "\n").unwrap();
    sb.run(&["--quiet", "ablation", "abl.toml", "--out", "abl"])
        .expect_code(0);
    let again = cells(&dir);
    assert_eq!(again.len(), 16);
    let key = |c: &serde_json::Value| c.to_string();
    let mut a: Vec<String> = all.iter().map(key).collect();
    let mut b: Vec<String> = again.iter().map(key).collect();
    a.sort();
    b.sort();
    assert_eq!(a, b, "the redone split differs");
    // A target's splits do not hang on the other targets listed: cora alone gives the cells cora
    // got second in the list, so ablation files with the same seed compare cell by cell.
    let alone = FILE.replace(r#"targets = ["citeseer", "cora"]"#, r#"targets = ["cora"]"#);
    assert_ne!(alone, FILE);
    sb.write("cora.toml", &alone);
    sb.run(&["--quiet", "ablation", "cora.toml", "--out", "cora"])
        .expect_code(0);
    let mut cora_alone: Vec<String> = cells(&sb.path().join("cora")).iter().map(key).collect();
    let mut cora_second: Vec<String> = all
        .iter()
        .filter(|c| c["target"] == "cora")
        .map(key)
        .collect();
    cora_alone.sort();
    cora_second.sort();
    assert_eq!(cora_alone.len(), 8);
    assert_eq!(
        cora_alone, cora_second,
        "cora's splits depend on its place in `targets`"
    );
    // `xnas report` rebuilds the table from cells.jsonl.
    std::fs::remove_file(dir.join("correlation.md")).unwrap();
    sb.run(&["report", "abl"]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(dir.join("correlation.md")).unwrap(),
        md
    );
}

#[test]
fn the_ablation_needs_an_optimizer_that_predicts() {
    let sb = sandbox();
    sb.write(
        "abl.toml",
        &FILE
            .replace(
                "plugin = \"nao\"\nparams = { epochs_first = 4, normalise = \"rank\" }",
                "plugin = \"random\"",
            )
            .replace("[transfer]\nplugin = \"xfer\"\n", ""),
    );
    // `xnas validate` finds it first, naming the file and the target, and writes nothing.
    let checked = sb.run(&["validate", "abl.toml"]);
    checked.expect_code(2);
    assert!(
        checked.stderr().contains(
            "error: abl.toml: ablation target `citeseer`: the ablation needs an optimizer"
        ),
        "{}",
        checked.stderr()
    );
    let out = sb.run(&["--quiet", "ablation", "abl.toml", "--out", "abl"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("`random` has none") && out.stderr().contains("predict"),
        "{}",
        out.stderr()
    );
    assert!(!sb.path().join("abl/cells.jsonl").exists());
    // The good file validates (no budget needed), every target checked.
    sb.write("abl.toml", FILE);
    let out = sb.run(&["validate", "abl.toml"]);
    out.expect_code(0);
    assert!(
        out.stdout().contains(
            "abl.toml: ok — ablation on citeseer, cora (2 source × 2 target knowledge sizes, 2 splits)"
        ),
        "{}",
        out.stdout()
    );
    // And an ablation file given to `xnas run` points to `xnas ablation`.
    sb.write("abl.toml", FILE);
    let out = sb.run(&["run", "abl.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("xnas ablation abl.toml"),
        "{}",
        out.stderr()
    );
}
