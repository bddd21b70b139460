//! `pdarts` against the toy supernet of `xnas_oneshot::testkit`: stages, pruning, weights-only
//! epochs, the skip-dropout schedule, the skip limit, determinism and resume identity.

use xnas_core::{EpochReport, OneShot, OneShotBox, SupernetSpec};
use xnas_oneshot::testkit::{
    self, run_to_end, stop_and_resume, Event, ToyLayout, ToySpace, REORDERED_OPS,
};
use xnas_oneshot::{derive, derive_limited, prune, skip_count, Weights};
use xnas_opt_pdarts::{register, PdartsParams};

const SMALL: &str =
    "cells = [2, 3, 4]\nchannels = [4, 5, 6]\nepochs = 3\nepochs_weights_only = 1\n\
                     evaluate_last = 1\nbatch_size = 16\narch_learning_rate = 0.05\n";

fn create(space: &ToySpace, params: &str, seed: u64) -> OneShotBox {
    testkit::create(register, "pdarts", space, params, seed).unwrap()
}

fn weights_of(r: &EpochReport) -> Weights {
    let candidates = r.candidates.iter().map(|c| c.to_vec()).collect();
    Weights::new(
        candidates,
        r.mix.data.iter().map(|&x| f64::from(x)).collect(),
    )
    .unwrap()
}

fn builds(events: &[Event]) -> Vec<SupernetSpec> {
    events
        .iter()
        .filter_map(|e| match e {
            Event::Built(s) => Some(s.clone()),
            _ => None,
        })
        .collect()
}

#[test]
fn three_stages_of_deeper_supernets_over_the_ops_each_stage_kept() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut opt = create(&space, SMALL, 1);
    let reports = run_to_end(&mut opt, 100).unwrap();
    let epochs: Vec<(u32, u32)> = reports.iter().map(|r| (r.epoch, r.stage)).collect();
    assert_eq!(
        epochs,
        vec![
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
    let specs = builds(&space.events());
    assert_eq!(specs.len(), 3);
    assert_eq!(
        specs
            .iter()
            .map(|s| (s.cells, s.channels))
            .collect::<Vec<_>>(),
        vec![(2, 4), (3, 5), (4, 6)]
    );
    assert!(specs[0].candidates.is_empty());
    let seeds: Vec<u64> = specs.iter().map(|s| s.seed).collect();
    assert!(
        seeds[0] != seeds[1] && seeds[1] != seeds[2],
        "fresh weights per stage"
    );
    // Each stage's candidates are the previous stage's final weights pruned: 8 → 5 → 3.
    for (stage, keep) in [(0usize, 5usize), (1, 3)] {
        let last = &reports[stage * 3 + 2];
        let kept = prune(&weights_of(last), keep, Some(0), false).unwrap();
        let next: Vec<Vec<u32>> = specs[stage + 1]
            .candidates
            .iter()
            .map(|c| c.to_vec())
            .collect();
        assert_eq!(next, kept, "stage {stage}");
        assert!(next.iter().all(|c| c.len() == keep));
        assert_eq!(
            reports[stage * 3 + 3]
                .candidates
                .iter()
                .map(|c| c.to_vec())
                .collect::<Vec<_>>(),
            kept
        );
        // α starts afresh: near-uniform mix at the start of the next stage (weights-only epoch).
        let first = &reports[stage * 3 + 3];
        assert!(first
            .mix
            .data
            .iter()
            .all(|&x| (x - 1.0 / keep as f32).abs() < 0.01));
    }
    // Only the last epoch of each stage is evaluated.
    let evaluated: Vec<bool> = reports.iter().map(|r| r.valid.examples > 0).collect();
    assert_eq!(
        evaluated,
        vec![false, false, true, false, false, true, false, false, true]
    );
}

#[test]
fn the_first_epochs_train_w_only_and_dropout_follows_the_schedule() {
    let space = ToySpace::new(ToyLayout::Darts);
    let params = format!("{SMALL}skip_dropout = [0.1, 0.4, 0.7]\n");
    let mut opt = create(&space, &params, 1);
    run_to_end(&mut opt, 100).unwrap();
    let p: PdartsParams = xnas_core::parse_params(&params).unwrap();
    // Per epoch: the dropout set, then 3 iterations (α steps only after the first epoch).
    let mut per_epoch: Vec<(f64, usize, usize)> = Vec::new();
    for e in space.events() {
        match e {
            Event::SkipDropout(p) => per_epoch.push((p, 0, 0)),
            Event::ArchGrad(_) => per_epoch.last_mut().unwrap().1 += 1,
            Event::Train(_) => per_epoch.last_mut().unwrap().2 += 1,
            _ => {}
        }
    }
    let want: Vec<(f64, usize, usize)> = (0..3)
        .flat_map(|s| {
            p.stage_plan(s)
                .skip_dropout
                .into_iter()
                .enumerate()
                .map(|(e, d)| (d, if e == 0 { 0 } else { 3 }, 3))
        })
        .collect();
    assert_eq!(per_epoch, want);
    // The reference's jump: epoch 1 (first α epoch) has p0, above epoch 0's p0·2/3.
    assert_eq!(per_epoch[4].0, 0.4);
    assert!((per_epoch[3].0 - 0.4 * 2.0 / 3.0).abs() < 1e-15);
}

#[test]
fn the_derived_cell_keeps_at_most_m_skip_connections() {
    for (layout, m) in [
        (ToyLayout::Darts, 2),
        (ToyLayout::Darts, 0),
        (ToyLayout::DartsReordered, 1),
    ] {
        let space = ToySpace::new(layout);
        // No dropout: the toy then favours skip connections.
        let params = format!("{SMALL}max_skips = {m}\nskip_dropout = [0.0, 0.0, 0.0]\n");
        let mut opt = create(&space, &params, 4);
        let reports = run_to_end(&mut opt, 100).unwrap();
        let l = space.layout();
        let w = weights_of(reports.last().unwrap());
        // The toy favours skips: without the limit the normal cell would have more than M.
        let unlimited = derive(&l, &w, &[]).unwrap();
        assert!(
            skip_count(&l, &unlimited) > m,
            "{layout:?}: the limit is exercised: {unlimited:?} {:?}",
            w.candidates
        );
        for r in &reports {
            assert!(r.skip_count <= m);
        }
        let cells = opt.derive(3).unwrap();
        assert_eq!(cells.len(), 3);
        assert_eq!(cells[0].genome, reports.last().unwrap().genotype.genome);
        assert_eq!(
            space.selection(&cells[0].genome),
            derive_limited(&l, &w, m).unwrap()
        );
        let skip = l.skip_op.unwrap();
        for c in &cells {
            let sel = space.selection(&c.genome);
            assert!(skip_count(&l, &sel) <= m);
            let skips_by_name = sel[..14].iter().filter(|&&o| o == skip as i32).count() as u32;
            assert_eq!(skips_by_name, skip_count(&l, &sel));
            if layout == ToyLayout::DartsReordered {
                assert_eq!(REORDERED_OPS[skip as usize], "skip_connect");
            }
        }
    }
}

#[test]
fn the_same_seed_gives_the_same_search() {
    let space = ToySpace::new(ToyLayout::Darts);
    let a = run_to_end(&mut create(&space, SMALL, 9), 100).unwrap();
    let b = run_to_end(&mut create(&space, SMALL, 9), 100).unwrap();
    let c = run_to_end(&mut create(&space, SMALL, 10), 100).unwrap();
    assert_eq!(a, b);
    assert_ne!(a.last().unwrap().mix, c.last().unwrap().mix);
}

#[test]
fn a_state_loaded_into_a_fresh_optimizer_continues_bit_identically_across_stages() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut whole = create(&space, SMALL, 2);
    let all = run_to_end(&mut whole, 2).unwrap();
    let cells = whole.derive(2).unwrap();
    // Stop after k calls of 2 steps: mid-stage 0, just after stage 0 ended, mid-stage 2.
    for k in [1usize, 6, 14, 15] {
        let mut resumed = stop_and_resume(|| create(&space, SMALL, 2), k, 2).unwrap();
        assert_eq!(resumed.reports, all, "after {k} calls");
        assert_eq!(resumed.optimizer.derive(2).unwrap(), cells);
    }
}

