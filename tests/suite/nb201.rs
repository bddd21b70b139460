//! The trainable `nb201` space (NAS-Bench-201 cells) through the real binary on real image data
//! (`make images`), at tiny scale (N = 1, C = 4, one epoch): random search on Fashion-MNIST with a
//! test split, the same trials whatever the number of workers, every ask/tell optimizer, `xnas
//! train` of a cell file, and the messages for bad input.

use xnas_tests::*;

fn experiment(name: &str, evaluations: u64, optimizer: &str, target: &str, extra: &str) -> String {
    format!(
        r#"[experiment]
name = "{name}"
seed = 3
budget = {{ evaluations = {evaluations} }}
batch_size = 2

[optimizer]
plugin = "{optimizer}"
{extra}
[search_space]
plugin = "nb201"
[search_space.params]
cells = 1
channels = 4
epochs = 1
batch_size = 32
threads = 1
[search_space.params.tasks.digits]
preset = "digits"
[search_space.params.tasks.fashion-mnist]
preset = "fashion-mnist"
limit_train = 1000
valid = 300
limit_test = 300

[tasks]
target = "{target}"
"#
    )
}

/// True when a cell's text has a path from node 0 to node 3 through ops other than `none`.
fn connected(text: &str) -> bool {
    let mut reached = [true, false, false, false];
    for (k, node) in text.split('+').enumerate() {
        for entry in node.trim_matches('|').split('|') {
            let (op, from) = entry.split_once('~').unwrap();
            if op != "none" && reached[from.parse::<usize>().unwrap()] {
                reached[k + 1] = true;
            }
        }
    }
    reached[3]
}

#[test]
fn random_search_trains_every_proposal_on_fashion_mnist() {
    let text = experiment("nb201-random", 4, "random", "fashion-mnist", "");
    let run = |workers| {
        let sb = Sandbox::new();
        let dir = sb.run_experiment(&text, workers);
        let s = read_summary(&dir);
        assert_eq!(s["search_space"], "nb201");
        assert_eq!(s["evaluations"], 4);
        read_trials(&dir)
    };
    let rows = run(2);
    assert_eq!(rows.len(), 4, "{rows:?}");
    for r in &rows {
        assert_eq!(r.status, "ok", "{r:?}");
        assert!(
            r.arch.starts_with('|') && r.arch.matches('+').count() == 2,
            "{}",
            r.arch
        );
        let (m, t) = (r.metric.unwrap(), r.test_metric.expect("a test split"));
        assert!(
            (0.0..=1.0).contains(&m) && (0.0..=1.0).contains(&t),
            "{r:?}"
        );
        // 10 classes: chance is 0.1; a connected cell learns well past it in one epoch.
        if connected(&r.arch) {
            assert!(m > 0.3, "validation accuracy {m} of {}", r.arch);
        }
    }
    let key = |rows: Vec<Row>| {
        rows.into_iter()
            .map(|r| (r.trial_id, r.arch, r.metric, r.test_metric, r.seed))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        key(rows),
        key(run(1)),
        "1 and 2 workers trained differently"
    );
}

#[test]
fn every_ask_tell_optimizer_searches_the_space() {
    for (name, optimizer, extra) in [
        (
            "nb201-evolution",
            "evolution",
            "[optimizer.params]\npopulation = 2\nsample_size = 2\n",
        ),
        (
            "nb201-nao",
            "nao",
            "[optimizer.params]\nepochs_first = 10\nepochs = 5\ninitial_random = 1\n",
        ),
        ("nb201-rl", "rl-controller", ""),
    ] {
        let sb = Sandbox::new();
        let rows =
            read_trials(&sb.run_experiment(&experiment(name, 3, optimizer, "digits", extra), 1));
        assert_eq!(rows.len(), 3, "{name}: {rows:?}");
        assert!(rows.iter().all(|r| r.status == "ok"), "{name}: {rows:?}");
    }
}

fn arch_file(sb: &Sandbox, arch: &str, params: &str) {
    sb.write(
        "arch.json",
        &format!(
            r#"{{ "name": "tiny", "search_space": "nb201",
  "params": {{ "cells": 1, "channels": 4, "epochs": 1, "batch_size": 32, "threads": 1, {params}
              "tasks": {{ "digits": {{ "preset": "digits" }} }} }},
  "arch": "{arch}",
  "task": "digits" }}"#
        ),
    );
}

const CELL: &str = "|nor_conv_3x3~0|+|nor_conv_1x1~0|skip_connect~1|+|skip_connect~0|nor_conv_3x3~1|avg_pool_3x3~2|";

#[test]
fn train_a_cell_file_on_digits() {
    let sb = Sandbox::new();
    arch_file(&sb, CELL, "");
    let out = sb.run(&["train", "arch.json", "--epochs", "2", "--out", "t"]);
    out.expect_code(0);
    let t: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(sb.path().join("t/train.json")).unwrap())
            .unwrap();
    assert_eq!(t["arch"], CELL);
    assert_eq!(t["curve"].as_array().unwrap().len(), 2);
    assert!(t["valid_metric"].as_f64().unwrap() > 0.5, "{t}");
    assert!(t["extras"]["flops"].as_u64().unwrap() > 0, "{t}");
    assert!(out.stderr().contains("epoch 2/2"), "{}", out.stderr());
}

#[test]
fn bad_input_gets_one_clear_message_and_exit_2() {
    let sb = Sandbox::new();
    // `xnas train` of a bad text or on a task without a dataset.
    for (arch, args, needle) in [
        (
            "|sep_conv_3x3~0|+|none~0|none~1|+|none~0|none~1|none~2|",
            &[][..],
            "node 1: unknown op `sep_conv_3x3`",
        ),
        ("|none~0|+|none~0|none~1|", &[][..], "expected 3 nodes"),
        (CELL, &["--task", "svhn"][..], "task `svhn` has no dataset"),
    ] {
        arch_file(&sb, arch, "");
        let out = sb.run(&[&["--quiet", "train", "arch.json"][..], args].concat());
        out.expect_code(2);
        assert!(out.stderr().contains(needle), "{arch}: {}", out.stderr());
    }
    // Parameters: each named by its key, before anything runs.
    for (line, bad, needle) in [
        (
            "cells = 1",
            "cells = 1\nops = [\"none\", \"conv_5x5\"]",
            "unknown op `conv_5x5`",
        ),
        ("channels = 4", "channels = 0", "`channels = 0`"),
        (
            "cells = 1",
            "cells = 1\nmomentum = 0.0",
            "`nesterov = true` with `momentum = 0`",
        ),
    ] {
        let text = experiment("nb201-bad", 2, "random", "digits", "").replacen(line, bad, 1);
        sb.expect_refused(bad, &text, needle);
    }
}
