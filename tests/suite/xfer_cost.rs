//! Issue 30: `xfer`'s cost keys (`pretrain_epochs`, `source_replay`) through the real binary on
//! NAS-Bench-Graph. Their "as before" values repeat, trial for trial, what xfer(nao) did before
//! the keys existed; a bounded replay trains later rounds on the target plus that many source rows.

use crate::nbg_experiment;
use crate::xfer::{run_decorated, sandbox, NAO_PARAMS};
use xnas_tests::*;

/// The target architectures of `run_decorated("nao", NAO_PARAMS, "", 3)` as the `xnas` of main
/// 5005988 ran it, before `pretrain_epochs` and `source_replay` existed.
const BEFORE: [&str; 20] = [
    "0-1-2-3|arma,arma,arma,arma",
    "0-1-1-2|arma,cheb,cheb,sage",
    "0-1-1-2|graph,arma,arma,arma",
    "0-1-1-2|arma,sage,gcn,arma",
    "0-0-1-2|sage,fc,arma,sage",
    "0-0-1-3|gin,arma,gat,graph",
    "0-0-1-1|sage,gat,sage,arma",
    "0-0-1-3|fc,gat,gat,sage",
    "0-0-1-3|cheb,gcn,fc,gat",
    "0-0-1-3|sage,arma,gin,cheb",
    "0-1-2-3|fc,gin,graph,cheb",
    "0-1-2-2|cheb,fc,cheb,fc",
    "0-0-1-1|cheb,sage,arma,arma",
    "0-0-1-1|sage,cheb,arma,skip",
    "0-1-1-2|cheb,graph,graph,gat",
    "0-0-0-1|arma,arma,fc,sage",
    "0-1-1-2|gat,fc,arma,gin",
    "0-0-0-1|gin,fc,fc,fc",
    "0-1-1-2|arma,arma,arma,gat",
    "0-0-1-1|graph,graph,graph,skip",
];

fn target_archs(rows: &[Row]) -> Vec<String> {
    rows.iter()
        .filter(|r| r.role == "target")
        .map(|r| r.arch.clone())
        .collect()
}

/// The `nao: training round …` lines of a log, from `rows` on.
fn rounds(log: &str) -> Vec<&str> {
    log.lines()
        .filter_map(|l| l.split_once("nao: training round ").map(|(_, r)| r))
        .collect()
}

#[test]
fn xfer_old_training_settings_repeat_the_trials_of_before() {
    artefact(&lib_file("xnas_nao"));
    let old = "pretrain_epochs = \"optimizer\"\nsource_replay = \"all\"";
    let (rows, log) = run_decorated("nao", NAO_PARAMS, old, 3);
    assert_eq!(target_archs(&rows), BEFORE, "{log}");
    // Every round trains on every source row: 100 of them, plus the target's 0, 8, 16.
    let r = rounds(&log);
    assert_eq!(r.len(), 3, "{log}");
    for (i, (rows, target, epochs)) in [(100, 0, 5), (108, 8, 3), (116, 16, 3)]
        .into_iter()
        .enumerate()
    {
        let want = format!("{i}: {rows} rows ({target} of the target), {epochs} epochs");
        assert!(r[i].starts_with(&want), "round {i}: {} (want {want})", r[i]);
    }
}

#[test]
fn xfer_source_replay_bounds_the_rows_of_later_rounds_and_repeats() {
    artefact(&lib_file("xnas_nao"));
    let cheap = "pretrain_epochs = 2\nsource_replay = 10";
    let (rows, log) = run_decorated("nao", NAO_PARAMS, cheap, 3);
    let r = rounds(&log);
    assert_eq!(r.len(), 3, "{log}");
    // The first round pretrains on every source row for `pretrain_epochs`; later rounds see the
    // target's rows and 10 source rows.
    for (i, (rows, target, epochs)) in [(100, 0, 2), (18, 8, 3), (26, 16, 3)]
        .into_iter()
        .enumerate()
    {
        let want = format!("{i}: {rows} rows ({target} of the target), {epochs} epochs");
        assert!(r[i].starts_with(&want), "round {i}: {} (want {want})", r[i]);
    }
    let archs = target_archs(&rows);
    assert_eq!(archs.len(), 20);
    assert_ne!(archs, BEFORE, "another training, other proposals");
    let (again, _) = run_decorated("nao", NAO_PARAMS, cheap, 3);
    assert_eq!(rows, again, "same seed, same trials");
}

#[test]
fn xfer_cost_keys_refuse_bad_values_naming_the_key() {
    let sb = sandbox();
    for (line, key) in [
        ("source_replay = \"some\"", "source_replay"),
        ("source_replay = -3", "source_replay"),
        ("pretrain_epochs = 0", "pretrain_epochs"),
        ("pretrain_epochs = \"all\"", "pretrain_epochs"),
    ] {
        let text = nbg_experiment(
            "xfer-keys",
            "nao",
            8,
            &format!(
                "sources = [\"citeseer\"]\nsource_samples = 2\n\n[transfer]\nplugin = \"xfer\"\n\
                 [transfer.params]\n{line}\n"
            ),
        );
        sb.write("exp.toml", &text);
        let out = sb.run(&["validate", "exp.toml"]);
        assert_eq!(out.code(), 2, "{line}: {}", out.stderr());
        assert!(
            out.stderr().contains(&format!("`{key}`")),
            "{line}: {}",
            out.stderr()
        );
    }
}

/// `run_decorated("rl-controller", RL_PARAMS, "", 3)`'s target architectures as main 7c2603f ran
/// it, before the saved states' tensors were written as bytes (issue 30): a pure speed-up must
/// leave every trial as it was.
const RL_BEFORE: [&str; 20] = [
    "0-1-1-1|skip,gat,gat,arma",
    "0-0-0-0|gcn,cheb,arma,arma",
    "0-1-2-2|skip,cheb,gcn,cheb",
    "0-1-2-2|gin,cheb,gat,skip",
    "0-1-2-3|gat,cheb,gcn,cheb",
    "0-1-1-1|sage,sage,sage,graph",
    "0-1-2-3|skip,skip,skip,cheb",
    "0-1-1-1|gcn,gat,gat,gcn",
    "0-1-1-2|arma,cheb,skip,sage",
    "0-0-0-0|gcn,gin,sage,graph",
    "0-0-1-1|fc,gat,cheb,arma",
    "0-1-2-3|gcn,cheb,sage,graph",
    "0-1-2-3|cheb,gcn,gat,fc",
    "0-0-1-1|sage,gat,gat,gin",
    "0-0-1-3|gin,graph,gat,sage",
    "0-0-1-3|gat,gin,gin,gat",
    "0-1-1-2|skip,gin,gin,sage",
    "0-1-1-2|skip,sage,cheb,fc",
    "0-1-2-2|gat,arma,gin,sage",
    "0-1-1-1|gcn,sage,arma,graph",
];

#[test]
fn xfer_rl_controller_speed_ups_repeat_the_trials_of_before() {
    let (rows, log) = run_decorated("rl-controller", crate::xfer::RL_PARAMS, "", 3);
    assert_eq!(target_archs(&rows), RL_BEFORE, "{log}");
}
