//! The tch network of the nasnet space: op and network shapes, parameter and FLOP counts checked
//! against hand counts, and training on synthetic data (learns, reproducible, divergence caught).

use xnas_core::SplitMix64;
use xnas_space_nasnet::genome::{xfernasnet, Block, Cell, Combine, Genotype, Op};
use xnas_space_nasnet::network::{flops, parameter_count, Network, NetworkConfig};
use xnas_space_nasnet::ops::{op_mult_adds, op_parameters, OpModule};
use xnas_space_nasnet::train::{train, TrainConfig, TrainError};
use xnas_tch::data::{ImageSet, TaskData};
use xnas_tch::seed::with_torch_seed;
use xnas_tch::tch::{nn, Device, Kind, Tensor};

/// Normal noise. Every draw from torch's generator in this binary goes through
/// `with_torch_seed`'s lock, so the training tests' seeded draws are not interleaved with other
/// tests' draws.
fn randn(dims: [usize; 4]) -> Tensor {
    with_torch_seed(3, || {
        Tensor::randn(dims.map(|d| d as i64), (Kind::Float, Device::Cpu))
    })
}

fn build(g: &Genotype, cfg: &NetworkConfig) -> (nn::VarStore, Network) {
    let vs = nn::VarStore::new(Device::Cpu);
    let net = with_torch_seed(1, || Network::new(g, cfg, &vs.root())).unwrap();
    (vs, net)
}

/// A cell of `blocks` blocks, each `op(h0) (+|++) op(h1)`: every block is a loose end.
fn uniform_cell(op: Op, combine: [Combine; 5]) -> Cell {
    Cell {
        blocks: combine
            .iter()
            .map(|&c| Block {
                inputs: [0, 1],
                ops: [op, op],
                combine: c,
            })
            .collect(),
    }
}

fn conv1x1_genotype(combine: [Combine; 5]) -> Genotype {
    Genotype {
        normal: uniform_cell(Op::Conv(1), combine),
        reduce: uniform_cell(Op::Conv(1), combine),
    }
}

const ADD: [Combine; 5] = [Combine::Add; 5];

#[test]
fn every_op_keeps_channels_and_gives_ceil_of_the_stride() {
    let ops = Op::all();
    assert_eq!(ops.len(), 20);
    for op in ops {
        for stride in [1usize, 2] {
            for c in [4usize, 3] {
                let vs = nn::VarStore::new(Device::Cpu);
                let m = with_torch_seed(4, || OpModule::new(&vs.root(), op, c, stride));
                let params: u64 = vs
                    .trainable_variables()
                    .iter()
                    .map(|t| t.numel() as u64)
                    .sum();
                assert_eq!(params, op_parameters(op, c, stride), "{op} s{stride} C{c}");
                for (h, w) in [(8usize, 8usize), (7, 7), (5, 6), (2, 3), (1, 1)] {
                    let x = randn([2, c, h, w]);
                    for train in [true, false] {
                        let y = m.forward_t(&x, train);
                        let want = [2, c, h.div_ceil(stride), w.div_ceil(stride)].map(|d| d as i64);
                        assert_eq!(y.size(), want, "{op} stride {stride} C {c} on {h}×{w}");
                        let finite = y.isfinite().all().int64_value(&[]);
                        assert_eq!(
                            finite, 1,
                            "{op} stride {stride} on {h}×{w}: non-finite output"
                        );
                    }
                }
            }
        }
    }
}

