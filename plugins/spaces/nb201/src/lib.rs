//! `nb201`: the NAS-Bench-201 cell space (Dong & Yang, *NAS-Bench-201: Extending the Scope of
//! Reproducible Neural Architecture Search*, ICLR 2020), trained in tch on the image tasks
//! `xnas_tch::data` reads ([`cell`], [`network`]; training through `xnas_tch::train`). The
//! validation accuracy is the metric.
//!
//! Canonical form: **every genome is its own canonical form**. The paper counts 15,625 cells and
//! trains each; some compute the same function (isomorphic cells, or edges whose `none` cuts
//! them off), and merging those would need a choice of representative the paper does not make.
//! A cell whose output node is cut off from its input (`Cell::output_connected` is false) is a
//! valid architecture: its network's output does not depend on the image, and it trains to
//! chance, as in the paper's table.

pub mod cell;
pub mod network;
pub mod params;
pub mod supernet;

use cell::{Cell, Op, OpList, EDGES, EDGE_ENDS};
use network::{flops, Network, NetworkConfig};
use params::Nb201Params;
use std::sync::Arc;
use xnas_core::abi_stable::std_types::{RString, RVec};
use xnas_core::{
    capability, derive_seed, supernet_box, Arch, EvalRequest, EvalResult, Meta, PluginError,
    PluginResult, PluginSet, Position, SearchSpace, SpaceDesc, SpaceInit, SplitMix64, SupernetBox,
    SupernetEdge, SupernetLayout, SupernetSpec,
};
use xnas_tch::data::{TaskData, TaskDatasets};
use xnas_tch::tch::{self, Device, Kind};
use xnas_tch::train::{checkpoint::Checkpoint, Recipe};

/// The seed tag of an evaluation's training ("nb201" in ASCII).
const EVAL_SEED_TAG: u64 = 0x006e_6232_3031;

pub struct Nb201 {
    ops: OpList,
    params: Nb201Params,
    device: Device,
    datasets: TaskDatasets,
    /// The experiment file's folder: `checkpoint_dir` is relative to it.
    base_dir: std::path::PathBuf,
}

impl Nb201 {
    /// Checks the parameters, the device and every task the experiment names, and loads those
    /// tasks' data once (so a missing or malformed file is reported before anything runs).
    pub fn new(params: Nb201Params, init: &SpaceInit) -> PluginResult<Self> {
        params.check()?;
        let ops = params.op_list()?;
        let device = xnas_tch::device::parse("device", &params.device)?;
        if params.threads > 0 {
            tch::set_num_threads(params.threads as i32);
        }
        let datasets = TaskDatasets::for_space(params.tasks.clone(), init)?;
        Ok(Nb201 {
            ops,
            params,
            device,
            datasets,
            base_dir: init.base_dir.as_str().into(),
        })
    }

    pub fn ops(&self) -> &OpList {
        &self.ops
    }

    pub fn params(&self) -> &Nb201Params {
        &self.params
    }

    pub fn device(&self) -> Device {
        self.device
    }

    pub fn task_data(&self, task: &str) -> PluginResult<Arc<TaskData>> {
        self.datasets.load(task)
    }

    /// The cell of a genome, or the reason it is none.
    pub fn decode(&self, genome: &[u32]) -> PluginResult<Cell> {
        self.ops
            .decode(genome)
            .map_err(PluginError::invalid_architecture)
    }

    /// The evaluation recipe for `epochs` under `seed`.
    pub fn recipe(&self, seed: u64, epochs: usize) -> Recipe {
        self.params.recipe(self.device, seed, epochs)
    }

    /// The evaluation network's shape on a task of `shape = [C, H, W]` and `classes`.
    pub fn network_config(&self, shape: [usize; 3], classes: usize) -> NetworkConfig {
        NetworkConfig {
            cells: self.params.cells,
            channels: self.params.channels,
            in_channels: shape[0],
            classes,
            image_size: [shape[1], shape[2]],
        }
    }
}

