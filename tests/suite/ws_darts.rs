//! Warm-started DARTS through `xnas run` and `xnas resume` (the real binary, the real `pdarts`,
//! `ws-darts`, `nasnet` and `task2vec` libraries) on real image tasks at a tiny scale (256
//! training images, a search network of C = 4 and 3 cells): transfer architecture search (TAS,
//! `pdarts` with `transfer_search = true`) on MNIST and Fashion-MNIST keeps λ and λ̂; `ws-darts`
//! on scikit-learn's digits searches within the nearest source's λ, with λ̂ from its α, chosen by
//! task2vec among two sources; kill -9 then resume equals an uninterrupted search; and a source
//! without a transfer architecture, of another space, or several sources without a
//! `[similarity]` are refused before a run directory exists.

use super::oneshot_run::{recorded_epochs, NASNET};
use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;
use xnas_tests::*;

/// The DARTS cell (one-shot runs' space on digits), with MNIST and Fashion-MNIST as well.
pub(crate) fn space() -> String {
    format!(
        "{NASNET}[search_space.params.tasks.mnist]\npreset = \"mnist\"\nlimit_train = 256\n\
         [search_space.params.tasks.fashion-mnist]\npreset = \"fashion-mnist\"\n\
         limit_train = 256\nvalid = 500\nlimit_test = 500\n"
    )
}

/// TAS: two stages (8 ops, then the 3 kept), one epoch each; α learns fast enough to move.
pub(crate) const TAS: &str =
    "[optimizer]\nplugin = \"pdarts\"\n[optimizer.params]\ncells = [2, 3]\n\
                   channels = [4, 4]\nkeep = [3]\nskip_dropout = [0.0, 0.3]\nepochs = 1\n\
                   epochs_weights_only = 0\nevaluate_last = 1\nbatch_size = 32\n\
                   arch_learning_rate = 0.1\n";

/// `ws-darts`: 2 epochs, the first training the weights only.
pub(crate) fn ws_darts(params: &str) -> String {
    format!(
        "[optimizer]\nplugin = \"ws-darts\"\n[optimizer.params]\nepochs = 2\n\
         epochs_weights_only = 1\nevaluate_last = 1\nbatch_size = 32\nskip_dropout = 0.2\n\
         {params}"
    )
}

/// An experiment on `target` with `rest` (optimizer, similarity) and the `[tasks]` lines `tasks`.
pub(crate) fn experiment(target: &str, rest: &str, tasks: &str) -> String {
    format!(
        "[experiment]\nname = \"ws\"\nseed = 3\nbudget = {{ epochs = 10 }}\n{}{rest}\n\
         [tasks]\ntarget = \"{target}\"\n{tasks}",
        space()
    )
}

/// `[tasks]` lines naming `runs` (task, run directory) as sources.
pub(crate) fn sources(runs: &[(&str, &Path)]) -> String {
    let tasks: Vec<String> = runs.iter().map(|(t, _)| format!("\"{t}\"")).collect();
    let dirs: Vec<String> = runs
        .iter()
        .map(|(_, d)| format!("\"{}\"", d.display()))
        .collect();
    format!(
        "sources = [{}]\nsource_runs = [{}]\n",
        tasks.join(", "),
        dirs.join(", ")
    )
}

/// Source runs made once for every test: TAS on MNIST and on Fashion-MNIST, plain P-DARTS on
/// MNIST (no transfer architecture).
struct Sources {
    sb: Sandbox,
}

impl Sources {
    fn get() -> &'static Sources {
        static SOURCES: OnceLock<Sources> = OnceLock::new();
        SOURCES.get_or_init(|| {
            let sb = Sandbox::new();
            for (name, task, params) in [
                ("tas-mnist", "mnist", "transfer_search = true\n"),
                ("tas-fmnist", "fashion-mnist", "transfer_search = true\n"),
                ("pdarts-mnist", "mnist", ""),
            ] {
                let file = format!("{name}.toml");
                sb.write(&file, &experiment(task, &format!("{TAS}{params}"), ""));
                sb.run(&["--quiet", "run", &file, "--out", name])
                    .expect_code(0);
            }
            Sources { sb }
        })
    }

    fn run(&self, name: &str) -> PathBuf {
        self.sb.path().join(name)
    }
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

