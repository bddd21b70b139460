//! `darts` against the toy supernet of `xnas_oneshot::testkit`: the update order, the reports,
//! the derivation, determinism and resume identity, through the registered plugin and its ABI
//! object where it matters.

use xnas_core::{OneShot, PluginKind, PluginSet, SearchSpace};
use xnas_oneshot::derive::derive;
use xnas_oneshot::testkit::{self, init, run_to_end, stop_and_resume, Event, ToyLayout, ToySpace};
use xnas_oneshot::Weights;
use xnas_opt_darts::{register, Darts, DartsParams};

const SMALL: &str =
    "epochs = 3\nbatch_size = 16\ncells = 2\nchannels = 4\narch_learning_rate = 0.05\n";

fn create(space: &ToySpace, params: &str, seed: u64) -> xnas_core::OneShotBox {
    testkit::create(register, "darts", space, params, seed).unwrap()
}

#[test]
fn a_space_without_a_supernet_is_refused_in_one_sentence() {
    let space = ToySpace::new(ToyLayout::NoSupernet);
    let e = testkit::create(register, "darts", &space, "", 0)
        .err()
        .unwrap();
    assert_eq!(
        e.message(),
        "`darts` is a one-shot optimizer: it needs a search space that offers a supernet \
         (capability `supernet`, such as `nasnet` with the DARTS cell), and this one does not"
    );
}

#[test]
fn parameters_are_checked_before_anything_runs() {
    let set = PluginSet::from_register(register);
    let e = set
        .check_params(PluginKind::OPTIMIZER, "darts", "epochs = 0")
        .into_result()
        .unwrap_err();
    assert_eq!(e.message(), "`epochs` is 0: it must be at least 1");
    assert!(set
        .check_params(PluginKind::OPTIMIZER, "darts", SMALL)
        .into_result()
        .is_ok());
    assert!(set.infos()[0].has("one-shot"));
}

#[test]
fn a_search_runs_its_epochs_and_reports_the_derived_cell_of_each() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut opt = create(&space, SMALL, 1);
    let reports = run_to_end(&mut opt, 100).unwrap();
    assert_eq!(
        reports.iter().map(|r| r.epoch).collect::<Vec<_>>(),
        vec![0, 1, 2]
    );
    let layout = space.layout();
    for r in &reports {
        assert_eq!((r.stage, r.mix.rows, r.mix.cols), (0, 28, 8));
        assert!(r.train.examples == 48 && r.valid.examples == 48, "{r:?}");
        for e in 0..28 {
            assert!((r.mix.row(e).iter().sum::<f32>() - 1.0).abs() < 1e-5);
        }
        // The genotype is the rule's cell of the reported mix, canonical in the space.
        let values = r.mix.data.iter().map(|&x| f64::from(x)).collect();
        let w = Weights::new(vec![(0..8).collect(); 28], values).unwrap();
        let sel = derive(&layout, &w, &[]).unwrap();
        assert_eq!(
            r.genotype,
            space
                .canonical(&space.supernet_genome(&sel).unwrap())
                .unwrap()
        );
        assert_eq!(r.skip_count, xnas_oneshot::skip_count(&layout, &sel));
        assert!(r.entropy > 0.0 && r.entropy <= 8f64.ln() + 1e-9);
    }
    // α moved: the mixes of the first and last epoch differ, and entropy fell.
    assert_ne!(reports[0].mix, reports[2].mix);
    assert!(reports[2].entropy < reports[0].entropy);
    // Finished: further calls do nothing.
    let p = opt.run(10).unwrap();
    assert!(p.finished && p.steps == 0);
    // 3 epochs × 3 iterations, α step then w step each; one evaluation per epoch.
    let ev = space.events();
    let count = |f: fn(&Event) -> bool| ev.iter().filter(|e| f(e)).count();
    assert_eq!(count(|e| matches!(e, Event::ArchGrad(_))), 9);
    assert_eq!(count(|e| matches!(e, Event::Train(_))), 9);
    assert_eq!(count(|e| matches!(e, Event::Evaluate(_))), 3);
    assert_eq!(
        count(|e| matches!(e, Event::Unrolled(_) | Event::SkipDropout(_))),
        0
    );
    let Some(Event::Built(spec)) = ev.first() else {
        panic!("not built first")
    };
    assert_eq!(
        (
            spec.cells,
            spec.channels,
            spec.recipe.epochs,
            spec.recipe.batch_size
        ),
        (2, 4, 3, 16)
    );
    assert!(spec.candidates.is_empty(), "every op on every edge");
}

