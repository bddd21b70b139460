//! Failing before the run directory exists, and the edges of bad input: whatever can be checked
//! before the first trial is checked by `xnas validate` and by `xnas run` before it makes the
//! directory; a start that fails anyway leaves no trap; absurd workers, escaping names, an
//! `--out` that is a file and missing plugin folders are bad input (exit 2); a panic in the
//! space's `sample` is blamed on the space.

use crate::faults_run::slow_sandbox;
use crate::nbg_experiment;
use xnas_tests::*;

/// `xnas validate` then `xnas run` of `text`: both exit `code` with `needle` in their message,
/// and the run directory never comes to exist.
fn refused_before_the_directory(sb: &Sandbox, text: &str, code: i32, needle: &str) {
    sb.write("exp.toml", text);
    let v = sb.run(&["validate", "exp.toml"]);
    v.expect_code(code);
    assert!(v.stderr().contains(needle), "validate: {}", v.stderr());
    let r = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    r.expect_code(code);
    assert!(r.stderr().contains(needle), "run: {}", r.stderr());
    assert!(!r.stderr().contains("panicked at"), "{}", r.stderr());
    assert!(!sb.path().join("run").exists(), "no run directory is left");
}

#[test]
fn nao_fold_that_does_not_divide_the_space_fails_before_the_run_directory() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let text = nbg_experiment("f", "nao", 8, "\n[optimizer.params]\nfold = 3\n");
    refused_before_the_directory(
        &sb,
        &text,
        2,
        "optimizer `nao` parameters: `fold` is 3: it must divide the number of positions of the space (5)",
    );
    // Placed at the key in the file.
    let v = sb.run(&["validate", "exp.toml"]);
    assert!(
        v.stderr().starts_with("error: exp.toml:17:1: "),
        "{}",
        v.stderr()
    );
}

#[test]
fn a_device_the_machine_lacks_fails_before_the_run_directory() {
    nasbench_graph_data();
    let sb = Sandbox::new();
    let text = nbg_experiment(
        "d",
        "nao",
        8,
        "\n[optimizer.params]\ndevice = \"cuda:999\"\n",
    );
    refused_before_the_directory(&sb, &text, 2, "`device = \"cuda:999\"`: ");
}

fn panicky_optimizer(on_call: u64) -> String {
    crate::faults_run::slow_experiment(8, 0)
        .replace(
            "plugin = \"evolution\"\n[optimizer.params]\npopulation = 10\nsample_size = 3",
            &format!(
                "plugin = \"panicky-optimizer\"\n[optimizer.params]\npanic_in = \"create\"\non_call = {on_call}"
            ),
        )
}

#[test]
fn a_plugin_that_panics_in_create_fails_before_the_run_directory() {
    let sb = slow_sandbox(8, 0);
    let text = panicky_optimizer(1);
    assert!(text.contains("panicky-optimizer"));
    refused_before_the_directory(
        &sb,
        &text,
        1,
        "plugins/libslow.so): panicked in create: panicky fixture: deliberate panic in create (call 1)",
    );
}

#[test]
fn a_start_that_fails_anyway_removes_what_it_made() {
    // The optimizer panics from its second create on: the check passes, the run's own fails.
    let sb = slow_sandbox(8, 0);
    sb.write("exp.toml", &panicky_optimizer(2));
    sb.run(&["validate", "exp.toml"]).expect_code(0);
    for _ in 0..2 {
        // The same command can simply be repeated: no "already holds a run".
        let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
        out.expect_code(1);
        let err = out.stderr();
        assert!(err.contains("panicked in create"), "{err}");
        assert!(
            err.contains("no trial had finished, so the run was not kept (run was removed): fix the cause and run the same command again"),
            "{err}"
        );
        assert!(!sb.path().join("run").exists());
    }
    // Into a directory that already existed (empty): emptied, not removed.
    std::fs::create_dir(sb.path().join("mine")).unwrap();
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "mine"]);
    out.expect_code(1);
    assert!(
        out.stderr().contains("(mine was emptied)"),
        "{}",
        out.stderr()
    );
    assert!(sb.path().join("mine").is_dir());
    assert!(!sb.path().join("mine/store.sqlite").exists());
}