impl SearchSpace for Nb201 {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let labels: RVec<RString> = self
            .ops
            .ops()
            .iter()
            .map(|op| RString::from(op.name()))
            .collect();
        let positions = EDGE_ENDS
            .iter()
            .map(|(to, from)| Position {
                name: format!("{to}<-{from}").into(),
                choices: self.ops.len() as u32,
                group: "op".into(),
                labels: labels.clone(),
            })
            .collect();
        Ok(SpaceDesc {
            positions,
            tasks: self.datasets.tasks().map(RString::from).collect(),
            size: self.ops.space_size(),
        })
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut rng = SplitMix64::new(seed);
        let n = self.ops.len() as u32;
        Ok((0..EDGES).map(|_| rng.below(n)).collect())
    }

    /// One edge, drawn uniformly, gets another of the ops, drawn uniformly.
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.decode(genome)?;
        let mut rng = SplitMix64::new(seed);
        let mut child = genome.to_vec();
        let e = rng.below(EDGES as u32) as usize;
        child[e] = rng.below_except(self.ops.len() as u32, genome[e]);
        Ok(child)
    }

    /// Every other op on one edge (every cell is valid), edge by edge: what `mutate` draws from.
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.decode(genome)?;
        let ops = self.ops.len() as u32;
        let mut out = Vec::with_capacity(EDGES * (ops as usize - 1));
        for e in 0..EDGES {
            for op in (0..ops).filter(|&op| op != genome[e]) {
                let mut child = genome.to_vec();
                child[e] = op;
                out.push(child);
            }
        }
        Ok(out)
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        let cell = self.decode(genome)?;
        Ok(Arch {
            genome: genome.to_vec().into(),
            text: cell.to_text().into(),
        })
    }

    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        let cell = Cell::parse(text).map_err(PluginError::invalid_architecture)?;
        self.ops
            .encode(&cell)
            .map_err(|m| PluginError::invalid_architecture(format!("`{}`: {m}", text.trim())))
    }

    /// The 6 edges of the one searched cell kind, `"cell"`: edge `j → i` feeds intermediate
    /// node `i − 1` and reads state `j` (0 the cell's input, 1 and 2 the first two nodes).
    /// Every edge is kept in a derived cell and may be `none`.
    fn supernet_layout(&self) -> PluginResult<SupernetLayout> {
        Ok(SupernetLayout {
            edges: EDGE_ENDS
                .iter()
                .map(|&(to, from)| SupernetEdge {
                    cell: "cell".into(),
                    node: (to - 1) as u32,
                    input: from as u32,
                })
                .collect(),
            ops: self.ops.ops().iter().map(|op| op.name().into()).collect(),
            zero_op: self.ops.index(Op::None).into(),
            skip_op: self.ops.index(Op::Skip).into(),
            edges_per_node: 0,
            zero_op_selectable: true,
            skip_cell: "cell".into(),
        })
    }

    fn build_supernet(&self, spec: &SupernetSpec) -> PluginResult<SupernetBox> {
        Ok(supernet_box(self.supernet_engine(spec, Kind::Float)?))
    }

    /// `selection[e]`: the op index of layout edge `e`; a dropped edge (−1) is `none`.
    fn supernet_genome(&self, selection: &[i32]) -> PluginResult<Vec<u32>> {
        if selection.len() != EDGES {
            return Err(PluginError::invalid_architecture(format!(
                "a selection names one op per edge ({EDGES}), not {}: {selection:?}",
                selection.len()
            )));
        }
        let genome = selection
            .iter()
            .zip(EDGE_ENDS)
            .map(|(&k, (to, from))| match (k, self.ops.index(Op::None)) {
                (-1, Some(none)) => Ok(none),
                (k, _) if k >= 0 && (k as usize) < self.ops.len() => Ok(k as u32),
                (k, none) => Err(PluginError::invalid_architecture(format!(
                    "edge {to}<-{from}: selection {k} is not an op index (0..{}){}",
                    self.ops.len(),
                    if k == -1 && none.is_none() {
                        "; a dropped edge is `none`, which this space's ops lack"
                    } else {
                        ""
                    }
                ))),
            })
            .collect::<PluginResult<Vec<u32>>>()?;
        self.decode(&genome)?;
        Ok(genome)
    }

    /// Trains the cell's network on the task's training split for `epochs` (or the request's
    /// budget, read as epochs) and returns the validation accuracy. A diverging trial fails
    /// with the epoch and step; the search goes on.
    fn evaluate(&self, req: &EvalRequest) -> PluginResult<EvalResult> {
        let cell = self.decode(&req.genome)?;
        let data = self.task_data(req.task.as_str())?;
        let epochs = xnas_tch::train::epochs_of("nb201", req.budget, self.params.epochs)?;
        let net_cfg = self.network_config(data.shape, data.classes);
        let recipe = Recipe {
            checkpoint: (self.params.checkpoint_dir.as_ref())
                .map(|d| Checkpoint::of(self.base_dir.join(d), &cell, &net_cfg)),
            ..self.recipe(derive_seed(req.seed, EVAL_SEED_TAG), epochs)
        };
        let (trial, task) = (req.trial_id, req.task.to_string());
        let mut out = xnas_tch::train::train(
            &data,
            &recipe,
            |p| Network::new(&cell, &net_cfg, p),
            &mut |epoch, acc| {
                tracing::info!(
                    "trial {trial} on {task}: epoch {}/{epochs} validation accuracy {acc:.4}",
                    epoch + 1
                );
            },
        )?;
        out.flops = flops(&cell, &net_cfg);
        Ok(xnas_tch::train::eval_result(out, epochs, self.device))
    }
}

/// Registers `nb201` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.space(
        Meta {
            name: "nb201",
            version: env!("CARGO_PKG_VERSION"),
            description: "NAS-Bench-201 cell space (4 nodes, 6 edges, 5 ops: 15,625 cells), \
                          trained in tch on image data",
            capabilities: &[
                capability::TRAINABLE,
                capability::TEST_METRIC,
                capability::SUPERNET,
            ],
        },
        Nb201::new,
    );
}

xnas_core::builtin_plugins!(register);
