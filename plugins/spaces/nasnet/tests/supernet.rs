//! The DARTS cell supernet of the nasnet space through the supernet protocol, on real digits
//! images at tiny scale: layout and parameters, resume, determinism, snapshots and Reptile's
//! interpolation, weights by name, skip dropout, derived genomes, and every bad input.

mod common;

use common::*;
use xnas_core::abi_stable::std_types::RSome;
use xnas_core::{ErrorKind, EvalRequest, Matrix, SearchSpace, Supernet, SupernetBox};
use xnas_tch::tch::Kind;

fn build(spec: &xnas_core::SupernetSpec) -> SupernetBox {
    darts_space()
        .build_supernet(spec)
        .expect("the supernet builds")
}

#[test]
fn layout_is_dartss_cell_and_parameters_match_a_hand_count() {
    let _serial = serial();
    let space = darts_space();
    let l = space.supernet_layout().unwrap();
    assert_eq!(l.edges.len(), 28);
    assert_eq!(l.ops.len(), 8);
    assert_eq!(l.ops[0].as_str(), "none");
    assert_eq!(l.ops[3].as_str(), "skip_connect");
    assert_eq!(l.ops[6].as_str(), "dil_conv_3x3");
    assert_eq!((l.zero_op, l.skip_op), (RSome(0), RSome(3)));
    assert_eq!(l.edges_per_node, 2);
    assert!(!l.zero_op_selectable);
    // Edge index = node offset (0, 2, 5, 9) + input.
    for (cell, start) in [("normal", 0), ("reduce", 14)] {
        for (node, offset) in [0u32, 2, 5, 9].into_iter().enumerate() {
            for input in 0..node as u32 + 2 {
                let e = &l.edges[start + (offset + input) as usize];
                assert_eq!(
                    (e.cell.as_str(), e.node, e.input),
                    (cell, node as u32, input)
                );
            }
        }
    }
    // C = 4, 3 cells (reductions at 1 and 2), 1 input channel, 10 classes. Per edge with all 8
    // ops at C channels: sep 3/5 (2 × (depthwise + pointwise)), dil 3/5 (once), pools and skip
    // without parameters (non-affine BN) = 102C + 6C²; a reduction cell's 8 strided skips are
    // factorized reductions (C² each); preprocessing is a 1×1 conv (or a factorized reduction,
    // as many weights); the stem's BN is affine.
    let edge = |c: u64| 102 * c + 6 * c * c;
    let stem = 9 * 12 + 2 * 12;
    let cell0 = 12 * 4 + 12 * 4 + 14 * edge(4);
    let cell1 = 12 * 8 + 16 * 8 + 14 * edge(8) + 8 * 64;
    let cell2 = 16 * 16 + 32 * 16 + 14 * edge(16) + 8 * 256;
    let classifier = 64 * 10 + 10;
    let total = stem + cell0 + cell1 + cell2 + classifier;
    assert_eq!(total, 72_638);
    let s = build(&spec(&["digits"], 3, &[], 1));
    let info = s.info().unwrap();
    assert_eq!(info.parameters, total);
    assert_eq!(info.candidates.len(), 28);
    assert_eq!(info.candidates[5].as_slice(), &[0, 1, 2, 3, 4, 5, 6, 7]);
    // 100 w images in batches of 32: 32 + 32 + 32 + 4.
    assert_eq!((info.train_batches, info.valid_batches), (4, 4));
    assert_eq!((info.epoch, info.learning_rate), (0, 0.025));
}

/// `n` iterations of DARTS's loop (α step, then w step), alternating first and second order,
/// with an epoch end and skip dropout part-way; every figure returned, bit for bit.
fn run(s: &mut SupernetBox, n: usize, seed: u64) -> Vec<u64> {
    let mut out = Vec::new();
    for i in 0..n {
        let m = mix(28, 8, 2.0, seed + i as u64);
        let g = if i % 2 == 0 {
            s.arch_grad(&m).unwrap()
        } else {
            s.unrolled_arch_grad(&m).unwrap()
        };
        out.push(g.stats.loss.to_bits());
        out.extend(g.grad.data.iter().map(|v| v.to_bits() as u64));
        out.push(s.train_step(&m).unwrap().loss.to_bits());
        if i == 2 {
            out.push(s.end_epoch().unwrap() as u64);
            s.set_skip_dropout(0.3).unwrap();
        }
    }
    out.push(s.evaluate(&mix(28, 8, 2.0, 99)).unwrap().loss.to_bits());
    out
}