#[test]
fn second_order_asks_for_the_unrolled_gradient() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut opt = create(&space, &format!("{SMALL}order = \"second\"\n"), 1);
    run_to_end(&mut opt, 100).unwrap();
    let ev = space.events();
    assert_eq!(
        ev.iter()
            .filter(|e| matches!(e, Event::Unrolled(_)))
            .count(),
        9
    );
    assert!(!ev.iter().any(|e| matches!(e, Event::ArchGrad(_))));
}

#[test]
fn the_same_seed_gives_the_same_alpha_trajectory_and_genotype() {
    for extra in [
        "",
        "order = \"second\"\n",
        "sampling = \"gumbel\"\ngumbel_hard = true\n",
    ] {
        let params = format!("{SMALL}{extra}");
        let space = ToySpace::new(ToyLayout::Darts);
        let a = run_to_end(&mut create(&space, &params, 5), 100).unwrap();
        let b = run_to_end(&mut create(&space, &params, 5), 100).unwrap();
        let c = run_to_end(&mut create(&space, &params, 6), 100).unwrap();
        assert_eq!(a, b, "{extra}");
        assert_ne!(a.last().unwrap().mix, c.last().unwrap().mix, "{extra}");
    }
}

#[test]
fn a_state_loaded_into_a_fresh_optimizer_continues_bit_identically() {
    for extra in ["", "order = \"second\"\n", "sampling = \"gumbel\"\n"] {
        let params = format!("{SMALL}{extra}");
        let space = ToySpace::new(ToyLayout::Darts);
        let mut whole = create(&space, &params, 3);
        let all = run_to_end(&mut whole, 2).unwrap();
        let final_cells = whole.derive(3).unwrap();
        // Stop mid-epoch 1 (after 4 of 9 iterations), save, and continue in a new optimizer.
        let mut resumed = stop_and_resume(|| create(&space, &params, 3), 2, 2).unwrap();
        assert_eq!(resumed.before_stop, 1);
        assert_eq!(resumed.reports, all, "{extra}");
        assert_eq!(resumed.optimizer.derive(3).unwrap(), final_cells);
    }
}

#[test]
fn derive_gives_the_rules_cell_then_distinct_next_best_cells_the_space_evaluates() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut opt = Darts::new(
        xnas_core::parse_params::<DartsParams>(SMALL).unwrap(),
        &init(&space, 2),
    )
    .unwrap();
    let reports = run_to_end(&mut opt, 100).unwrap();
    let cells = opt.derive(4).unwrap();
    assert_eq!(cells.len(), 4);
    assert_eq!(cells[0].genome, reports.last().unwrap().genotype.genome);
    for (i, c) in cells.iter().enumerate() {
        for d in &cells[i + 1..] {
            assert_ne!(c.genome, d.genome);
        }
        let request = xnas_core::EvalRequest {
            trial_id: i as u64,
            task: "toy".into(),
            genome: c.genome.clone(),
            seed: 0,
            budget: c.budget,
        };
        assert!(space.evaluate(&request).unwrap().metric.is_finite());
    }
    assert_eq!(opt.alpha().len(), 28 * 8);
}

#[test]
fn the_nas_bench_201_cell_keeps_every_edge() {
    let space = ToySpace::new(ToyLayout::Bench201);
    let mut opt = create(&space, SMALL, 0);
    let reports = run_to_end(&mut opt, 100).unwrap();
    assert_eq!((reports[0].mix.rows, reports[0].mix.cols), (6, 5));
    let cells = opt.derive(2).unwrap();
    assert!(
        cells[0].genome.iter().all(|&g| g > 0),
        "no edge dropped: {:?}",
        cells[0].genome
    );
}

#[test]
fn another_plugins_state_is_refused() {
    let space = ToySpace::new(ToyLayout::Darts);
    let mut opt = create(&space, SMALL, 0);
    let blob = xnas_core::state::encode("pdarts", 1, &0u32).unwrap();
    let e = opt.load_state(&blob).unwrap_err();
    assert_eq!(
        e.message(),
        "darts state: this is the state of `pdarts`, not of `darts`"
    );
    let e = opt.load_state(b"XNASSTAT garbage").unwrap_err();
    assert!(e.message().contains("damaged"), "{e}");
}
