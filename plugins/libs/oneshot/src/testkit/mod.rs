//! A toy search space with a pure-Rust supernet, for one-shot optimizers' tests (feature
//! `testkit`). Its supernet is a linear model over the mix (see [`ToySupernet`]) that honours the
//! protocol — recipe, iterators, schedule, second-order step, dropout, state — and logs every
//! call, so a test can check what an optimizer asked and in which order.

pub mod layouts;
mod supernet;

pub use supernet::ToySupernet;

use crate::derive::{edges_kept, node_groups};
use std::sync::{Arc, Mutex};
use xnas_core::abi_stable::std_types::{ROption, RVec};
use xnas_core::{
    space_box, supernet_box, Arch, Artifact, EpochReport, EvalRequest, EvalResult, OneShot,
    OneShotInit, PluginError, PluginResult, Position, SearchSpace, SourceArtifacts, SpaceDesc,
    SplitMix64, SupernetBox, SupernetLayout, SupernetSpec,
};

/// Parses `text` as checked parameters `P`; the error's message on failure.
pub fn parse_checked<P>(text: &str) -> Result<P, String>
where
    P: serde::de::DeserializeOwned + xnas_core::CheckParams,
{
    xnas_core::parse_params::<xnas_core::Checked<P>>(text)
        .map(|c| c.0)
        .map_err(|e| e.message().to_string())
}

/// Creates the one-shot optimizer `name` of a library's `register` function on `space`,
/// through its registration and ABI object, as the host does.
pub fn create(
    register: fn(&mut xnas_core::PluginSet),
    name: &str,
    space: &ToySpace,
    params: &str,
    seed: u64,
) -> PluginResult<xnas_core::OneShotBox> {
    create_with_sources(register, name, space, params, seed, Vec::new())
}

/// [`create`] with the artifacts of earlier runs (warm starts, meta-learned networks).
pub fn create_with_sources(
    register: fn(&mut xnas_core::PluginSet),
    name: &str,
    space: &ToySpace,
    params: &str,
    seed: u64,
    sources: Vec<SourceArtifacts>,
) -> PluginResult<xnas_core::OneShotBox> {
    let init = OneShotInit {
        source_artifacts: RVec::from(sources),
        ..init(space, seed)
    };
    xnas_core::PluginSet::from_register(register)
        .create_one_shot(name, params, &init)
        .into_result()
}

/// The data of the artifact `name`; panics naming it when there is none.
pub fn artifact<'a>(artifacts: &'a [Artifact], name: &str) -> &'a [u8] {
    artifacts
        .iter()
        .find(|a| a.name.as_str() == name)
        .unwrap_or_else(|| panic!("no artifact {name}"))
        .data
        .as_slice()
}

/// What a one-shot optimizer is created with, searching the toy task on `space`.
pub fn init(space: &ToySpace, seed: u64) -> OneShotInit {
    OneShotInit {
        space: space_box(space.clone()),
        target: "toy".into(),
        sources: RVec::new(),
        source_artifacts: RVec::new(),
        seed,
        base_dir: ".".into(),
    }
}

/// Runs `optimizer` in calls of `max_steps` until it finishes; the epoch reports in order.
pub fn run_to_end<O: OneShot + ?Sized>(
    optimizer: &mut O,
    max_steps: u32,
) -> PluginResult<Vec<EpochReport>> {
    let mut reports = Vec::new();
    loop {
        let p = optimizer.run(max_steps)?;
        let ended = p.epoch_done.is_some();
        if let Some(r) = p.epoch_done.into_option() {
            reports.push(r);
        }
        if p.finished {
            return Ok(reports);
        }
        if p.steps == 0 && !ended {
            return Err(PluginError::other(
                "run made no progress and did not finish",
            ));
        }
    }
}

/// A search stopped and resumed by [`stop_and_resume`].
pub struct Resumed<O> {
    /// The epoch reports of both parts, in order.
    pub reports: Vec<EpochReport>,
    /// How many of them came before the stop.
    pub before_stop: usize,
    /// The resumed optimizer, at the end of its search (to derive from).
    pub optimizer: O,
}

