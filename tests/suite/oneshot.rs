//! One-shot optimizers (`darts`, `pdarts`) on the real DARTS-cell supernet of the `nasnet` space,
//! every plugin loaded from its library as the host loads it (`xnas_host::plugins::Registry`),
//! on scikit-learn's digits at a tiny scale: a search derives a genome the space then trains;
//! the same seed gives the same α trajectory; a state loaded into a fresh optimizer continues
//! identically; P-DARTS's stages keep the ops it pruned to and its cell keeps the skip limit.

use xnas_core::{
    EpochReport, EvalRequest, OneShot, OneShotBox, OneShotInit, PluginKind, SearchSpace, SpaceBox,
    SpaceInit,
};
use xnas_host::plugins::{Registry, Source};
use xnas_tests::*;

/// The DARTS cell on digits (8×8): 256 training images, half of them the α split.
const SPACE: &str = r#"ops = "darts"
blocks = 4
combine = "add"
concat = "all"
cells = 1
filters = 4
epochs = 1
batch_size = 64
threads = 1
[tasks.digits]
preset = "digits"
limit_train = 256
"#;

const DARTS: &str = "epochs = 2\nbatch_size = 32\nchannels = 4\ncells = 3\n";

const PDARTS: &str =
    "cells = [3, 4, 5]\nchannels = [4, 4, 4]\nepochs = 2\nepochs_weights_only = 1\n\
                      evaluate_last = 1\nbatch_size = 32\nmax_skips = 2\n";

struct Plugins {
    registry: Registry,
    space: SpaceBox,
}

impl Plugins {
    fn load() -> Plugins {
        let registry = Registry::discover(&[Source::Dir(build_dir())]);
        let entry = registry
            .entries
            .iter()
            .find(|e| e.name() == "nasnet" && e.info.kind == PluginKind::SEARCH_SPACE)
            .expect("nasnet is built (cargo build --workspace)");
        let data_dir = std::env::var("XNAS_DATA_DIR").unwrap_or_default();
        let init = SpaceInit {
            tasks: vec!["digits".into()].into(),
            base_dir: ".".into(),
            data_dir: data_dir.into(),
        };
        let space = entry.create_space(SPACE, &init).unwrap();
        Plugins { registry, space }
    }

    fn one_shot(&self, name: &str, params: &str, seed: u64) -> OneShotBox {
        let entry = self
            .registry
            .entries
            .iter()
            .find(|e| e.name() == name && e.info.kind == PluginKind::OPTIMIZER)
            .unwrap_or_else(|| panic!("{name} is built"));
        let init = OneShotInit {
            space: self.space.clone(),
            target: "digits".into(),
            sources: Default::default(),
            source_artifacts: Default::default(),
            seed,
            base_dir: ".".into(),
        };
        entry.create_one_shot(params, &init).unwrap()
    }

    /// Trains `genome` from scratch as a trial and returns its validation accuracy.
    fn evaluate(&self, genome: &[u32]) -> f64 {
        let request = EvalRequest {
            trial_id: 0,
            task: "digits".into(),
            genome: genome.to_vec().into(),
            seed: 1,
            budget: Default::default(),
        };
        self.space.evaluate(&request).unwrap().metric
    }
}

/// Runs to the end in calls of `steps`; the reports.
fn run(opt: &mut OneShotBox, steps: u32) -> Vec<EpochReport> {
    let mut reports = Vec::new();
    loop {
        let p = opt.run(steps).unwrap();
        reports.extend(p.epoch_done.into_option());
        if p.finished {
            return reports;
        }
    }
}

#[test]
fn darts_derives_a_cell_the_space_trains() {
    let plugins = Plugins::load();
    let mut opt = plugins.one_shot("darts", DARTS, 1);
    let reports = run(&mut opt, 100);
    assert_eq!(reports.len(), 2);
    for r in &reports {
        assert_eq!((r.mix.rows, r.mix.cols), (28, 8));
        assert!(r.train.examples == 128 && r.valid.examples == 128, "{r:?}");
        assert!(r.train.loss.is_finite() && r.valid.accuracy > 0.0);
    }
    assert_ne!(reports[0].mix, reports[1].mix, "α moved");
    let cells = opt.derive(2).unwrap();
    assert_eq!(cells.len(), 2);
    assert_eq!(cells[0].genome, reports[1].genotype.genome);
    assert_ne!(cells[0].genome, cells[1].genome);
    let arch = plugins.space.canonical(&cells[0].genome).unwrap();
    assert!(arch.text.starts_with("normal: "), "{}", arch.text);
    let accuracy = plugins.evaluate(&cells[0].genome);
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
}

#[test]
fn darts_with_the_same_seed_repeats_its_alpha_trajectory() {
    let plugins = Plugins::load();
    for params in [
        DARTS.to_string(),
        format!("{DARTS}sampling = \"gumbel\"\ngumbel_hard = true\n"),
    ] {
        let a = run(&mut plugins.one_shot("darts", &params, 4), 100);
        let b = run(&mut plugins.one_shot("darts", &params, 4), 100);
        assert_eq!(a, b, "{params}");
        let c = run(&mut plugins.one_shot("darts", &params, 5), 100);
        assert_ne!(a[1].mix, c[1].mix, "{params}");
    }
}