#[test]
fn a_reloaded_supernet_continues_bit_identically_and_seeds_repeat() {
    let _serial = serial();
    let sp = spec(&["digits"], 2, &[], 11);
    let mut whole = build(&sp);
    let first = run(&mut whole, 4, 0);
    let rest = run(&mut whole, 5, 100);

    // Stopped after the first part: its state saved, the object dropped (as a killed process
    // loses it), a fresh supernet built from the same spec and loaded.
    let mut part = build(&sp);
    assert_eq!(
        run(&mut part, 4, 0),
        first,
        "the same seed gives the same run"
    );
    let state = part.save_state().unwrap();
    drop(part);
    let mut resumed = build(&sp);
    resumed.load_state(&state).unwrap();
    assert_eq!(resumed.info().unwrap().epoch, 1);
    assert_eq!(run(&mut resumed, 5, 100), rest, "resumed = uninterrupted");

    let mut other = build(&spec(&["digits"], 2, &[], 12));
    assert_ne!(run(&mut other, 4, 0), first, "another seed, another run");
}

#[test]
fn snapshots_restore_and_interpolate_with_classifiers_untouched() {
    let _serial = serial();
    let mut s = build(&spec(&["digits", "digits-b"], 2, &[], 3));
    let m = mix(28, 8, 1.0, 5);
    let base = s.snapshot().unwrap();
    let w_base = weights(&s.export_weights().unwrap());
    for _ in 0..2 {
        s.train_step(&m).unwrap();
    }
    let one = s.snapshot().unwrap();
    let w_one = weights(&s.export_weights().unwrap());
    s.set_task(1).unwrap();
    for _ in 0..2 {
        s.train_step(&m).unwrap();
    }
    let two = s.snapshot().unwrap();
    let w_two = weights(&s.export_weights().unwrap());
    // Task 1's steps left task 0's classifier alone (no decay, no momentum) and trained its own.
    let c0 = "classifier.t0.weight";
    let c1 = "classifier.t1.weight";
    assert_eq!(max_diff(named(&w_one, c0), named(&w_two, c0)), 0.0);
    assert!(max_diff(named(&w_one, c1), named(&w_two, c1)) > 0.0);

    s.restore(base).unwrap();
    let now = weights(&s.export_weights().unwrap());
    for ((n, a), (_, b)) in now.iter().zip(&w_base) {
        assert_eq!(max_diff(a, b), 0.0, "restore: {n}");
    }

    // Before each interpolation the current weights are snapshot `two`'s.
    let check = |s: &mut SupernetBox,
                 others: &[u32],
                 eps: f64,
                 want: &dyn Fn(&str) -> xnas_tch::tch::Tensor| {
        s.restore(two).unwrap();
        s.interpolate(base, others, eps).unwrap();
        let got = weights(&s.export_weights().unwrap());
        for (n, t) in &got {
            let expected = if n.starts_with("classifier.") {
                named(&w_two, n).shallow_clone()
            } else {
                want(n)
            };
            assert!(max_diff(t, &expected) <= 1e-6, "ε = {eps}: {n}");
        }
    };
    check(&mut s, &[one], 0.0, &|n| named(&w_base, n).shallow_clone());
    check(&mut s, &[one], 1.0, &|n| named(&w_one, n).shallow_clone());
    check(&mut s, &[one, two], 0.5, &|n| {
        let b = named(&w_base, n);
        let mean = (named(&w_one, n) + named(&w_two, n)) / 2.0;
        b + (mean - b) * 0.5
    });
    // Exact at the ends (`lerp`).
    s.restore(two).unwrap();
    s.interpolate(base, &[one], 1.0).unwrap();
    let exact = weights(&s.export_weights().unwrap());
    assert_eq!(
        max_diff(
            named(&exact, "stem.c1.conv.weight"),
            named(&w_one, "stem.c1.conv.weight")
        ),
        0.0
    );

    s.drop_snapshot(one).unwrap();
    let e = s.restore(one).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(
        e.message().contains(&format!(
            "snapshot {one} does not exist (kept: {base}, {two})"
        )),
        "{e}"
    );
    let e = s.interpolate(base, &[], 0.5).unwrap_err();
    assert!(e.message().contains("`others` is empty"), "{e}");
    // Snapshots travel with the state.
    let state = s.save_state().unwrap();
    let mut t = build(&spec(&["digits", "digits-b"], 2, &[], 3));
    t.load_state(&state).unwrap();
    t.restore(base).unwrap();
    let w = weights(&t.export_weights().unwrap());
    assert_eq!(
        max_diff(
            named(&w, "cells.0.pre1.conv0.weight"),
            named(&w_base, "cells.0.pre1.conv0.weight")
        ),
        0.0
    );
}

