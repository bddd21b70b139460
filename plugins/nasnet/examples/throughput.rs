//! Training throughput of a NASNet network on random data, for comparison with the same network
//! in PyTorch.
//!
//! ```text
//! cargo run --release -p xnas-space-nasnet --example throughput -- \
//!     [--steps 20] [--batch 64] [--shape 3,32,32] [--classes 10] [--cells 1] [--filters 16] \
//!     [--genotype xfernasnet|"<text form>"] [--crop 4] [--flip 1] [--cutout 0] [--drop-path 0.2] \
//!     [--aux 0] [--threads 0] [--device cpu] [--seed 0]
//! ```
//!
//! Runs `train` for two epochs of `steps` batches each: the first warms up (libtorch builds its
//! kernels' plans), the second is timed. Prints images per second of the timed epoch (its
//! training steps and a validation pass over one batch), parameters, mult-adds and the peak
//! resident memory (`VmHWM`).

use std::time::Instant;
use xnas_space_nasnet::genome::{parse_text, to_text, xfernasnet};
use xnas_space_nasnet::train::{train, TrainConfig};
use xnas_tch::data::{ImageSet, TaskData};
use xnas_tch::tch::{self, Kind, Tensor};

fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("cannot read `{name} {v}`"))
        })
        .unwrap_or(default)
}

fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

fn random_set(n: usize, shape: [usize; 3], classes: usize) -> ImageSet {
    let dims = [n as i64, shape[0] as i64, shape[1] as i64, shape[2] as i64];
    ImageSet {
        images: Tensor::randn(dims, (Kind::Float, tch::Device::Cpu)),
        labels: Tensor::randint(classes as i64, [n as i64], (Kind::Int64, tch::Device::Cpu)),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let steps: usize = arg(&args, "--steps", 20);
    let batch: usize = arg(&args, "--batch", 64);
    let shape_arg: String = arg(&args, "--shape", "3,32,32".to_string());
    let shape: Vec<usize> = shape_arg
        .split(',')
        .map(|s| s.trim().parse().expect("--shape C,H,W"))
        .collect();
    let shape: [usize; 3] = shape.try_into().expect("--shape C,H,W");
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
    let out = train(&genotype, &data, &cfg, &mut |_, _| {
        marks.push(start.elapsed().as_secs_f64())
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
    match peak_rss_mib() {
        Some(m) => println!("peak RSS {m:.0} MiB"),
        None => println!("peak RSS unknown (no /proc/self/status)"),
    }
}