pub(crate) fn json(path: &Path) -> serde_json::Value {
    serde_json::from_str(&read(path)).unwrap()
}

/// `alpha.csv`: per row, the epoch and the weight of each of the 8 ops (None where not searched).
pub(crate) fn alpha_rows(run: &Path) -> Vec<(u32, Vec<Option<f64>>)> {
    let mut r = csv::Reader::from_path(run.join("alpha.csv")).unwrap();
    r.records()
        .map(|rec| {
            let rec = rec.unwrap();
            let weights = (6..14).map(|i| rec[i].parse::<f64>().ok()).collect();
            (rec[0].parse().unwrap(), weights)
        })
        .collect()
}

/// λ's op indices per edge.
pub(crate) fn candidates(lambda: &serde_json::Value) -> Vec<Vec<usize>> {
    lambda["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|row| {
            row.as_array()
                .unwrap()
                .iter()
                .map(|o| o.as_u64().unwrap() as usize)
                .collect()
        })
        .collect()
}

/// The ops each `alpha.csv` row weighs.
pub(crate) fn searched(row: &[Option<f64>]) -> Vec<usize> {
    (0..row.len()).filter(|&i| row[i].is_some()).collect()
}

#[test]
fn tas_keeps_lambda_and_lambda_hat_with_its_run_and_reports_a_cell() {
    let tas = Sources::get().run("tas-mnist");
    let s = read_summary(&tas);
    assert_eq!(
        (s["search"]["epochs"].clone(), s["search"]["ended"].clone()),
        (2.into(), "finished".into())
    );
    let trials = read_trials(&tas);
    assert_eq!(trials.len(), 1);
    assert_eq!(trials[0].status, "ok");
    assert!(trials[0].arch.starts_with("normal: "), "{}", trials[0].arch);

    let lambda = json(&tas.join("artifacts/lambda.json"));
    assert_eq!(
        (&lambda["task"], &lambda["cells"], &lambda["channels"]),
        (&"mnist".into(), &3.into(), &4.into())
    );
    assert_eq!(lambda["ops"].as_array().unwrap().len(), 8);
    assert!(lambda.get("alpha").is_none());
    let kept = candidates(&lambda);
    assert_eq!(kept.len(), 28);
    // λ is the DAG the last stage searched: the ops of its alpha.csv rows, edge by edge.
    let rows = alpha_rows(&tas);
    let last: Vec<_> = rows.iter().filter(|(e, _)| *e == 1).collect();
    assert_eq!(last.len(), 28);
    for (edge, (_, row)) in last.iter().enumerate() {
        let mut ops = kept[edge].clone();
        ops.sort();
        assert_eq!(searched(row), ops, "edge {edge}");
    }
    let hat = json(&tas.join("artifacts/lambda_hat.json"));
    assert_eq!(candidates(&hat), kept);
    assert_eq!(hat["weights"], "supernet.weights");
    let alpha = hat["alpha"].as_array().unwrap();
    assert!(alpha.len() == 28 && alpha.iter().all(|r| r.as_array().unwrap().len() == 3));
    assert!(
        std::fs::metadata(tas.join("artifacts/supernet.weights"))
            .unwrap()
            .len()
            > 1000
    );
    // A plain P-DARTS run keeps no transfer architecture.
    let plain = Sources::get().run("pdarts-mnist");
    assert!(plain.join("artifacts/alpha.json").is_file());
    assert!(!plain.join("artifacts/lambda.json").exists());
}

