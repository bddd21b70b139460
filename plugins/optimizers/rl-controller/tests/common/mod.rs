//! Shared by the tests: the real NAS-Bench-Graph space, a NASNet-shaped decision space, and an
//! ask/evaluate/tell loop.
#![allow(dead_code)]

use xnas_core::abi_stable::std_types::{RNone, RString, RVec};
use xnas_core::{
    derive_seed, space_box, Arch, EvalRequest, EvalResult, HeadFactoryBox, Observation, Optimizer,
    OptimizerInit, PluginError, PluginResult, Position, SearchSpace, SpaceBox, SpaceDesc,
    SpaceInit, SplitMix64, TrialStatus,
};
use xnas_opt_rl_controller::{RlController, RlParams};
use xnas_space_nasbench_graph::{default_data_path, NasBenchGraph, NasBenchGraphParams};

/// NAS-Bench-Graph on `tasks`, from the cached data (`make data`).
pub fn nasbench_graph(tasks: &[&str]) -> SpaceBox {
    let path = default_data_path("");
    assert!(
        path.exists(),
        "{} is missing: run `make data` first (make test does)",
        path.display()
    );
    let init = SpaceInit {
        tasks: tasks.iter().map(|&t| RString::from(t)).collect(),
        base_dir: RString::new(),
        data_dir: RString::new(),
    };
    space_box(NasBenchGraph::new(NasBenchGraphParams::default(), &init).unwrap())
}

pub fn params(text: &str) -> RlParams {
    xnas_core::parse_params(text).unwrap()
}

/// An optimizer's init for `space`, `target` and `seed`, nothing else (no sources, no heads).
pub use xnas_testkit::optimizer_init as init;

pub fn controller(space: &SpaceBox, text: &str, seed: u64) -> RlController {
    RlController::new(params(text), &init(space, "cora", seed)).unwrap()
}

/// Evaluates `genome` on `task` as the host would (a refused genome is a failed observation).
pub fn observe(space: &SpaceBox, task: &str, trial_id: u64, genome: &[u32]) -> Observation {
    let request = EvalRequest {
        trial_id,
        task: task.into(),
        genome: genome.to_vec().into(),
        seed: derive_seed(7, trial_id),
        budget: RNone,
    };
    let canonical = space
        .canonical(genome)
        .map(|a| a.genome.to_vec())
        .unwrap_or_else(|_| genome.to_vec());
    let mut o = xnas_core::failed_observation(trial_id, task, canonical);
    if let Ok(r) = space.evaluate(&request) {
        o.metric = r.metric;
        o.test_metric = r.test_metric;
        o.status = TrialStatus::OK;
    }
    o
}

/// Asks and tells `evaluations` in batches of `batch` on `task`; returns every observation.
pub fn search(
    opt: &mut impl Optimizer,
    space: &SpaceBox,
    task: &str,
    evaluations: usize,
    batch: usize,
) -> Vec<Observation> {
    let mut all = Vec::new();
    while all.len() < evaluations {
        let n = batch.min(evaluations - all.len());
        let proposals = opt.ask(n).unwrap();
        assert!(!proposals.is_empty(), "the controller proposed nothing");
        let told: Vec<Observation> = proposals
            .iter()
            .map(|p| observe(space, task, all.len() as u64, &p.genome))
            .enumerate()
            .map(|(i, mut o)| {
                o.trial_id = (all.len() + i) as u64;
                o
            })
            .collect();
        opt.tell(&told).unwrap();
        all.extend(told);
    }
    all
}

pub fn mean(xs: impl IntoIterator<Item = f64>) -> f64 {
    let v: Vec<f64> = xs.into_iter().collect();
    v.iter().sum::<f64>() / v.len() as f64
}

/// Two NASNet cells of `blocks` blocks: `[in1, op1, in2, op2]` per block, block b's inputs choose
/// among b+2 states (groups "node" and "op"). The metric rewards op 0 and the newest input, so a
/// policy has something to learn. Built by hand: the NASNet space plugin does not exist yet.
pub struct NasnetCells {
    pub blocks: u32,
    pub ops: u32,
}