#[test]
fn a_state_of_more_stages_or_another_plugin_is_refused() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut three = create(&space, SMALL, 2);
    for _ in 0..6 {
        three.run(100).unwrap();
    }
    let blob = three.save_state().unwrap();
    let two =
        "cells = [2, 3]\nchannels = [4, 5]\nkeep = [5]\nskip_dropout = [0.0, 0.4]\nepochs = 3\n\
               epochs_weights_only = 1\nbatch_size = 16\n";
    let mut opt = create(&space, two, 2);
    let e = opt.load_state(&blob).unwrap_err();
    assert_eq!(
        e.message(),
        "pdarts state: saved in stage 3, but this search has 2 stages; resume with the parameters \
         that saved it"
    );
    let blob = xnas_core::state::encode("darts", 1, &0u32).unwrap();
    let e = opt.load_state(&blob).unwrap_err();
    assert_eq!(
        e.message(),
        "pdarts state: this is the state of `darts`, not of `pdarts`"
    );
}

#[test]
fn keeping_as_many_ops_as_the_space_has_is_refused() {
    let space = ToySpace::new(ToyLayout::Bench201);
    let e = testkit::create(register, "pdarts", &space, "keep = [5, 3]", 0)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "`keep` is [5, 3]: the space has 5 candidate ops per edge, so the first stage must keep fewer"
    );
    let none = ToySpace::new(ToyLayout::NoSupernet);
    let e = testkit::create(register, "pdarts", &none, "", 0)
        .err()
        .unwrap();
    assert!(e
        .message()
        .starts_with("`pdarts` is a one-shot optimizer: it needs a search space"));
}
