//! `nasnet`: the NASNet cell search space (Zoph et al. 2018; XferNAS's variant, Wistuba 2019), made
//! trainable: a genome decodes to a normal and a reduction cell ([`genome`]), the network is
//! built in tch ([`network`], [`ops`]) and trained on an image task read from files
//! ([`train`], `xnas_tch::data`). The validation accuracy is the metric. Configured as DARTS's
//! cell space, it offers DARTS's weight-sharing supernet to one-shot optimizers ([`supernet`]).

pub mod genome;
pub mod network;
pub mod ops;
pub mod params;
pub mod supernet;
pub mod train;

use genome::{parse_text, to_text, CellSpace, Gene, CELL_NAMES};
use params::NasnetParams;
use std::sync::Arc;
use tch::{Device, Kind};
use train::TrainConfig;
use xnas_core::abi_stable::std_types::{RString, RVec};
use xnas_core::{
    capability, derive_seed, Arch, EvalRequest, EvalResult, Meta, PluginError, PluginResult,
    PluginSet, Position, SearchSpace, SpaceDesc, SpaceInit, SplitMix64, SupernetBox,
    SupernetLayout, SupernetSpec,
};
use xnas_tch::data::{TaskData, TaskDatasets};
use xnas_tch::tch;

/// Random single-gene tries in `mutate` before it scans every neighbour.
const MUTATE_TRIES: usize = 64;

pub struct Nasnet {
    space: CellSpace,
    params: NasnetParams,
    device: Device,
    datasets: TaskDatasets,
    /// The experiment file's folder: `checkpoint_dir` is relative to it.
    base_dir: std::path::PathBuf,
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
        let datasets = TaskDatasets::for_space(params.tasks.clone(), init)?;
        Ok(Nasnet {
            space,
            params,
            device,
            datasets,
            base_dir: init.base_dir.as_str().into(),
        })
    }

    pub fn cell_space(&self) -> &CellSpace {
        &self.space
    }

    fn task_data(&self, task: &str) -> PluginResult<Arc<TaskData>> {
        self.datasets.load(task)
    }

    fn train_config(&self, seed: u64, epochs: usize) -> TrainConfig {
        TrainConfig {
            checkpoint_dir: self
                .params
                .checkpoint_dir
                .as_ref()
                .map(|d| self.base_dir.join(d)),
            ..self.params.train_config(self.device, seed, epochs)
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

    /// The canonical genomes of the single-gene changes of `genome` that are another
    /// architecture, each once, by gene then value: what `mutate` answers. A canonical genome
    /// may differ from `genome` in several genes (a block's two inputs are ordered).
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.decode_checked(genome)?;
        let parent = self.space.canonicalise(genome);
        let choices = self.space.choices();
        let mut seen = std::collections::HashSet::new();
        let mut out = Vec::new();
        let mut child = genome.to_vec();
        for pos in 0..genome.len() {
            for v in (0..choices[pos]).filter(|&v| v != genome[pos]) {
                child[pos] = v;
                let canon = self.space.canonicalise(&child);
                if canon != parent && seen.insert(canon.clone()) {
                    out.push(canon);
                }
            }
            child[pos] = genome[pos];
        }
        Ok(out)
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        // Checked before canonicalising, which assumes whole blocks.
        self.decode_checked(genome)?;
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
        let epochs = xnas_tch::train::epochs_of("nasnet", req.budget, self.params.epochs)?;
        let cfg = self.train_config(derive_seed(req.seed, 0x6e61_736e_6574), epochs);
        let trial = req.trial_id;
        let task = req.task.to_string();
        let out = train::train(&genotype, &data, &cfg, &mut |epoch, acc| {
            tracing::info!(
                "trial {trial} on {task}: epoch {}/{epochs} validation accuracy {acc:.4}",
                epoch + 1
            );
        })?;
        Ok(xnas_tch::train::eval_result(out, epochs, self.device))
    }

    /// The DARTS cell's 28 edges (14 normal, then 14 reduce) and 8 primitives; only when the
    /// space is configured as the DARTS cell space ([`supernet`]).
    fn supernet_layout(&self) -> PluginResult<SupernetLayout> {
        self.check_darts_space()?;
        Ok(supernet::layout())
    }

    fn build_supernet(&self, spec: &SupernetSpec) -> PluginResult<SupernetBox> {
        Ok(xnas_core::supernet_box(
            self.darts_supernet(spec, Kind::Float)?,
        ))
    }

    fn supernet_genome(&self, selection: &[i32]) -> PluginResult<Vec<u32>> {
        self.check_darts_space()?;
        let genome = supernet::genome(selection)?;
        Ok(self.space.canonicalise(&genome))
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
                capability::SUPERNET,
            ],
        },
        Nasnet::new,
    );
}

xnas_core::builtin_plugins!(register);
