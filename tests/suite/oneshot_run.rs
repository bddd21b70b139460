//! One-shot searches through `xnas run` and `xnas resume` (the real binary, the real `darts`,
//! `pdarts`, `nasnet` and `nb201` libraries) on scikit-learn's digits at a tiny scale (256
//! training images, half of them the α split; a search network of C = 4 and 2-3 cells): the
//! files a search writes, kill -9 then resume equal to an uninterrupted search, the same seed
//! giving the same genotype, the budget in epochs and in seconds, and the bad input refused
//! before a run directory exists.

use std::path::Path;
use std::time::Duration;
use xnas_tests::*;

/// The DARTS cell on digits; the derived cell is trained for one epoch.
pub(crate) const NASNET: &str = r#"[search_space]
plugin = "nasnet"
[search_space.params]
ops = "darts"
blocks = 4
combine = "add"
concat = "all"
cells = 1
filters = 4
epochs = 1
batch_size = 64
threads = 1
[search_space.params.tasks.digits]
preset = "digits"
limit_train = 256
"#;

const NB201: &str = r#"[search_space]
plugin = "nb201"
[search_space.params]
cells = 1
channels = 4
epochs = 1
batch_size = 64
threads = 1
[search_space.params.tasks.digits]
preset = "digits"
limit_train = 256
"#;

/// An experiment: `budget` (TOML inline table), the space section, the optimizer section.
fn experiment(budget: &str, space: &str, optimizer: &str) -> String {
    format!(
        "[experiment]\nname = \"os\"\nseed = 5\nbudget = {budget}\n{space}{optimizer}\n\
         [tasks]\ntarget = \"digits\"\n"
    )
}

/// `plugin`'s section: `derive` architectures, the tiny search network, then `params`.
fn one_shot(plugin: &str, derive: u32, params: &str) -> String {
    format!(
        "[optimizer]\nplugin = \"{plugin}\"\nderive = {derive}\n[optimizer.params]\n\
         batch_size = 32\n{params}"
    )
}

