//! What a genome of the NASNet cell space means: op sets, the genome ↔ genotype ↔ text
//! conversions, the canonical form.

use xnas_space_nasnet::genome::*;

fn space(ops: &str) -> CellSpace {
    CellSpace {
        ops: op_set(ops).unwrap(),
        blocks: 5,
        combine: CombineMode::Fixed(Combine::Add),
    }
}

#[test]
fn op_sets_have_the_papers_sizes_and_unique_names() {
    for (name, n) in [("xfernas", 19), ("nasnet", 13), ("enas", 5), ("darts", 7)] {
        let ops = op_set(name).unwrap();
        assert_eq!(ops.len(), n, "{name}");
        let mut names: Vec<String> = ops.iter().map(|o| o.name()).collect();
        names.sort();
        names.dedup();
        assert_eq!(names.len(), n, "{name} has duplicate ops");
        for o in ops {
            assert_eq!(Op::parse(&o.name()), Some(o));
        }
    }
}

#[test]
fn enas_layout_matches_nao_variant_a() {
    let s = space("enas");
    assert_eq!(s.len(), 40);
    let c = s.choices();
    assert_eq!(&c[..8], &[2, 5, 2, 5, 3, 5, 3, 5]);
    assert_eq!(c[16], 6); // block 4's first input: h0, h1, b0..b3
}

#[test]
fn xfernasnet_round_trips_through_genome_and_text() {
    let s = space("xfernas");
    let g = xfernasnet();
    let genome = s.encode(&g).unwrap();
    assert_eq!(s.decode(&genome).unwrap(), g);
    let text = to_text(&g);
    assert_eq!(parse_text(&text).unwrap(), g);
    assert_eq!(g.normal.loose_ends(), vec![3, 5, 6]);
}

#[test]
fn canonical_form_is_shared_by_swapped_genomes() {
    let s = space("xfernas");
    let genome = s.encode(&xfernasnet()).unwrap();
    let canon = s.canonicalise(&genome);
    for v in s.swaps(&genome) {
        assert_ne!(v, genome);
        assert_eq!(s.canonicalise(&v), canon);
    }
}

#[test]
fn bad_genomes_and_texts_are_refused_with_the_place() {
    let s = space("enas");
    let mut g = vec![0u32; 40];
    g[16] = 6;
    let e = s.decode(&g).unwrap_err();
    assert!(e.contains("gene 16") && e.contains("block 4"), "{e}");
    let e = parse_text("normal: b0 = foo(h0) + identity(h1) | reduce: ").unwrap_err();
    assert!(e.contains("unknown op `foo`"), "{e}");
}
