//! `base` against the toy supernet of `xnas_oneshot::testkit` (one task, weights a flat vector):
//! the Reptile meta-update of weights and Θ by hand, the inner loop's calls, resume identity,
//! adaptation starting from the meta-network, and the refusals.

use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{state, OneShot, OneShotBox, SourceArtifacts};
use xnas_oneshot::testkit::{
    self, artifact, run_to_end, stop_and_resume, Event, ToyLayout, ToySpace,
};
use xnas_oneshot::TransferArch;
use xnas_opt_base::register;

const META: &str = "epochs = 2\nsteps_per_epoch = 2\ninner_steps = 3\ntasks_per_step = 1\n\
                    batch_size = 16\narch_learning_rate = 0.05\n";

fn create(
    space: &ToySpace,
    params: &str,
    sources: Vec<SourceArtifacts>,
) -> Result<OneShotBox, String> {
    testkit::create_with_sources(register, "base", space, params, 4, sources)
        .map_err(|e| e.message().to_string())
}

/// Θ (flat) and the toy supernet's weights of an optimizer's artifacts.
fn theta_and_w(opt: &OneShotBox, network: &str) -> (Vec<f64>, Vec<f64>) {
    let a = opt.artifacts().unwrap();
    let arch: TransferArch = serde_json::from_slice(artifact(&a, network)).unwrap();
    let w: Vec<f64> = state::decode("toy-supernet", 1, artifact(&a, "supernet.weights")).unwrap();
    (arch.flat_alpha(), w)
}

fn close(a: &[f64], b: &[f64]) {
    assert_eq!(a.len(), b.len());
    for (i, (x, y)) in a.iter().zip(b).enumerate() {
        assert!((x - y).abs() < 1e-12, "{i}: {x} vs {y}");
    }
}

#[test]
fn one_meta_step_moves_weights_and_theta_by_epsilon_towards_the_task() {
    let space = ToySpace::new(ToyLayout::Darts);
    let one = "epochs = 1\nsteps_per_epoch = 1\ninner_steps = 4\ntasks_per_step = 1\n\
               batch_size = 16\narch_learning_rate = 0.05\nmeta_lr_min = ";
    let mut full = create(&space, &format!("{one}1.0\nmeta_lr = 1.0"), vec![]).unwrap();
    let mut half = create(&space, &format!("{one}0.5\nmeta_lr = 0.5"), vec![]).unwrap();
    let (theta0, w0) = theta_and_w(&half, "meta_network.json");
    space.clear_events();
    run_to_end(&mut full, 1).unwrap();
    // K = 4 inner steps: each an α gradient, then a weight step.
    let calls: Vec<&str> = space
        .events()
        .iter()
        .filter_map(|e| match e {
            Event::ArchGrad(_) => Some("arch"),
            Event::Train(_) => Some("train"),
            _ => None,
        })
        .collect();
    assert_eq!(calls, ["arch", "train"].repeat(4));
    run_to_end(&mut half, 1).unwrap();
    let (theta1, w1) = theta_and_w(&full, "meta_network.json");
    let (theta_half, w_half) = theta_and_w(&half, "meta_network.json");
    assert!(theta1
        .iter()
        .zip(&theta0)
        .any(|(a, b)| (a - b).abs() > 1e-3));
    let mid = |a: &[f64], b: &[f64]| -> Vec<f64> {
        a.iter().zip(b).map(|(a, b)| a + 0.5 * (b - a)).collect()
    };
    close(&theta_half, &mid(&theta0, &theta1));
    close(&w_half, &mid(&w0, &w1));
}

#[test]
fn a_saved_meta_training_continues_exactly() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut whole = create(&space, META, vec![]).unwrap();
    let want = run_to_end(&mut whole, 1).unwrap();
    // Three meta-steps: into the second epoch.
    let make = || create(&space, META, vec![]).unwrap();
    let resumed = stop_and_resume(make, 3, 1).unwrap();
    assert_eq!(resumed.before_stop, 1, "stopped in the second epoch");
    assert_eq!(resumed.reports, want);
    assert_eq!(
        resumed.optimizer.artifacts().unwrap(),
        whole.artifacts().unwrap(),
        "the same meta-network"
    );
}

