//! `rl-controller` against the xnas testkit on NAS-Bench-Graph: the host's ask/tell protocol,
//! the same search for the same seed, and a saved state that continues identically.

mod common;

use xnas_opt_rl_controller::RlController;

#[test]
fn rl_controller_conforms() {
    let space = common::nasbench_graph(&["cora"]);
    let report =
        xnas_testkit::check_optimizer(|init| RlController::new(common::params(""), init), &space)
            .unwrap();
    println!("{report}");
    report.assert_passed(&xnas_testkit::PROTOCOL_CHECKS);
    report.assert_passed(&["state"]);
    // A policy is no surrogate: no `predict`, so `xnas ablation` refuses it.
    let skipped: Vec<&str> = report.skipped().iter().map(|(c, _)| *c).collect();
    assert_eq!(skipped, ["predict"], "{report}");
}
