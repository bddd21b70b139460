//! `nasnet` against the xnas testkit's search-space checks (on real digits data; `evaluate`
//! trains a network, so the kit leaves it to tests/network.rs), and its neighbourhood exactly.

mod common;

use std::collections::HashSet;
use xnas_core::SearchSpace;

#[test]
fn nasnet_conforms_as_xfernas_and_as_darts() {
    for (what, space) in [
        ("xfernas", common::space_with("")),
        ("darts", common::darts_space()),
    ] {
        let report = xnas_testkit::check_space(&space, &["digits", "digits-b"])
            .unwrap_or_else(|f| panic!("{what}: {f}"));
        println!("{what}: {report}");
        report.assert_passed(&[
            "describe",
            "sample",
            "canonical",
            "parse",
            "canonical/refuses",
            "mutate",
            "neighbours",
            "symmetric_variants",
        ]);
    }
}

#[test]
fn neighbours_are_the_other_canonical_forms_one_gene_away() {
    let space = common::space_with("");
    let choices = space.cell_space().choices();
    for seed in 0..10 {
        let parent = space.sample(seed).unwrap();
        let own = space.canonical(&parent).unwrap().genome.to_vec();
        let mut expected = HashSet::new();
        for p in 0..parent.len() {
            for v in (0..choices[p]).filter(|&v| v != parent[p]) {
                let mut child = parent.clone();
                child[p] = v;
                let c = space.canonical(&child).unwrap().genome.to_vec();
                if c != own {
                    expected.insert(c);
                }
            }
        }
        let listed = space.neighbours(&parent).unwrap();
        let got: HashSet<Vec<u32>> = listed.iter().cloned().collect();
        assert_eq!(got.len(), listed.len(), "duplicates");
        assert_eq!(got, expected);
        for m in 0..30 {
            assert!(got.contains(&space.mutate(&parent, m).unwrap()));
        }
    }
}
