//! The trainable `nasnet` space through the real binary on real image data (`make images`):
//! searches that train every proposal, reproducibility whatever the number of workers, a
//! diverging trial that fails without stopping the search, XferNAS (xfer(nao)) with a source
//! task, `xnas train` from a file and from a run, and the messages for bad input.

use xnas_tests::*;

/// A tiny, fast network: these tests check that training is real and wired, not its accuracy.
fn space(target: &str, extra: &str) -> String {
    format!(
        r#"[search_space]
plugin = "nasnet"
[search_space.params]
ops = "enas"
cells = 1
filters = 8
epochs = 2
batch_size = 64
drop_path = 0.0
threads = 1
{extra}
[search_space.params.tasks.digits]
preset = "digits"
[search_space.params.tasks.mnist-5k]
preset = "mnist-5k"
limit_train = 600

[tasks]
target = "{target}"
"#
    )
}

fn experiment(name: &str, evaluations: u64, batch: u64, optimizer: &str, extra: &str) -> String {
    format!(
        r#"[experiment]
name = "{name}"
seed = 5
budget = {{ evaluations = {evaluations} }}
batch_size = {batch}

[optimizer]
plugin = "{optimizer}"

{}"#,
        space("digits", extra)
    )
}

#[test]
fn random_search_trains_every_proposal_on_real_digits() {
    let sb = Sandbox::new();
    let run = sb.run_experiment(&experiment("nn-random", 4, 4, "random", ""), 2);
    let rows = read_trials(&run);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for r in &rows {
        assert_eq!(r.status, "ok", "{r:?}");
        assert!(r.arch.starts_with("normal: b0 = "), "{}", r.arch);
        // 10 classes: chance is 0.1. Two epochs of a real network on 1,437 digits is far above.
        let m = r.metric.unwrap();
        assert!(m > 0.3 && m <= 1.0, "validation accuracy {m} of {}", r.arch);
    }
    let s = read_summary(&run);
    assert_eq!(s["evaluations"], 4);
    assert_eq!(s["search_space"], "nasnet");
}

#[test]
fn same_seed_same_search_whatever_the_workers() {
    let text = experiment("nn-repro", 4, 4, "evolution", "");
    let run = |workers: usize| {
        let sb = Sandbox::new();
        read_trials(&sb.run_experiment(&text, workers))
            .into_iter()
            .map(|r| (r.trial_id, r.arch, r.metric, r.status, r.seed))
            .collect::<Vec<_>>()
    };
    let one = run(1);
    assert_eq!(one.len(), 4);
    assert_eq!(
        one,
        run(2),
        "trained metrics differ between 1 and 2 workers"
    );
}

#[test]
fn a_diverging_trial_fails_and_the_search_goes_on() {
    let sb = Sandbox::new();
    // A learning rate this large makes the loss overflow in the first epoch.
    let text = experiment(
        "nn-diverge",
        2,
        2,
        "random",
        "learning_rate = 1e12\ngrad_clip = 0.0",
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["--quiet", "run", "exp.toml", "--out", "run"]);
    out.expect_code(1); // finished, with failed trials
    let rows = read_trials(&sb.path().join("run"));
    assert_eq!(rows.len(), 2, "both evaluations were attempted: {rows:?}");
    let csv = std::fs::read_to_string(sb.path().join("run/trials.csv")).unwrap();
    assert!(rows.iter().all(|r| r.status == "failed"), "{csv}");
    assert!(csv.contains("diverged"), "{csv}");
}

#[test]
fn xfer_nao_searches_with_a_source_task() {
    let sb = Sandbox::new();
    let text = format!(
        r#"[experiment]
name = "nn-xfer"
seed = 2
budget = {{ evaluations = 4 }}
batch_size = 2

[transfer]
plugin = "xfer"
wraps = "nao"
[transfer.params]
phase_switch = 2

[optimizer]
plugin = "nao"
[optimizer.params]
epochs_first = 20
epochs = 5
initial_random = 0

{}"#,
        space("digits", "").replace(
            "target = \"digits\"",
            "target = \"digits\"\nsources = [\"mnist-5k\"]\nsource_samples = 3"
        )
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["-v", "run", "exp.toml", "--out", "run", "--workers", "2"]);
    out.expect_code(0);
    let rows = read_trials(&sb.path().join("run"));
    let sources: Vec<&Row> = rows.iter().filter(|r| r.role == "source").collect();
    let targets: Vec<&Row> = rows.iter().filter(|r| r.role != "source").collect();
    assert_eq!(sources.len(), 3, "{rows:?}");
    assert!(sources
        .iter()
        .all(|r| r.task == "mnist-5k" && r.status == "ok"));
    assert_eq!(targets.len(), 4, "{rows:?}");
    assert!(targets.iter().all(|r| r.task == "digits"));
    assert!(targets.iter().filter(|r| r.status == "ok").count() >= 3);
    let log = out.stderr();
    assert!(log.contains("xfer"), "{log}");
}

