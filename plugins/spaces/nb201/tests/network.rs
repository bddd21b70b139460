//! The NAS-Bench-201 network in tch: shapes on every input size, parameter and multiply-add counts
//! against hand counts, the ops' arithmetic, and a cut-off cell's output not depending on the
//! image.

use xnas_space_nb201::cell::{Cell, Op, EDGES};
use xnas_space_nb201::network::{
    flops, parameter_count, CellModule, EdgeOp, Network, NetworkConfig, ResidualBlock,
};
use xnas_tch::seed::with_torch_seed;
use xnas_tch::tch::{nn, Device, Kind, Tensor};
use xnas_tch::train::parameter_count as var_store_parameters;

fn randn(dims: [usize; 4], seed: u64) -> Tensor {
    with_torch_seed(seed, || {
        Tensor::randn(dims.map(|d| d as i64), (Kind::Float, Device::Cpu))
    })
}

fn build(cell: &Cell, cfg: &NetworkConfig) -> (nn::VarStore, Network) {
    let vs = nn::VarStore::new(Device::Cpu);
    let net = with_torch_seed(1, || Network::new(cell, cfg, &vs.root())).unwrap();
    (vs, net)
}

fn config(shape: [usize; 3], cells: usize, channels: usize) -> NetworkConfig {
    NetworkConfig {
        cells,
        channels,
        in_channels: shape[0],
        classes: 10,
        image_size: [shape[1], shape[2]],
    }
}

/// `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|`.
const MIXED: Cell = Cell {
    ops: [
        Op::Conv3x3,
        Op::None,
        Op::Skip,
        Op::Conv1x1,
        Op::AvgPool3x3,
        Op::Conv3x3,
    ],
};

const ALL_CONV3: Cell = Cell {
    ops: [Op::Conv3x3; EDGES],
};

#[test]
fn logits_for_digits_mnist_cifar_and_odd_sizes() {
    for shape in [
        [1usize, 8, 8],
        [1, 28, 28],
        [3, 32, 32],
        [3, 7, 7],
        [2, 5, 3],
        [1, 1, 1],
    ] {
        let cfg = config(shape, 1, 4);
        let (_vs, net) = build(&MIXED, &cfg);
        let x = randn([3, shape[0], shape[1], shape[2]], 2);
        for train in [true, false] {
            let y = net.forward_t(&x, train);
            assert_eq!(y.size(), [3, 10], "{shape:?}");
            assert_eq!(y.isfinite().all().int64_value(&[]), 1, "{shape:?}");
        }
    }
}

#[test]
fn one_cell_has_the_hand_counted_parameters() {
    // conv 3×3 twice (9C² + 2C each: weight, BN scale and shift), conv 1×1 once (C² + 2C);
    // none, skip and the pool have none. C = 4: 2·152 + 24 = 328.
    let vs = nn::VarStore::new(Device::Cpu);
    let cell = CellModule::new(&vs.root(), &MIXED, 4);
    assert_eq!(var_store_parameters(&vs), 328);
    let x = randn([2, 4, 6, 5], 3);
    assert_eq!(cell.forward_t(&x, true).size(), [2, 4, 6, 5]);
}

#[test]
fn the_network_has_the_hand_counted_parameters() {
    // N = 1, C = 4, grey images, 10 classes, every edge a 3×3 conv:
    // stem 9·1·4 + 8 = 44; cells 6·(9·16 + 8) = 912, 6·(9·64 + 16) = 3,552, 6·(9·256 + 32) =
    // 14,016; reductions 4→8: 288 + 16 + 576 + 16 + 32 = 928, 8→16: 1,152 + 32 + 2,304 + 32 +
    // 128 = 3,648; last BN 32; classifier 16·10 + 10 = 170. Total 23,302.
    let cfg = config([1, 8, 8], 1, 4);
    let (vs, _net) = build(&ALL_CONV3, &cfg);
    assert_eq!(var_store_parameters(&vs), 23_302);
    assert_eq!(parameter_count(&ALL_CONV3, &cfg), 23_302);
    // The count from the configuration agrees with the built network on other shapes.
    for (cell, shape, cells, channels) in [
        (MIXED, [3usize, 32, 32], 2usize, 6usize),
        (MIXED, [1, 28, 28], 5, 16),
        (
            Cell {
                ops: [Op::None; EDGES],
            },
            [2, 9, 9],
            3,
            3,
        ),
    ] {
        let cfg = config(shape, cells, channels);
        let (vs, _) = build(&cell, &cfg);
        assert_eq!(
            var_store_parameters(&vs),
            parameter_count(&cell, &cfg),
            "{cell}"
        );
    }
}