#[test]
fn pools_compute_what_they_say() {
    let vs = nn::VarStore::new(Device::Cpu);
    let x = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6., 7., 8., 9.]).view([1, 1, 3, 3]);
    let run = |op, s| {
        Vec::<f32>::try_from(
            with_torch_seed(4, || OpModule::new(&vs.root(), op, 1, s))
                .forward_t(&x, false)
                .flatten(0, -1),
        )
        .unwrap()
    };
    // 2×2 at stride 1: windows anchored top-left, the last row/column padded.
    assert_eq!(run(Op::MaxPool(2), 1), [5., 6., 6., 8., 9., 9., 8., 9., 9.]);
    assert_eq!(run(Op::MinPool(2), 1), [1., 2., 3., 4., 5., 6., 7., 8., 9.]);
    // Average over real pixels only: the corner window holds 9 alone.
    assert_eq!(
        run(Op::AvgPool(2), 1),
        [3., 4., 4.5, 6., 7., 7.5, 7.5, 8.5, 9.]
    );
    // 2×2 at stride 2 on 3×3: ceil(3/2) = 2.
    assert_eq!(run(Op::MaxPool(2), 2), [5., 6., 8., 9.]);
    assert_eq!(run(Op::AvgPool(2), 2), [3., 4.5, 7.5, 9.]);
    // 3×3 avg with count_include_pad = false: the corner is the mean of 4 pixels.
    assert_eq!(run(Op::AvgPool(3), 1)[0], 3.0);
    assert_eq!(run(Op::Identity, 1), [1., 2., 3., 4., 5., 6., 7., 8., 9.]);
}

#[test]
fn xfernasnet_gives_logits_for_mnist_cifar_and_digits_shapes() {
    for (shape, classes) in [
        ([1usize, 28, 28], 10usize),
        ([3, 32, 32], 10),
        ([1, 8, 8], 10),
    ] {
        let cfg = NetworkConfig {
            auxiliary: true,
            ..NetworkConfig::new(1, 8, shape[0], classes, [shape[1], shape[2]])
        };
        let (_vs, net) = build(&xfernasnet(), &cfg);
        let x = randn([3, shape[0], shape[1], shape[2]]);
        let (logits, aux) = net.forward_t(&x, true, 0.3);
        assert_eq!(logits.size(), [3, classes as i64], "{shape:?}");
        assert_eq!(aux.expect("aux in training").size(), [3, classes as i64]);
        let (logits, aux) = net.forward_t(&x, false, 0.3);
        assert_eq!(logits.size(), [3, classes as i64]);
        assert!(aux.is_none(), "no auxiliary logits at evaluation");
        assert!(flops(&xfernasnet(), &cfg) > 0);
    }
    // Tiny and odd images build and run too (every op keeps ceil(H/stride)).
    for hw in [[1usize, 1], [3, 5]] {
        let cfg = NetworkConfig::new(2, 4, 2, 3, hw);
        let (_vs, net) = build(&xfernasnet(), &cfg);
        let x = randn([2, 2, hw[0], hw[1]]);
        assert_eq!(net.forward_t(&x, true, 0.2).0.size(), [2, 3]);
    }
}

#[test]
fn parameter_count_matches_a_hand_count() {
    let cfg = NetworkConfig::new(1, 16, 3, 10, [32, 32]);
    let (vs, _net) = build(&conv1x1_genotype(ADD), &cfg);
    // ReLU–conv–BN of a 1×1 conv: weights plus BN scale and shift.
    let rcb = |cin: u64, cout: u64| cin * cout + 2 * cout;
    // FactorizedReduce: two 1×1 convs to cout/2 each, BN over cout.
    let fr = |cin: u64, cout: u64| cin * (cout / 2) * 2 + 2 * cout;
    // Every block reads (h0, h1) with two conv_1x1: all 5 blocks are loose ends, so a cell
    // of C channels outputs 5C.
    let ops = |c: u64| 10 * rcb(c, c);
    let stem = 3 * 3 * 3 * 48 + 2 * 48;
    let cell0 = rcb(48, 16) + rcb(48, 16) + ops(16); // normal, 16 channels; out 80
    let cell1 = rcb(48, 32) + rcb(80, 32) + ops(32); // reduce, 32; out 160
    let cell2 = fr(80, 32) + rcb(160, 32) + ops(32); // normal after a reduction; out 160
    let cell3 = rcb(160, 64) + rcb(160, 64) + ops(64); // reduce, 64; out 320
    let cell4 = fr(160, 64) + rcb(320, 64) + ops(64); // normal after a reduction; out 320
    let classifier = 320 * 10 + 10;
    let total = stem + cell0 + cell1 + cell2 + cell3 + cell4 + classifier;
    assert_eq!(total, 179_066);
    assert_eq!(parameter_count(&vs), total);

    // The auxiliary head is not counted.
    let (vs_aux, _) = build(
        &conv1x1_genotype(ADD),
        &NetworkConfig {
            auxiliary: true,
            ..cfg.clone()
        },
    );
    assert_eq!(parameter_count(&vs_aux), total);
    let all: i64 = vs_aux
        .trainable_variables()
        .iter()
        .map(|t| t.numel() as i64)
        .sum();
    let aux = 320 * 128 + 2 * 128 + 128 * 768 * 4 + 2 * 768 + 768 * 10 + 10;
    assert_eq!(all as u64, total + aux);

    // Concat blocks add a 1×1 squeeze 2C → C (ReLU–conv–BN) each.
    let mut combine = ADD;
    combine[0] = Combine::Concat;
    let (vs_cat, net) = build(&conv1x1_genotype(combine), &cfg);
    let squeezes: u64 = [16, 32, 32, 64, 64].iter().map(|&c| rcb(2 * c, c)).sum();
    assert_eq!(parameter_count(&vs_cat), total + squeezes);
    let x = randn([2, 3, 32, 32]);
    assert_eq!(net.forward_t(&x, true, 0.2).0.size(), [2, 10]);
    assert_eq!(net.forward_t(&x, false, 0.0).0.size(), [2, 10]);
}

