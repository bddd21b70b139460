//! The NAS-Bench-201 supernet on real digits images (8×8, 10 classes) at tiny scale (N = 1,
//! C = 4): the layout and derived genomes, the network's size, ∂loss/∂mix against central
//! differences in float64, a saved state that continues identically, candidate subsets, several
//! tasks, and every bad input.

use std::sync::{Mutex, MutexGuard};
use xnas_core::abi_stable::std_types::{RNone, RSome, RString, RVec};
use xnas_core::{
    parse_params, BatchStats, EvalRequest, Matrix, SearchSpace, SpaceInit, Supernet, SupernetSpec,
    WeightRecipe,
};
use xnas_space_nb201::Nb201;
use xnas_tch::tch::Kind;

/// The supernet sets libtorch's process-wide thread count on every call: the tests run one at a
/// time, so bit-for-bit comparisons see one thread count.
fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn space_with(params: &str) -> Nb201 {
    let text = format!(
        "threads = 1\neval_batch_size = 100\n{params}\n\
         [tasks.digits]\npreset = \"digits\"\nlimit_train = 300\n\
         [tasks.fashion]\npreset = \"fashion-mnist\"\nlimit_train = 200\nvalid = 100\n"
    );
    let init = SpaceInit {
        tasks: vec![RString::from("digits")].into(),
        base_dir: ".".into(),
        data_dir: RString::new(),
    };
    Nb201::new(parse_params(&text).unwrap(), &init).unwrap()
}

fn space() -> Nb201 {
    space_with("")
}

fn spec(tasks: &[&str], cells: u32, candidates: &[Vec<u32>], seed: u64) -> SupernetSpec {
    SupernetSpec {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        cells,
        channels: 4,
        candidates: candidates.iter().map(|c| RVec::from(c.clone())).collect(),
        recipe: WeightRecipe {
            batch_size: 32,
            learning_rate: 0.025,
            learning_rate_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            epochs: 3,
            train_portion: 0.5,
        },
        seed,
    }
}

/// A mixing matrix: row `e` is the softmax of `k · (e + 1) · 0.37 mod 1.3` over its columns, a
/// different distribution on every edge.
fn mix(rows: usize, cols: usize) -> Matrix {
    let mut data = Vec::with_capacity(rows * cols);
    for e in 0..rows {
        let logits: Vec<f64> = (0..cols)
            .map(|k| (k as f64 * (e + 1) as f64 * 0.37) % 1.3)
            .collect();
        let z: f64 = logits.iter().map(|l| l.exp()).sum();
        data.extend(logits.iter().map(|l| (l.exp() / z) as f32));
    }
    Matrix::new(rows, cols, data)
}

#[test]
fn layout_and_derived_genomes() {
    let s = space();
    let layout = s.supernet_layout().unwrap();
    let edges: Vec<(&str, u32, u32)> = layout
        .edges
        .iter()
        .map(|e| (e.cell.as_str(), e.node, e.input))
        .collect();
    assert_eq!(
        edges,
        [
            ("cell", 0, 0),
            ("cell", 1, 0),
            ("cell", 1, 1),
            ("cell", 2, 0),
            ("cell", 2, 1),
            ("cell", 2, 2)
        ]
    );
    let ops: Vec<&str> = layout.ops.iter().map(|o| o.as_str()).collect();
    assert_eq!(
        ops,
        [
            "none",
            "skip_connect",
            "nor_conv_1x1",
            "nor_conv_3x3",
            "avg_pool_3x3"
        ]
    );
    assert_eq!(layout.zero_op, RSome(0));
    assert_eq!(layout.skip_op, RSome(1));
    assert_eq!(layout.edges_per_node, 0);
    assert!(layout.zero_op_selectable);
    assert_eq!(layout.skip_cell.as_str(), "cell");

    // One op per edge, `none` allowed; a dropped edge is `none`.
    let g = s.supernet_genome(&[3, 0, 1, 2, 4, -1]).unwrap();
    assert_eq!(g, [3, 0, 1, 2, 4, 0]);
    assert_eq!(
        s.canonical(&g).unwrap().text.as_str(),
        "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|none~2|"
    );
    for (selection, needle) in [
        (vec![0; 5], "one op per edge (6), not 5"),
        (
            vec![0, 0, 0, 0, 0, 5],
            "edge 3<-2: selection 5 is not an op index (0..5)",
        ),
        (vec![-2, 0, 0, 0, 0, 0], "edge 1<-0: selection -2"),
    ] {
        let e = s.supernet_genome(&selection).unwrap_err();
        assert!(e.message().contains(needle), "{selection:?}: {e}");
    }
    // Without `none` in the op list there is no zero op and an edge cannot be dropped.
    let s = space_with("ops = [\"nor_conv_3x3\", \"skip_connect\"]");
    let layout = s.supernet_layout().unwrap();
    assert_eq!(layout.zero_op, RNone);
    assert_eq!(layout.skip_op, RSome(1));
    let e = s.supernet_genome(&[0, 0, 0, 0, 0, -1]).unwrap_err();
    assert!(
        e.message()
            .contains("a dropped edge is `none`, which this space's ops lack"),
        "{e}"
    );
}

