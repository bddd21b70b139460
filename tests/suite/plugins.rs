//! `xnas plugins`: every plugin found, with name, kind, version, capabilities and file.

use xnas_tests::*;

#[test]
fn lists_every_standard_plugin_with_its_file() {
    let sb = Sandbox::new();
    let out = sb.run(&["plugins"]);
    out.expect_code(0);
    let text = out.stdout();
    let build = build_dir();
    for (name, kind, lib, caps) in [
        (
            "nasbench-graph",
            "search-space",
            "xnas_nasbench_graph",
            "benchmark",
        ),
        ("tabular", "search-space", "xnas_tabular", "benchmark"),
        ("random", "optimizer", "xnas_random", "ask-tell"),
        ("evolution", "optimizer", "xnas_evolution", "ask-tell"),
        (
            "landmark-archs",
            "similarity",
            "xnas_landmark_archs",
            "landmarks",
        ),
        ("task2vec", "similarity", "xnas_task2vec", "trainable"),
        (
            "landmark-net",
            "similarity",
            "xnas_landmark_net",
            "trainable",
        ),
        ("random", "similarity", "xnas_sim_random", ""),
        ("darts", "optimizer", "xnas_darts", "one-shot"),
        ("pdarts", "optimizer", "xnas_pdarts", "one-shot"),
    ] {
        // Columns: name, kind, version, capabilities (none: no column), file.
        let line = text
            .lines()
            .find(|l| {
                let mut cols = l.split_whitespace();
                cols.next() == Some(name) && cols.next() == Some(kind)
            })
            .unwrap_or_else(|| panic!("`{name}` ({kind}) not listed:\n{text}"));
        let cols: Vec<&str> = line.split_whitespace().collect();
        assert_eq!(cols[2], "0.1.0", "{line}");
        assert!(cols[3..cols.len() - 1].join(" ").contains(caps), "{line}");
        assert_eq!(
            cols[cols.len() - 1],
            build.join(lib_file(lib)).display().to_string(),
            "{line}"
        );
    }
}

#[test]
fn plugin_dir_and_env_path_are_searched() {
    let sb = Sandbox::new();
    let copied = sb.add_plugin("xnas_random", "libxnas_myrandom.so");
    // The copy lists the same plugin name as the original next to the binary: the directory
    // given on the command line is searched first, so its file wins and the other is noted.
    let out = sb.run(&["--plugin-dir", "plugins", "plugins"]);
    out.expect_code(0);
    let line = out
        .stdout()
        .lines()
        .find(|l| l.starts_with("random "))
        .unwrap()
        .to_string();
    assert!(
        line.ends_with(&copied.display().to_string()) || line.contains("libxnas_myrandom.so"),
        "{line}"
    );
    assert!(out.stderr().contains("also in"), "{}", out.stderr());

    let out = Out(sb
        .xnas()
        .env("XNAS_PLUGIN_PATH", sb.plugins())
        .arg("plugins")
        .output()
        .unwrap());
    out.expect_code(0);
    assert!(
        out.stdout()
            .lines()
            .any(|l| l.starts_with("random ") && l.contains("libxnas_myrandom.so")),
        "{}",
        out.stdout()
    );
}

#[test]
fn plugin_log_lines_reach_the_host_subscriber() {
    // nasbench-graph logs from inside its own dynamic library, which has its own copy of
    // `tracing`: the line shows up only if the host's callback routes it.
    nasbench_graph_data();
    let sb = Sandbox::new();
    sb.write("exp.toml", &crate::nbg_experiment("log", "random", 5, ""));
    let out = sb.run(&["-vv", "validate", "exp.toml"]);
    out.expect_code(0);
    let err = out.stderr();
    let line = err
        .lines()
        .find(|l| l.contains("nasbench-graph: loaded"))
        .unwrap_or_else(|| panic!("{err}"));
    assert!(line.contains("DEBUG") && line.contains("plugin="), "{line}");
    // Without -v the host's filter (warn) applies to plugins too.
    let quiet = sb.run(&["validate", "exp.toml"]);
    assert!(
        !quiet.stderr().contains("nasbench-graph: loaded"),
        "{}",
        quiet.stderr()
    );
}