fn arch_file(sb: &Sandbox, arch: &str, params: &str) -> std::path::PathBuf {
    sb.write(
        "arch.json",
        &format!(
            r#"{{ "name": "tiny", "search_space": "nasnet",
  "params": {{ "ops": "xfernas", "cells": 1, "filters": 8, "epochs": 1, "drop_path": 0.0,
              "threads": 1, {params}
              "tasks": {{ "digits": {{ "preset": "digits" }},
                         "fashion-mnist": {{ "preset": "fashion-mnist", "limit_train": 2000,
                                            "valid": 1000, "limit_test": 1000 }} }} }},
  "arch": "{arch}",
  "task": "digits" }}"#
        ),
    )
}

/// The XferNASNet cell of the shipped example file.
fn xfernasnet_text() -> String {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../examples/architectures/xfernasnet.json");
    let v: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    v["arch"].as_str().unwrap().to_string()
}

#[test]
fn train_an_architecture_file_on_real_fashion_mnist() {
    let sb = Sandbox::new();
    // Batches of 32: 63 steps an epoch on 2,000 images (batches of 128 leave it near chance).
    arch_file(&sb, &xfernasnet_text(), "\"batch_size\": 32,");
    let out = sb.run(&[
        "train",
        "arch.json",
        "--task",
        "fashion-mnist",
        "--epochs",
        "2",
        "--out",
        "t",
    ]);
    out.expect_code(0);
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("t/train.json")).unwrap())
            .unwrap();
    assert_eq!(t["task"], "fashion-mnist");
    assert_eq!(t["curve"].as_array().unwrap().len(), 2);
    let valid = t["valid_metric"].as_f64().unwrap();
    let test = t["test_metric"]
        .as_f64()
        .expect("fashion-mnist has a test split");
    // Fashion-MNIST: chance 0.1; a real network on 2,000 images reaches well over 0.6.
    assert!(valid > 0.6 && test > 0.6, "valid {valid} test {test}");
    assert!(t["extras"]["parameters"].as_u64().unwrap() > 1000);
    assert!(t["extras"]["flops"].as_u64().unwrap() > 0);
    // The example cell round-trips: the trained text is the file's, canonicalised.
    assert!(t["arch"].as_str().unwrap().contains("dil_sep_conv_5x5"));
    let curve = std::fs::read_to_string(sb.path().join("t/curve.csv")).unwrap();
    assert_eq!(curve.lines().count(), 3, "{curve}");
    // Per-epoch progress is shown by default.
    assert!(out.stderr().contains("epoch 2/2"), "{}", out.stderr());
}

#[test]
fn train_the_best_architecture_of_a_run() {
    let sb = Sandbox::new();
    sb.write("exp.toml", &experiment("nn-best", 2, 2, "random", ""));
    sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
        .expect_code(0);
    let best = read_summary(&sb.path().join("run"))["best"]["arch"]
        .as_str()
        .unwrap()
        .to_string();
    sb.run(&["--quiet", "train", "run", "--epochs", "1", "--out", "t"])
        .expect_code(0);
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("t/train.json")).unwrap())
            .unwrap();
    assert_eq!(t["arch"].as_str().unwrap(), best);
    assert_eq!(t["task"], "digits");
    assert_eq!(t["curve"].as_array().unwrap().len(), 1);
    // A run trains with its own experiment: another one is refused, not silently ignored.
    let out = sb.run(&["--quiet", "train", "run", "--experiment", "exp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("drop --experiment exp.toml"),
        "{}",
        out.stderr()
    );
}

