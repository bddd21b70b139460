//! `xnas compare` and `xnas report` on a comparison, end to end with the real binary, plugins
//! and NAS-Bench-Graph.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use xnas_tests::*;

fn sandbox() -> Sandbox {
    nasbench_graph_data();
    for lib in ["xnas_random", "xnas_evolution", "xnas_nao", "xnas_xfer"] {
        artefact(&lib_file(lib));
    }
    Sandbox::new()
}

/// Two targets × four variants × `seeds` seeds, 16 evaluations each; NAO with short training.
fn comparison(seeds: u64) -> String {
    format!(
        r#"[experiment]
name = "cmp"
seed = 5
budget = {{ evaluations = 16 }}
batch_size = 4

[search_space]
plugin = "nasbench-graph"
params = {{ ops = "target" }}

[tasks]
sources = ["cora", "citeseer", "pubmed"]
source_samples = 12

[compare]
targets = ["cora", "citeseer"]
seeds = {seeds}
budgets = [8, 16]
jobs = 2

[[compare.variant]]
name = "random"
optimizer = {{ plugin = "random" }}

[[compare.variant]]
name = "evolution"
optimizer = {{ plugin = "evolution", params = {{ population = 6, sample_size = 3 }} }}

[[compare.variant]]
name = "nao"
optimizer = {{ plugin = "nao", params = {{ epochs_first = 6, epochs = 2, normalise = "rank" }} }}

[[compare.variant]]
name = "xfer(nao)"
optimizer = {{ plugin = "nao", params = {{ epochs_first = 6, epochs = 2, normalise = "rank" }} }}
transfer = {{ plugin = "xfer", params = {{ phase_switch = 4 }} }}
"#
    )
}

/// curves.csv as (target, variant, seed, evaluation) → regret.
fn curves(dir: &Path) -> BTreeMap<(String, String, u64, u64), f64> {
    let mut r = csv::Reader::from_path(dir.join("curves.csv")).expect("curves.csv");
    assert_eq!(
        r.headers().unwrap().iter().collect::<Vec<_>>(),
        [
            "target",
            "variant",
            "seed",
            "evaluation",
            "best_so_far",
            "regret"
        ]
    );
    r.records()
        .map(|row| {
            let row = row.unwrap();
            (
                (
                    row[0].to_string(),
                    row[1].to_string(),
                    row[2].parse().unwrap(),
                    row[3].parse().unwrap(),
                ),
                row[5].parse().unwrap(),
            )
        })
        .collect()
}

