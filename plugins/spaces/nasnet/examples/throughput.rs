//! Training throughput of a NASNet network on random data, for comparison with the same network
//! in PyTorch.
//!
//! ```text
//! cargo run --release -p xnas-space-nasnet --example throughput -- \
//!     [--steps 20] [--batch 64] [--shape 3,32,32] [--classes 10] [--cells 1] [--filters 16] \
//!     [--genotype xfernasnet|"<text form>"] [--crop 4] [--flip 1] [--cutout 0] [--drop-path 0.2] \
//!     [--aux 0] [--threads 0] [--device cpu] [--seed 0] [--describe [--dump FILE] | --idle]
//! ```
//!
//! Runs `train` for two epochs of `steps` batches each: the first warms up (libtorch builds its
//! kernels' plans), the second is timed. Prints images per second of the timed epoch (its
//! training steps and a validation pass over one batch), parameters, mult-adds and the peak
//! resident memory (`VmHWM`), then the same as one JSON line (for `bench/nasnet_speed.sh`).
//!
//! `--describe` trains nothing: it builds the network and prints one JSON line with its genotype
//! text, parameter count, sorted parameter shapes, mult-adds and drop-path op count; `--dump FILE`
//! adds its initial weights, one batch, and the logits and gradients xnas computes on it (what
//! `bench/nasnet_peer.py check` compares its PyTorch network with). `--idle` initialises libtorch
//! as `train` does, runs one tiny op and prints the peak resident memory of that idle process.

#[path = "support/mod.rs"]
mod support;

use std::time::Instant;
use support::{arg, cpu_seconds, peak_rss_mib, random_set, values};
use xnas_space_nasnet::genome::{parse_text, to_text, xfernasnet, Genotype};
use xnas_space_nasnet::network::{flops, parameter_count, Network};
use xnas_space_nasnet::train::{train, TrainConfig};
use xnas_tch::data::TaskData;
use xnas_tch::tch::{self, nn, Kind, Tensor};