#[test]
fn weights_round_trip_by_name_into_other_class_counts_and_fewer_candidates() {
    let _serial = serial();
    let mut a = build(&spec(&["digits"], 2, &[], 4));
    let m = mix(28, 8, 1.0, 1);
    for _ in 0..3 {
        a.train_step(&m).unwrap();
    }
    let export = a.export_weights().unwrap();
    let wa = weights(&export);

    let mut b = build(&spec(&["digits"], 2, &[], 5));
    let r = b.import_weights(&export).unwrap();
    assert_eq!((r.loaded as usize, r.kept.len()), (wa.len(), 0));
    for ((n, x), (_, y)) in weights(&b.export_weights().unwrap()).iter().zip(&wa) {
        assert_eq!(max_diff(x, y), 0.0, "{n}");
    }

    // Fewer candidates (none, skip, sep 3×3): every variable matches one of `a`'s by name.
    let mut c = build(&spec(&["digits"], 2, &every_edge(&[0, 3, 4]), 5));
    let r = c.import_weights(&export).unwrap();
    assert!(r.kept.is_empty(), "{:?}", r.kept);
    let wc = weights(&c.export_weights().unwrap());
    assert_eq!(r.loaded as usize, wc.len());
    assert!(wc.len() < wa.len());
    for (n, x) in &wc {
        assert!(n.contains("sep_conv_3x3") || n.contains("skip_connect") || !n.contains("edges"));
        assert_eq!(max_diff(x, named(&wa, n)), 0.0, "{n}");
    }

    // Another class count: the classifier keeps its own initial weights.
    let four = darts_space_with_four_classes();
    let mut d = four.build_supernet(&spec(&["digits4"], 2, &[], 5)).unwrap();
    let before = weights(&d.export_weights().unwrap());
    let r = d.import_weights(&export).unwrap();
    let kept: Vec<&str> = r.kept.iter().map(|k| k.as_str()).collect();
    assert_eq!(kept, ["classifier.t0.bias", "classifier.t0.weight"]);
    assert_eq!(r.loaded as usize, wa.len() - 2);
    let after = weights(&d.export_weights().unwrap());
    assert_eq!(
        max_diff(
            named(&after, "classifier.t0.weight"),
            named(&before, "classifier.t0.weight")
        ),
        0.0
    );
    assert_eq!(
        max_diff(
            named(&after, "cells.1.pre0.conv1.weight"),
            named(&wa, "cells.1.pre0.conv1.weight")
        ),
        0.0
    );

    let e = b.import_weights(b"not weights").unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA);
    assert!(
        e.message()
            .starts_with("import_weights: not a saved set of supernet weights"),
        "{e}"
    );
}

