//! `nasnet`: the NASNet cell search space (Zoph et al. 2018; XferNAS's variant, Wistuba 2019), made
//! trainable: a genome decodes to a normal and a reduction cell ([`genome`]), the network is
//! built in tch ([`network`], [`ops`]) and trained on an image task read from files
//! ([`train`], `xnas_tch::data`). The validation accuracy is the metric.

pub mod checkpoint;
pub mod genome;
pub mod network;
pub mod ops;
pub mod params;
pub mod train;

use genome::{parse_text, to_text, CellSpace, Gene, CELL_NAMES};
use params::NasnetParams;
use std::path::PathBuf;
use std::sync::Arc;
use tch::Device;
use train::{TrainConfig, TrainError};
use xnas_core::abi_stable::std_types::{RNone, RSome, RString, RVec};
use xnas_core::{
    capability, derive_seed, Arch, EvalRequest, EvalResult, Meta, PluginError, PluginResult,
    PluginSet, Position, SearchSpace, SpaceDesc, SpaceInit, SplitMix64,
};
use xnas_tch::data::{load_task_cached, TaskData};
use xnas_tch::tch;

/// Random single-gene tries in `mutate` before it scans every neighbour.
const MUTATE_TRIES: usize = 64;

pub struct Nasnet {
    space: CellSpace,
    params: NasnetParams,
    device: Device,
    base_dir: PathBuf,
    data_dir: PathBuf,
}

impl Nasnet {
    /// Checks the parameters, the device and every task the experiment names, and loads those
    /// tasks' data once (so a missing or malformed file is reported before anything runs).
    pub fn new(params: NasnetParams, init: &SpaceInit) -> PluginResult<Self> {
        params.check()?;
        let space = params.cell_space()?;
        let device = xnas_tch::device::parse("device", &params.device)?;
        if params.threads > 0 {
            tch::set_num_threads(params.threads as i32);
        }
        let base_dir = PathBuf::from(init.base_dir.as_str());
        let data_dir = if init.data_dir.is_empty() {
            std::env::var_os("XNAS_DATA_DIR")
                .map(PathBuf::from)
                .unwrap_or_else(|| {
                    PathBuf::from(std::env::var_os("HOME").unwrap_or_default())
                        .join(".cache/xnas/data")
                })
        } else {
            PathBuf::from(init.data_dir.as_str())
        };
        let me = Nasnet {
            space,
            params,
            device,
            base_dir,
            data_dir,
        };
        for task in init.tasks.iter() {
            me.task_data(task.as_str())?;
        }
        Ok(me)
    }

    pub fn cell_space(&self) -> &CellSpace {
        &self.space
    }

    fn task_data(&self, task: &str) -> PluginResult<Arc<TaskData>> {
        let spec = self.params.tasks.get(task).ok_or_else(|| {
            let known: Vec<&str> = self.params.tasks.keys().map(String::as_str).collect();
            PluginError::unknown_task(format!(
                "task `{task}` has no dataset: add a `[search_space.params.tasks.{task}]` table \
                 (for example `preset = \"fashion-mnist\"`; see docs/data.md){}",
                if known.is_empty() {
                    String::new()
                } else {
                    format!("; datasets are given for {}", known.join(", "))
                }
            ))
        })?;
        load_task_cached(task, spec, &self.base_dir, &self.data_dir).map_err(PluginError::from)
    }

    fn train_config(&self, seed: u64, epochs: usize) -> TrainConfig {
        let p = &self.params;
        TrainConfig {
            cells: p.cells,
            filters: p.filters,
            epochs,
            batch_size: p.batch_size,
            learning_rate: p.learning_rate,
            learning_rate_min: p.learning_rate_min,
            momentum: p.momentum,
            weight_decay: p.weight_decay,
            drop_path: p.drop_path,
            cutout: p.cutout,
            flip: p.flip,
            crop_padding: p.crop_padding,
            auxiliary_weight: p.auxiliary_weight,
            grad_clip: p.grad_clip,
            device: self.device,
            seed,
            eval_batch_size: p.eval_batch_size,
            checkpoint_dir: p.checkpoint_dir.as_ref().map(|d| self.base_dir.join(d)),
        }
    }

    fn decode_checked(&self, genome: &[u32]) -> PluginResult<genome::Genotype> {
        self.space
            .decode(genome)
            .map_err(PluginError::invalid_architecture)
    }
}

