//! `evolution` against the xnas testkit, with populations small enough that the kit's rounds
//! reach tournaments and mutations (and identity mutations), not only the initial samples.

use xnas_core::{parse_params, space_box, PluginSet};
use xnas_opt_evolution::{register, Evolution};
use xnas_testkit::{OptimizerOptions, ToySpace};

fn conforms(params: &str) {
    let space = space_box(ToySpace);
    let report =
        xnas_testkit::check_optimizer(|init| Evolution::new(parse_params(params)?, init), &space)
            .unwrap_or_else(|f| panic!("with `{params}`: {f}"));
    println!("`{params}`: {report}");
    // On failure the captured output above names the parameters.
    report.assert_passed(&xnas_testkit::PROTOCOL_CHECKS);
}

#[test]
fn evolution_conforms() {
    conforms("population = 4\nsample_size = 2");
    conforms("population = 3\nsample_size = 5\np_identity = 0.5");
    // Still in the initial random samples for all of the kit's rounds.
    conforms("");
}

#[test]
fn evolution_conforms_as_registered_with_single_proposal_batches() {
    let set = PluginSet::from_register(register);
    let space = space_box(ToySpace);
    let options = OptimizerOptions {
        batches: vec![1; 24],
        state_after: 10,
        ..OptimizerOptions::default()
    };
    xnas_testkit::check_optimizer_with(
        |init| {
            set.create_optimizer("evolution", "population = 5\nsample_size = 3", init)
                .into_result()
        },
        &space,
        &options,
    )
    .unwrap();
}