/// A task of the digits images of classes 0–3 only (a CSV written from the real file).
fn darts_space_with_four_classes() -> xnas_space_nasnet::Nasnet {
    use std::io::{BufRead, Write};
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("digits4.csv");
    let data = xnas_tch::data::default_data_dir().join("images/digits/digits.csv.gz");
    let gz = flate2::read::GzDecoder::new(std::fs::File::open(data).unwrap());
    let mut out = std::fs::File::create(&path).unwrap();
    let mut rows = 0;
    for line in std::io::BufReader::new(gz).lines() {
        let line = line.unwrap();
        let label: u32 = line.rsplit(',').next().unwrap().trim().parse().unwrap();
        if label < 4 && rows < 300 {
            writeln!(out, "{line}").unwrap();
            rows += 1;
        }
    }
    let params = format!(
        "ops = \"darts\"\nblocks = 4\nconcat = \"all\"\nthreads = 1\n[tasks.digits4]\nformat = \"csv\"\n\
         train = \"{}\"\nlabel_column = \"last\"\nshape = [1, 8, 8]\nscale = 16\nheader = false\n",
        path.display()
    );
    let params = xnas_core::parse_params(&params).unwrap();
    let init = xnas_core::SpaceInit {
        tasks: vec!["digits4".into()].into(),
        base_dir: ".".into(),
        data_dir: "".into(),
    };
    xnas_space_nasnet::Nasnet::new(params, &init).unwrap()
}

#[test]
fn skip_dropout_acts_only_on_identity_candidates_and_repeats() {
    let _serial = serial();
    let step = |candidates: &[Vec<u32>], p: f64| {
        let m = mix(28, candidates.first().map_or(8, Vec::len), 1.0, 2);
        let mut s = build(&spec(&["digits"], 2, candidates, 6));
        s.set_skip_dropout(p).unwrap();
        let a = s.arch_grad(&m).unwrap().stats.loss;
        (a, s.train_step(&m).unwrap().loss)
    };
    let all: Vec<Vec<u32>> = Vec::new();
    let (a0, t0) = step(&all, 0.0);
    let (a1, t1) = step(&all, 0.5);
    assert_ne!(a0, a1, "dropout changes the α pass");
    assert_ne!(t0, t1, "and the weight step");
    assert_eq!(step(&all, 0.5), (a1, t1), "deterministic");
    // Without skip_connect among the candidates there is nothing to drop.
    let no_skip = every_edge(&[0, 1, 2, 4, 5, 6, 7]);
    assert_eq!(step(&no_skip, 0.0), step(&no_skip, 0.5));
    // Evaluation never drops.
    let m = mix(28, 8, 1.0, 2);
    let mut s = build(&spec(&["digits"], 2, &[], 6));
    let e0 = s.evaluate(&m).unwrap();
    s.set_skip_dropout(0.5).unwrap();
    assert_eq!(s.evaluate(&m).unwrap(), e0);
    let e = s.set_skip_dropout(1.0).unwrap_err();
    assert!(e.message().contains("expected 0 ≤ p < 1"), "{e}");
}