#[test]
fn one_alpha_for_all_cells_and_the_hand_counted_size() {
    let _serial = serial();
    let s = space();
    // N = 1, C = 4, grey 8×8, 10 classes; candidates' BN is not affine (no parameters):
    // stem 9·4 + 8 = 44; cells 6·(16 + 144) = 960, 6·(64 + 576) = 3,840, 6·(256 + 2,304) =
    // 15,360; reductions 928 and 3,648 (as the evaluation network's); last BN 32; classifier 170.
    let net = s.build_supernet(&spec(&["digits"], 1, &[], 1)).unwrap();
    let info = net.info().unwrap();
    assert_eq!(info.parameters, 24_982);
    assert_eq!(info.candidates.len(), 6);
    assert!(info
        .candidates
        .iter()
        .all(|c| c.as_slice() == [0, 1, 2, 3, 4]));
    // Three cells per stage read the same 6 × 5 mixing matrix.
    let mut net = s.build_supernet(&spec(&["digits"], 3, &[], 1)).unwrap();
    assert_eq!(net.info().unwrap().candidates.len(), 6);
    let m = mix(6, 5);
    let stats = net.train_step(&m).unwrap();
    assert!(stats.loss.is_finite() && stats.examples == 32, "{stats:?}");
    let g = net.arch_grad(&m).unwrap();
    assert_eq!((g.grad.rows, g.grad.cols), (6, 5));
    for (i, v) in g.grad.data.iter().enumerate() {
        // `none` never changes the output: exactly 0; every other candidate matters.
        assert_eq!(
            *v == 0.0,
            i % 5 == 0,
            "∂loss/∂mix[{}, {}] = {v}",
            i / 5,
            i % 5
        );
    }
    let u = net.unrolled_arch_grad(&m).unwrap();
    assert_eq!((u.grad.rows, u.grad.cols), (6, 5));
    assert!(u.grad.data.iter().all(|v| v.is_finite()));
    let valid = net.evaluate(&m).unwrap();
    assert_eq!(valid.examples, 150, "half of 300 images give the α split");
    assert_eq!(net.end_epoch().unwrap(), 1);
    // A wrong shape is refused with the expected one.
    let e = net.train_step(&mix(5, 5)).unwrap_err();
    assert!(
        e.message().contains("expected 6 rows (edges) × 5 columns"),
        "{e}"
    );
}

#[test]
fn mix_gradient_matches_central_differences_in_float64() {
    let _serial = serial();
    let s = space();
    let mut e = s
        .supernet_engine(&spec(&["digits"], 1, &[], 7), Kind::Double)
        .unwrap();
    let m = mix(6, 5);
    for _ in 0..3 {
        e.train_step(&m).unwrap();
    }
    let state = Supernet::save_state(&e).unwrap();
    let g = e.arch_grad(&m).unwrap();
    // Every loss below is of the same α batch: the state (iterators included) is reloaded.
    let mut loss_at = |m: &Matrix| {
        e.load_state(&state).unwrap();
        e.arch_grad(m).unwrap().stats.loss
    };
    assert_eq!(loss_at(&m), g.stats.loss);
    let scale = g.grad.data.iter().fold(0f32, |a, v| a.max(v.abs())) as f64;
    assert!(scale > 1e-4, "a gradient to check ({scale})");
    for i in 0..30 {
        let (mut plus, mut minus) = (m.clone(), m.clone());
        plus.data[i] += 1e-6;
        minus.data[i] -= 1e-6;
        // The step actually taken in f32.
        let h = (plus.data[i] as f64 - minus.data[i] as f64) / 2.0;
        let fd = (loss_at(&plus) - loss_at(&minus)) / (2.0 * h);
        let err = (fd - g.grad.data[i] as f64).abs();
        assert!(
            err <= 1e-4 * scale,
            "∂loss/∂mix[{}, {}]: autograd {} vs central difference {fd}",
            i / 5,
            i % 5,
            g.grad.data[i]
        );
    }
}

/// A few calls of every kind, their results in order.
fn run(net: &mut dyn Supernet, m: &Matrix) -> Vec<f64> {
    let mut out = Vec::new();
    let mut push = |s: BatchStats| out.extend([s.loss, s.accuracy]);
    push(net.train_step(m).unwrap());
    let g = net.arch_grad(m).unwrap();
    push(g.stats);
    push(net.train_step(m).unwrap());
    net.end_epoch().unwrap();
    push(net.unrolled_arch_grad(m).unwrap().stats);
    push(net.train_step(m).unwrap());
    push(net.evaluate(m).unwrap());
    out.extend(g.grad.data.iter().map(|&v| v as f64));
    out
}