#[test]
fn a_comparison_writes_curves_statistics_and_plots() {
    let sb = sandbox();
    sb.write("cmp.toml", &comparison(3));
    let out = sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cmp"]);
    out.expect_code(0);
    let dir = sb.path().join("cmp");
    assert!(
        out.stdout().contains("xfer(nao) vs nao: speed-up"),
        "{}",
        out.stdout()
    );
    assert!(out.stdout().contains(&format!(
        "summary: {}",
        Path::new("cmp").join("summary.md").display()
    )));

    // Every run is an ordinary run directory with the shared seed and sources.
    for t in ["cora", "citeseer"] {
        for v in ["random", "evolution", "nao", "xfer-nao"] {
            for s in [5, 6, 7] {
                let run = dir.join(format!("runs/{t}/{v}/seed-{s}"));
                let summary = read_summary(&run);
                assert_eq!(summary["target"], t);
                assert_eq!(summary["seed"], s);
                assert_eq!(summary["evaluations"], 16);
            }
        }
    }
    // Same seed, same source knowledge, whatever the variant.
    let sources = |v: &str| {
        read_trials(&dir.join(format!("runs/cora/{v}/seed-6")))
            .into_iter()
            .filter(|r| r.role == "source")
            .map(|r| (r.task, r.arch, r.metric.map(f64::to_bits)))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        sources("random").len(),
        2 * 12,
        "cora's sources: citeseer and pubmed"
    );
    assert_eq!(sources("random"), sources("xfer-nao"));
    assert_eq!(sources("random"), sources("nao"));

    // The tidy curves: 2 targets × 4 variants × 3 seeds × 16 evaluations, regret ≥ 0, never rising.
    let c = curves(&dir);
    assert_eq!(c.len(), 2 * 4 * 3 * 16);
    for ((t, v, s, k), r) in &c {
        assert!(*r >= 0.0, "{t} {v} {s} {k}: negative regret {r}");
        if *k > 1 {
            assert!(
                *r <= c[&(t.clone(), v.clone(), *s, k - 1)] + 1e-12,
                "{t} {v} {s}: regret rose at {k}"
            );
        }
    }
    // The summary's numbers are the curves' numbers.
    let s = read_json(&dir.join("summary.json"));
    assert_eq!(
        s["variants"],
        serde_json::json!(["random", "evolution", "nao", "xfer(nao)"])
    );
    assert_eq!(s["budgets"], serde_json::json!([8, 16]));
    assert_eq!(s["missing_runs"], serde_json::json!([]));
    for tr in s["per_target"].as_array().unwrap() {
        let t = tr["target"].as_str().unwrap();
        for vr in tr["variants"].as_array().unwrap() {
            let v = vr["variant"].as_str().unwrap();
            for at in vr["regret"].as_array().unwrap() {
                let k = at["budget"].as_u64().unwrap();
                let xs: Vec<f64> = [5, 6, 7]
                    .iter()
                    .map(|sd| c[&(t.into(), v.into(), *sd, k)])
                    .collect();
                let mean = xs.iter().sum::<f64>() / 3.0;
                let got = at["value"]["mean"].as_f64().unwrap();
                assert!((got - mean).abs() < 1e-12, "{t} {v} @{k}: {got} vs {mean}");
                assert_eq!(at["value"]["n"], 3);
                let (lo, hi) = (
                    at["value"]["lo"].as_f64().unwrap(),
                    at["value"]["hi"].as_f64().unwrap(),
                );
                assert!(
                    lo <= mean + 1e-12 && mean <= hi + 1e-12,
                    "{t} {v} @{k}: [{lo}, {hi}] misses {mean}"
                );
            }
            let e = &vr["evaluations_to_threshold"];
            assert_eq!(e["runs"], 3);
        }
        let pair = &tr["pairs"][0];
        assert_eq!(pair["transfer"], "xfer(nao)");
        assert_eq!(pair["plain"], "nao");
        assert_eq!(pair["tests"].as_array().unwrap().len(), 2);
        // Three seeds cannot make a Wilcoxon test significant: it says so.
        for test in pair["tests"].as_array().unwrap() {
            if let Some(n) = test["wilcoxon"]["n"].as_u64() {
                let min_p = 2.0 * 0.5f64.powi(n as i32);
                assert_eq!(test["min_p_value"].as_f64().unwrap(), min_p, "{test}");
                let v = test["verdict"].as_str().unwrap();
                assert!(v.starts_with("underpowered (3 seeds"), "{test}");
                assert!(v.contains(&format!("min p = {min_p}")), "{test}");
            }
        }
        let sp = &pair["speedup"];
        assert!(sp["lo"].as_f64().unwrap() <= sp["mean"].as_f64().unwrap() + 1e-12);
    }
    let ranks: f64 = s["overall"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v["average_rank"][1]["value"].as_f64().unwrap())
        .sum();
    assert!(
        (ranks - (1.0 + 2.0 + 3.0 + 4.0)).abs() < 1e-9,
        "average ranks sum to 10, got {ranks}"
    );

    // The markdown tables carry the same figures.
    let md = std::fs::read_to_string(dir.join("summary.md")).unwrap();
    for needle in [
        "# Comparison `cmp`",
        "| variant | regret@8 | regret@16 | average rank@16 |",
        "## cora",
        "## citeseer",
        "| xfer(nao) | nao |",
        "xfer(nao) against nao: speed-up",
    ] {
        assert!(md.contains(needle), "summary.md lacks {needle:?}:\n{md}");
    }
    // Per target, regret in the metric's own units; the overall rows divide each target's
    // regret by its metric range (reference − worst observed) and average over targets.
    let range = |t: &str| {
        let tr = s["per_target"]
            .as_array()
            .unwrap()
            .iter()
            .find(|x| x["target"] == t)
            .unwrap();
        tr["reference_metric"].as_f64().unwrap() - tr["worst_metric_observed"].as_f64().unwrap()
    };
    for t in ["cora", "citeseer"] {
        assert!(
            (0.1..1.0).contains(&range(t)),
            "accuracies as fractions: {}",
            range(t)
        );
    }
    let per_seed: Vec<f64> = [5u64, 6, 7]
        .iter()
        .map(|sd| {
            (c[&("cora".into(), "random".into(), *sd, 16)] / range("cora")
                + c[&("citeseer".into(), "random".into(), *sd, 16)] / range("citeseer"))
                / 2.0
        })
        .collect();
    let want = per_seed.iter().sum::<f64>() / 3.0;
    let r16 = s["overall"][0]["normalized_regret"][1]["value"]["mean"]
        .as_f64()
        .unwrap();
    assert!((r16 - want).abs() < 1e-12, "{r16} vs {want}");
    assert!(
        s["overall_rule"].as_str().unwrap().contains("metric range"),
        "{}",
        s["overall_rule"]
    );
    assert!(md.contains("in the metric's own units"), "{md}");
    assert!(!md.contains("×100"), "no blanket rescaling: {md}");
    // The overall table's random row (its first) shows the normalised regret@16.
    let row = md
        .lines()
        .find(|l| l.starts_with("| random | "))
        .expect("random row");
    let cells: Vec<&str> = row.split(" | ").collect();
    assert!(cells[2].starts_with(&format!("{r16:.3}")), "{row}");
    // Each run's final regret is the same number in curves.csv and in its own summary.json.
    for t in ["cora", "citeseer"] {
        for (v, d) in [("random", "random"), ("xfer(nao)", "xfer-nao")] {
            for sd in [5u64, 6, 7] {
                let run = read_summary(&dir.join(format!("runs/{t}/{d}/seed-{sd}")));
                assert_eq!(
                    c[&(t.into(), v.into(), sd, 16)].to_bits(),
                    run["regret"].as_f64().unwrap().to_bits(),
                    "{t} {v} {sd}"
                );
            }
        }
    }

    // Plots as PNG and SVG.
    for stem in [
        "regret-cora",
        "regret-citeseer",
        "regret-overall",
        "average-rank",
    ] {
        for ext in ["png", "svg"] {
            let p = dir.join(format!("plots/{stem}.{ext}"));
            let bytes = std::fs::read(&p).unwrap_or_else(|_| panic!("{} missing", p.display()));
            assert!(bytes.len() > 2000, "{} is nearly empty", p.display());
        }
        let svg = std::fs::read_to_string(dir.join(format!("plots/{stem}.svg"))).unwrap();
        assert!(
            svg.contains("xfer(nao)") && svg.contains("target evaluations"),
            "{stem}.svg lacks legend or axis label"
        );
    }

    // `xnas report` rebuilds everything from the stored runs without running anything.
    let before = std::fs::read_to_string(dir.join("summary.json")).unwrap();
    for f in ["summary.json", "summary.md", "curves.csv"] {
        std::fs::remove_file(dir.join(f)).unwrap();
    }
    std::fs::remove_dir_all(dir.join("plots")).unwrap();
    let store = dir.join("runs/cora/nao/seed-5/store.sqlite");
    let mtime = std::fs::metadata(&store).unwrap().modified().unwrap();
    sb.run(&["report", "cmp"]).expect_code(0);
    assert_eq!(
        std::fs::read_to_string(dir.join("summary.json")).unwrap(),
        before
    );
    assert_eq!(curves(&dir), c);
    assert!(dir.join("plots/average-rank.png").exists());
    assert_eq!(
        std::fs::metadata(&store).unwrap().modified().unwrap(),
        mtime,
        "report touched a run"
    );
}