impl NasnetCells {
    pub fn choices(&self) -> Vec<u32> {
        let mut v = Vec::new();
        for _cell in 0..2 {
            for b in 0..self.blocks {
                v.extend([b + 2, self.ops, b + 2, self.ops]);
            }
        }
        v
    }
}

impl SearchSpace for NasnetCells {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let mut positions = Vec::new();
        for cell in ["normal", "reduce"] {
            for b in 0..self.blocks {
                for branch in 1..=2 {
                    positions.push(Position {
                        name: format!("{cell}.b{b}.in{branch}").into(),
                        choices: b + 2,
                        group: "node".into(),
                        labels: RVec::new(),
                    });
                    positions.push(Position {
                        name: format!("{cell}.b{b}.op{branch}").into(),
                        choices: self.ops,
                        group: "op".into(),
                        labels: RVec::new(),
                    });
                }
            }
        }
        Ok(SpaceDesc {
            positions: positions.into(),
            tasks: RVec::new(),
            size: 0,
        })
    }
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut rng = SplitMix64::new(seed);
        Ok(self.choices().iter().map(|&c| rng.below(c)).collect())
    }
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        let choices = self.choices();
        let mut rng = SplitMix64::new(seed);
        let mut child = genome.to_vec();
        let p = rng.below(choices.len() as u32) as usize;
        child[p] = (child[p] + 1 + rng.below(choices[p] - 1)) % choices[p];
        Ok(child)
    }
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        let choices = self.choices();
        if genome.len() != choices.len() || genome.iter().zip(&choices).any(|(g, c)| g >= c) {
            return Err(PluginError::invalid_architecture(format!(
                "{genome:?} is not a NASNet-cells genome"
            )));
        }
        let text: Vec<String> = genome.iter().map(u32::to_string).collect();
        Ok(Arch {
            genome: genome.to_vec().into(),
            text: text.join(",").into(),
        })
    }
    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        text.split(',')
            .map(|s| {
                s.parse()
                    .map_err(|_| PluginError::invalid_architecture(format!("bad gene `{s}`")))
            })
            .collect()
    }
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        self.canonical(&request.genome)?;
        let choices = self.choices();
        let score: f64 = request
            .genome
            .iter()
            .zip(&choices)
            .enumerate()
            .map(|(p, (&g, &c))| {
                let good = if p % 2 == 0 { g + 1 == c } else { g == 0 };
                f64::from(u8::from(good))
            })
            .sum();
        Ok(EvalResult {
            metric: score / choices.len() as f64,
            test_metric: RNone,
            cost_seconds: 0.0,
            curve: RVec::new(),
            extras: RString::new(),
        })
    }
}

/// A head factory handle for tests that pass one explicitly.
pub fn with_heads(mut init: OptimizerInit, heads: HeadFactoryBox) -> OptimizerInit {
    init.heads = xnas_core::abi_stable::std_types::RSome(heads);
    init
}

/// Universal + per-task residual heads (the XferNAS head: `g_task = g_u + r_task`, residuals
/// starting at zero), built from plain heads. Transfer plugins supply such a factory; this one is
/// here so the decorated mode is tested inside this crate.
pub struct ResidualHeads {
    pub lr: f64,
    /// The plan's `phase_switch` (0, as a plain plan, unless set).
    pub phase_switch: u32,
}

struct ResidualHead {
    universal: xnas_tch::PlainHead,
    residuals: Vec<xnas_tch::PlainHead>,
    tasks: Vec<u32>,
}