/// A finished meta-training on the toy space, as a source run's artifacts.
fn meta_run(space: &ToySpace) -> SourceArtifacts {
    let mut opt = create(space, META, vec![]).unwrap();
    run_to_end(&mut opt, 10).unwrap();
    SourceArtifacts {
        run: "runs/meta".into(),
        task: "toy".into(),
        artifacts: opt.artifacts().unwrap().into(),
    }
}

#[test]
fn adaptation_starts_from_the_meta_network_and_runs_k_prime_steps() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = meta_run(&space);
    let meta: TransferArch =
        serde_json::from_slice(artifact(&src.artifacts, "meta_network.json")).unwrap();
    let meta_w: Vec<f64> = state::decode(
        "toy-supernet",
        1,
        artifact(&src.artifacts, "supernet.weights"),
    )
    .unwrap();
    let params = "adapt_steps = 3\nsteps_per_epoch = 2\nbatch_size = 16\n";
    let mut opt = create(&space, params, vec![src]).unwrap();
    let (theta, w) = theta_and_w(&opt, "adapted_network.json");
    close(&theta, &meta.flat_alpha());
    close(&w, &meta_w);
    space.clear_events();
    let reports = run_to_end(&mut opt, 1).unwrap();
    // K′ = 3 steps in epochs of 2: two epochs, the last evaluated.
    assert_eq!(reports.len(), 2);
    assert_eq!(reports[0].valid.examples, 0);
    assert!(reports[1].valid.examples > 0);
    let trains = space
        .events()
        .iter()
        .filter(|e| matches!(e, Event::Train(_)))
        .count();
    assert_eq!(trains, 3);
    let (adapted, _) = theta_and_w(&opt, "adapted_network.json");
    assert!(adapted.iter().zip(&theta).any(|(a, b)| a != b), "Θ moved");
    assert_eq!(opt.derive(2).unwrap().len(), 2);
}

#[test]
fn refusals_are_one_sentence() {
    let space = ToySpace::new(ToyLayout::Darts);
    let e = create(&space, "tasks_per_step = 2", vec![]).err().unwrap();
    assert_eq!(
        e,
        "`tasks_per_step` is 2, and meta-training has 1 tasks (toy): draw at most as many as \
         there are, or list more in `meta_tasks`"
    );
    let other = SourceArtifacts {
        run: "runs/darts".into(),
        task: "toy".into(),
        artifacts: RVec::new(),
    };
    let e = create(&space, "", vec![other]).err().unwrap();
    assert_eq!(
        e,
        "tasks.source_runs names runs/darts without a meta-network \
         (artifacts/meta_network.json): name a meta-training run of `base` (a run without \
         source_runs) to adapt its meta-network, or remove source_runs to meta-train"
    );
    let src = meta_run(&space);
    // A meta-training state does not resume as an adaptation.
    let blob = create(&space, META, vec![]).unwrap().save_state().unwrap();
    let mut adapt = create(&space, "", vec![src.clone()]).unwrap();
    assert_eq!(
        adapt.load_state(&blob).unwrap_err().message(),
        "base state: the run started as meta-training over toy, and these settings make it an \
         adaptation of source run runs/meta; resume with the tasks and source runs that started it"
    );
    let e = create(&space, "meta_tasks = [\"toy\"]", vec![src.clone()])
        .err()
        .unwrap();
    assert_eq!(
        e,
        "`meta_tasks` names meta-training's tasks, and this run adapts the meta-network of \
         source run runs/meta: remove it (or remove source_runs to meta-train)"
    );
    let e = create(&space, "cells = 3", vec![src]).err().unwrap();
    assert_eq!(
        e,
        "`cells` is 3, and the meta-network of source run runs/meta has 8: leave it unset when \
         adapting"
    );
}

#[test]
fn the_nas_bench_201_cell_meta_trains_and_derives_with_every_edge() {
    let space = ToySpace::new(ToyLayout::Bench201);
    let mut opt = create(&space, META, vec![]).unwrap();
    let reports = run_to_end(&mut opt, 3).unwrap();
    assert_eq!(reports.len(), 2);
    assert_eq!((reports[1].mix.rows, reports[1].mix.cols), (6, 5));
    let cells = opt.derive(1).unwrap();
    // NAS-Bench-201 keeps all 6 edges, each with one op.
    assert_eq!(cells[0].genome.len(), 6);
    assert!(cells[0].genome.iter().all(|&g| (1..=5).contains(&g)));
}