#[test]
fn xfernasnet_parameter_count_is_stable() {
    let cfg = NetworkConfig::new(1, 16, 3, 10, [32, 32]);
    let (vs, net) = build(&xfernasnet(), &cfg);
    assert_eq!(parameter_count(&vs), 286_538);
    assert_eq!(flops(&xfernasnet(), &cfg), 42_264_448);
    // Normal cell: 8 non-identity ops of 10; reduction cell: all 10 (its identity reads h1 at
    // stride 2, a FactorizedReduce, which drop-path does act on).
    assert_eq!(net.droppable_ops(), 3 * 8 + 2 * 10);
}

#[test]
fn flops_match_a_hand_count() {
    let cfg = NetworkConfig::new(1, 16, 3, 10, [32, 32]);
    let px = |h: u64| h * h;
    let stem = 48 * px(32) * 3 * 9;
    let ops = |c: u64, h: u64| 10 * c * c * px(h);
    let cell0 = 16 * px(32) * 48 * 2 + ops(16, 32);
    let cell1 = 32 * px(32) * 48 + 32 * px(32) * 80 + ops(32, 16);
    let cell2 = 2 * 16 * px(16) * 80 + 32 * px(16) * 160 + ops(32, 16);
    let cell3 = 64 * px(16) * 160 * 2 + ops(64, 8);
    let cell4 = 2 * 32 * px(8) * 160 + 64 * px(8) * 320 + ops(64, 8);
    let total = stem + cell0 + cell1 + cell2 + cell3 + cell4 + 320 * 10;
    assert_eq!(flops(&conv1x1_genotype(ADD), &cfg), total);

    // Single ops, C = 4. sep 3×3 stride 2 on 7×7 (→ 4×4): depthwise 4·16·9 + pointwise 4·16·4,
    // twice.
    assert_eq!(
        op_mult_adds(Op::SepConv(3), 4, 2, 7, 7),
        2 * (4 * 16 * 9 + 4 * 16 * 4)
    );
    // FactorizedReduce on 7×7: two 1×1 convs to 2 channels at 4×4.
    assert_eq!(op_mult_adds(Op::Identity, 4, 2, 7, 7), 2 * (2 * 16 * 4));
    assert_eq!(op_mult_adds(Op::Identity, 4, 1, 7, 7), 0);
    // 1×7 at stride 2 (8×8 → 4×4), then 7×1.
    assert_eq!(
        op_mult_adds(Op::ConvFactored(7), 4, 2, 8, 8),
        2 * (4 * 16 * 4 * 7)
    );
    // dilated sep 5×5 at stride 1 on 5×5.
    assert_eq!(
        op_mult_adds(Op::DilSepConv(5), 4, 1, 5, 5),
        4 * 25 * 25 + 4 * 25 * 4
    );
    assert_eq!(op_mult_adds(Op::MaxPool(3), 4, 2, 8, 8), 0);
}