#[test]
fn a_failure_after_finished_trials_keeps_them_and_says_how_to_go_on() {
    let sb = slow_sandbox(40, 0);
    let text = crate::faults_run::slow_experiment(40, 0).replace(
        "plugin = \"evolution\"\n[optimizer.params]\npopulation = 10\nsample_size = 3",
        "plugin = \"panicky-optimizer\"\n[optimizer.params]\npanic_in = \"ask\"\non_call = 3",
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(1);
    assert!(
        out.stderr().contains(
            "run keeps its 8 finished trials: fix the cause, then continue with `xnas resume run`"
        ),
        "{}",
        out.stderr()
    );
    assert_eq!(finished_trials(&sb.path().join("run/store.sqlite")), 8);
}

#[test]
fn absurd_workers_are_bad_input_not_a_panic() {
    let sb = slow_sandbox(8, 0);
    let text = crate::faults_run::slow_experiment(8, 0).replace("workers = 2", "workers = 1000000");
    refused_before_the_directory(
        &sb,
        &text,
        2,
        "workers = 1000000 is more than one machine can run (at most 1024)",
    );
    sb.write("exp.toml", &crate::faults_run::slow_experiment(8, 0));
    let out = sb.run(&["run", "exp.toml", "--out", "run", "--workers", "1000000"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("1000000 is not in 1..=1024"),
        "{}",
        out.stderr()
    );
    assert!(!sb.path().join("run").exists());
}

#[test]
fn a_name_that_leads_out_of_runs_is_refused() {
    let sb = slow_sandbox(8, 0);
    std::fs::create_dir(sb.path().join("work")).unwrap();
    for (name, why) in [
        (
            "../escape",
            "experiment name `../escape` leads out of runs/ (it contains `..`)",
        ),
        ("a/../../escape", "leads out of runs/"),
        (
            "/tmp/xnas-escape",
            "experiment name `/tmp/xnas-escape` is an absolute path",
        ),
    ] {
        let text = crate::faults_run::slow_experiment(8, 0)
            .replace("name = \"s\"", &format!("name = \"{name}\""))
            .replace("plugins/libslow.so", "../plugins/libslow.so");
        sb.write("work/exp.toml", &text);
        let out = Out(sb
            .xnas()
            .current_dir(sb.path().join("work"))
            .args(["--quiet", "run", "exp.toml"])
            .output()
            .unwrap());
        out.expect_code(2);
        assert!(out.stderr().contains(why), "{name}: {}", out.stderr());
        assert!(!sb.path().join("escape").exists());
        assert!(!sb.path().join("work/runs").exists());
    }
    assert!(!std::path::Path::new("/tmp/xnas-escape").exists());
}

#[test]
fn out_naming_an_existing_file_is_bad_input() {
    let sb = slow_sandbox(8, 0);
    sb.write("taken", "my notes\n");
    for cmd in ["run", "compare", "ablation", "similarity"] {
        let out = sb.run(&["--quiet", cmd, "exp.toml", "--out", "taken"]);
        out.expect_code(2);
        assert!(
            out.stderr()
                .contains("--out taken is a file, not a directory: give --out a directory"),
            "{cmd}: {}",
            out.stderr()
        );
    }
    assert_eq!(
        std::fs::read_to_string(sb.path().join("taken")).unwrap(),
        "my notes\n"
    );
}

#[test]
fn a_panic_in_the_space_sample_is_blamed_on_the_space() {
    let sb = slow_sandbox(40, 0);
    let text = crate::faults_run::slow_experiment(40, 0)
        .replace("delay_ms = 0", "panic_in = \"sample\"\non_call = 9")
        .replace(
            "plugin = \"evolution\"\n[optimizer.params]\npopulation = 10\nsample_size = 3",
            "plugin = \"random\"",
        );
    sb.write("exp.toml", &text);
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(1);
    let err = out.stderr();
    assert!(
        err.starts_with("error: search space `panicky-space` ("),
        "{err}"
    );
    assert!(
        err.contains("plugins/libslow.so): panicked in sample: panicky fixture: deliberate panic in sample (call 9) (in `sample`, called by optimizer `random`)"),
        "{err}"
    );
    assert!(!err.contains("error: optimizer"), "{err}");
    // The two batches asked before are kept.
    assert!(err.contains("run keeps its 8 finished trials"), "{err}");
}

#[test]
fn a_missing_plugin_folder_is_an_error_naming_it() {
    let sb = slow_sandbox(8, 0);
    let text = crate::faults_run::slow_experiment(8, 0).replace(
        "files = [\"plugins/libslow.so\"]",
        "files = [\"plugins/libslow.so\"]\ndirs = [\"plugins\", \"more-plugins\"]",
    );
    sb.write("exp.toml", &text);
    let missing = sb.path().join("more-plugins");
    let needle = format!("[plugins] dirs: {} does not exist", missing.display());
    refused_before_the_directory(&sb, &text, 2, &needle);
    let v = sb.run(&["validate", "exp.toml"]);
    assert!(
        v.stderr().starts_with("error: exp.toml:8:"),
        "{}",
        v.stderr()
    );
}
