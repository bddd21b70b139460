//! `ws-darts` against the toy supernet of `xnas_oneshot::testkit`, with a transfer architecture
//! made by `pdarts` with `transfer_search = true` on the same toy space: the search network
//! restricted to λ, λ̂'s α and weights transferred, the from-scratch mode, resume identity, and
//! the refusals.

use xnas_core::abi_stable::std_types::RVec;
use xnas_core::{OneShot, OneShotBox, SourceArtifacts};
use xnas_oneshot::testkit::{
    self, artifact, run_to_end, stop_and_resume, Event, ToyLayout, ToySpace,
};
use xnas_oneshot::TransferArch;
use xnas_opt_ws_darts::register;

const TAS: &str = "cells = [2, 3, 4]\nchannels = [4, 5, 6]\nepochs = 2\nepochs_weights_only = 1\n\
                   evaluate_last = 1\nbatch_size = 16\narch_learning_rate = 0.05\n\
                   transfer_search = true\n";
const WS: &str = "epochs = 3\nepochs_weights_only = 1\nevaluate_last = 1\nbatch_size = 16\n\
                  arch_learning_rate = 0.05\n";

/// A finished TAS on the toy space: its artifacts as a source run's.
fn tas(space: &ToySpace) -> SourceArtifacts {
    let mut opt = testkit::create(xnas_opt_pdarts::register, "pdarts", space, TAS, 3).unwrap();
    run_to_end(&mut opt, 100).unwrap();
    SourceArtifacts {
        run: "runs/tas-src".into(),
        task: "src".into(),
        artifacts: opt.artifacts().unwrap().into(),
    }
}

fn create(
    space: &ToySpace,
    params: &str,
    sources: Vec<SourceArtifacts>,
) -> Result<OneShotBox, String> {
    testkit::create_with_sources(register, "ws-darts", space, params, 9, sources)
        .map_err(|e| e.message().to_string())
}

fn lambda(src: &SourceArtifacts, name: &str) -> TransferArch {
    serde_json::from_slice(artifact(&src.artifacts, name)).unwrap()
}

#[test]
fn tas_keeps_the_last_stage_as_lambda_and_lambda_hat() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = tas(&space);
    let names: Vec<&str> = src.artifacts.iter().map(|a| a.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "alpha.json",
            "supernet.weights",
            "lambda.json",
            "lambda_hat.json"
        ]
    );
    let l = lambda(&src, "lambda.json");
    // The last stage: 4 cells of 6 channels, 3 ops on each of the 28 edges, `none` among them
    // nowhere (P-DARTS's pruning drops it).
    assert_eq!((l.cells, l.channels, l.task.as_str()), (4, 6, "toy"));
    assert_eq!(l.candidates.len(), 28);
    assert!(l.candidates.iter().all(|c| c.len() == 3 && !c.contains(&0)));
    assert_eq!(l.alpha, None);
    let hat = lambda(&src, "lambda_hat.json");
    assert_eq!(hat.candidates, l.candidates);
    assert_eq!(hat.alpha.as_ref().unwrap().len(), 28);
    assert_eq!(hat.weights.as_deref(), Some("supernet.weights"));
}

#[test]
fn lambda_restricts_the_search_network_and_starts_weights_and_alpha_afresh() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = tas(&space);
    let l = lambda(&src, "lambda.json");
    space.clear_events();
    let opt = create(
        &space,
        &format!("{WS}transfer = \"lambda\"\n"),
        vec![src.clone()],
    )
    .unwrap();
    let built: Vec<_> = space
        .events()
        .into_iter()
        .filter_map(|e| match e {
            Event::Built(s) => Some(s),
            _ => None,
        })
        .collect();
    assert_eq!(built.len(), 1);
    let spec = &built[0];
    assert_eq!((spec.cells, spec.channels), (4, 6));
    let kept: Vec<Vec<u32>> = spec.candidates.iter().map(|c| c.to_vec()).collect();
    assert_eq!(kept, l.candidates);
    // Fresh: neither λ̂'s weights nor its α.
    let own = opt.artifacts().unwrap();
    assert_ne!(
        artifact(&own, "supernet.weights"),
        artifact(&src.artifacts, "supernet.weights")
    );
    let hat = lambda(&src, "lambda_hat.json");
    let alpha: serde_json::Value = serde_json::from_slice(artifact(&own, "alpha.json")).unwrap();
    assert_ne!(alpha["alpha"], serde_json::json!(hat.alpha.unwrap()));
}

