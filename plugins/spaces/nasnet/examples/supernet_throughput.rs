//! One search epoch of DARTS's cell supernet on random data, for comparison with the same
//! supernet in PyTorch (`bench/supernet_peer.py`, driven by `bench/supernet_speed.sh`).
//!
//! ```text
//! cargo run --release -p xnas-space-nasnet --example supernet_throughput -- \
//!     [--order 1|2] [--images 512] [--batch 32] [--shape 1,28,28] [--classes 10] \
//!     [--channels 8] [--cells 5] [--threads 0] [--seed 0] [--describe [--dump FILE] | --idle]
//! ```
//!
//! The supernet (`xnas_space_nasnet::supernet::network::DartsSearchNet` in
//! `xnas_tch::supernet::SupernetEngine`, every op on every edge) trains on `images` random
//! images split half and half into w and α parts (DARTS's `train_portion = 0.5`). An epoch is
//! DARTS's loop over the w batches: the α step (`arch_grad`, or `unrolled_arch_grad` with
//! `--order 2`), Adam on α (lr 3e-4, betas (0.5, 0.999), weight decay 1e-3, mix = softmax(α) per
//! edge), then `train_step` (SGD 0.025, momentum 0.9, weight decay 3e-4, clip 5); then
//! `evaluate` over the α part, and `end_epoch`. The first epoch warms up, the second is timed:
//! images per second = w images / its wall time. Prints one JSON line.
//!
//! `--describe` trains nothing: one JSON line with the parameter count, the sorted shapes of
//! every weight and buffer, and the logits' shape; `--dump FILE` adds the initial weights by
//! name, a batch, a mixing matrix, the training-mode logits and ∂loss/∂mix (what
//! `bench/supernet_peer.py check` compares its network with). `--idle` measures an idle process.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;
use support::{arg, cpu_seconds, peak_rss_mib, random_set, values};
use xnas_core::{Matrix, Supernet, WeightRecipe};
use xnas_space_nasnet::supernet::network::DartsSearchNet;
use xnas_tch::data::TaskData;
use xnas_tch::supernet::{Batch, EngineConfig, StemSharing, SupernetEngine};
use xnas_tch::tch::{self, Kind, Tensor};

const EDGES: usize = 28;
const OPS: usize = 8;

/// α and DARTS's Adam on it (PyTorch's `Adam` with L2 weight decay).
struct Alpha {
    a: Vec<f64>,
    m: Vec<f64>,
    v: Vec<f64>,
    t: i32,
}

impl Alpha {
    fn new(seed: u64) -> Self {
        // 1e-3 · N(0, 1) (Box–Muller from a seeded SplitMix64).
        let mut rng = xnas_core::SplitMix64::new(seed);
        let a = (0..EDGES * OPS)
            .map(|_| {
                let (u, v) = (rng.next_f64().max(1e-300), rng.next_f64());
                1e-3 * (-2.0 * u.ln()).sqrt() * (2.0 * std::f64::consts::PI * v).cos()
            })
            .collect();
        Alpha {
            a,
            m: vec![0.0; EDGES * OPS],
            v: vec![0.0; EDGES * OPS],
            t: 0,
        }
    }

    /// softmax(α) per edge.
    fn mix(&self) -> Matrix {
        let mut out = Vec::with_capacity(EDGES * OPS);
        for row in self.a.chunks(OPS) {
            let max = row.iter().cloned().fold(f64::MIN, f64::max);
            let z: f64 = row.iter().map(|x| (x - max).exp()).sum();
            out.extend(row.iter().map(|x| ((x - max).exp() / z) as f32));
        }
        Matrix::new(EDGES, OPS, out)
    }

    /// One Adam step with ∂loss/∂mix pulled back through the softmax.
    fn step(&mut self, mix: &Matrix, grad: &Matrix) {
        let (lr, b1, b2, eps, wd) = (3e-4, 0.5, 0.999, 1e-8, 1e-3);
        self.t += 1;
        for e in 0..EDGES {
            let (m, g) = (mix.row(e), grad.row(e));
            let dot: f64 = m.iter().zip(g).map(|(&m, &g)| m as f64 * g as f64).sum();
            for k in 0..OPS {
                let i = e * OPS + k;
                let ga = m[k] as f64 * (g[k] as f64 - dot) + wd * self.a[i];
                self.m[i] = b1 * self.m[i] + (1.0 - b1) * ga;
                self.v[i] = b2 * self.v[i] + (1.0 - b2) * ga * ga;
                let mh = self.m[i] / (1.0 - b1.powi(self.t));
                let vh = self.v[i] / (1.0 - b2.powi(self.t));
                self.a[i] -= lr * mh / (vh.sqrt() + eps);
            }
        }
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--idle") {
        support::print_idle();
        return;
    }
    let order: u32 = arg(&args, "--order", 1);
    let images: usize = arg(&args, "--images", 512);
    let batch: u32 = arg(&args, "--batch", 32);
    let (shape_arg, shape) = support::shape(&args, "1,28,28");
    let classes: usize = arg(&args, "--classes", 10);
    let channels: usize = arg(&args, "--channels", 8);
    let cells: usize = arg(&args, "--cells", 5);
    let threads: usize = arg(&args, "--threads", 0);
    let seed: u64 = arg(&args, "--seed", 0);

