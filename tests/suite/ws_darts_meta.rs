//! The meta-transfer architecture λ_meta of warm-started DARTS and the similarity embeddings TAS
//! runs keep, through the real binary and libraries: one TAS (`pdarts`, `transfer_search` and
//! `meta_search`) over MNIST (28×28) and scikit-learn's digits (8×8) sharing the weights and α,
//! then `ws-darts` with `warm_start = "meta"` on Fashion-MNIST, a task the meta search never saw;
//! a meta run that searched the target itself, or a source without λ_meta, is refused before a
//! run exists. Both TAS runs have a `[similarity]` section, so each keeps its target's task2vec
//! embedding, which a later ranking uses instead of embedding the task again, to the same
//! distances.

use super::ws_darts::{
    alpha_rows, candidates, experiment, json, searched, sources, ws_darts, TAS, TASK2VEC,
};
use std::path::PathBuf;
use std::sync::OnceLock;
use xnas_tests::*;

/// The meta TAS run (target MNIST, source digits) and a single-task TAS run on Fashion-MNIST,
/// both keeping their target's task2vec embedding, made once.
fn runs() -> &'static (Sandbox, PathBuf, PathBuf) {
    static RUNS: OnceLock<(Sandbox, PathBuf, PathBuf)> = OnceLock::new();
    RUNS.get_or_init(|| {
        let sb = Sandbox::new();
        let meta = format!("{TAS}transfer_search = true\nmeta_search = true\n{TASK2VEC}");
        sb.write(
            "meta.toml",
            &experiment("mnist", &meta, "sources = [\"digits\"]\n"),
        );
        sb.run(&["--quiet", "run", "meta.toml", "--out", "meta"])
            .expect_code(0);
        sb.write(
            "tas.toml",
            &experiment(
                "fashion-mnist",
                &format!("{TAS}transfer_search = true\n{TASK2VEC}"),
                "",
            ),
        );
        sb.run(&["--quiet", "run", "tas.toml", "--out", "tas"])
            .expect_code(0);
        let (meta, tas) = (sb.path().join("meta"), sb.path().join("tas"));
        (sb, meta, tas)
    })
}

#[test]
fn a_meta_search_keeps_lambda_meta_naming_its_tasks() {
    let (_, meta, tas) = runs();
    let s = read_summary(meta);
    assert_eq!(
        (s["search"]["epochs"].clone(), s["search"]["ended"].clone()),
        (2.into(), "finished".into())
    );
    let lambda = json(&meta.join("artifacts/lambda.json"));
    assert_eq!(lambda["task"], "mnist");
    assert_eq!(lambda["meta_tasks"], serde_json::json!(["mnist", "digits"]));
    let kept = candidates(&lambda);
    assert!(kept.len() == 28 && kept.iter().all(|ops| ops.len() == 3));
    let hat = json(&meta.join("artifacts/lambda_hat.json"));
    assert_eq!(hat["meta_tasks"], lambda["meta_tasks"]);
    // One trial: the cell derived for the run's target, as for any TAS.
    let trials = read_trials(meta);
    assert_eq!(
        (
            trials.len(),
            trials[0].task.as_str(),
            trials[0].status.as_str()
        ),
        (1, "mnist", "ok")
    );
    // A search of one task names none.
    assert!(json(&tas.join("artifacts/lambda.json"))
        .get("meta_tasks")
        .is_none());
    // Each kept its target's embedding, with how it was made.
    for (run, task) in [(meta, "mnist"), (tas, "fashion-mnist")] {
        let e = json(&run.join("artifacts/embedding.json"));
        assert_eq!(
            (e["task"].as_str(), e["made"]["similarity"].as_str()),
            (Some(task), Some("task2vec"))
        );
        assert!(e["made"]["params"].get("tasks").is_none(), "{e}");
        assert_eq!(e["made"]["task_spec"]["preset"], task);
        assert!(!e["embedding"].as_array().unwrap().is_empty());
    }
}