#[test]
fn an_interrupted_comparison_resumes_and_matches_an_uninterrupted_one() {
    let sb = sandbox();
    sb.write("cmp.toml", &comparison(2));
    // Reference, all at once.
    sb.run(&[
        "--quiet", "compare", "cmp.toml", "--out", "whole", "--jobs", "2",
    ])
    .expect_code(0);

    // Killed (with its runs) once a few runs have finished, then run again.
    let mut child = {
        use std::os::unix::process::CommandExt;
        sb.xnas()
            .args([
                "--quiet", "compare", "cmp.toml", "--out", "cut", "--jobs", "1",
            ])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .process_group(0)
            .spawn()
            .unwrap()
    };
    let done = |dir: &str| {
        walk(&sb.path().join(dir).join("runs"))
            .into_iter()
            .filter(|p| p.ends_with("summary.json"))
            .count()
    };
    let t0 = std::time::Instant::now();
    while done("cut") < 3 && t0.elapsed().as_secs() < 120 {
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let _ = std::process::Command::new("kill")
        .args(["-KILL", "--", &format!("-{}", child.id())])
        .status();
    let _ = child.wait();
    let finished = done("cut");
    assert!(
        (3..16).contains(&finished),
        "killed after {finished} of 16 runs"
    );

    let out = sb.run(&[
        "--quiet", "compare", "cmp.toml", "--out", "cut", "--jobs", "2",
    ]);
    out.expect_code(0);
    assert_eq!(done("cut"), 16);
    assert_eq!(
        curves(&sb.path().join("cut")),
        curves(&sb.path().join("whole"))
    );
    let regrets = |d: &str| {
        let s = read_json(&sb.path().join(d).join("summary.json"));
        (s["overall"].clone(), s["per_target"][0]["pairs"].clone())
    };
    assert_eq!(regrets("cut"), regrets("whole"));

    // More seeds extend the comparison: only the new runs run.
    let store = sb.path().join("cut/runs/cora/nao/seed-5/store.sqlite");
    let mtime = std::fs::metadata(&store).unwrap().modified().unwrap();
    sb.write("cmp.toml", &comparison(3));
    sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cut"])
        .expect_code(0);
    assert_eq!(done("cut"), 24);
    assert_eq!(
        std::fs::metadata(&store).unwrap().modified().unwrap(),
        mtime
    );

    // A changed variant would mix results: refused, naming the run.
    sb.write(
        "cmp.toml",
        &comparison(3).replace("population = 6", "population = 8"),
    );
    let out = sb.run(&["--quiet", "compare", "cmp.toml", "--out", "cut"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("made from a different file") && out.stderr().contains("evolution"),
        "{}",
        out.stderr()
    );
}

#[test]
fn bad_comparison_files_are_refused_before_anything_runs() {
    let sb = sandbox();
    let cases = [
        (
            comparison(2).replace("plugin = \"evolution\"", "plugin = \"evolutoin\""),
            vec!["variant `evolution`", "evolutoin"],
        ),
        (
            comparison(2).replace("population = 6", "populaton = 6"),
            vec!["variant `evolution`", "populaton"],
        ),
        (
            comparison(2).replace("budgets = [8, 16]", "budgets = [8, 40]"),
            vec!["budgets: 40 is outside 1..=16"],
        ),
        (
            comparison(2).replace("seeds = 2", "seeds = 2\nsede = 1"),
            vec!["cmp.toml:", "unknown field `sede`"],
        ),
        (
            comparison(2).replace(
                "targets = [\"cora\", \"citeseer\"]",
                "targets = [\"cora\", \"cornell\"]",
            ),
            vec!["variant `random`, target cornell", "cornell"],
        ),
    ];
    for (text, needles) in cases {
        sb.write("cmp.toml", &text);
        // `xnas validate` finds the same error, in the comparison file, and writes nothing.
        let checked = sb.run(&["validate", "cmp.toml"]);
        checked.expect_code(2);
        for n in &needles {
            assert!(
                checked.stderr().contains(n),
                "expected {n:?} in:\n{}",
                checked.stderr()
            );
        }
        assert!(
            checked.stderr().starts_with("error: cmp.toml"),
            "{}",
            checked.stderr()
        );
        let out = sb.run(&["--quiet", "compare", "cmp.toml", "--out", "bad"]);
        out.expect_code(2);
        let err = out.stderr();
        assert_eq!(
            err.lines().filter(|l| l.starts_with("error")).count(),
            1,
            "{err}"
        );
        for n in needles {
            assert!(err.contains(n), "expected {n:?} in:\n{err}");
        }
        assert!(
            walk(&sb.path().join("bad"))
                .iter()
                .all(|p| !p.ends_with("store.sqlite")),
            "a run started despite the bad file"
        );
    }
    // A good one validates, and `xnas validate` wrote nothing.
    sb.write("cmp.toml", &comparison(2));
    let out = sb.run(&["validate", "cmp.toml"]);
    out.expect_code(0);
    assert!(
        out.stdout()
            .contains("cmp.toml: ok — comparison of 4 variants on 2 targets × 2 seeds (16 runs)"),
        "{}",
        out.stdout()
    );
    assert!(!sb.path().join("runs").exists());
    // A comparison given to `xnas run` points to `xnas compare`.
    let out = sb.run(&["run", "cmp.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains("xnas compare cmp.toml"),
        "{}",
        out.stderr()
    );
}

fn walk(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(walk(&p));
            } else {
                out.push(p);
            }
        }
    }
    out
}