/// `--describe`: the network's genotype, parameters, sorted parameter shapes (trainable, without
/// the auxiliary head), mult-adds and drop-path ops, as one JSON line. With `--dump FILE`, also
/// writes FILE (JSON): every variable at initialisation, a batch of 4 random images and labels,
/// the training-mode logits (no drop-path), every parameter's gradient of their cross entropy,
/// and the evaluation-mode logits after that forward (running statistics updated once).
fn describe(
    genotype: &Genotype,
    cfg: &TrainConfig,
    shape: [usize; 3],
    classes: usize,
    dump: Option<&str>,
) {
    let net_cfg = cfg.network_config(shape, classes);
    let vs = nn::VarStore::new(tch::Device::Cpu);
    tch::manual_seed(1);
    let net = Network::new(genotype, &net_cfg, &vs.root()).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    if let Some(path) = dump {
        let variables: serde_json::Map<String, serde_json::Value> = vs
            .variables()
            .iter()
            .map(|(name, t)| (name.clone(), values(t)))
            .collect();
        let dims = [4, shape[0] as i64, shape[1] as i64, shape[2] as i64];
        let x = Tensor::randn(dims, (Kind::Float, tch::Device::Cpu));
        let y = Tensor::from_slice(&[0i64, 1, 2, 3]).remainder(classes as i64);
        let (logits, _) = net.forward_t(&x, true, 0.0);
        logits.cross_entropy_for_logits(&y).backward();
        let grads: serde_json::Map<String, serde_json::Value> = vs
            .variables()
            .iter()
            .filter(|(_, t)| t.requires_grad())
            .map(|(name, t)| (name.clone(), values(&t.grad())))
            .collect();
        let eval = tch::no_grad(|| net.forward_t(&x, false, 0.0).0);
        let doc = serde_json::json!({
            "variables": variables,
            "x": values(&x),
            "y": Vec::<i64>::try_from(&y).expect("labels"),
            "logits_train": values(&logits),
            "grads": grads,
            "logits_eval": values(&eval),
        });
        std::fs::write(path, doc.to_string()).unwrap_or_else(|e| {
            eprintln!("cannot write {path}: {e}");
            std::process::exit(1)
        });
    }
    let mut shapes: Vec<Vec<i64>> = vs
        .variables()
        .iter()
        .filter(|(name, t)| t.requires_grad() && !name.split('.').any(|c| c == "auxiliary"))
        .map(|(_, t)| t.size())
        .collect();
    shapes.sort();
    println!(
        "{}",
        serde_json::json!({
            "peer": "xnas",
            "what": "describe",
            "genotype": to_text(genotype),
            "parameters": parameter_count(&vs),
            "mult_adds": flops(genotype, &net_cfg),
            "droppable_ops": net.droppable_ops(),
            "shapes": shapes,
        })
    );
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    if args.iter().any(|a| a == "--idle") {
        support::print_idle();
        return;
    }
    let steps: usize = arg(&args, "--steps", 20);
    let batch: usize = arg(&args, "--batch", 64);
    let (shape_arg, shape) = support::shape(&args, "3,32,32");
    let classes: usize = arg(&args, "--classes", 10);
    let threads: i32 = arg(&args, "--threads", 0);
    let device_name: String = arg(&args, "--device", "cpu".to_string());
    let genotype_arg: String = arg(&args, "--genotype", "xfernasnet".to_string());
    let genotype = if genotype_arg == "xfernasnet" {
        xfernasnet()
    } else {
        parse_text(&genotype_arg).expect("--genotype: xfernasnet or the text form")
    };
    let device = xnas_tch::device::parse("--device", &device_name).unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(2)
    });
    if threads > 0 {
        tch::set_num_threads(threads);
    }
    let cfg = TrainConfig {
        cells: arg(&args, "--cells", 1),
        filters: arg(&args, "--filters", 16),
        epochs: 2,
        batch_size: batch,
        crop_padding: arg(&args, "--crop", 4),
        flip: arg::<u8>(&args, "--flip", 1) == 1,
        cutout: arg(&args, "--cutout", 0),
        drop_path: arg(&args, "--drop-path", 0.2),
        auxiliary_weight: arg(&args, "--aux", 0.0),
        seed: arg(&args, "--seed", 0),
        eval_batch_size: batch,
        device,
        ..TrainConfig::default()
    };
    if args.iter().any(|a| a == "--describe") {
        let dump: String = arg(&args, "--dump", String::new());
        let dump = (!dump.is_empty()).then_some(dump.as_str());
        describe(&genotype, &cfg, shape, classes, dump);
        return;
    }
    tch::manual_seed(0);
    let data = TaskData {
        name: "random".into(),
        train: random_set(steps * batch, shape, classes),
        valid: random_set(batch, shape, classes),
        test: None,
        classes,
        shape,
        mean: vec![0.0; shape[0]],
        std: vec![1.0; shape[0]],
    };
    println!(
        "genotype {}\nN={} F={} batch {batch} shape {shape:?} classes {classes} device {} threads {}",
        to_text(&genotype),
        cfg.cells,
        cfg.filters,
        xnas_tch::device::name(device),
        tch::get_num_threads()
    );
    let start = Instant::now();
    let mut marks = Vec::new();
    let mut cpu_marks = Vec::new();
    let out = train(&genotype, &data, &cfg, &mut |_, _| {
        marks.push(start.elapsed().as_secs_f64());
        cpu_marks.push(cpu_seconds());
    })
    .unwrap_or_else(|e| {
        eprintln!("{e}");
        std::process::exit(1)
    });
    let images = (steps * batch) as f64;
    let warm = marks[1] - marks[0];
    println!(
        "parameters {} mult-adds {} ({:.1} M)",
        out.parameters,
        out.flops,
        out.flops as f64 / 1e6
    );
    println!(
        "first epoch (warm-up): {:.1} images/s; timed epoch: {steps} steps in {warm:.2} s = {:.1} images/s ({:.1} ms/step)",
        images / marks[0],
        images / warm,
        warm * 1000.0 / steps as f64
    );
    let peak = peak_rss_mib();
    match peak {
        Some(m) => println!("peak RSS {m:.0} MiB"),
        None => println!("peak RSS unknown (no /proc/self/status)"),
    }
    let round = |v: f64, d: f64| (v * d).round() / d;
    println!(
        "{}",
        serde_json::json!({
            "peer": "xnas",
            "what": "nasnet-train",
            "shape": shape_arg,
            "threads": tch::get_num_threads(),
            "steps": steps,
            "batch": batch,
            "images_per_s": round(images / warm, 100.0),
            "ms_per_step": round(warm * 1000.0 / steps as f64, 10.0),
            "warmup_images_per_s": round(images / marks[0], 100.0),
            // CPU seconds of the timed epoch (all threads): less sensitive to other load than
            // wall time.
            "cpu_s": match (cpu_marks[0], cpu_marks[1]) {
                (Some(a), Some(b)) => Some(round(b - a, 100.0)),
                _ => None,
            },
            "peak_rss_mib": peak.map(|m| round(m, 10.0)),
            "parameters": out.parameters,
            "mult_adds": out.flops,
        })
    );
}