#[test]
fn a_derived_cell_is_a_genome_that_trains_through_evaluate() {
    let _serial = serial();
    let space = darts_space();
    // Node i keeps edges from states 0 and 1 (sep_conv_3x3, dil_conv_5x5) in the normal cell,
    // (max_pool_3x3, skip_connect) in the reduction cell.
    let mut sel = vec![-1i32; 28];
    for offset in [0usize, 2, 5, 9] {
        sel[offset] = 4;
        sel[offset + 1] = 7;
        sel[14 + offset] = 1;
        sel[14 + offset + 1] = 3;
    }
    let genome = space.supernet_genome(&sel).unwrap();
    let arch = space.canonical(&genome).unwrap();
    assert_eq!(
        arch.text.as_str(),
        "normal: b0 = sep_conv_3x3(h0) + dil_sep_conv_5x5(h1); b1 = sep_conv_3x3(h0) + \
         dil_sep_conv_5x5(h1); b2 = sep_conv_3x3(h0) + dil_sep_conv_5x5(h1); b3 = sep_conv_3x3(h0) + \
         dil_sep_conv_5x5(h1) | reduce: b0 = max_pool_3x3(h0) + identity(h1); b1 = max_pool_3x3(h0) + \
         identity(h1); b2 = max_pool_3x3(h0) + identity(h1); b3 = max_pool_3x3(h0) + identity(h1)"
    );
    assert_eq!(
        space.parse(arch.text.as_str()).unwrap(),
        arch.genome.to_vec()
    );
    let out = space
        .evaluate(&EvalRequest {
            trial_id: 0,
            task: "digits".into(),
            genome: arch.genome.clone(),
            seed: 1,
            budget: RSome(1.0),
        })
        .unwrap();
    assert!((0.0..=1.0).contains(&out.metric), "{}", out.metric);
    let extras: serde_json::Value = serde_json::from_str(out.extras.as_str()).unwrap();
    assert!(extras["parameters"].as_u64().unwrap() > 0);

    // Bad selections.
    let mut none = sel.clone();
    none[0] = 0;
    let e = space.supernet_genome(&none).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_ARCHITECTURE);
    assert!(
        e.message()
            .contains("normal edge 0 (node 0 from state 0) chooses `none`"),
        "{e}"
    );
    let mut three = sel.clone();
    three[14 + 9 + 2] = 4;
    let e = space.supernet_genome(&three).unwrap_err();
    assert!(
        e.message()
            .contains("reduce node 3 keeps 3 edges; a DARTS cell node keeps exactly two"),
        "{e}"
    );
    let mut unknown = sel.clone();
    unknown[3] = 8;
    let e = space.supernet_genome(&unknown).unwrap_err();
    assert!(
        e.message().contains("normal edge 3: unknown op index 8"),
        "{e}"
    );
    let e = space.supernet_genome(&sel[..27]).unwrap_err();
    assert!(
        e.message()
            .contains("one entry per layout edge (28), got 27"),
        "{e}"
    );
}

#[test]
fn bad_inputs_get_one_clear_message() {
    let _serial = serial();
    // A space not configured as the DARTS cell space.
    let plain = space_with("");
    for e in [
        plain.supernet_layout().unwrap_err(),
        plain
            .build_supernet(&spec(&["digits"], 2, &[], 1))
            .map(|_| ())
            .unwrap_err(),
        plain.supernet_genome(&[-1; 28]).unwrap_err(),
    ] {
        assert_eq!(e.kind, ErrorKind::UNSUPPORTED);
        assert_eq!(
            e.message(),
            "the nasnet space offers its DARTS cell supernet only as the DARTS cell space: set \
             `ops = \"darts\"`, `blocks = 4`, `concat = \"all\"` in [search_space.params]"
        );
    }
    let space = darts_space();
    let err = |sp: xnas_core::SupernetSpec| space.build_supernet(&sp).map(|_| ()).unwrap_err();
    let mut unequal = every_edge(&[0, 1, 2]);
    unequal[7] = vec![0, 1];
    let e = err(spec(&["digits"], 2, &unequal, 1));
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(
        e.message().contains("edge 0 keeps 3, edge 7 keeps 2"),
        "{e}"
    );
    let e = err(spec(&["digits"], 2, &every_edge(&[0, 9]), 1));
    assert!(
        e.message()
            .contains("edge 0: unknown op index 9 (the layout's ops are 0..7)"),
        "{e}"
    );
    let e = err(spec(&["digits"], 2, &every_edge(&[4, 4]), 1));
    assert!(
        e.message().contains("edge 0 lists `sep_conv_3x3` twice"),
        "{e}"
    );
    let e = err(spec(&["digits"], 2, &vec![vec![0]; 14], 1));
    assert!(
        e.message()
            .contains("one list per layout edge (28), got 14"),
        "{e}"
    );
    let e = err(spec(&["cifar"], 2, &[], 1));
    assert_eq!(e.kind, ErrorKind::UNKNOWN_TASK);
    assert!(e.message().contains("task `cifar` has no dataset"), "{e}");
    let e = err(spec(&[], 2, &[], 1));
    assert!(e.message().contains("no tasks"), "{e}");
    let mut portion = spec(&["digits"], 2, &[], 1);
    portion.recipe.train_portion = 1.0;
    assert!(err(portion)
        .message()
        .contains("`train_portion = 1`: expected 0 < p < 1"));

    let mut s = build(&spec(&["digits"], 2, &[], 1));
    let e = s.train_step(&Matrix::zeros(14, 8)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert_eq!(
        e.message(),
        "mixing matrix: expected 28 rows (edges) × 8 columns (candidate ops per edge), got 14×8 \
         with 112 values"
    );
    let mut nan = Matrix::zeros(28, 8);
    nan.data[9] = f32::NAN;
    let e = s.arch_grad(&nan).unwrap_err();
    assert!(e.message().contains("row 1, column 1 is NaN"), "{e}");
    let e = s.set_task(1).unwrap_err();
    assert_eq!(e.kind, ErrorKind::UNKNOWN_TASK);
    assert!(
        e.message()
            .contains("built for 1 task(s), indices 0..1 (digits)"),
        "{e}"
    );
    // A state of another supernet.
    let other = build(&spec(&["digits"], 2, &[], 2)).save_state().unwrap();
    let e = s.load_state(&other).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA);
    assert!(
        e.message()
            .contains("saved by a supernet with other seed (2; this one has 1)"),
        "{e}"
    );
    let deeper = build(&spec(&["digits"], 3, &[], 1)).save_state().unwrap();
    let e = s.load_state(&deeper).unwrap_err();
    assert!(
        e.message().contains("saved by a network of another shape"),
        "{e}"
    );
    let e = s.load_state(b"junk").unwrap_err();
    assert!(e.message().contains("no marker"), "{e}");
    // The f64 build of the same spec is refused by float kind.
    let f64_state = {
        let e = space
            .darts_supernet(&spec(&["digits"], 2, &[], 1), Kind::Double)
            .unwrap();
        Supernet::save_state(&e).unwrap()
    };
    let e = s.load_state(&f64_state).unwrap_err();
    assert!(e.message().contains("other float kind"), "{e}");
}