impl SearchSpace for Nasnet {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let ops: RVec<RString> = self
            .space
            .op_names()
            .into_iter()
            .map(RString::from)
            .collect();
        let choices = self.space.choices();
        let positions = self
            .space
            .layout()
            .into_iter()
            .zip(choices)
            .map(|((cell, b, gene, branch), n)| {
                let (what, group, labels) = match gene {
                    Gene::Input => (
                        format!("in{}", branch + 1),
                        "node",
                        (0..n as usize)
                            .map(|i| genome::state_name(i).into())
                            .collect(),
                    ),
                    Gene::Op => (format!("op{}", branch + 1), "op", ops.clone()),
                    Gene::Combine => (
                        "combine".to_string(),
                        "combine",
                        RVec::from(vec![RString::from("add"), RString::from("concat")]),
                    ),
                };
                Position {
                    name: format!("{}.b{b}.{what}", CELL_NAMES[cell]).into(),
                    choices: n,
                    group: group.into(),
                    labels,
                }
            })
            .collect();
        Ok(SpaceDesc {
            positions,
            tasks: self
                .params
                .tasks
                .keys()
                .map(|t| RString::from(t.as_str()))
                .collect(),
            size: 0,
        })
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut rng = SplitMix64::new(seed);
        let g: Vec<u32> = self.space.choices().iter().map(|&n| rng.below(n)).collect();
        Ok(self.space.canonicalise(&g))
    }

    /// One gene set to another of its values, re-drawn until the canonical form differs from
    /// the parent's (a swap of identical branches is no change).
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.decode_checked(genome)?;
        let parent = self.space.canonicalise(genome);
        let choices = self.space.choices();
        let mut rng = SplitMix64::new(seed);
        for _ in 0..MUTATE_TRIES {
            let pos = rng.below(genome.len() as u32) as usize;
            if choices[pos] < 2 {
                continue;
            }
            let mut child = genome.to_vec();
            let v = rng.below(choices[pos] - 1);
            child[pos] = if v >= genome[pos] { v + 1 } else { v };
            let child = self.space.canonicalise(&child);
            if child != parent {
                return Ok(child);
            }
        }
        Err(PluginError::invalid_architecture(format!(
            "no single-gene change of `{}` found in {MUTATE_TRIES} tries",
            to_text(&self.decode_checked(genome)?)
        )))
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        let canon = self.space.canonicalise(genome);
        let g = self.decode_checked(&canon)?;
        Ok(Arch {
            genome: canon.into(),
            text: to_text(&g).into(),
        })
    }

    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        let g = parse_text(text).map_err(PluginError::invalid_architecture)?;
        let genome = self
            .space
            .encode(&g)
            .map_err(PluginError::invalid_architecture)?;
        Ok(self.space.canonicalise(&genome))
    }

    fn symmetric_variants(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.decode_checked(genome)?;
        Ok(self.space.swaps(genome))
    }

    /// Trains the decoded network on the task's training split for `epochs` (or the request's
    /// budget, read as epochs) and returns the validation accuracy. A diverging trial fails
    /// with the epoch and step; the search goes on.
    fn evaluate(&self, req: &EvalRequest) -> PluginResult<EvalResult> {
        let genotype = self.decode_checked(&req.genome)?;
        let data = self.task_data(req.task.as_str())?;
        let epochs = match req.budget {
            RSome(b) if b.is_finite() && b >= 1.0 => b.round() as usize,
            RSome(b) => {
                return Err(PluginError::evaluation(format!(
                    "budget {b}: nasnet reads a budget as epochs, at least 1"
                )))
            }
            RNone => self.params.epochs,
        };
        let cfg = self.train_config(derive_seed(req.seed, 0x6e61_736e_6574), epochs);
        let trial = req.trial_id;
        let task = req.task.to_string();
        let out = train::train(&genotype, &data, &cfg, &mut |epoch, acc| {
            tracing::info!(
                "trial {trial} on {task}: epoch {}/{epochs} validation accuracy {acc:.4}",
                epoch + 1
            );
        })
        .map_err(|e| match e {
            TrainError::Diverged { .. } => PluginError::evaluation(e.to_string()),
            TrainError::Config(m) => PluginError::invalid_architecture(m),
            TrainError::Checkpoint(m) => PluginError::invalid_params(format!("checkpoint {m}")),
            other => PluginError::evaluation(other.to_string()),
        })?;
        let extras = serde_json::json!({
            "parameters": out.parameters,
            "flops": out.flops,
            "epochs": epochs,
            "train_seconds": out.seconds,
            "train_loss": out.train_loss,
            "device": xnas_tch::device::name(self.device),
        });
        Ok(EvalResult {
            metric: out.valid_accuracy,
            test_metric: out.test_accuracy.into(),
            cost_seconds: out.seconds,
            curve: out.curve.into(),
            extras: extras.to_string().into(),
        })
    }
}

/// Registers `nasnet` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.space(
        Meta {
            name: "nasnet",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "NASNet cell space (normal + reduction cells; XferNAS/NASNet/ENAS op sets), \
                          trained in tch on image data",
            capabilities: &[
                capability::TRAINABLE,
                capability::TEST_METRIC,
                capability::SYMMETRIES,
            ],
        },
        Nasnet::new,
    );
}

xnas_core::builtin_plugins!(register);
