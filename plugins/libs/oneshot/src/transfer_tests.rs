use super::*;
use crate::stage::Stage;
use crate::testkit::layouts::{bench201_layout, darts_layout, DARTS_OPS};
use crate::testkit::{ToyLayout, ToySpace, REORDERED_OPS};
use xnas_core::{SearchSpace, Supernet, SupernetSpec, WeightRecipe};

fn recipe() -> WeightRecipe {
    WeightRecipe {
        batch_size: 16,
        learning_rate: 0.1,
        learning_rate_min: 0.0,
        momentum: 0.9,
        weight_decay: 3e-4,
        grad_clip: 5.0,
        epochs: 2,
        train_portion: 0.5,
    }
}

fn spec(candidates: &[Vec<u32>], seed: u64) -> SupernetSpec {
    SupernetSpec {
        tasks: vec!["toy".into()].into(),
        cells: 3,
        channels: 4,
        candidates: candidates.iter().map(|c| c.clone().into()).collect(),
        recipe: recipe(),
        seed,
    }
}

/// Three ops per edge that differ from edge to edge, as TAS's last stage keeps them.
fn lambda_ops(edges: usize) -> Vec<Vec<u32>> {
    (0..edges as u32)
        .map(|e| vec![e % 8, (e + 3) % 8, (e + 5) % 8])
        .collect()
}

fn source(run: &str, artifacts: Vec<Artifact>) -> SourceArtifacts {
    SourceArtifacts {
        run: run.into(),
        task: "src".into(),
        artifacts: artifacts.into(),
    }
}

fn tas_artifacts(t: &TransferArch, alpha: &[f64]) -> Vec<Artifact> {
    let mut a = t.artifacts(alpha).unwrap();
    a.push(Artifact {
        name: WEIGHTS.into(),
        data: vec![1, 2, 3].into(),
    });
    a
}

#[test]
fn lambda_and_lambda_hat_round_trip_through_artifacts() {
    let layout = darts_layout(&DARTS_OPS);
    let ops = lambda_ops(28);
    let t = TransferArch::new(&layout, "mnist", (5, 4), &ops);
    let alpha: Vec<f64> = (0..28 * 3).map(|i| i as f64 / 10.0).collect();
    let src = source("runs/tas", tas_artifacts(&t, &alpha));
    let lambda = TransferArch::read(&src, false, &layout).unwrap();
    assert_eq!(lambda, t);
    assert_eq!(lambda.alpha, None);
    let hat = TransferArch::read(&src, true, &layout).unwrap();
    assert_eq!(hat.candidates, ops);
    assert_eq!(
        (hat.cells, hat.channels, hat.task.as_str()),
        (5, 4, "mnist")
    );
    assert_eq!(hat.flat_alpha(), alpha);
    assert_eq!(hat.alpha.as_ref().unwrap()[1], vec![0.3, 0.4, 0.5]);
    assert_eq!(hat.weights.as_deref(), Some(WEIGHTS));
}

#[test]
fn the_search_network_built_from_lambda_keeps_only_its_ops() {
    let space = ToySpace::new(ToyLayout::Darts);
    let layout = space.layout();
    let ops = lambda_ops(28);
    let t = TransferArch::new(&layout, "src", (3, 4), &ops);
    let src = source("runs/tas", tas_artifacts(&t, &vec![0.0; 84]));
    let lambda = TransferArch::read(&src, false, &layout).unwrap();
    let stage = Stage::build(&space, &layout, &spec(&lambda.candidates, 1), 1e-3, 2).unwrap();
    assert_eq!(stage.candidates(), &ops[..]);
    assert_eq!(stage.alpha().len(), 28 * 3);
    // The mixing weights report λ's ops, every other op absent.
    let w = stage.weights();
    assert_eq!((w.cols, w.candidates[5].clone()), (3, vec![5, 0, 2]));
}

#[test]
fn a_transfer_architecture_of_another_layout_is_refused_naming_the_run() {
    let darts = darts_layout(&DARTS_OPS);
    let t = TransferArch::new(&darts, "src", (3, 4), &lambda_ops(28));
    let src = source("runs/tas", tas_artifacts(&t, &vec![0.0; 84]));
    let other_ops = darts_layout(&REORDERED_OPS);
    let e = TransferArch::read(&src, false, &other_ops).unwrap_err();
    assert!(
        e.message().starts_with(
            "source run runs/tas: its transfer architecture was searched over the ops [none, \
             max_pool_3x3"
        ),
        "{}",
        e.message()
    );
    let e = TransferArch::read(&src, false, &bench201_layout()).unwrap_err();
    assert!(
        e.message().contains("searched over the ops"),
        "{}",
        e.message()
    );
    // The same ops over another cell.
    let mut fewer = darts.clone();
    fewer.edges.truncate(14);
    let e = TransferArch::read(&src, true, &fewer).unwrap_err();
    assert!(
        e.message()
            .contains("has 28 edges of another cell than this space's supernet (14 edges)"),
        "{}",
        e.message()
    );
}