/// Relative paths in a comparison file keep meaning what they mean there, plugin parameters
/// included, although each run's file is written (and resumed) under the output directory.
#[test]
fn relative_paths_in_plugin_parameters_resolve_against_the_comparison_file() {
    let sb = Sandbox::new();
    artefact(&lib_file("xnas_random"));
    artefact(&lib_file("xnas_tabular"));
    let examples = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/tabular");
    let exp = std::fs::read_to_string(examples.join("experiment.toml")).expect("example");
    std::fs::create_dir_all(sb.path().join("study/data")).unwrap();
    std::fs::copy(
        examples.join("nbg-subset.csv"),
        sb.path().join("study/data/table.csv"),
    )
    .expect("copy table");
    let (head, _) = exp.split_once("[optimizer]").expect("example layout");
    let text = head
        .replace("table = \"nbg-subset.csv\"", "table = \"data/table.csv\"")
        .replace("budget = { evaluations = 150 }", "budget = { evaluations = 8 }")
        .replace("[experiment]\nname = \"tabular-evolution\"", "[experiment]\nname = \"rel\"")
        + "[tasks]\n\n[compare]\ntargets = [\"cora\"]\nseeds = 2\n\n[[compare.variant]]\nname = \"random\"\noptimizer = { plugin = \"random\" }\n";
    sb.write("study/cmp.toml", &text);
    sb.run(&["validate", "study/cmp.toml"]).expect_code(0);
    let out = sb.run(&[
        "--quiet",
        "compare",
        "study/cmp.toml",
        "--out",
        "elsewhere/out",
    ]);
    out.expect_code(0);
    let run = sb.path().join("elsewhere/out/runs/cora/random/seed-1");
    assert_eq!(read_summary(&run)["evaluations"], 8, "{}", out.stderr());
    let file = std::fs::read_to_string(run.with_extension("toml")).unwrap();
    assert!(file.contains("table = \"data/table.csv\""), "{file}");
    // The run directory is an ordinary run: its reports rebuild from the stored settings.
    sb.run(&["report", run.to_str().unwrap()]).expect_code(0);

    // In an experiment file, base_dir must be an absolute folder; the message names the key.
    let single = file.replace(
        &format!(
            "base_dir = \"{}\"",
            std::fs::canonicalize(sb.path().join("study"))
                .unwrap()
                .display()
        ),
        "base_dir = \"study\"",
    );
    assert_ne!(
        single, file,
        "the run's file names the comparison's folder:\n{file}"
    );
    sb.write("single.toml", &single);
    let out = sb.run(&["validate", "single.toml"]);
    out.expect_code(2);
    assert!(
        out.stderr().starts_with("error: single.toml:")
            && out
                .stderr()
                .contains("base_dir `study` is not an absolute path"),
        "{}",
        out.stderr()
    );
}

#[test]
fn an_unknown_task_in_a_leave_one_out_pool_is_blamed_on_the_task_and_the_pool() {
    let sb = sandbox();
    let text = comparison(2)
        .replace(
            "targets = [\"cora\", \"citeseer\"]",
            "targets = \"leave-one-out\"\ntasks = [\"cora\", \"citeseer\", \"imagenet16-120\"]",
        )
        .replace("sources = [\"cora\", \"citeseer\", \"pubmed\"]\n", "");
    sb.write("loo.toml", &text);
    for args in [
        vec!["validate", "loo.toml"],
        vec!["--quiet", "compare", "loo.toml", "--out", "loo"],
    ] {
        let out = sb.run(&args);
        out.expect_code(2);
        let err = out.stderr();
        assert!(
            err.contains("`imagenet16-120` of the leave-one-out pool is not a task of search space `nasbench-graph`"),
            "{err}"
        );
        assert!(
            !err.contains("target cora"),
            "not blamed on the first target: {err}"
        );
    }
}
