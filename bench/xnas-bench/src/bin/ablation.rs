//! The XferNAS ablation (Wistuba 2019, Figure 3) on NAS-Bench-Graph: how well the transferred
//! surrogate (`nao` with `xfer`'s universal + residual predictor head) ranks 50 held-out target
//! architectures, for source knowledge S per source task × target knowledge K, over ten splits.
//!
//! Per target and split: 600 distinct random architectures with a metric on the target; 50 are
//! held out, target knowledge is the first K of the other 550. Source knowledge is the first S of
//! 150 random architectures per source task (the other tasks; proteins is left out because its
//! table covers only 5 of the 9 ops). The model is trained from scratch for each cell with
//! `--epochs` epochs; the figure is Spearman's ρ between its predictions and the true validation
//! metric of the held-out 50. A cell with S = K = 0 is the untrained model.
//!
//! Usage: `ablation [--targets cora,photo] [--splits 10] [--epochs 100] [--jobs 2] [--out F]`.
//! One JSON line per cell to `--out` (default bench/out/ablation.jsonl); a summary to stdout.

use std::collections::HashSet;
use std::io::Write;
use std::sync::Mutex;
use xnas_bench::{lookup, nasbench_graph, observation, spearman};
use xnas_core::abi_stable::std_types::{RSome, RVec};
use xnas_core::*;
use xnas_opt_nao::{Nao, NaoParams};
use xnas_xfer_xfer::{XferHeadFactory, XferParams};

const TASKS: [&str; 8] = [
    "cora",
    "citeseer",
    "pubmed",
    "cs",
    "physics",
    "photo",
    "computers",
    "arxiv",
];
const SOURCE: [usize; 4] = [0, 50, 100, 150];
const TARGET: [usize; 6] = [0, 10, 25, 50, 100, 150];

/// `n` distinct (canonical) architectures with a metric on `task`, from seeds under `tag`.
fn sample(space: &SpaceBox, task: &str, n: usize, tag: u64) -> Vec<(Vec<u32>, f64)> {
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < n {
        let g = space.sample(derive_seed(tag, i)).expect("sample");
        i += 1;
        let arch = space.canonical(&g).expect("canonical");
        if let Some(m) = lookup(space, task, &g) {
            if seen.insert(arch.text.to_string()) {
                out.push((arch.genome.to_vec(), m));
            }
        }
    }
    out
}

struct Cell {
    target: String,
    split: u64,
    s: usize,
    k: usize,
    rho: f64,
}

fn run_split(
    space: &SpaceBox,
    target: &str,
    split: u64,
    epochs: usize,
    normalise: &str,
) -> Vec<Cell> {
    let t_index = TASKS.iter().position(|t| *t == target).unwrap() as u64;
    let sources: Vec<&str> = TASKS.iter().copied().filter(|t| *t != target).collect();
    let arches = sample(space, target, 600, derive_seed(1000 + t_index, split));
    let (held, pool) = arches.split_at(50);
    let held_genomes: Vec<Vec<u32>> = held.iter().map(|(g, _)| g.clone()).collect();
    let held_metric: Vec<f64> = held.iter().map(|(_, m)| *m).collect();
    let source_obs: Vec<Vec<Observation>> = sources
        .iter()
        .enumerate()
        .map(|(si, s)| {
            let tag = derive_seed(2000 + t_index * 100 + si as u64, split);
            sample(space, s, 150, tag)
                .into_iter()
                .enumerate()
                .map(|(j, (g, m))| observation(((si as u64) << 20) | j as u64, s, g, m))
                .collect()
        })
        .collect();
    let params: NaoParams = parse_params(&format!(
        "threads = 1\nepochs_first = {epochs}\nnormalise = \"{normalise}\""
    ))
    .expect("nao params");
    let mut cells = Vec::new();
    for &s in &SOURCE {
        for &k in &TARGET {
            let history: RVec<Observation> = source_obs
                .iter()
                .flat_map(|o| o[..s].iter().cloned())
                .collect();
            let xfer: XferParams =
                parse_params(&format!("normalise = \"{normalise}\"")).expect("xfer params");
            let init = OptimizerInit {
                space: space.clone(),
                target: target.into(),
                sources: sources.iter().map(|&s| s.into()).collect(),
                history,
                seed: derive_seed(split, (s * 1000 + k) as u64),
                heads: RSome(head_factory_box(XferHeadFactory::new(
                    xfer,
                    sources.len() + 1,
                ))),
                base_dir: ".".into(),
            };
            let mut nao = Nao::new(params.clone(), &init).expect("nao");
            let told: Vec<Observation> = pool[..k]
                .iter()
                .enumerate()
                .map(|(j, (g, m))| observation(1 << 40 | j as u64, target, g.clone(), *m))
                .collect();
            nao.tell(&told).expect("tell");
            nao.train_if_needed().expect("train");
            let pred: Vec<f64> = nao
                .predict(&held_genomes)
                .expect("predict")
                .into_iter()
                .map(f64::from)
                .collect();
            cells.push(Cell {
                target: target.into(),
                split,
                s,
                k,
                rho: spearman(&pred, &held_metric),
            });
        }
    }
    cells
}

