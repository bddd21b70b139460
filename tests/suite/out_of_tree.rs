//! The out-of-tree example plugin: its own Cargo project, built and tested (the testkit's
//! conformance checks) by the test, loaded into the built host, listed and used for a search.

use std::path::Path;
use std::process::Command;
use xnas_tests::*;

#[test]
fn out_of_tree_plugin_builds_loads_and_searches() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf();
    let example = root.join("examples/out-of-tree-plugin");
    // Pin the example to the workspace's dependency versions, then build it on its own.
    std::fs::copy(root.join("Cargo.lock"), example.join("Cargo.lock")).unwrap();
    let target = root.join("target/out-of-tree");
    let status = Command::new(env!("CARGO"))
        .args(["build", "--offline", "--manifest-path"])
        .arg(example.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(status.success(), "building the out-of-tree plugin failed");
    // Its own tests, the testkit's conformance checks among them, as an author runs them.
    let status = Command::new(env!("CARGO"))
        .args(["test", "--offline", "--manifest-path"])
        .arg(example.join("Cargo.toml"))
        .env("CARGO_TARGET_DIR", &target)
        .status()
        .unwrap();
    assert!(
        status.success(),
        "the out-of-tree plugin's own tests failed"
    );
    let built = target.join("debug").join(lib_file("xnas_local_search"));
    assert!(built.exists(), "{} missing", built.display());

    let sb = Sandbox::new();
    std::fs::copy(&built, sb.plugins().join(lib_file("xnas_local_search"))).unwrap();
    let out = sb.run(&["--plugin-dir", "plugins", "plugins"]);
    let line = out
        .stdout()
        .lines()
        .find(|l| l.starts_with("local-search "))
        .map(str::to_string);
    let line = line.unwrap_or_else(|| panic!("local-search not listed:\n{}", out.stdout()));
    assert!(
        line.contains("optimizer") && line.contains("plugins/libxnas_local_search.so"),
        "{line}"
    );

    let mut csv = String::from("task,genome,metric\n");
    for g in 0..64u32 {
        let genes = [g / 16, (g / 4) % 4, g % 4];
        let m: u32 = genes.iter().sum();
        csv.push_str(&format!(
            "t,{}-{}-{},{}\n",
            genes[0],
            genes[1],
            genes[2],
            m as f64 / 9.0
        ));
    }
    sb.write("table.csv", &csv);
    sb.write(
        "exp.toml",
        r#"[experiment]
name = "ls"
seed = 1
budget = { evaluations = 40 }
batch_size = 2
[plugins]
dirs = ["plugins"]
[search_space]
plugin = "tabular"
[search_space.params]
choices = [4, 4, 4]
table = "table.csv"
[optimizer]
plugin = "local-search"
[optimizer.params]
initial = 4
[tasks]
target = "t"
"#,
    );
    // Its parameter check runs in `xnas validate`, at the key's line.
    let text = std::fs::read_to_string(sb.path().join("exp.toml")).unwrap();
    let bad = text.replace("initial = 4", "initial = 4\npatience = 0");
    sb.write("bad.toml", &bad);
    let out = sb.run(&["validate", "bad.toml"]);
    out.expect_code(2);
    let line = bad.lines().position(|l| l == "patience = 0").unwrap() + 1;
    assert!(
        out.stderr()
            .starts_with(&format!("error: bad.toml:{line}:1:"))
            && out.stderr().contains("`patience = 0`: expected at least 1"),
        "{}",
        out.stderr()
    );
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let s = read_summary(&sb.path().join("run"));
    assert_eq!(s["evaluations"], 40);
    // Hill climbing on a separable objective reaches the optimum (3-3-3) well within 40 steps.
    assert_eq!(s["best"]["arch"], "3-3-3", "{s}");
}