fn darts(params: &str) -> String {
    one_shot("darts", 1, &format!("channels = 4\ncells = 3\n{params}"))
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// Epochs the store has recorded (0 while it does not exist), for `run_and_kill`.
pub(crate) fn recorded_epochs(store: &Path) -> i64 {
    use rusqlite::{Connection, OpenFlags};
    let Ok(conn) = Connection::open_with_flags(store, OpenFlags::SQLITE_OPEN_READ_ONLY) else {
        return 0;
    };
    let _ = conn.busy_timeout(Duration::from_secs(10));
    conn.query_row("SELECT COUNT(*) FROM one_shot_epochs", [], |r| r.get(0))
        .unwrap_or(0)
}

/// `alpha.csv` rows of each epoch, by epoch.
fn alpha_rows(run: &Path) -> Vec<Vec<String>> {
    let mut r = csv::Reader::from_path(run.join("alpha.csv")).unwrap();
    r.records()
        .map(|rec| rec.unwrap().iter().map(str::to_string).collect())
        .collect()
}

#[test]
fn darts_through_xnas_run_writes_alpha_artifacts_and_evaluated_cells() {
    let sb = Sandbox::new();
    let text = experiment(
        "{ epochs = 2 }",
        NASNET,
        &one_shot("darts", 2, "channels = 4\ncells = 3\nepochs = 4\n"),
    );
    sb.write("exp.toml", &text);
    let out = sb.run(&["run", "exp.toml", "--out", "run"]);
    out.expect_code(0);
    // Not a terminal: a plain line per epoch on stderr.
    let err = out.stderr();
    for line in ["epoch 1/2 (stage 0): train loss ", "epoch 2/2 (stage 0): "] {
        assert!(err.contains(line), "{err}");
    }
    assert!(err.contains("α entropy") && err.contains("skips "), "{err}");
    assert!(
        err.contains("search ended (epochs) after 2 epochs"),
        "{err}"
    );
    let run = sb.path().join("run");

    // The two derived cells, evaluated as the run's trials.
    let trials = read_trials(&run);
    assert_eq!(trials.len(), 2, "{trials:?}");
    assert_ne!(trials[0].arch, trials[1].arch);
    for t in &trials {
        assert_eq!(
            (t.role.as_str(), t.status.as_str()),
            ("target", "ok"),
            "{t:?}"
        );
        assert!(t.arch.starts_with("normal: "), "{}", t.arch);
    }
    let s = read_summary(&run);
    assert_eq!(s["evaluations"], 2);
    assert_eq!(s["search"]["kind"], "one-shot");
    assert_eq!(s["search"]["epochs"], 2);
    assert_eq!(s["search"]["ended"], "epochs");
    let seconds = s["search"]["seconds"].as_f64().unwrap();
    assert!(
        seconds > 0.0 && seconds <= s["wall_seconds"].as_f64().unwrap(),
        "{s}"
    );

    // alpha.csv: 28 edges × 2 epochs, every op's weight, rows summing to 1, and the genotype of
    // the last epoch is the first derived cell.
    let header = read(&run.join("alpha.csv"))
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        header,
        "epoch,stage,edge,cell,node,input,none,max_pool_3x3,avg_pool_3x3,skip_connect,\
         sep_conv_3x3,sep_conv_5x5,dil_conv_3x3,dil_conv_5x5,genotype"
    );
    let rows = alpha_rows(&run);
    assert_eq!(rows.len(), 56);
    for row in &rows {
        let sum: f64 = row[6..14].iter().map(|w| w.parse::<f64>().unwrap()).sum();
        assert!((sum - 1.0).abs() < 1e-4, "{row:?}");
    }
    assert_eq!(rows[55][14], trials[0].arch);
    assert_ne!(rows[0][6..14], rows[28][6..14], "α moved");
    let epochs = read(&run.join("epochs.csv"));
    assert_eq!(epochs.lines().count(), 3, "{epochs}");
    for f in [
        "alpha-normal.png",
        "alpha-reduce.svg",
        "artifacts/alpha.json",
    ] {
        assert!(run.join(f).is_file(), "{f}");
    }
    assert!(
        std::fs::metadata(run.join("artifacts/supernet.weights"))
            .unwrap()
            .len()
            > 1000
    );
    let alpha: serde_json::Value =
        serde_json::from_str(&read(&run.join("artifacts/alpha.json"))).unwrap();
    assert_eq!(alpha["alpha"].as_array().unwrap().len(), 28);

    // `xnas report` rebuilds the same files from the store; `xnas train` trains the best cell.
    let before = (read(&run.join("alpha.csv")), read(&run.join("trials.csv")));
    std::fs::remove_file(run.join("alpha.csv")).unwrap();
    sb.run(&["report", "run"]).expect_code(0);
    assert_eq!(
        (read(&run.join("alpha.csv")), read(&run.join("trials.csv"))),
        before
    );
    let out = sb.run(&["--quiet", "train", "run", "--epochs", "1", "--out", "final"]);
    out.expect_code(0);
    assert!(
        out.stdout().contains(&trials[0].arch) || out.stdout().contains("normal: "),
        "{}",
        out.stdout()
    );
}

#[test]
fn second_order_darts_killed_mid_search_resumes_to_the_same_alpha_and_genotype() {
    let text = experiment(
        "{ epochs = 3 }",
        NASNET,
        &darts("order = \"second\"\nepochs = 3\n"),
    );
    let reference = Sandbox::new();
    let whole = reference.run_experiment(&text, 1);

    let sb = Sandbox::new();
    sb.write("exp.toml", &text);
    // Killed once the first epoch is checkpointed: in the second epoch, mid-search.
    let at_kill = run_and_kill(&sb, 1, recorded_epochs, Duration::from_secs(300));
    let run = sb.path().join("run");
    assert!(at_kill < 3, "killed too late to test anything");
    assert!(
        !run.join("trials.csv").exists(),
        "killed before any cell was derived"
    );
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);

    assert_eq!(read(&run.join("alpha.csv")), read(&whole.join("alpha.csv")));
    let (a, b) = (read_trials(&run), read_trials(&whole));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].arch, b[0].arch);
    assert_eq!(read_summary(&run)["search"]["epochs"], 3);
    // One checkpoint file is left: the one the store names.
    let left: Vec<_> = std::fs::read_dir(run.join("checkpoints"))
        .unwrap()
        .collect();
    assert_eq!(left.len(), 1);
    // Resuming a finished run changes nothing.
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    assert_eq!(read(&run.join("alpha.csv")), read(&whole.join("alpha.csv")));
    assert_eq!(read_trials(&run).len(), 1);
}