/// Two classes of 8×8 grey images: a bright (class 1) or dark (class 0) 3×3 blob at a random
/// place on uniform noise.
fn blobs(n: usize, rng: &mut SplitMix64) -> ImageSet {
    let mut pixels = Vec::with_capacity(n * 64);
    let mut labels = Vec::with_capacity(n);
    for _ in 0..n {
        let class = rng.below(2) as i64;
        let (y0, x0) = (rng.below(6) as usize, rng.below(6) as usize);
        for y in 0..8 {
            for x in 0..8 {
                let mut v = rng.next_f64() as f32 - 0.5;
                if (y0..y0 + 3).contains(&y) && (x0..x0 + 3).contains(&x) {
                    v += if class == 1 { 1.5 } else { -1.5 };
                }
                pixels.push(v);
            }
        }
        labels.push(class);
    }
    ImageSet {
        images: Tensor::from_slice(&pixels).view([n as i64, 1, 8, 8]),
        labels: Tensor::from_slice(&labels),
    }
}

fn blob_task() -> TaskData {
    let mut rng = SplitMix64::new(42);
    TaskData {
        name: "blobs".into(),
        train: blobs(200, &mut rng),
        valid: blobs(100, &mut rng),
        test: Some(blobs(100, &mut rng)),
        classes: 2,
        shape: [1, 8, 8],
        mean: vec![0.0],
        std: vec![1.0],
    }
}

fn small_config() -> TrainConfig {
    TrainConfig {
        cells: 1,
        filters: 8,
        epochs: 4,
        batch_size: 32,
        learning_rate: 0.05,
        drop_path: 0.1,
        cutout: 2,
        flip: true,
        crop_padding: 1,
        auxiliary_weight: 0.4,
        eval_batch_size: 64,
        seed: 7,
        ..TrainConfig::default()
    }
}

#[test]
fn training_learns_separable_blobs_and_repeats_under_a_seed() {
    let data = blob_task();
    let cfg = small_config();
    let mut seen = Vec::new();
    let a = train(&xfernasnet(), &data, &cfg, &mut |e, acc| {
        seen.push((e, acc))
    })
    .unwrap();
    eprintln!(
        "blobs: valid {:?}, test {:?}, loss {:?}, {:.1} s",
        a.curve, a.test_accuracy, a.train_loss, a.seconds
    );
    assert!(
        a.valid_accuracy > 0.9,
        "valid accuracy {}",
        a.valid_accuracy
    );
    assert!(a.test_accuracy.unwrap() > 0.85, "{:?}", a.test_accuracy);
    assert_eq!(a.curve.len(), 4);
    assert_eq!(a.train_loss.len(), 4);
    assert_eq!(seen.iter().map(|s| s.0).collect::<Vec<_>>(), [0, 1, 2, 3]);
    assert_eq!(seen.iter().map(|s| s.1).collect::<Vec<_>>(), a.curve);
    assert!(a.curve.iter().all(|acc| (0.0..=1.0).contains(acc)));
    assert!(a.parameters > 0 && a.flops > 0 && a.seconds > 0.0);

    let b = train(&xfernasnet(), &data, &cfg, &mut |_, _| {}).unwrap();
    assert_eq!(a.curve, b.curve);
    assert_eq!(a.train_loss, b.train_loss);
    assert_eq!(a.test_accuracy, b.test_accuracy);

    let other = TrainConfig { seed: 8, ..cfg };
    let c = train(&xfernasnet(), &data, &other, &mut |_, _| {}).unwrap();
    assert_ne!(a.train_loss, c.train_loss, "the seed must matter");
}

