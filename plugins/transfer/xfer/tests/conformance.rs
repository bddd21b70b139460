//! `xfer` against the xnas testkit's decorator checks, around `nao` and around `rl-controller`
//! on the kit's toy space: built as the host builds it (the inner optimizer with xfer's heads and
//! source knowledge), the wrapped optimizer keeps the ask/tell protocol, repeats its search for a
//! seed, and continues identically from a saved state (xfer's and the inner one's).

use xnas_core::{optimizer_box, parse_params, space_box, PluginInfo, PluginSet};
use xnas_opt_nao::Nao;
use xnas_opt_rl_controller::RlController;
use xnas_testkit::{check_transfer, Report, ToySpace, PROTOCOL_CHECKS};
use xnas_xfer_xfer::Xfer;

/// The kit's checks every decorated optimizer here passes (the inner ones save state).
fn assert_protocol(report: &Report) {
    report.assert_passed(&PROTOCOL_CHECKS);
    report.assert_passed(&["transfer", "state"]);
}

/// The host's listing of `name`, as `TransferInit::inner` carries it.
fn listed(register: fn(&mut PluginSet), name: &str) -> PluginInfo {
    PluginSet::from_register(register)
        .infos()
        .into_iter()
        .find(|i| i.name.as_str() == name)
        .unwrap()
}

#[test]
fn xfer_around_nao_conforms() {
    // Short training: the kit checks the protocol, not the surrogate's quality.
    let nao = "epochs_first = 4\nepochs = 2\ninitial_random = 3\ncandidates = 8\nhidden = 16\n\
               emb = 16\n[head]\nhidden = [8]";
    let report = check_transfer(
        |init| Xfer::new(parse_params("residual_hidden = [4]")?, init),
        &listed(xnas_opt_nao::register, "nao"),
        |init| Ok(optimizer_box(Nao::new(parse_params(nao)?, init)?)),
        &space_box(ToySpace),
    )
    .unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    assert_protocol(&report);
    report.assert_passed(&["predict"]);
    assert!(report.skipped().is_empty(), "{report}");
}

#[test]
fn xfer_around_rl_controller_conforms() {
    let report = check_transfer(
        |init| Xfer::new(parse_params("")?, init),
        &listed(xnas_opt_rl_controller::register, "rl-controller"),
        |init| {
            Ok(optimizer_box(RlController::new(
                parse_params("hidden = 16")?,
                init,
            )?))
        },
        &space_box(ToySpace),
    )
    .unwrap_or_else(|f| panic!("{f}"));
    println!("{report}");
    assert_protocol(&report);
}