#[test]
fn the_same_seed_gives_the_same_search_and_another_seed_another() {
    let text = experiment("{ epochs = 2 }", NASNET, &darts("epochs = 2\n"));
    let a = Sandbox::new();
    let b = Sandbox::new();
    let c = Sandbox::new();
    let (ra, rb) = (a.run_experiment(&text, 1), b.run_experiment(&text, 1));
    let rc = c.run_experiment(&text.replace("seed = 5", "seed = 6"), 1);
    assert_eq!(read(&ra.join("alpha.csv")), read(&rb.join("alpha.csv")));
    assert_eq!(read_trials(&ra)[0].arch, read_trials(&rb)[0].arch);
    assert_ne!(read(&ra.join("alpha.csv")), read(&rc.join("alpha.csv")));
}

#[test]
fn pdarts_runs_its_stages_and_keeps_the_skip_limit() {
    let text = experiment(
        "{ epochs = 20 }",
        NASNET,
        &one_shot(
            "pdarts",
            1,
            "cells = [2, 3, 3]\nchannels = [4, 4, 4]\nepochs = 2\nepochs_weights_only = 1\n\
             evaluate_last = 1\nmax_skips = 1\n",
        ),
    );
    let sb = Sandbox::new();
    let run = sb.run_experiment(&text, 1);
    let s = read_summary(&run);
    assert_eq!(
        (s["search"]["epochs"].clone(), s["search"]["ended"].clone()),
        (6.into(), "finished".into())
    );
    let mut r = csv::Reader::from_path(run.join("epochs.csv")).unwrap();
    let rows: Vec<csv::StringRecord> = r.records().map(Result::unwrap).collect();
    let stages: Vec<&str> = rows.iter().map(|r| &r[1]).collect();
    assert_eq!(stages, ["0", "0", "1", "1", "2", "2"]);
    assert!(
        rows.iter().all(|r| r[7].parse::<u32>().unwrap() <= 1),
        "{rows:?}"
    );
    // The last stage weighs 3 ops per edge: the other 5 cells of each alpha.csv row are empty.
    let last = alpha_rows(&run).pop().unwrap();
    assert_eq!(
        last[6..14].iter().filter(|w| w.is_empty()).count(),
        5,
        "{last:?}"
    );
    let trials = read_trials(&run);
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].status, "ok");
    let skips = trials[0]
        .arch
        .split(" | ")
        .next()
        .unwrap()
        .matches("skip_connect")
        .count();
    assert!(skips <= 1, "{}", trials[0].arch);
}

#[test]
fn darts_searches_the_nb201_cell() {
    let text = experiment(
        "{ epochs = 2 }",
        NB201,
        &one_shot("darts", 1, "channels = 4\ncells = 1\nepochs = 2\n"),
    );
    let sb = Sandbox::new();
    let run = sb.run_experiment(&text, 1);
    let header = read(&run.join("alpha.csv"))
        .lines()
        .next()
        .unwrap()
        .to_string();
    assert_eq!(
        header,
        "epoch,stage,edge,cell,node,input,none,skip_connect,nor_conv_1x1,nor_conv_3x3,\
         avg_pool_3x3,genotype"
    );
    assert_eq!(alpha_rows(&run).len(), 12);
    let trials = read_trials(&run);
    assert_eq!(trials.len(), 1);
    assert!(trials[0].arch.starts_with('|'), "{}", trials[0].arch);
    assert!(run.join("alpha-cell.png").is_file());
}

#[test]
fn a_budget_in_seconds_stops_the_search_and_derives_from_where_it_got() {
    let text = experiment("{ seconds = 3 }", NASNET, &darts("epochs = 50\n"));
    let sb = Sandbox::new();
    let run = sb.run_experiment(&text, 1);
    let s = read_summary(&run);
    assert_eq!(s["search"]["ended"], "seconds", "{s}");
    let epochs = s["search"]["epochs"].as_u64().unwrap();
    assert!(epochs < 50, "{s}");
    let seconds = s["search"]["seconds"].as_f64().unwrap();
    assert!((3.0..60.0).contains(&seconds), "{s}");
    assert_eq!(alpha_rows(&run).len() as u64, 28 * epochs);
    assert_eq!(read_trials(&run).len(), 1);
}