#[test]
fn lambda_hat_transfers_the_weights_and_alpha() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = tas(&space);
    let mut opt = create(&space, WS, vec![src.clone()]).unwrap();
    let own = opt.artifacts().unwrap();
    assert_eq!(
        artifact(&own, "supernet.weights"),
        artifact(&src.artifacts, "supernet.weights")
    );
    let hat = lambda(&src, "lambda_hat.json");
    let alpha: serde_json::Value = serde_json::from_slice(artifact(&own, "alpha.json")).unwrap();
    assert_eq!(
        alpha["alpha"],
        serde_json::json!(hat.alpha.clone().unwrap())
    );
    // The first epoch trains the weights only: its report shows λ̂'s α unchanged.
    let first = run_to_end(&mut opt, 100).unwrap().remove(0);
    let softmax: Vec<f32> = hat
        .alpha
        .unwrap()
        .iter()
        .flat_map(|row| {
            let m = row.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = row.iter().map(|a| (a - m).exp()).sum();
            row.iter()
                .map(move |a| ((a - m).exp() / z) as f32)
                .collect::<Vec<_>>()
        })
        .collect();
    for (a, b) in first.mix.data.iter().zip(&softmax) {
        assert!((a - b).abs() < 1e-6, "{a} {b}");
    }
}

#[test]
fn without_a_warm_start_every_op_is_searched_from_scratch() {
    let space = ToySpace::new(ToyLayout::Darts);
    space.clear_events();
    let mut opt = create(
        &space,
        &format!("{WS}warm_start = \"none\"\ncells = 3\n"),
        vec![],
    )
    .unwrap();
    let reports = run_to_end(&mut opt, 100).unwrap();
    assert_eq!(reports.len(), 3);
    assert!(reports
        .iter()
        .all(|r| r.candidates.iter().all(|c| c.len() == 8)));
    match &space.events()[0] {
        Event::Built(s) => assert_eq!((s.cells, s.channels, s.candidates.len()), (3, 16, 0)),
        e => panic!("{e:?}"),
    }
}

#[test]
fn killed_and_resumed_from_its_state_it_searches_as_if_never_stopped() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = tas(&space);
    let mut whole = create(&space, WS, vec![src.clone()]).unwrap();
    let all = run_to_end(&mut whole, 2).unwrap();
    let cells = whole.derive(2).unwrap();
    for k in [1, 4, 7] {
        let make = || create(&space, WS, vec![src.clone()]).unwrap();
        let mut resumed = stop_and_resume(make, k, 2).unwrap();
        assert_eq!(resumed.reports, all, "after {k} calls");
        assert_eq!(resumed.optimizer.derive(2).unwrap(), cells);
    }
    // A state saved from another source run is refused.
    let blob = whole.save_state().unwrap();
    let mut other = create(
        &space,
        WS,
        vec![SourceArtifacts {
            run: "runs/other".into(),
            ..src
        }],
    )
    .unwrap();
    assert_eq!(
        other.load_state(&blob).unwrap_err().message(),
        "ws-darts state: the search started from runs/tas-src, and now the nearest source is \
         runs/other; resume with the source runs that started it"
    );
}

#[test]
fn a_missing_or_unfit_transfer_architecture_is_refused_naming_the_run() {
    let space = ToySpace::new(ToyLayout::Darts);
    assert_eq!(
        create(&space, WS, vec![]).err().unwrap(),
        "`warm_start = \"nearest\"` needs a transfer architecture: name runs of `pdarts` with \
         `transfer_search = true` in tasks.source_runs (or set `warm_start = \"none\"`)"
    );
    let mut plain = tas(&space);
    plain
        .artifacts
        .retain(|a| !a.name.as_str().starts_with("lambda"));
    assert_eq!(
        create(&space, WS, vec![plain]).err().unwrap(),
        "source run runs/tas-src: it has no transfer architecture (artifacts/lambda_hat.json): \
         make one with `pdarts` and `transfer_search = true` on that task, or name another run"
    );
    let other = ToySpace::new(ToyLayout::DartsReordered);
    let e = create(&other, WS, vec![tas(&space)]).err().unwrap();
    assert!(
        e.starts_with(
            "source run runs/tas-src: its transfer architecture was searched over the ops"
        ),
        "{e}"
    );
    // λ̂ whose weights are of another search network (one of 2 ops per edge).
    let mut two = testkit::create(
        xnas_opt_pdarts::register,
        "pdarts",
        &space,
        &TAS.replace("epochs = 2", "keep = [5, 2]\nepochs = 2"),
        3,
    )
    .unwrap();
    run_to_end(&mut two, 100).unwrap();
    let mut mixed = tas(&space);
    for a in mixed.artifacts.iter_mut() {
        if a.name.as_str() == "supernet.weights" {
            a.data = artifact(&two.artifacts().unwrap(), "supernet.weights")
                .to_vec()
                .into();
        }
    }
    let e = create(&space, WS, vec![mixed]).err().unwrap();
    assert_eq!(
        e,
        "source run runs/tas-src: its λ̂ weights do not fit this task's search network (1 of its \
         tensors absent there or of another shape, such as `w`): the source's images have another number of \
         channels, or its network other cells or channels; use `transfer = \"lambda\"` or \
         another source run"
    );
    assert_eq!(
        create(&space, "warm_start = \"meta\"", vec![])
            .err()
            .unwrap(),
        "`warm_start = \"meta\"` needs a meta-transfer architecture: name a run of `pdarts` \
         with `transfer_search = true` and `meta_search = true` in tasks.source_runs"
    );
}