#[test]
fn ws_darts_searches_within_lambda_and_with_lambda_hat_starts_from_its_alpha() {
    let tas = Sources::get().run("tas-mnist");
    let lambda = json(&tas.join("artifacts/lambda.json"));
    let kept = candidates(&lambda);
    let hat = json(&tas.join("artifacts/lambda_hat.json"));
    let tasks = sources(&[("mnist", &tas)]);
    for transfer in ["lambda", "lambda_hat"] {
        let sb = Sandbox::new();
        let text = experiment(
            "digits",
            &ws_darts(&format!("transfer = \"{transfer}\"\n")),
            &tasks,
        );
        let run = sb.run_experiment(&text, 1);
        let s = read_summary(&run);
        assert_eq!(
            (s["search"]["epochs"].clone(), s["search"]["ended"].clone()),
            (2.into(), "finished".into()),
            "{transfer}"
        );
        let trials = read_trials(&run);
        assert_eq!(trials.len(), 1);
        assert_eq!(
            (trials[0].task.as_str(), trials[0].status.as_str()),
            ("digits", "ok")
        );
        assert!(trials[0].arch.starts_with("normal: "), "{}", trials[0].arch);
        // The single source is the one chosen, without a similarity measure.
        let sim = json(&run.join("similarity.json"));
        assert_eq!(sim["chosen"], tas.display().to_string());
        // Every epoch searches exactly λ's ops on every edge.
        let rows = alpha_rows(&run);
        assert_eq!(rows.len(), 2 * 28);
        for (i, (_, row)) in rows.iter().enumerate() {
            let mut ops = kept[i % 28].clone();
            ops.sort();
            assert_eq!(searched(row), ops, "{transfer} row {i}");
        }
        // Epoch 0 trains the weights only: its mixing weights are the starting α's softmax.
        for (edge, (_, row)) in rows[..28].iter().enumerate() {
            let alpha: Vec<f64> = hat["alpha"][edge]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| a.as_f64().unwrap())
                .collect();
            let z: f64 = alpha.iter().map(|a| a.exp()).sum();
            for (k, &op) in kept[edge].iter().enumerate() {
                let w = row[op].unwrap();
                let transferred = alpha[k].exp() / z;
                match transfer {
                    "lambda_hat" => assert!((w - transferred).abs() < 1e-5, "edge {edge}"),
                    _ => assert!((w - 1.0 / 3.0).abs() < 1e-2, "edge {edge}: {w}"),
                }
            }
        }
        if transfer == "lambda" {
            // TAS's α moved away from uniform, so the two starts are told apart above.
            let far = rows[..28].iter().enumerate().any(|(edge, _)| {
                let a = &hat["alpha"][edge];
                (a[0].as_f64().unwrap() - a[1].as_f64().unwrap()).abs() > 0.05
            });
            assert!(far, "TAS's α stayed near uniform: {hat}");
        }
        assert!(run.join("artifacts/supernet.weights").is_file());
    }
}

#[test]
fn ws_darts_killed_mid_search_resumes_to_the_same_alpha_and_cell() {
    let tas = Sources::get().run("tas-mnist");
    let text = experiment(
        "digits",
        &ws_darts("epochs = 3\n").replace("epochs = 2\n", ""),
        &sources(&[("mnist", &tas)]),
    );
    let reference = Sandbox::new();
    let whole = reference.run_experiment(&text, 1);

    let sb = Sandbox::new();
    sb.write("exp.toml", &text);
    let at_kill = run_and_kill(&sb, 1, recorded_epochs, Duration::from_secs(300));
    let run = sb.path().join("run");
    assert!(at_kill < 3, "killed too late to test anything");
    assert!(!run.join("trials.csv").exists());
    sb.run(&["--quiet", "resume", "run"]).expect_code(0);
    assert_eq!(read(&run.join("alpha.csv")), read(&whole.join("alpha.csv")));
    let (a, b) = (read_trials(&run), read_trials(&whole));
    assert_eq!(a.len(), 1);
    assert_eq!(a[0].arch, b[0].arch);
    assert_eq!(read_summary(&run)["search"]["epochs"], 3);
}

/// A skip-dropout sweep in one run: each rate searched from λ̂ in turn, each rate's cell derived
/// and evaluated as a trial.
#[test]
fn a_skip_dropout_sweep_searches_each_rate_from_lambda_hat_and_evaluates_each_cell() {
    let tas = Sources::get().run("tas-mnist");
    let text = experiment(
        "digits",
        &ws_darts("")
            .replace("skip_dropout = 0.2\n", "skip_dropout = [0.0, 0.7]\n")
            .replace(
                "plugin = \"ws-darts\"\n",
                "plugin = \"ws-darts\"\nderive = 2\n",
            ),
        &sources(&[("mnist", &tas)]),
    );
    let sb = Sandbox::new();
    let run = sb.run_experiment(&text, 1);
    assert_eq!(read_summary(&run)["search"]["epochs"], 4);
    let rows = alpha_rows(&run);
    assert_eq!(
        rows.iter().map(|(e, _)| *e).collect::<Vec<_>>(),
        (0..4).flat_map(|e| [e; 28]).collect::<Vec<_>>()
    );
    // Both rates start from λ̂'s α: their weights-only first epochs (0 and 2) are the same.
    let weights =
        |from: usize| -> Vec<_> { rows[from..from + 28].iter().map(|(_, w)| w).collect() };
    assert_eq!(weights(0), weights(56));
    let trials = read_trials(&run);
    assert!((1..=2).contains(&trials.len()), "{}", trials.len());
    assert!(trials
        .iter()
        .all(|t| t.status == "ok" && t.task == "digits"));
}