/// `supernet_stems`: 8×8 digits and 28×28 MNIST share one stem by channel count (the default),
/// and get one each, named by shape, with `"shape"`; either way both tasks train through it.
#[test]
fn stems_are_shared_by_channel_count_or_kept_per_image_shape() {
    use xnas_core::abi_stable::std_types::{RString, RVec};
    let _serial = serial();
    for (sharing, stems) in [
        ("channels", vec!["stem.c1.conv.weight"]),
        (
            "shape",
            vec!["stem.c1h28w28.conv.weight", "stem.c1h8w8.conv.weight"],
        ),
    ] {
        let text = format!(
            "threads = 1\nops = \"darts\"\nblocks = 4\nconcat = \"all\"\n\
             supernet_stems = \"{sharing}\"\n[tasks.digits]\npreset = \"digits\"\n\
             limit_train = 64\n[tasks.mnist]\npreset = \"mnist\"\nlimit_train = 64\n"
        );
        let init = xnas_core::SpaceInit {
            tasks: RVec::from(vec![RString::from("digits"), RString::from("mnist")]),
            base_dir: ".".into(),
            data_dir: "".into(),
        };
        let space =
            xnas_space_nasnet::Nasnet::new(xnas_core::parse_params(&text).unwrap(), &init).unwrap();
        let mut s = space
            .build_supernet(&spec(&["digits", "mnist"], 2, &every_edge(&[0, 3, 4]), 1))
            .expect("the supernet builds");
        let before = weights(&s.export_weights().unwrap());
        let have: Vec<&str> = before
            .iter()
            .map(|(n, _)| n.as_str())
            .filter(|n| n.starts_with("stem.") && n.ends_with("conv.weight"))
            .collect();
        assert_eq!(have, stems, "{sharing}");
        // A w step on each task moves its own stem (and, per shape, only its own).
        for task in [0, 1] {
            s.set_task(task).unwrap();
            s.train_step(&mix(28, 3, 2.0, 7)).unwrap();
        }
        let after = weights(&s.export_weights().unwrap());
        for n in &stems {
            assert!(
                max_diff(named(&before, n), named(&after, n)) > 0.0,
                "{sharing}: {n}"
            );
        }
    }
}
