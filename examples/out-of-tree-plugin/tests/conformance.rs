//! The xnas testkit drives `local-search` the way the host does: batches of asks and tells,
//! failed trials, canonical genomes that differ from the proposed ones, determinism per seed.

use xnas_testkit::ToySpace;
use xnas_core::{parse_params, space_box, PluginSet};
use xnas_local_search::{register, LocalSearch};

#[test]
fn local_search_conforms() {
    let space = space_box(ToySpace);
    let report = xnas_testkit::check_optimizer(
        |init| LocalSearch::new(parse_params("initial = 4\npatience = 3")?, init),
        &space,
    )
    .unwrap();
    println!("{report}"); // `cargo test -- --nocapture` shows what ran and what was skipped
}

#[test]
fn local_search_conforms_as_registered() {
    // Through `register`, the parameter text and the ABI object, as the host creates it.
    let set = PluginSet::from_register(register);
    let space = space_box(ToySpace);
    xnas_testkit::check_optimizer(
        |init| {
            set.create_optimizer("local-search", "patience = 2", init)
                .into_result()
        },
        &space,
    )
    .unwrap();
}