#[test]
fn a_run_without_a_transfer_architecture_or_with_a_broken_one_is_one_sentence() {
    let layout = darts_layout(&DARTS_OPS);
    let e = TransferArch::read(&source("runs/darts", vec![]), false, &layout).unwrap_err();
    assert_eq!(
        e.message(),
        "source run runs/darts: it has no transfer architecture (artifacts/lambda.json): make \
         one with `pdarts` and `transfer_search = true` on that task, or name another run"
    );
    let mut t = TransferArch::new(&layout, "src", (3, 4), &lambda_ops(28));
    t.candidates[4] = vec![1, 1, 2];
    let e = TransferArch::read(&source("r", tas_artifacts(&t, &[0.0; 84])), false, &layout)
        .unwrap_err();
    assert!(
        e.message().contains("lists an op twice on edge 4"),
        "{}",
        e.message()
    );
    t.candidates[4] = vec![1, 9, 2];
    let e = TransferArch::read(&source("r", tas_artifacts(&t, &[0.0; 84])), false, &layout)
        .unwrap_err();
    assert!(
        e.message().contains("names op 9 on edge 4"),
        "{}",
        e.message()
    );
    // λ̂ without its weights, and a file that is not JSON.
    let t = TransferArch::new(&layout, "src", (3, 4), &lambda_ops(28));
    let mut a = t.artifacts(&[0.0; 84]).unwrap();
    let e = TransferArch::read(&source("r", a.clone()), true, &layout).unwrap_err();
    assert_eq!(
        e.message(),
        "source run r: λ̂ names artifacts/supernet.weights, which the run lacks"
    );
    a[0].data = b"{".to_vec().into();
    let e = TransferArch::read(&source("r", a), false, &layout).unwrap_err();
    assert!(
        e.message()
            .starts_with("source run r: artifacts/lambda.json is not a transfer architecture"),
        "{}",
        e.message()
    );
}

#[test]
fn weight_transfer_takes_the_source_weights_and_keeps_fresh_momentum() {
    let space = ToySpace::new(ToyLayout::Darts);
    let layout = space.layout();
    let ops = lambda_ops(28);
    // The source: trained a few steps, so its weights differ from a fresh supernet's.
    let mut trained = space.build_supernet(&spec(&ops, 7)).unwrap();
    let mix = xnas_core::Matrix {
        rows: 28,
        cols: 3,
        data: vec![1.0 / 3.0; 84].into(),
    };
    for _ in 0..3 {
        trained.train_step(&mix).unwrap();
    }
    let source_weights = trained.export_weights().unwrap();
    let mut stage = Stage::build(&space, &layout, &spec(&ops, 8), 1e-3, 2).unwrap();
    let fresh = stage.supernet().export_weights().unwrap();
    assert_ne!(fresh, source_weights);
    let report = stage.transfer_weights(&source_weights).unwrap();
    assert_eq!((report.loaded, report.kept.len()), (1, 0));
    assert_eq!(stage.supernet().export_weights().unwrap(), source_weights);
    // A network of another shape loads nothing and says so.
    let mut other = Stage::build(&space, &layout, &spec(&lambda_ops(28)[..], 8), 1e-3, 2).unwrap();
    let two: Vec<Vec<u32>> = ops.iter().map(|r| r[..2].to_vec()).collect();
    let small = space.build_supernet(&spec(&two, 7)).unwrap();
    let report = other
        .transfer_weights(&small.export_weights().unwrap())
        .unwrap();
    assert_eq!((report.loaded, report.kept.to_vec()), (0, vec!["w".into()]));
}

#[test]
fn transferred_alpha_replaces_the_drawn_one_and_must_fit() {
    let space = ToySpace::new(ToyLayout::Darts);
    let layout = space.layout();
    let mut stage = Stage::build(&space, &layout, &spec(&lambda_ops(28), 1), 1e-3, 2).unwrap();
    let alpha: Vec<f64> = (0..84).map(|i| i as f64).collect();
    stage.set_alpha(alpha.clone()).unwrap();
    assert_eq!(stage.alpha(), &alpha[..]);
    let e = stage.set_alpha(vec![0.0; 83]).unwrap_err();
    assert_eq!(
        e.message(),
        "α of 83 entries for a supernet of 28 edges × 3 candidates"
    );
}

#[test]
fn only_per_task_classifiers_count_as_task_heads() {
    for name in ["classifier.t0.weight", "classifiers.0.bias"] {
        assert!(is_task_head(name), "{name}");
    }
    for name in ["stem.c3.conv.weight", "cells.0.classifier.weight", "stem"] {
        assert!(!is_task_head(name), "{name}");
    }
}