#[test]
fn a_space_or_settings_without_a_supernet_are_refused_before_a_run_directory() {
    let sb = Sandbox::new();
    nasbench_graph_data();
    let graph = "[search_space]\nplugin = \"nasbench-graph\"\n";
    let cases = [
        (
            experiment("{ epochs = 2 }", graph, &darts("")).replace("\"digits\"", "\"cora\""),
            "optimizer `darts` is a one-shot optimizer: it needs a search space that offers a \
             supernet",
        ),
        (
            experiment(
                "{ epochs = 2 }",
                &NASNET.replace("\"darts\"", "\"xfernas\""),
                &darts(""),
            ),
            "search space `nasnet` cannot build a supernet for one-shot optimizer `darts`",
        ),
        (
            experiment("{ epochs = 2 }", NASNET, &darts("epochs = 0\n")),
            "`epochs` is 0",
        ),
        (
            experiment(
                "{ epochs = 2 }",
                graph,
                "[optimizer]\nplugin = \"random\"\n",
            )
            .replace("\"digits\"", "\"cora\""),
            "budget.epochs counts the epochs of a one-shot search",
        ),
    ];
    for (text, want) in cases {
        sb.write("exp.toml", &text);
        for args in [
            &["validate", "exp.toml"][..],
            &["run", "exp.toml", "--out", "run"],
        ] {
            let out = sb.run(args);
            out.expect_code(2);
            assert!(out.stderr().contains(want), "{want}\n{}", out.stderr());
            assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
            assert!(!sb.path().join("run").exists());
        }
    }
    sb.write(
        "exp.toml",
        &experiment("{ epochs = 2 }", NASNET, &darts("")),
    );
    let out = sb.run(&["validate", "exp.toml"]);
    out.expect_code(0);
    assert!(
        out.stdout()
            .contains("one-shot search: a supernet of 28 edges over 8 candidate ops"),
        "{}",
        out.stdout()
    );
}

#[test]
fn compare_mixing_darts_and_random_reports_by_seconds() {
    let sb = Sandbox::new();
    let text = format!(
        "[experiment]\nname = \"mix\"\nseed = 2\nbudget = {{ evaluations = 3, seconds = 20 }}\n\
         batch_size = 1\n{NASNET}[tasks]\n\n[compare]\ntargets = [\"digits\"]\nseeds = 2\n\
         jobs = 1\n\n[[compare.variant]]\nname = \"darts\"\noptimizer = {{ plugin = \"darts\", \
         params = {{ epochs = 1, batch_size = 32, channels = 4, cells = 2 }} }}\n\n\
         [[compare.variant]]\nname = \"random\"\noptimizer = {{ plugin = \"random\" }}\n"
    );
    sb.write("cmp.toml", &text);
    let out = sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"]);
    out.expect_code(0);
    assert!(
        out.stdout().contains("by search seconds"),
        "{}",
        out.stdout()
    );
    let dir = sb.path().join("cmp");
    let s: serde_json::Value = serde_json::from_str(&read(&dir.join("summary.json"))).unwrap();
    let by = &s["by_seconds"];
    assert!(
        by["axis"].as_str().unwrap().contains("not by evaluations"),
        "{s}"
    );
    assert_eq!(by["seconds"].as_array().unwrap().last().unwrap(), 20.0);
    let variants = by["per_target"][0]["variants"].as_array().unwrap();
    let kinds: Vec<(&str, &str, u64)> = variants
        .iter()
        .map(|v| {
            (
                v["variant"].as_str().unwrap(),
                v["kind"].as_str().unwrap(),
                v["runs"].as_u64().unwrap(),
            )
        })
        .collect();
    assert_eq!(kinds, [("darts", "one-shot", 2), ("random", "ask/tell", 2)]);
    for v in variants {
        assert_eq!(v["final_best"]["n"], 2, "{v}");
        assert!(v["mean_seconds"].as_f64().unwrap() > 0.0, "{v}");
    }
    assert!(
        s["per_target"].as_array().unwrap().is_empty(),
        "no tables by evaluations: {s}"
    );
    let md = read(&dir.join("summary.md"));
    assert!(
        md.contains("By search seconds") && md.contains("| darts | one-shot |"),
        "{md}"
    );
    let curves = read(&dir.join("curves.csv"));
    assert!(
        curves.starts_with("target,variant,seed,seconds,best_so_far\n"),
        "{curves}"
    );
    // darts: one derived cell per seed; random: 3 evaluations per seed.
    assert_eq!(curves.lines().count(), 1 + 2 + 6, "{curves}");
    assert!(dir.join("plots/best-by-seconds-digits.png").is_file());
    // `xnas report` rebuilds the same summary.
    let before = read(&dir.join("summary.md"));
    sb.run(&["--quiet", "report", "cmp"]).expect_code(0);
    assert_eq!(read(&dir.join("summary.md")), before);
}