#[test]
fn a_training_stopped_after_an_epoch_continues_from_its_checkpoint_to_the_same_result() {
    let data = blob_task();
    let dir = tempfile::tempdir().unwrap();
    let cfg = small_config();
    let whole = train(&xfernasnet(), &data, &cfg, &mut |_, _| {}).unwrap();
    let with_ckpt = TrainConfig {
        checkpoint_dir: Some(dir.path().join("ckpt")),
        ..cfg.clone()
    };
    // Stopped (a panic, caught by `train`) right after epoch 2's checkpoint.
    let stopped = train(&xfernasnet(), &data, &with_ckpt, &mut |e, _| {
        assert!(e < 1, "stop after the second epoch");
    });
    assert!(matches!(stopped, Err(TrainError::Torch(_))), "{stopped:?}");
    assert!(dir.path().join("ckpt/epoch-2/weights.ot").exists());
    let mut seen = Vec::new();
    let resumed = train(&xfernasnet(), &data, &with_ckpt, &mut |e, _| seen.push(e)).unwrap();
    assert_eq!(seen, [2, 3], "only the epochs left are trained");
    assert_eq!(resumed.curve, whole.curve);
    assert_eq!(resumed.train_loss, whole.train_loss);
    assert_eq!(resumed.test_accuracy, whole.test_accuracy);
    // Only the last checkpoint is kept.
    assert!(!dir.path().join("ckpt/epoch-2").exists());
    assert!(dir.path().join("ckpt/epoch-4/weights.ot").exists());
    // Another recipe is refused, not continued.
    let other = TrainConfig {
        seed: 8,
        ..with_ckpt
    };
    let e = train(&xfernasnet(), &data, &other, &mut |_, _| {}).unwrap_err();
    assert!(
        matches!(&e, TrainError::Checkpoint(m) if m.contains("another training")),
        "{e}"
    );
}

#[test]
fn a_huge_learning_rate_is_reported_as_divergence() {
    let data = blob_task();
    let cfg = TrainConfig {
        learning_rate: 1e6,
        grad_clip: 0.0,
        epochs: 5,
        ..small_config()
    };
    match train(&xfernasnet(), &data, &cfg, &mut |_, _| {}) {
        Err(e @ TrainError::Diverged { .. }) => {
            assert!(e.to_string().contains("diverged"), "{e}")
        }
        other => panic!("expected divergence, got {other:?}"),
    }
}

#[test]
fn bad_settings_are_errors_not_panics() {
    let data = blob_task();
    let g = xfernasnet();
    let expect_config = |cfg: &TrainConfig, g: &Genotype, data: &TaskData, what: &str| match train(
        g,
        data,
        cfg,
        &mut |_, _| {},
    ) {
        Err(TrainError::Config(m)) => assert!(m.contains(what), "{m}"),
        other => panic!("expected a config error about {what}, got {other:?}"),
    };
    let cfg = small_config();
    expect_config(
        &TrainConfig {
            batch_size: 0,
            ..cfg.clone()
        },
        &g,
        &data,
        "batch_size",
    );
    expect_config(
        &TrainConfig {
            drop_path: 1.0,
            ..cfg.clone()
        },
        &g,
        &data,
        "drop_path",
    );
    expect_config(
        &TrainConfig {
            filters: 0,
            ..cfg.clone()
        },
        &g,
        &data,
        "filters",
    );
    let mut bad = g.clone();
    bad.normal.blocks[0].inputs[0] = 4;
    expect_config(&cfg, &bad, &data, "normal block 0 reads state 4");
    let mut wrong_shape = blob_task();
    wrong_shape.shape = [3, 8, 8];
    expect_config(&cfg, &g, &wrong_shape, "expected [N, 3, 8, 8]");
    let mut wrong_labels = blob_task();
    wrong_labels.classes = 1;
    expect_config(&cfg, &g, &wrong_labels, "outside 0..1");
}

#[test]
fn cuda_where_absent_is_a_clear_error() {
    xnas_tch::device::init();
    if !xnas_tch::tch::Cuda::is_available() {
        let e = xnas_tch::device::parse("device", "cuda").unwrap_err();
        assert!(e.message().contains("CUDA"), "{e}");
    }
}