#[test]
fn bad_input_gets_one_clear_message_and_exit_2() {
    let sb = Sandbox::new();
    // An op the op set does not have.
    arch_file(
        &sb,
        "normal: b0 = warp_conv(h0) + identity(h1) | reduce: b0 = identity(h0) + identity(h1)",
        "",
    );
    let out = sb.run(&["--quiet", "train", "arch.json"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("unknown op `warp_conv`"),
        "{}",
        out.stderr()
    );

    // A task without a dataset.
    arch_file(&sb, &xfernasnet_text(), "");
    let out = sb.run(&["--quiet", "train", "arch.json", "--task", "svhn"]);
    out.expect_code(2);
    let e = out.stderr();
    assert!(
        e.contains("task `svhn` has no dataset") && e.contains("[search_space.params.tasks.svhn]"),
        "{e}"
    );

    // CUDA asked for where there is none: a clear error, not a crash or a silent CPU run.
    if !std::path::Path::new("/dev/nvidia0").exists() {
        let out = sb.run(&["--quiet", "train", "arch.json", "--device", "cuda"]);
        out.expect_code(2);
        assert!(
            out.stderr().contains("device = \"cuda\"") && out.stderr().contains("CUDA"),
            "{}",
            out.stderr()
        );
    }

    // A missing data file names the key and the path.
    let text = experiment("nn-bad", 1, 1, "random", "")
        .replace("preset = \"digits\"", "format = \"idx\"\ntrain_images = \"nowhere/images.gz\"\ntrain_labels = \"nowhere/labels.gz\"");
    sb.write("bad.toml", &text);
    let out = sb.run(&["--quiet", "run", "bad.toml", "--out", "r"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("nowhere/images.gz"),
        "{}",
        out.stderr()
    );
    assert!(!sb.path().join("r/trials.csv").exists());

    // A bad parameter names its key.
    sb.write(
        "p.toml",
        &experiment("nn-p", 1, 1, "random", "combine = \"multiply\""),
    );
    let out = sb.run(&["--quiet", "validate", "p.toml"]);
    out.expect_code(2);
    assert!(out.stderr().contains("combine"), "{}", out.stderr());

    // Settings training cannot use are refused by `xnas validate`, at their line, rather than
    // failing every trial of a search.
    for (extra, replace, needle, line) in [
        (
            "",
            Some(("batch_size = 64", "batch_size = 1")),
            "`batch_size = 1`: expected at least 2",
            17,
        ),
        (
            "momentum = 1.0",
            None,
            "`momentum = 1`: expected 0 ≤ m < 1",
            20,
        ),
        (
            "",
            Some(("filters = 8", "filters = 131072")),
            "`filters = 131072`: expected at most 65536",
            15,
        ),
    ] {
        let mut text = experiment("nn-p", 1, 1, "random", extra);
        if let Some((from, to)) = replace {
            text = text.replace(from, to);
        }
        sb.write("p.toml", &text);
        let out = sb.run(&["--quiet", "validate", "p.toml"]);
        out.expect_code(2);
        let e = out.stderr();
        assert!(e.contains(needle), "{e}");
        assert!(e.starts_with(&format!("error: p.toml:{line}:1:")), "{e}");
    }
}

#[test]
fn every_optimizer_runs_on_the_cell_space() {
    // random, evolution and xfer(nao) run above; here nao, rl-controller and xfer(rl-controller).
    for (name, optimizer, extra) in [
        (
            "nn-nao",
            "nao",
            "[optimizer.params]\nepochs_first = 10\nepochs = 5\ninitial_random = 1\n",
        ),
        ("nn-rl", "rl-controller", ""),
        (
            "nn-xfer-rl",
            "rl-controller",
            "[transfer]\nplugin = \"xfer\"\nwraps = \"rl-controller\"\n",
        ),
    ] {
        let sb = Sandbox::new();
        let text = experiment(name, 3, 1, optimizer, "")
            .replace("[search_space]", &format!("{extra}\n[search_space]"));
        sb.write("exp.toml", &text);
        sb.run(&["--quiet", "run", "exp.toml", "--out", "run"])
            .expect_code(0);
        let rows = read_trials(&sb.path().join("run"));
        assert_eq!(rows.len(), 3, "{name}: {rows:?}");
        assert!(
            rows.iter()
                .all(|r| r.status == "ok" && r.metric.unwrap() > 0.2),
            "{name}: {rows:?}"
        );
    }
}

/// `xnas train` with its output redirected (as under nohup or a cluster job) prints a line per
/// epoch, checkpoints every epoch, and run again after a kill continues from the last one to
/// the result of an uninterrupted training.
#[test]
fn a_killed_training_continues_from_its_last_epoch_to_the_same_result() {
    let sb = Sandbox::new();
    arch_file(&sb, &xfernasnet_text(), "");
    let args = |out: &str| -> Vec<String> {
        ["train", "arch.json", "--epochs", "4", "--out", out]
            .iter()
            .map(|s| s.to_string())
            .collect()
    };
    let whole = sb.xnas().args(args("whole")).output().unwrap();
    let whole = Out(whole);
    whole.expect_code(0);
    for e in 1..=4 {
        assert!(
            whole.stderr().contains(&format!("epoch {e}/4")),
            "a line per epoch: {}",
            whole.stderr()
        );
    }
    assert!(
        !sb.path().join("whole/checkpoint").exists(),
        "a finished training drops its checkpoint"
    );

    let mut child = sb
        .xnas()
        .args(args("cut"))
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let state = sb.path().join("cut/checkpoint/state.json");
    let t = std::time::Instant::now();
    while !state.exists() {
        assert!(t.elapsed().as_secs() < 300, "no checkpoint after 300 s");
        assert!(child.try_wait().unwrap().is_none(), "ended before the kill");
        std::thread::sleep(std::time::Duration::from_millis(5));
    }
    child.kill().unwrap();
    child.wait().unwrap();
    let done: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&state).unwrap()).unwrap();
    let done = done["epochs"].as_u64().unwrap();
    assert!((1..4).contains(&done), "killed after {done} of 4 epochs");
    assert!(!sb.path().join("cut/train.json").exists());

    let again = Out(sb.xnas().args(args("cut")).output().unwrap());
    again.expect_code(0);
    assert!(
        !again.stderr().contains("epoch 1/4"),
        "continued, not restarted: {}",
        again.stderr()
    );
    assert!(again.stderr().contains("epoch 4/4"), "{}", again.stderr());
    let read = |d: &str| -> serde_json::Value {
        serde_json::from_str(
            &std::fs::read_to_string(sb.path().join(d).join("train.json")).unwrap(),
        )
        .unwrap()
    };
    let (a, b) = (read("whole"), read("cut"));
    for key in ["curve", "valid_metric", "test_metric"] {
        assert_eq!(a[key], b[key], "{key}");
    }
    assert_eq!(a["extras"]["train_loss"], b["extras"]["train_loss"]);
}