/// A search stopped and resumed: `calls` calls of `max_steps` on a fresh optimizer from `make`,
/// its state saved and loaded into another fresh one, which runs to the end. The loaded state
/// must save back to the same bytes (an error otherwise): nothing is lost or added by loading.
pub fn stop_and_resume<O: OneShot>(
    make: impl Fn() -> O,
    calls: usize,
    max_steps: u32,
) -> PluginResult<Resumed<O>> {
    let mut first = make();
    let mut reports = Vec::new();
    for _ in 0..calls {
        reports.extend(first.run(max_steps)?.epoch_done.into_option());
    }
    let before_stop = reports.len();
    let blob = first.save_state()?;
    let mut optimizer = make();
    optimizer.load_state(&blob)?;
    if optimizer.save_state()? != blob {
        return Err(PluginError::other(format!(
            "the state saved after {calls} calls, loaded into a fresh optimizer, saves to other \
             bytes"
        )));
    }
    reports.extend(run_to_end(&mut optimizer, max_steps)?);
    Ok(Resumed {
        reports,
        before_stop,
        optimizer,
    })
}

/// Which cell the toy space searches.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ToyLayout {
    /// The DARTS cell with the reference op order.
    Darts,
    /// The DARTS cell with its ops in another order (skip_connect at 6, none at 2).
    DartsReordered,
    /// The NAS-Bench-201 cell.
    Bench201,
    /// A space that offers no supernet.
    NoSupernet,
}

/// The reordered op list of [`ToyLayout::DartsReordered`].
pub const REORDERED_OPS: [&str; 8] = [
    "sep_conv_5x5",
    "max_pool_3x3",
    "none",
    "dil_conv_3x3",
    "sep_conv_3x3",
    "avg_pool_3x3",
    "skip_connect",
    "dil_conv_5x5",
];

/// A call a toy supernet received.
#[derive(Clone, Debug, PartialEq)]
pub enum Event {
    Built(SupernetSpec),
    Train(Vec<f32>),
    ArchGrad(Vec<f32>),
    Unrolled(Vec<f32>),
    Evaluate(Vec<f32>),
    EndEpoch(u32),
    SkipDropout(f64),
    LoadState,
}

/// The toy space. Genome: per layout edge, the chosen op + 1, or 0 where the edge is dropped.
#[derive(Clone)]
pub struct ToySpace {
    kind: ToyLayout,
    layout: SupernetLayout,
    /// Training images of the toy task (split by the recipe's `train_portion`).
    pub examples: u32,
    events: Arc<Mutex<Vec<Event>>>,
}

impl ToySpace {
    pub fn new(kind: ToyLayout) -> Self {
        let layout = match kind {
            ToyLayout::Darts | ToyLayout::NoSupernet => layouts::darts_layout(&layouts::DARTS_OPS),
            ToyLayout::DartsReordered => layouts::darts_layout(&REORDERED_OPS),
            ToyLayout::Bench201 => layouts::bench201_layout(),
        };
        ToySpace {
            kind,
            layout,
            examples: 96,
            events: Arc::default(),
        }
    }

    pub fn layout(&self) -> SupernetLayout {
        self.layout.clone()
    }

    /// Every call its supernets received so far.
    pub fn events(&self) -> Vec<Event> {
        self.events.lock().expect("event log").clone()
    }

    pub fn clear_events(&self) {
        self.events.lock().expect("event log").clear();
    }

    /// The selection of a genome (the inverse of `supernet_genome`).
    pub fn selection(&self, genome: &[u32]) -> Vec<i32> {
        genome.iter().map(|&g| g as i32 - 1).collect()
    }

    fn op_name(&self, op: u32) -> &str {
        self.layout.ops[op as usize].as_str()
    }

    fn check(&self, genome: &[u32]) -> PluginResult<()> {
        let bad = |m: String| Err(PluginError::invalid_architecture(m));
        if genome.len() != self.layout.edges.len() {
            return bad(format!(
                "{} genes for {} edges",
                genome.len(),
                self.layout.edges.len()
            ));
        }
        let ops = self.layout.ops.len() as u32;
        if let Some(g) = genome.iter().find(|&&g| g > ops) {
            return bad(format!("gene {g} is no op"));
        }
        let zero = self.layout.zero_op.into_option();
        for group in node_groups(&self.layout) {
            let kept: Vec<usize> = group.iter().copied().filter(|&e| genome[e] > 0).collect();
            if kept.len() != edges_kept(&self.layout, group.len()) {
                return bad(format!("a node keeps {} edges", kept.len()));
            }
            if !self.layout.zero_op_selectable && kept.iter().any(|&e| Some(genome[e] - 1) == zero)
            {
                return bad("`none` on a kept edge".into());
            }
        }
        Ok(())
    }