#[test]
fn a_saved_state_continues_identically() {
    let _serial = serial();
    let s = space();
    let sp = spec(&["digits"], 1, &[], 9);
    let m = mix(6, 5);
    let mut a = s.build_supernet(&sp).unwrap();
    for _ in 0..2 {
        a.train_step(&m).unwrap();
    }
    a.arch_grad(&m).unwrap();
    let state = a.save_state().unwrap();
    let straight = run(&mut a, &m);
    // A fresh supernet of the same spec loads the state: weights, momentum, iterators, epoch.
    let mut b = s.build_supernet(&sp).unwrap();
    for _ in 0..3 {
        b.train_step(&m).unwrap();
    }
    b.end_epoch().unwrap();
    b.load_state(&state).unwrap();
    assert_eq!(run(&mut b, &m), straight);
    assert_eq!(a.info().unwrap(), b.info().unwrap());
    // A damaged state is refused.
    let e = b.load_state(&state[..state.len() - 5]).unwrap_err();
    assert!(e.message().contains("nb201.supernet state"), "{e}");
}

#[test]
fn fewer_candidates_and_several_tasks() {
    let _serial = serial();
    let s = space();
    // P-DARTS-style: two candidates kept per edge, in any order.
    let kept = vec![
        vec![3, 1],
        vec![0, 2],
        vec![4, 3],
        vec![1, 2],
        vec![3, 0],
        vec![2, 4],
    ];
    let mut net = s.build_supernet(&spec(&["digits"], 1, &kept, 3)).unwrap();
    let info = net.info().unwrap();
    assert_eq!(
        info.candidates
            .iter()
            .map(|c| c.to_vec())
            .collect::<Vec<_>>(),
        kept
    );
    let g = net.arch_grad(&mix(6, 2)).unwrap();
    assert_eq!((g.grad.rows, g.grad.cols), (6, 2));
    assert_eq!(g.grad.data[2], 0.0, "edge 2<-0's first candidate is `none`");
    assert_eq!(
        g.grad.data[9], 0.0,
        "edge 3<-0's second candidate is `none`"
    );
    // Digits (8×8) and Fashion-MNIST (28×28): one stem for their one channel, a classifier each.
    let mut net = s
        .build_supernet(&spec(&["digits", "fashion"], 1, &[], 4))
        .unwrap();
    let m = mix(6, 5);
    let d = net.train_step(&m).unwrap();
    net.set_task(1).unwrap();
    let f = net.train_step(&m).unwrap();
    assert_ne!(d.loss, f.loss);
    assert_eq!(
        net.evaluate(&m).unwrap().examples,
        100,
        "half of 200 Fashion-MNIST images"
    );
    assert_eq!(
        net.info().unwrap().parameters,
        24_982 + 170,
        "a second classifier, no second stem"
    );
}

#[test]
fn a_derived_cell_trains_as_an_ordinary_genome() {
    let _serial = serial();
    let s = space_with("cells = 1\nchannels = 4\nepochs = 1\nbatch_size = 32");
    let genome = s.supernet_genome(&[3, 3, 1, 2, -1, 3]).unwrap();
    let req = EvalRequest {
        trial_id: 0,
        task: "digits".into(),
        genome: genome.into(),
        seed: 2,
        budget: RSome(4.0),
    };
    let r = s.evaluate(&req).unwrap();
    // Four epochs of 300 digits: far above chance (0.1).
    assert!(r.metric > 0.3, "{r:?}");
}

#[test]
fn bad_specs_say_what_is_wrong() {
    let _serial = serial();
    let s = space();
    for (sp, needle) in [
        (
            spec(&["svhn"], 1, &[], 1),
            "task `svhn` has no dataset: add a `[search_space.params.tasks.svhn]` table",
        ),
        (
            spec(&["digits"], 1, &vec![vec![0, 1]; 5], 1),
            "nb201 supernet: 5 candidate lists, but the cell has 6 edges",
        ),
        (
            spec(&["digits"], 1, &vec![vec![0, 7]; 6], 1),
            "nb201 supernet: edge 1<-0: candidate 7 is not an op index (0..5)",
        ),
        (
            spec(&["digits"], 1, &vec![vec![3, 3]; 6], 1),
            "nb201 supernet: edge 1<-0: `nor_conv_3x3` is a candidate twice",
        ),
        (spec(&["digits"], 5000, &[], 1), "is too large"),
    ] {
        let e = s.build_supernet(&sp).err().expect("refused");
        assert!(e.message().contains(needle), "{e}");
    }
    let mut bad = spec(&["digits"], 1, &[], 1);
    bad.recipe.batch_size = 0;
    assert!(s.build_supernet(&bad).is_err());
}