impl xnas_core::HeadFactory for ResidualHeads {
    fn describe(&self) -> String {
        "test: universal + residual per task".into()
    }
    fn uses_all_tasks(&self) -> bool {
        true
    }
    fn plan(&self) -> xnas_core::TransferPlan {
        xnas_core::TransferPlan {
            phase_switch: self.phase_switch,
            ..xnas_core::TransferPlan::plain()
        }
    }
    fn make_head(&self, spec: &xnas_core::HeadSpec) -> PluginResult<xnas_core::HeadBox> {
        let config = xnas_tch::HeadConfig {
            lr: self.lr,
            weight_decay: 0.0,
            ..xnas_tch::HeadConfig::default()
        };
        let device = xnas_tch::tch::Device::Cpu;
        let universal = xnas_tch::PlainHead::new(spec, &config, device)?;
        let residual_config = xnas_tch::HeadConfig {
            zero_last_layer: true,
            ..config
        };
        let residuals = (0..spec.tasks.len().max(1))
            .map(|i| {
                let mut s = spec.clone();
                s.seed = derive_seed(spec.seed, i as u64 + 1);
                xnas_tch::PlainHead::new(&s, &residual_config, device)
            })
            .collect::<PluginResult<Vec<_>>>()?;
        Ok(xnas_core::head_box(ResidualHead {
            universal,
            residuals,
            tasks: Vec::new(),
        }))
    }
}

impl xnas_core::Head for ResidualHead {
    fn forward(
        &mut self,
        features: &xnas_core::Matrix,
        tasks: &[u32],
        train: bool,
    ) -> PluginResult<xnas_core::Matrix> {
        let mut out = self.universal.forward(features, tasks, train)?;
        let cols = out.cols as usize;
        for (k, r) in self.residuals.iter_mut().enumerate() {
            let part = r.forward(features, tasks, train)?;
            for (row, &t) in tasks.iter().enumerate() {
                if t as usize == k {
                    for c in 0..cols {
                        out.data[row * cols + c] += part.data[row * cols + c];
                    }
                }
            }
        }
        self.tasks = tasks.to_vec();
        Ok(out)
    }
    fn backward(&mut self, grad: &xnas_core::Matrix) -> PluginResult<xnas_core::Matrix> {
        let mut fg = self.universal.backward(grad)?;
        let cols = grad.cols as usize;
        for (k, r) in self.residuals.iter_mut().enumerate() {
            let mut g = grad.clone();
            for (row, &t) in self.tasks.iter().enumerate() {
                if t as usize != k {
                    g.data[row * cols..(row + 1) * cols].fill(0.0);
                }
            }
            let part = r.backward(&g)?;
            for (a, b) in fg.data.iter_mut().zip(part.data.iter()) {
                *a += b;
            }
        }
        Ok(fg)
    }
    fn step(&mut self) -> PluginResult<()> {
        self.universal.step()?;
        self.residuals.iter_mut().try_for_each(|r| r.step())
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let mut out = Vec::new();
        for s in std::iter::once(&self.universal).chain(&self.residuals) {
            let bytes = s.save_state()?;
            out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
            out.extend_from_slice(&bytes);
        }
        Ok(out)
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        let mut rest = state;
        for h in std::iter::once(&mut self.universal).chain(self.residuals.iter_mut()) {
            let bad = || PluginError::data("residual head state: truncated");
            let len = u64::from_le_bytes(rest.get(..8).ok_or_else(bad)?.try_into().unwrap());
            let chunk = rest.get(8..8 + len as usize).ok_or_else(bad)?;
            h.load_state(chunk)?;
            rest = &rest[8 + len as usize..];
        }
        Ok(())
    }
}

/// `n` random architectures per task of `tasks`, evaluated there (the host's source knowledge).
pub fn source_history(space: &SpaceBox, tasks: &[&str], n: usize, seed: u64) -> Vec<Observation> {
    let mut out = Vec::new();
    for (ti, task) in tasks.iter().enumerate() {
        for j in 0..n {
            let g = space
                .sample(derive_seed(seed, (ti * 100_000 + j) as u64))
                .unwrap();
            let o = observe(space, task, out.len() as u64, &g);
            if o.status == TrialStatus::OK {
                out.push(o);
            }
        }
    }
    out
}