/// The per-rate reports of a sweep: (stage, the stage's reports).
fn by_rate(reports: &[xnas_core::EpochReport], rates: u32) -> Vec<Vec<&xnas_core::EpochReport>> {
    (0..rates)
        .map(|r| reports.iter().filter(|e| e.stage == r).collect())
        .collect()
}

#[test]
fn a_skip_dropout_sweep_searches_every_rate_from_the_same_start_and_ranks_their_cells() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = tas(&space);
    let sweep = format!("{WS}skip_dropout = [0.0, 0.5, 0.8]\n");
    let mut opt = create(&space, &sweep, vec![src.clone()]).unwrap();
    let reports = run_to_end(&mut opt, 100).unwrap();
    // 3 epochs per rate, numbered over the whole sweep, the rate as the stage.
    assert_eq!(
        reports
            .iter()
            .map(|r| (r.epoch, r.stage))
            .collect::<Vec<_>>(),
        [
            (0, 0),
            (1, 0),
            (2, 0),
            (3, 1),
            (4, 1),
            (5, 1),
            (6, 2),
            (7, 2),
            (8, 2)
        ]
    );
    let rates = by_rate(&reports, 3);
    // The first epoch trains the weights only: every rate's α is still λ̂'s there.
    assert_eq!(rates[0][0].mix, rates[1][0].mix);
    assert_eq!(rates[0][0].mix, rates[2][0].mix);
    // Each rate after the first starts again from λ̂, not from the previous rate's end.
    assert_ne!(rates[1][0].mix, rates[0][2].mix);
    // One rate alone searches exactly as that rate's share of the sweep.
    let mut alone = create(
        &space,
        &format!("{WS}skip_dropout = 0.5\n"),
        vec![src.clone()],
    )
    .unwrap();
    let single = run_to_end(&mut alone, 100).unwrap();
    for (a, b) in single.iter().zip(&rates[1]) {
        assert_eq!(
            (&a.mix, &a.genotype, a.valid),
            (&b.mix, &b.genotype, b.valid)
        );
    }
    // derive: each rate's last cell, the rates ordered by their last α-split accuracy.
    let mut ranked: Vec<(f64, usize)> = (0..3)
        .map(|r| (rates[r].last().unwrap().valid.accuracy, r))
        .collect();
    ranked.sort_by(|a, b| b.0.total_cmp(&a.0).then(a.1.cmp(&b.1)));
    let mut expected: Vec<RVec<u32>> = Vec::new();
    for (_, r) in &ranked {
        let g = rates[*r].last().unwrap().genotype.genome.clone();
        if !expected.contains(&g) {
            expected.push(g);
        }
    }
    let cells = opt.derive(3).unwrap();
    assert_eq!(
        cells.iter().map(|c| c.genome.clone()).collect::<Vec<_>>(),
        expected
    );
    assert_eq!(opt.derive(1).unwrap()[0].genome, expected[0]);
}

#[test]
fn a_sweep_killed_and_resumed_searches_as_if_never_stopped() {
    let space = ToySpace::new(ToyLayout::Darts);
    let src = tas(&space);
    let sweep = format!("{WS}skip_dropout = [0.0, 0.6]\n");
    let mut whole = create(&space, &sweep, vec![src.clone()]).unwrap();
    let all = run_to_end(&mut whole, 2).unwrap();
    let cells = whole.derive(2).unwrap();
    // Calls of 2 steps: stopped in the first rate, at its end and in the second.
    for k in [2, 5, 6, 9] {
        let make = || create(&space, &sweep, vec![src.clone()]).unwrap();
        let mut resumed = stop_and_resume(make, k, 2).unwrap();
        assert_eq!(resumed.reports, all, "after {k} calls");
        assert_eq!(
            resumed.optimizer.derive(2).unwrap(),
            cells,
            "after {k} calls"
        );
    }
    // A state saved in the sweep's second rate does not load into a search of one rate.
    let mut first = create(&space, &sweep, vec![src.clone()]).unwrap();
    while first
        .run(2)
        .unwrap()
        .epoch_done
        .into_option()
        .map(|r| r.stage)
        != Some(1)
    {}
    let blob = first.save_state().unwrap();
    let mut one = create(&space, WS, vec![src]).unwrap();
    assert_eq!(
        one.load_state(&blob).unwrap_err().message(),
        "ws-darts state: saved at skip-dropout rate 2 of the sweep, but `skip_dropout` now has \
         1 rate(s); resume with the parameters that saved it"
    );
}

#[test]
fn a_sweep_without_rates_or_with_a_rate_out_of_range_is_refused() {
    let space = ToySpace::new(ToyLayout::Darts);
    for (value, message) in [
        (
            "[]",
            "`skip_dropout` is an empty list: give one rate or several",
        ),
        (
            "[0.0, 1.0]",
            "`skip_dropout` has 1: every rate must be at least 0 and below 1",
        ),
        (
            "-0.1",
            "`skip_dropout` has -0.1: every rate must be at least 0 and below 1",
        ),
    ] {
        let params = format!("{WS}warm_start = \"none\"\nskip_dropout = {value}\n");
        let err = create(&space, &params, vec![]).err().expect(value);
        assert!(err.contains(message), "{value}: {err}");
    }
}
