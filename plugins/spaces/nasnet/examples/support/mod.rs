//! What the throughput examples share: arguments, the process's peak memory and CPU time,
//! random image sets, tensors as JSON.
#![allow(dead_code)]

use xnas_tch::data::ImageSet;
use xnas_tch::tch::{self, Kind, Tensor};

pub fn arg<T: std::str::FromStr>(args: &[String], name: &str, default: T) -> T {
    args.iter()
        .position(|a| a == name)
        .and_then(|i| args.get(i + 1))
        .map(|v| {
            v.parse()
                .unwrap_or_else(|_| panic!("cannot read `{name} {v}`"))
        })
        .unwrap_or(default)
}

/// `--shape C,H,W` (default `default`): the text and the shape.
pub fn shape(args: &[String], default: &str) -> (String, [usize; 3]) {
    let text: String = arg(args, "--shape", default.to_string());
    let dims: Vec<usize> = text
        .split(',')
        .map(|s| s.trim().parse().expect("--shape C,H,W"))
        .collect();
    (text, dims.try_into().expect("--shape C,H,W"))
}

pub fn peak_rss_mib() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: f64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024.0)
}

/// CPU seconds (user + system, all threads) this process has used so far: `/proc/self/stat`'s
/// `utime` and `stime`, in Linux's fixed 100 ticks per second.
pub fn cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks: f64 = fields.get(11)?.parse::<f64>().ok()? + fields.get(12)?.parse::<f64>().ok()?;
    Some(ticks / 100.0)
}

pub fn random_set(n: usize, shape: [usize; 3], classes: usize) -> ImageSet {
    let dims = [n as i64, shape[0] as i64, shape[1] as i64, shape[2] as i64];
    ImageSet {
        images: Tensor::randn(dims, (Kind::Float, tch::Device::Cpu)),
        labels: Tensor::randint(classes as i64, [n as i64], (Kind::Int64, tch::Device::Cpu)),
    }
}

pub fn values(t: &Tensor) -> serde_json::Value {
    let v = Vec::<f32>::try_from(t.detach().flatten(0, -1)).expect("f32 values");
    serde_json::json!({ "shape": t.size(), "data": v })
}

/// `--idle`: what a run loads before its first tensor, one tiny op, then the peak resident memory
/// of that idle process, as one JSON line.
pub fn print_idle() {
    xnas_tch::device::init();
    let mut t = Tensor::zeros([1], (Kind::Float, tch::Device::Cpu));
    t += 1.0;
    println!(
        "{}",
        serde_json::json!({
            "peer": "xnas",
            "what": "idle",
            "threads": tch::get_num_threads(),
            "peak_rss_mib": peak_rss_mib().map(|m| (m * 10.0).round() / 10.0),
        })
    );
}