/// task2vec with a probe small enough for a test (trained once on digits, kept in `probes/`).
pub(crate) const TASK2VEC: &str = "[similarity]\nplugin = \"task2vec\"\n[similarity.params]\n\
                        probe = { preset = \"digits\", limit_train = 512 }\nprobe_samples = 512\n\
                        probe_epochs = 1\nprobe_dir = \"probes\"\nmax_samples = 200\n\
                        fisher_samples = 256\nthreads = 1\n";

#[test]
fn the_nearest_source_under_task2vec_gives_the_transfer_architecture() {
    let src = Sources::get();
    let (mnist, fmnist) = (src.run("tas-mnist"), src.run("tas-fmnist"));
    let tasks = sources(&[("fashion-mnist", &fmnist), ("mnist", &mnist)]);
    let sb = Sandbox::new();

    // Two sources and no measure: one sentence, nothing made.
    sb.write(
        "exp.toml",
        &experiment("digits", &ws_darts("transfer = \"lambda\"\n"), &tasks),
    );
    let out = sb.run(&["run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    assert!(
        out.stderr().contains(
            "optimizer `ws-darts` starts from the nearest of 2 source runs: add a [similarity] \
             section"
        ),
        "{}",
        out.stderr()
    );
    assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
    assert!(!sb.path().join("run").exists());

    let rest = format!("{}{TASK2VEC}", ws_darts("transfer = \"lambda\"\n"));
    let run = sb.run_experiment(&experiment("digits", &rest, &tasks), 1);
    let sim = json(&run.join("similarity.json"));
    assert_eq!(sim["similarity"], "task2vec");
    let d = sim["distances"].as_array().unwrap();
    assert_eq!(d.len(), 2, "{sim}");
    let dist = |i: usize| d[i]["distance"].as_f64().unwrap();
    assert!(dist(0) <= dist(1), "{sim}");
    assert_ne!(d[0]["task"], d[1]["task"]);
    let chosen = PathBuf::from(sim["chosen"].as_str().unwrap());
    assert_eq!(sim["chosen"], d[0]["run"]);
    // The search ran over the chosen run's λ.
    let kept = candidates(&json(&chosen.join("artifacts/lambda.json")));
    for (i, (_, row)) in alpha_rows(&run).iter().enumerate() {
        let mut ops = kept[i % 28].clone();
        ops.sort();
        assert_eq!(searched(row), ops, "row {i}");
    }
    assert_eq!(read_trials(&run)[0].status, "ok");
}

#[test]
fn a_source_without_a_transfer_architecture_or_of_another_space_is_refused_before_a_run() {
    let plain = Sources::get().run("pdarts-mnist");
    let sb = Sandbox::new();
    // An NB-201 TAS run: another space.
    let nb201 = "[search_space]\nplugin = \"nb201\"\n[search_space.params]\ncells = 1\n\
                 channels = 4\nepochs = 1\nbatch_size = 64\nthreads = 1\n\
                 [search_space.params.tasks.mnist]\npreset = \"mnist\"\nlimit_train = 256\n";
    sb.write(
        "nb201.toml",
        &format!(
            "[experiment]\nname = \"nb\"\nseed = 1\nbudget = {{ epochs = 4 }}\n{nb201}\
             [optimizer]\nplugin = \"pdarts\"\n[optimizer.params]\ncells = [1, 1]\n\
             channels = [4, 4]\nkeep = [3]\nskip_dropout = [0.0, 0.0]\nepochs = 1\n\
             epochs_weights_only = 0\nevaluate_last = 1\nbatch_size = 32\n\
             transfer_search = true\n[tasks]\ntarget = \"mnist\"\n"
        ),
    );
    sb.run(&["--quiet", "run", "nb201.toml", "--out", "nb201-run"])
        .expect_code(0);
    let other_space = sb.path().join("nb201-run");
    // A run that keeps no artifacts at all: P-DARTS's files without its artifacts/.
    let bare = sb.path().join("bare");
    std::fs::create_dir_all(&bare).unwrap();
    for f in std::fs::read_dir(&plain).unwrap() {
        let f = f.unwrap().path();
        if f.is_file() {
            std::fs::copy(&f, bare.join(f.file_name().unwrap())).unwrap();
        }
    }
    let cases = [
        (
            &bare,
            format!(
                "tasks.source_runs: {} keeps no artifacts: optimizer `ws-darts` starts from a \
                 transfer architecture",
                bare.display()
            ),
        ),
        (
            &plain,
            format!(
                "source run {}: it has no transfer architecture (artifacts/lambda_hat.json): make \
                 one with `pdarts` and `transfer_search = true` on that task, or name another run",
                plain.display()
            ),
        ),
        (
            &other_space,
            "it used search space `nb201` and this experiment uses `nasnet`".to_string(),
        ),
    ];
    for (source, want) in cases {
        let text = experiment("digits", &ws_darts(""), &sources(&[("mnist", source)]));
        sb.write("exp.toml", &text);
        let out = sb.run(&["run", "exp.toml", "--out", "run"]);
        out.expect_code(2);
        assert!(out.stderr().contains(&want), "{want}\n{}", out.stderr());
        assert!(
            out.stderr().contains(&source.display().to_string()),
            "{}",
            out.stderr()
        );
        assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
        assert!(!sb.path().join("run").exists());
    }
    // λ_meta without any source run says what to make.
    let text = experiment("digits", &ws_darts("warm_start = \"meta\"\n"), "");
    sb.write("exp.toml", &text);
    let out = sb.run(&["run", "exp.toml", "--out", "run"]);
    out.expect_code(2);
    assert!(
        out.stderr()
            .contains("`warm_start = \"meta\"` needs a meta-transfer architecture: name a run"),
        "{}",
        out.stderr()
    );
}

/// λ̂'s weight transfer on the real DARTS-cell supernet, every plugin loaded from its library:
/// the shared weights are the source's, the classifier is not (re-initialised, though MNIST's
/// and digits' classifiers have the same shape and would load), told apart by the loss each
/// set of weights gives on the same α split.
#[test]
fn lambda_hat_transfers_the_shared_weights_and_re_initialises_the_classifier() {
    use xnas_core::{
        Artifact, Matrix, OneShot, OneShotInit, PluginKind, SearchSpace, SourceArtifacts,
        SpaceInit, Supernet, SupernetSpec, WeightRecipe,
    };
    use xnas_host::plugins::{Registry, Source};
    let registry = Registry::discover(&[Source::Dir(build_dir())]);
    let entry = |name: &str, kind| {
        registry
            .entries
            .iter()
            .find(|e| e.name() == name && e.info.kind == kind)
            .unwrap_or_else(|| panic!("{name} is built"))
    };
    let space_params = space()
        .split_once("[search_space.params]\n")
        .unwrap()
        .1
        .replace("search_space.params.", "");
    let init = SpaceInit {
        tasks: vec!["digits".into(), "mnist".into()].into(),
        base_dir: ".".into(),
        data_dir: std::env::var("XNAS_DATA_DIR").unwrap_or_default().into(),
    };
    let space = entry("nasnet", PluginKind::SEARCH_SPACE)
        .create_space(&space_params, &init)
        .unwrap();
    let one_shot = |name: &str, params: &str, target: &str, sources: Vec<SourceArtifacts>| {
        let init = OneShotInit {
            space: space.clone(),
            target: target.into(),
            sources: Default::default(),
            source_artifacts: sources.into(),
            seed: 5,
            base_dir: ".".into(),
        };
        entry(name, PluginKind::OPTIMIZER)
            .create_one_shot(params, &init)
            .unwrap()
    };
    let params = |text: &str| {
        text.split_once("[optimizer.params]\n")
            .unwrap()
            .1
            .to_string()
    };
    let mut tas = one_shot(
        "pdarts",
        &params(&format!("{TAS}transfer_search = true\n")),
        "mnist",
        vec![],
    );
    while !tas.run(100).unwrap().finished {}
    let kept: Vec<Artifact> = tas.artifacts().unwrap();
    let weights = |a: &[Artifact]| {
        a.iter()
            .find(|a| a.name.as_str() == "supernet.weights")
            .unwrap()
            .data
            .to_vec()
    };
    let source = weights(&kept);
    let ws = one_shot(
        "ws-darts",
        &params(&ws_darts("")),
        "digits",
        vec![SourceArtifacts {
            run: "tas".into(),
            task: "mnist".into(),
            artifacts: kept.clone().into(),
        }],
    );
    let transferred = weights(&ws.artifacts().unwrap());

    // A network like ws-darts's: λ's ops, TAS's last stage's size, on digits.
    let lambda: serde_json::Value = serde_json::from_slice(
        &kept
            .iter()
            .find(|a| a.name.as_str() == "lambda.json")
            .unwrap()
            .data,
    )
    .unwrap();
    let rows = candidates(&lambda);
    let spec = SupernetSpec {
        tasks: vec!["digits".into()].into(),
        cells: 3,
        channels: 4,
        candidates: rows
            .iter()
            .map(|r| r.iter().map(|&o| o as u32).collect::<Vec<_>>().into())
            .collect(),
        recipe: WeightRecipe {
            batch_size: 32,
            learning_rate: 0.025,
            learning_rate_min: 0.0,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            epochs: 1,
            train_portion: 0.5,
        },
        seed: 11,
    };
    let mut net = space.build_supernet(&spec).unwrap();
    let mix = Matrix::new(28, 3, vec![1.0 / 3.0; 84]);
    let mut loss_with = |w: &[u8]| {
        let report = net.import_weights(w).unwrap();
        assert!(report.kept.is_empty(), "{:?}", report.kept);
        net.evaluate(&mix).unwrap().loss
    };
    let (of_transferred, of_source) = (loss_with(&transferred), loss_with(&source));
    assert_ne!(of_transferred, of_source, "the classifier was copied");
    // The transferred weights with the source's shared weights put back (the classifier, which
    // `interpolate` leaves, stays the transferred one) are the transferred weights: every shared
    // weight and buffer was the source's.
    net.import_weights(&transferred).unwrap();
    let own = net.snapshot().unwrap();
    net.import_weights(&source).unwrap();
    let src = net.snapshot().unwrap();
    net.restore(own).unwrap();
    net.interpolate(src, &[src], 0.0).unwrap();
    assert_eq!(net.evaluate(&mix).unwrap().loss, of_transferred);
}

/// The two examples, as their comments say to run them from the repository root: TAS on MNIST,
/// then the warm-started search on digits from it.
#[test]
fn the_ws_darts_examples_run_one_after_the_other() {
    let sb = Sandbox::new();
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
    std::fs::create_dir_all(sb.path().join("examples")).unwrap();
    for name in ["ws-darts-tas-mnist.toml", "ws-darts-digits.toml"] {
        let text = read(&root.join("examples").join(name));
        sb.write(&format!("examples/{name}"), &text);
    }
    for (file, out) in [
        (
            "examples/ws-darts-tas-mnist.toml",
            "runs/ws-darts-tas-mnist",
        ),
        ("examples/ws-darts-digits.toml", "runs/ws-darts-digits"),
    ] {
        sb.run(&["--quiet", "run", file, "--out", out])
            .expect_code(0);
        let run = sb.path().join(out);
        assert_eq!(read_summary(&run)["search"]["ended"], "finished", "{out}");
        assert_eq!(read_trials(&run)[0].status, "ok", "{out}");
    }
    let tas = sb.path().join("runs/ws-darts-tas-mnist");
    assert!(tas.join("artifacts/lambda_hat.json").is_file());
    let sim = json(&sb.path().join("runs/ws-darts-digits/similarity.json"));
    let chosen = Path::new(sim["chosen"].as_str().unwrap());
    assert_eq!(
        std::fs::canonicalize(chosen).unwrap(),
        std::fs::canonicalize(&tas).unwrap()
    );
}