/// A cell whose training libtorch 2.13's oneDNN corrupted the heap on CPUs with AVX2 and without
/// AVX-512 (the process aborted: "free(): invalid next size", in
/// `mkldnn_convolution_backward_weights`): the AVX2 weight gradient of a strided 1 × 1
/// convolution writes past its buffer. xnas-tch runs those as a subsample and a stride-1
/// convolution (`xnas_tch::layers::Conv`), so oneDNN never sees one, whatever its ISA.
#[test]
fn a_cell_that_broke_onednn_avx2_kernels_trains() {
    let sb = Sandbox::new();
    sb.write(
        "arch.json",
        r#"{ "name": "sep5", "search_space": "nasnet",
  "params": { "ops": "enas", "cells": 1, "filters": 4, "epochs": 1, "threads": 1,
              "tasks": { "mnist-5k": { "preset": "mnist-5k", "limit_train": 800 } } },
  "arch": "normal: b0 = identity(h0) + sep_conv_5x5(h1); b1 = identity(h0) + sep_conv_5x5(b0); b2 = max_pool_3x3(b1) + identity(b1); b3 = max_pool_3x3(h1) + sep_conv_5x5(b2); b4 = avg_pool_3x3(b1) + avg_pool_3x3(b3) | reduce: b0 = avg_pool_3x3(h0) + sep_conv_5x5(h1); b1 = sep_conv_3x3(h0) + identity(b0); b2 = sep_conv_5x5(b1) + max_pool_3x3(b1); b3 = max_pool_3x3(b0) + max_pool_3x3(b1); b4 = sep_conv_5x5(h1) + identity(b3)",
  "task": "mnist-5k" }"#,
    );
    // oneDNN's verbose mode prints the ISA it dispatches for, and every kernel with its shape.
    let run = Out(sb
        .xnas()
        .env("ONEDNN_VERBOSE", "1")
        .env_remove("ONEDNN_MAX_CPU_ISA")
        .env_remove("DNNL_MAX_CPU_ISA")
        .args(["--quiet", "train", "arch.json", "--out", "t"])
        .output()
        .unwrap());
    run.expect_code(0);
    let t = read_json(&sb.path().join("t/train.json"));
    assert!(t["valid_metric"].as_f64().unwrap().is_finite(), "{t}");
    let log = run.stdout();
    let convolutions: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(",exec,cpu,convolution,"))
        .collect();
    assert!(
        !convolutions.is_empty(),
        "no convolution from oneDNN:\n{log}"
    );
    // Its 1 × 1 stride-2 reductions reach oneDNN as stride-1 convolutions on subsampled maps.
    let strided_1x1: Vec<&&str> = convolutions
        .iter()
        .filter(|l| l.contains("kh1sh2") && l.contains("kw1sw2"))
        .collect();
    assert!(strided_1x1.is_empty(), "{strided_1x1:#?}");
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx512_core =
            has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512dq");
        if has!("avx2") && !avx512_core {
            // Where the bug lives: oneDNN ran its AVX2 kernels, uncapped.
            assert!(log.contains(",info,cpu,isa:Intel AVX2"), "{log}");
        }
    }
}
