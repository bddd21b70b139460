//! Shared set-up of the supernet tests: the nasnet space configured as the DARTS cell space on a
//! few hundred real digits images, tiny specs (C = 4, 2–3 cells), mixing matrices.
#![allow(dead_code)]

use std::sync::{Mutex, MutexGuard};
use xnas_core::abi_stable::std_types::{RString, RVec};
use xnas_core::{parse_params, Matrix, SpaceInit, SplitMix64, SupernetSpec, WeightRecipe};
use xnas_space_nasnet::params::NasnetParams;
use xnas_space_nasnet::Nasnet;
use xnas_tch::tch::{Device, Tensor};

/// The tests of one binary share libtorch's process-wide thread count (each supernet call sets
/// it): they run one at a time, so bit-for-bit comparisons see one thread count.
pub fn serial() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

/// Two tasks of 200 real digits images each (8×8, 10 classes), told apart by their split seed.
pub const TASKS: &str = r#"
[tasks.digits]
preset = "digits"
limit_train = 200
[tasks.digits-b]
preset = "digits"
limit_train = 200
split_seed = 5
"#;

/// The nasnet space with `params` (TOML lines) and the [`TASKS`].
pub fn space_with(params: &str) -> Nasnet {
    let text = format!("threads = 1\neval_batch_size = 64\n{params}\n{TASKS}");
    let params: NasnetParams = parse_params(&text).expect("test parameters");
    let init = SpaceInit {
        tasks: RVec::from(vec![RString::from("digits"), RString::from("digits-b")]),
        base_dir: ".".into(),
        data_dir: "".into(),
    };
    Nasnet::new(params, &init).expect("the space builds")
}

/// The DARTS cell space.
pub fn darts_space() -> Nasnet {
    space_with("ops = \"darts\"\nblocks = 4\nconcat = \"all\"")
}

pub fn recipe() -> WeightRecipe {
    WeightRecipe {
        batch_size: 32,
        learning_rate: 0.025,
        learning_rate_min: 0.001,
        momentum: 0.9,
        weight_decay: 3e-4,
        grad_clip: 5.0,
        epochs: 4,
        train_portion: 0.5,
    }
}

/// A spec of C = 4 channels on `tasks`, every op on every edge unless `candidates` says.
pub fn spec(tasks: &[&str], cells: u32, candidates: &[Vec<u32>], seed: u64) -> SupernetSpec {
    SupernetSpec {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        cells,
        channels: 4,
        candidates: candidates.iter().map(|r| RVec::from(r.clone())).collect(),
        recipe: recipe(),
        seed,
    }
}

/// The same op list on all 28 edges.
pub fn every_edge(ops: &[u32]) -> Vec<Vec<u32>> {
    vec![ops.to_vec(); 28]
}

/// softmax(α) of a random α (scale `spread`) for `rows × cols`, from `seed`.
pub fn mix(rows: usize, cols: usize, spread: f64, seed: u64) -> Matrix {
    let mut rng = SplitMix64::new(seed);
    let mut data = Vec::with_capacity(rows * cols);
    for _ in 0..rows {
        let a: Vec<f64> = (0..cols)
            .map(|_| spread * (rng.next_f64() * 2.0 - 1.0))
            .collect();
        let m = a.iter().cloned().fold(f64::MIN, f64::max);
        let z: f64 = a.iter().map(|v| (v - m).exp()).sum();
        data.extend(a.iter().map(|v| ((v - m).exp() / z) as f32));
    }
    Matrix::new(rows, cols, data)
}

/// Every weight and buffer of an export, by name, on the CPU.
pub fn weights(export: &[u8]) -> Vec<(String, Tensor)> {
    let mut w = xnas_tch::snapshot::from_bytes(export, Device::Cpu, "test", "export").unwrap();
    w.sort_by(|a, b| a.0.cmp(&b.0));
    w
}

pub fn named<'a>(w: &'a [(String, Tensor)], name: &str) -> &'a Tensor {
    &w.iter()
        .find(|(n, _)| n == name)
        .unwrap_or_else(|| panic!("no `{name}`"))
        .1
}

/// The largest absolute difference between two tensors.
pub fn max_diff(a: &Tensor, b: &Tensor) -> f64 {
    (a - b).abs().max().double_value(&[])
}