/// Mean Spearman between the target's metric and each source's on 600 common architectures.
fn task_correlation(space: &SpaceBox, target: &str) -> f64 {
    let arches = sample(space, target, 600, 77);
    let t: Vec<f64> = arches.iter().map(|(_, m)| *m).collect();
    let mut sum = 0.0;
    let mut n = 0.0;
    for s in TASKS.iter().filter(|s| **s != target) {
        let m: Vec<f64> = arches
            .iter()
            .map(|(g, _)| lookup(space, s, g).expect("the 8 large tables share architectures"))
            .collect();
        sum += spearman(&t, &m);
        n += 1.0;
    }
    sum / n
}

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let arg = |flag: &str| {
        args.iter()
            .position(|a| a == flag)
            .and_then(|i| args.get(i + 1).cloned())
    };
    let targets: Vec<String> = arg("--targets")
        .map_or(TASKS.iter().map(|t| t.to_string()).collect(), |t| {
            t.split(',').map(String::from).collect()
        });
    let splits: u64 = arg("--splits").map_or(10, |v| v.parse().expect("--splits"));
    let epochs: usize = arg("--epochs").map_or(100, |v| v.parse().expect("--epochs"));
    let jobs: usize = arg("--jobs").map_or(2, |v| v.parse().expect("--jobs"));
    let normalise = arg("--normalise").unwrap_or_else(|| "rank".into());
    let out = arg("--out").unwrap_or_else(|| "bench/out/ablation.jsonl".into());
    if let Some(dir) = std::path::Path::new(&out).parent() {
        std::fs::create_dir_all(dir).expect("output folder");
    }
    let space = nasbench_graph(&TASKS);
    for t in &targets {
        assert!(TASKS.contains(&t.as_str()), "unknown target `{t}`");
    }
    let work: Mutex<Vec<(String, u64)>> = Mutex::new(
        targets
            .iter()
            .flat_map(|t| (0..splits).map(move |s| (t.clone(), s)))
            .rev()
            .collect(),
    );
    let file = Mutex::new(std::fs::File::create(&out).expect("output file"));
    let all: Mutex<Vec<Cell>> = Mutex::new(Vec::new());
    std::thread::scope(|scope| {
        for _ in 0..jobs {
            scope.spawn(|| loop {
                let Some((t, split)) = work.lock().unwrap().pop() else {
                    break;
                };
                let cells = run_split(&space, &t, split, epochs, &normalise);
                let mut f = file.lock().unwrap();
                for c in &cells {
                    let line = serde_json::json!({"target": c.target, "split": c.split,
                        "source_per_task": c.s, "target_knowledge": c.k, "spearman": c.rho});
                    writeln!(f, "{line}").expect("write");
                }
                eprintln!("{t} split {split} done");
                all.lock().unwrap().extend(cells);
            });
        }
    });
    let all = all.into_inner().unwrap();
    let mean = |f: &dyn Fn(&Cell) -> bool| {
        let v: Vec<f64> = all.iter().filter(|c| f(c)).map(|c| c.rho).collect();
        v.iter().sum::<f64>() / v.len().max(1) as f64
    };
    println!("Spearman ρ on 50 held-out target architectures (mean over {splits} splits), epochs {epochs}, normalise {normalise}\n");
    let header: Vec<String> = TARGET.iter().map(|k| format!("K={k}")).collect();
    for t in targets.iter().map(Some).chain([None]) {
        match t {
            Some(t) => println!(
                "target {t} (mean Spearman with its sources over 600 architectures: {:.2})\n",
                task_correlation(&space, t)
            ),
            None => println!("mean over targets\n"),
        }
        println!("| S per source | {} |", header.join(" | "));
        println!("|---{}|", "|---".repeat(TARGET.len()));
        for &s in &SOURCE {
            let row: Vec<String> = TARGET
                .iter()
                .map(|&k| {
                    format!(
                        "{:.3}",
                        mean(&|c: &Cell| c.s == s && c.k == k && t.is_none_or(|t| &c.target == t))
                    )
                })
                .collect();
            println!("| {s} | {} |", row.join(" | "));
        }
        println!();
    }
}