    xnas_tch::device::init();
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
    tch::manual_seed(0);
    let data = TaskData {
        name: "random".into(),
        train: random_set(images, shape, classes),
        valid: random_set(2, shape, classes),
        test: None,
        classes,
        shape,
        mean: vec![0.0; shape[0]],
        std: vec![1.0; shape[0]],
    };
    let candidates = vec![(0..OPS as u32).collect::<Vec<_>>(); EDGES];
    let cfg = EngineConfig {
        owner: "supernet-throughput".into(),
        candidates: candidates.clone(),
        recipe: WeightRecipe {
            batch_size: batch,
            learning_rate: 0.025,
            learning_rate_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            epochs: 50,
            train_portion: 0.5,
        },
        seed,
        device: tch::Device::Cpu,
        threads,
        kind: Kind::Float,
        eval_batch_size: batch as usize,
    };
    let start = Instant::now();
    let mut net = SupernetEngine::new(cfg, &[&data], |p, tasks| {
        DartsSearchNet::new(
            p,
            tasks,
            &candidates,
            channels,
            cells,
            StemSharing::Channels,
        )
    })
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    if args.iter().any(|a| a == "--describe") {
        let dump: String = arg(&args, "--dump", String::new());
        describe(
            &mut net,
            &shape_arg,
            (!dump.is_empty()).then_some(dump.as_str()),
        );
        return;
    }
    let mut alpha = Alpha::new(seed);
    let info = net.info().expect("info");
    let steps = info.train_batches as usize;
    let mut marks = Vec::new();
    let mut cpu_marks = Vec::new();
    let mut last = (0.0, 0.0);
    for _epoch in 0..2 {
        for _ in 0..steps {
            let mix = alpha.mix();
            let g = if order == 2 {
                net.unrolled_arch_grad(&mix)
            } else {
                net.arch_grad(&mix)
            }
            .expect("α step");
            alpha.step(&mix, &g.grad);
            last.0 = net.train_step(&alpha.mix()).expect("w step").loss;
        }
        last.1 = net.evaluate(&alpha.mix()).expect("evaluate").loss;
        net.end_epoch().expect("end_epoch");
        marks.push(start.elapsed().as_secs_f64());
        cpu_marks.push(cpu_seconds());
    }
    let trained = (steps * batch as usize).min(images / 2) as f64;
    let timed = marks[1] - marks[0];
    let round = |v: f64, d: f64| (v * d).round() / d;
    println!(
        "{}",
        serde_json::json!({
            "peer": "xnas",
            "what": format!("supernet-epoch-order{order}"),
            "shape": shape_arg,
            "threads": tch::get_num_threads(),
            "steps": steps,
            "batch": batch,
            "images_per_s": round(trained / timed, 100.0),
            "ms_per_step": round(timed * 1000.0 / steps as f64, 10.0),
            "warmup_images_per_s": round(trained / marks[0], 100.0),
            "cpu_s": match (cpu_marks[0], cpu_marks[1]) {
                (Some(a), Some(b)) => Some(round(b - a, 100.0)),
                _ => None,
            },
            "peak_rss_mib": peak_rss_mib().map(|m| round(m, 10.0)),
            "parameters": info.parameters,
            "train_loss": last.0,
            "valid_loss": last.1,
        })
    );
}

/// `--describe` (and `--dump`): see the module documentation.
fn describe(net: &mut SupernetEngine<DartsSearchNet>, shape: &str, dump: Option<&str>) {
    let export = net.export_weights().expect("export");
    let named =
        xnas_tch::snapshot::from_bytes(&export, tch::Device::Cpu, "describe", "weights").unwrap();
    let mut shapes: Vec<(String, Vec<i64>)> =
        named.iter().map(|(n, t)| (n.clone(), t.size())).collect();
    shapes.sort();
    let s: Vec<usize> = shape.split(',').map(|v| v.parse().unwrap()).collect();
    tch::manual_seed(5);
    let x = Tensor::randn(
        [4, s[0] as i64, s[1] as i64, s[2] as i64],
        (Kind::Float, tch::Device::Cpu),
    );
    let y = Tensor::from_slice(&[0i64, 1, 2, 3]);
    let mix = Alpha {
        a: (0..EDGES * OPS)
            .map(|i| ((i * 7919) % 13) as f64 / 6.0 - 1.0)
            .collect(),
        m: Vec::new(),
        v: Vec::new(),
        t: 0,
    }
    .mix();
    let mix_t = net.mix_tensor(&mix, true).unwrap();
    let batch = Batch {
        images: x.shallow_clone(),
        labels: y.shallow_clone(),
        seed: 0,
    };
    let logits = xnas_tch::supernet::SearchNetwork::forward(
        net.network(),
        &x,
        &mix_t,
        0,
        &xnas_tch::supernet::Pass::training(0.0, 0),
    );
    let (loss, _) = net.batch_loss(&batch, &mix_t).unwrap();
    let grad = Tensor::run_backward(&[loss], &[&mix_t], false, false).remove(0);
    if let Some(path) = dump {
        let initial: serde_json::Map<String, serde_json::Value> =
            named.iter().map(|(n, t)| (n.clone(), values(t))).collect();
        let doc = serde_json::json!({
            "variables": initial,
            "x": values(&x),
            "y": Vec::<i64>::try_from(&y).unwrap(),
            "mix": values(&Tensor::from_slice(&mix.data).view([EDGES as i64, OPS as i64])),
            "logits_train": values(&logits),
            "mix_grad": values(&grad),
        });
        std::fs::write(path, doc.to_string()).unwrap_or_else(|e| {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1)
        });
    }
    println!(
        "{}",
        serde_json::json!({
            "peer": "xnas",
            "what": "describe",
            "parameters": net.info().unwrap().parameters,
            "variables": shapes,
            "logits": logits.size(),
        })
    );
}