    fn text(&self, genome: &[u32]) -> String {
        let mut cells: Vec<String> = Vec::new();
        let mut current = String::new();
        let mut nodes: Vec<String> = Vec::new();
        for group in node_groups(&self.layout) {
            let edge = &self.layout.edges[group[0]];
            if edge.cell.as_str() != current {
                if !nodes.is_empty() {
                    cells.push(format!("{current}: {}", nodes.join("; ")));
                }
                current = edge.cell.to_string();
                nodes.clear();
            }
            let terms: Vec<String> = group
                .iter()
                .filter(|&&e| genome[e] > 0)
                .map(|&e| {
                    let input = self.layout.edges[e].input;
                    format!("{}(s{input})", self.op_name(genome[e] - 1))
                })
                .collect();
            nodes.push(format!("n{} = {}", edge.node, terms.join(" + ")));
        }
        cells.push(format!("{current}: {}", nodes.join("; ")));
        cells.join(" | ")
    }
}

fn no_supernet() -> PluginError {
    PluginError::unsupported(
        "this search space offers no supernet (it does not declare `supernet`)",
    )
}

impl SearchSpace for ToySpace {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let positions = self
            .layout
            .edges
            .iter()
            .map(|e| Position {
                name: format!("{}.n{}.s{}", e.cell, e.node, e.input).into(),
                choices: self.layout.ops.len() as u32 + 1,
                group: "op".into(),
                labels: RVec::new(),
            })
            .collect();
        Ok(SpaceDesc {
            positions,
            tasks: RVec::new(),
            size: 0,
        })
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut r = SplitMix64::new(seed);
        let mut genome = vec![0; self.layout.edges.len()];
        let zero = self.layout.zero_op.into_option();
        for group in node_groups(&self.layout) {
            let mut free = group.clone();
            for _ in 0..edges_kept(&self.layout, group.len()) {
                let e = free.remove(r.below(free.len() as u32) as usize);
                let op = loop {
                    let op = r.below(self.layout.ops.len() as u32);
                    if self.layout.zero_op_selectable || Some(op) != zero {
                        break op;
                    }
                };
                genome[e] = op + 1;
            }
        }
        Ok(genome)
    }

    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.check(genome)?;
        self.sample(seed)
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        self.check(genome)?;
        Ok(Arch {
            genome: genome.to_vec().into(),
            text: self.text(genome).into(),
        })
    }

    fn parse(&self, _text: &str) -> PluginResult<Vec<u32>> {
        Err(PluginError::unsupported("the toy space has no text parser"))
    }

    /// Metric: the share of kept edges with a convolution, less 0.05 per skip connection.
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        self.check(&request.genome)?;
        let kept: Vec<&str> = request
            .genome
            .iter()
            .filter(|&&g| g > 0)
            .map(|&g| self.op_name(g - 1))
            .collect();
        let convs = kept.iter().filter(|o| o.contains("conv")).count() as f64;
        let skips = kept.iter().filter(|o| **o == "skip_connect").count() as f64;
        Ok(EvalResult {
            metric: convs / kept.len() as f64 - 0.05 * skips,
            test_metric: ROption::RNone,
            cost_seconds: 0.0,
            curve: RVec::new(),
            extras: "".into(),
        })
    }

    fn supernet_layout(&self) -> PluginResult<SupernetLayout> {
        match self.kind {
            ToyLayout::NoSupernet => Err(no_supernet()),
            _ => Ok(self.layout.clone()),
        }
    }

    fn build_supernet(&self, spec: &SupernetSpec) -> PluginResult<SupernetBox> {
        if self.kind == ToyLayout::NoSupernet {
            return Err(no_supernet());
        }
        let net = ToySupernet::new(&self.layout, spec, self.examples, self.events.clone())?;
        Ok(supernet_box(net))
    }

    fn supernet_genome(&self, selection: &[i32]) -> PluginResult<Vec<u32>> {
        if self.kind == ToyLayout::NoSupernet {
            return Err(no_supernet());
        }
        let genome: Vec<u32> = selection.iter().map(|&s| (s + 1).max(0) as u32).collect();
        self.check(&genome)?;
        Ok(genome)
    }
}
