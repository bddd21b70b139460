//! `random` against the xnas testkit: the host's ask/tell protocol, determinism per seed, and
//! the toy space's non-canonical samples told back in canonical form.

use xnas_core::{parse_params, space_box, PluginSet};
use xnas_opt_random::{register, RandomSearch};
use xnas_testkit::ToySpace;

#[test]
fn random_search_conforms() {
    let space = space_box(ToySpace);
    let report =
        xnas_testkit::check_optimizer(|init| RandomSearch::new(parse_params("")?, init), &space)
            .unwrap();
    println!("{report}");
    report.assert_passed(&xnas_testkit::PROTOCOL_CHECKS);
    // Random search keeps no state and has no surrogate: resume replays, no ablation.
    let skipped: Vec<&str> = report.skipped().iter().map(|(c, _)| *c).collect();
    assert_eq!(skipped, ["state", "predict"], "{report}");
}

#[test]
fn unique_random_search_conforms_as_registered() {
    // Through the registered constructor and the ABI object, as the host creates it.
    let set = PluginSet::from_register(register);
    let space = space_box(ToySpace);
    xnas_testkit::check_optimizer(
        |init| {
            set.create_optimizer("random", "unique = true", init)
                .into_result()
        },
        &space,
    )
    .unwrap();
}