#[test]
fn ws_darts_from_lambda_meta_searches_its_ops_from_its_alpha() {
    let (_, meta, _) = runs();
    let hat = json(&meta.join("artifacts/lambda_hat.json"));
    let kept = candidates(&hat);
    let sb = Sandbox::new();
    let text = experiment(
        "fashion-mnist",
        &ws_darts("warm_start = \"meta\"\ntransfer = \"lambda_hat\"\n"),
        &sources(&[("mnist", meta)]),
    );
    let run = sb.run_experiment(&text, 1);
    assert_eq!(read_trials(&run)[0].status, "ok");
    let rows = alpha_rows(&run);
    assert_eq!(rows.len(), 2 * 28);
    for (i, (_, row)) in rows.iter().enumerate() {
        let mut ops = kept[i % 28].clone();
        ops.sort();
        assert_eq!(searched(row), ops, "row {i}");
    }
    // Epoch 0 trains the weights only: its mixing weights are λ_meta's softmax(α).
    for (edge, (_, row)) in rows[..28].iter().enumerate() {
        let alpha: Vec<f64> = (hat["alpha"][edge].as_array().unwrap().iter())
            .map(|a| a.as_f64().unwrap())
            .collect();
        let z: f64 = alpha.iter().map(|a| a.exp()).sum();
        for (k, &op) in kept[edge].iter().enumerate() {
            let w = row[op].unwrap();
            assert!((w - alpha[k].exp() / z).abs() < 1e-5, "edge {edge}");
        }
    }
}

#[test]
fn lambda_meta_of_the_target_itself_or_none_at_all_is_refused_before_a_run() {
    let (_, meta, tas) = runs();
    for (target, source, want) in [
        (
            "digits",
            meta,
            format!(
                "source run {}: its meta-transfer architecture was searched on the target task \
                 `digits` itself (its tasks: mnist, digits)",
                meta.display()
            ),
        ),
        (
            "digits",
            tas,
            "`warm_start = \"meta\"` needs a meta-transfer architecture: name a run of `pdarts` \
             with `transfer_search = true` and `meta_search = true` in tasks.source_runs"
                .to_string(),
        ),
    ] {
        let sb = Sandbox::new();
        sb.write(
            "exp.toml",
            &experiment(
                target,
                &ws_darts("warm_start = \"meta\"\n"),
                &sources(&[("mnist", source)]),
            ),
        );
        let out = sb.run(&["run", "exp.toml", "--out", "run"]);
        out.expect_code(2);
        assert!(out.stderr().contains(&want), "{want}\n{}", out.stderr());
        assert_eq!(out.stderr().lines().count(), 1, "{}", out.stderr());
        assert!(!sb.path().join("run").exists());
    }
}

#[test]
fn a_ranking_uses_the_embeddings_kept_with_the_source_runs_to_the_same_distances() {
    let (_, meta, tas) = runs();
    let rest = format!("{}{TASK2VEC}", ws_darts("transfer = \"lambda\"\n"));
    let sb = Sandbox::new();
    // The same two runs without their embeddings: the tasks are embedded anew.
    for (from, to) in [(meta, "meta-copy"), (tas, "tas-copy")] {
        let copy = sb.path().join(to);
        copy_dir(from, &copy);
        std::fs::remove_file(copy.join("artifacts/embedding.json")).unwrap();
    }
    let distances = |run: &std::path::Path| {
        let sim = json(&run.join("similarity.json"));
        let d = sim["distances"].as_array().unwrap().clone();
        d.iter()
            .map(|x| {
                (
                    x["task"].as_str().unwrap().to_string(),
                    x["distance"].as_f64().unwrap(),
                    x["kept_embedding"].as_bool().unwrap(),
                )
            })
            .collect::<Vec<_>>()
    };
    let mut seen = Vec::new();
    for (m, t) in [
        (meta.clone(), tas.clone()),
        (sb.path().join("meta-copy"), sb.path().join("tas-copy")),
    ] {
        let tasks = sources(&[("mnist", &m), ("fashion-mnist", &t)]);
        let out = sb.path().join(format!("run{}", seen.len()));
        sb.write("exp.toml", &experiment("digits", &rest, &tasks));
        sb.run(&["--quiet", "run", "exp.toml", "--out", out.to_str().unwrap()])
            .expect_code(0);
        seen.push(distances(&out));
    }
    assert!(
        seen[0].iter().all(|d| d.2),
        "kept embeddings unused: {:?}",
        seen[0]
    );
    assert!(seen[1].iter().all(|d| !d.2), "{:?}", seen[1]);
    for (kept, fresh) in seen[0].iter().zip(&seen[1]) {
        assert_eq!(kept.0, fresh.0);
        assert!((kept.1 - fresh.1).abs() < 1e-9, "{kept:?} vs {fresh:?}");
    }
}

/// Copies a run directory (files and folders).
fn copy_dir(from: &std::path::Path, to: &std::path::Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let entry = entry.unwrap();
        let target = to.join(entry.file_name());
        if entry.file_type().unwrap().is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap();
        }
    }
}