#[test]
fn flops_match_a_hand_count() {
    // 8×8 input, N = 1, C = 4, every edge a 3×3 conv; mult-adds = C_out·H·W·C_in·9:
    // stem 4·64·9 = 2,304; each cell 6·9,216 = 55,296 (8×8 at C 4, 4×4 at 8, 2×2 at 16);
    // each reduction 4,608 (conv a) + 9,216 (conv b) + 512 (shortcut) = 14,336; classifier 160.
    let cfg = config([1, 8, 8], 1, 4);
    assert_eq!(flops(&ALL_CONV3, &cfg), 197_024);
    let none = Cell {
        ops: [Op::None; EDGES],
    };
    assert_eq!(flops(&none, &cfg), 2_304 + 2 * 14_336 + 160);
}

#[test]
fn ops_compute_what_they_say() {
    let vs = nn::VarStore::new(Device::Cpu);
    let x = Tensor::from_slice(&[1f32, 2., 3., 4., 5., 6., 7., 8., 9.]).view([1, 1, 3, 3]);
    let run = |op| EdgeOp::new(&vs.root(), op, 1, true).forward_t(&x, false);
    let values = |t: Tensor| Vec::<f32>::try_from(t.flatten(0, -1)).unwrap();
    // Average over the real pixels: the corner is the mean of 1, 2, 4, 5.
    let pooled = values(run(Op::AvgPool3x3).unwrap());
    assert_eq!(pooled[0], 3.0);
    assert_eq!(pooled[4], 5.0);
    assert_eq!(values(run(Op::Skip).unwrap()), values(x.shallow_clone()));
    assert!(run(Op::None).is_none(), "the zero op adds nothing");
    // Conv ops keep the channels and the size.
    let x4 = randn([2, 3, 5, 7], 4);
    for op in [Op::Conv1x1, Op::Conv3x3] {
        let y = EdgeOp::new(&vs.root(), op, 3, false)
            .forward_t(&x4, true)
            .unwrap();
        assert_eq!(y.size(), [2, 3, 5, 7], "{op}");
    }
}

#[test]
fn reduction_halves_every_size_rounding_up() {
    let vs = nn::VarStore::new(Device::Cpu);
    let block = with_torch_seed(5, || ResidualBlock::new(&vs.root(), 3, 6));
    for (h, w) in [(8usize, 8usize), (7, 7), (5, 2), (1, 1)] {
        let y = block.forward_t(&randn([2, 3, h, w], 6), true);
        assert_eq!(y.size(), [2, 6, h.div_ceil(2) as i64, w.div_ceil(2) as i64]);
    }
}

#[test]
fn a_cut_off_cell_ignores_the_image() {
    // 1 ← 0 is none and nothing else leaves the input: the output node never sees it.
    let cell = Cell {
        ops: [
            Op::None,
            Op::None,
            Op::Conv3x3,
            Op::None,
            Op::Skip,
            Op::AvgPool3x3,
        ],
    };
    assert!(!cell.output_connected());
    let cfg = config([1, 8, 8], 1, 4);
    let logits = |cell: &Cell, seed| {
        let (_vs, net) = build(cell, &cfg);
        let y = net.forward_t(&randn([2, 1, 8, 8], seed), false);
        Vec::<f32>::try_from(y.flatten(0, -1)).unwrap()
    };
    assert_eq!(logits(&cell, 7), logits(&cell, 8));
    // A connected cell does see it.
    assert_ne!(logits(&MIXED, 7), logits(&MIXED, 8));
}
