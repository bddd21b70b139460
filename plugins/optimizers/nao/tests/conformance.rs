//! `nao` against the xnas testkit on NAS-Bench-Graph: the host's ask/tell protocol, the same
//! search for the same seed, a saved state that continues identically, and `predict`.

mod common;

use xnas_core::parse_params;
use xnas_opt_nao::Nao;

#[test]
fn nao_conforms() {
    // Short training: the kit checks the protocol, not the surrogate's quality.
    let params = "epochs_first = 4\nepochs = 2\ninitial_random = 3\ncandidates = 8";
    let report = xnas_testkit::check_optimizer(
        |init| Nao::new(parse_params(params)?, init),
        &common::space(),
    )
    .unwrap();
    println!("{report}");
    report.assert_passed(&xnas_testkit::PROTOCOL_CHECKS);
    report.assert_passed(&["state", "predict"]);
    assert!(report.skipped().is_empty(), "{report}");
}