#[test]
fn second_order_darts_saved_mid_epoch_continues_identically() {
    let plugins = Plugins::load();
    let params = format!("{DARTS}order = \"second\"\n");
    let mut whole = plugins.one_shot("darts", &params, 2);
    let all = run(&mut whole, 3);
    let cells = whole.derive(1).unwrap();
    // 4 iterations per epoch: stop after 6 (mid-epoch 1).
    let mut first = plugins.one_shot("darts", &params, 2);
    let mut reports = Vec::new();
    for _ in 0..3 {
        reports.extend(first.run(3).unwrap().epoch_done.into_option());
    }
    let blob = first.save_state().unwrap();
    drop(first);
    let mut resumed = plugins.one_shot("darts", &params, 2);
    resumed.load_state(&blob).unwrap();
    reports.extend(run(&mut resumed, 3));
    assert_eq!(reports, all);
    assert_eq!(resumed.derive(1).unwrap(), cells);
}

#[test]
fn pdarts_keeps_the_pruned_ops_and_the_skip_limit_and_resumes_across_stages() {
    let plugins = Plugins::load();
    let mut whole = plugins.one_shot("pdarts", PDARTS, 3);
    let all = run(&mut whole, 100);
    assert_eq!(all.len(), 6);
    assert_eq!(
        all.iter().map(|r| r.stage).collect::<Vec<_>>(),
        vec![0, 0, 1, 1, 2, 2]
    );
    for (i, r) in all.iter().enumerate() {
        assert!(r.skip_count <= 2, "epoch {i}");
        let per_edge = [8, 8, 5, 5, 3, 3][i];
        assert_eq!(r.mix.cols, per_edge, "epoch {i}");
        assert!(r.candidates.iter().all(|c| c.len() == per_edge as usize));
    }
    // The ops a stage searches are the heaviest of the previous stage's last mix.
    for stage_end in [1usize, 3] {
        let last = &all[stage_end];
        let next = &all[stage_end + 1];
        for e in 0..28 {
            let row = last.mix.row(e);
            let k = next.mix.cols as usize;
            for (c, &op) in last.candidates[e].iter().enumerate() {
                let heavier = row.iter().filter(|&&x| x > row[c]).count();
                let at_least = row.iter().filter(|&&x| x >= row[c]).count() - 1;
                if next.candidates[e].contains(&op) {
                    assert!(heavier < k, "edge {e} kept op {op}");
                } else {
                    assert!(at_least >= k, "edge {e} dropped op {op}");
                }
            }
        }
    }
    let cells = whole.derive(2).unwrap();
    assert_eq!(cells[0].genome, all[5].genotype.genome);
    let accuracy = plugins.evaluate(&cells[0].genome);
    assert!((0.0..=1.0).contains(&accuracy), "{accuracy}");
    // Saved just after stage 1 ended (4 calls of 2 steps = 2 epochs), resumed in a fresh one.
    let mut first = plugins.one_shot("pdarts", PDARTS, 3);
    let mut reports = Vec::new();
    for _ in 0..4 {
        reports.extend(first.run(2).unwrap().epoch_done.into_option());
    }
    assert_eq!(reports.len(), 2);
    let blob = first.save_state().unwrap();
    drop(first);
    let mut resumed = plugins.one_shot("pdarts", PDARTS, 3);
    resumed.load_state(&blob).unwrap();
    reports.extend(run(&mut resumed, 100));
    assert_eq!(reports, all);
    assert_eq!(resumed.derive(2).unwrap(), cells);
}

/// The example files' space and optimizer parameters pass the plugins' own checks
/// (`examples.rs` validates and runs the files through the binary).
#[test]
fn the_examples_parameters_are_valid() {
    let registry = Registry::discover(&[Source::Dir(build_dir())]);
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap();
    for (file, optimizer) in [
        ("examples/darts-fashion-mnist.toml", "darts"),
        ("examples/pdarts-fashion-mnist.toml", "pdarts"),
    ] {
        let text = std::fs::read_to_string(root.join(file)).unwrap();
        let doc: toml::Table = toml::from_str(&text).unwrap();
        for (section, kind) in [
            ("search_space", PluginKind::SEARCH_SPACE),
            ("optimizer", PluginKind::OPTIMIZER),
        ] {
            let table = doc[section].as_table().unwrap();
            let name = table["plugin"].as_str().unwrap();
            let params = toml::to_string(&table["params"]).unwrap();
            let entry = registry
                .entries
                .iter()
                .find(|e| e.name() == name && e.info.kind == kind)
                .unwrap();
            entry
                .check_params(&params)
                .unwrap_or_else(|e| panic!("{file} [{section}]: {e}"));
            if kind == PluginKind::OPTIMIZER {
                assert_eq!(name, optimizer);
                assert!(entry.info.has("one-shot"));
            } else {
                assert!(
                    entry.info.has("supernet"),
                    "{file}: the space offers a supernet"
                );
            }
        }
    }
}
