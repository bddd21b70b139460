//! DARTS's cell supernet (Liu et al. 2019, quark0/darts): what the `nasnet` space offers
//! one-shot optimizers when it is configured as the DARTS cell space (`ops = "darts"`,
//! `blocks = 4`, `combine = "add"`, `concat = "all"`), so that a derived cell is an ordinary
//! genome of the space.
//!
//! * Layout: 28 edges, the 14 of the normal cell then the 14 of the reduction cell; edge
//!   `offset(i) + j` (offsets 0, 2, 5, 9) feeds node `i` from state `j` (0 and 1 the cell's
//!   inputs, 2.. earlier nodes). Ops: DARTS's 8 primitives in its order, `none` = 0,
//!   `skip_connect` = 3. A derived cell keeps two edges per node and never chooses `none`.
//! * The network ([`network`], [`mixed`]): every batch norm of the cells non-affine, pools
//!   followed by one, the strided skip and `s0` after a reduction a factorized reduction;
//!   defaults C = 16, 8 cells. `xnas_tch::supernet::SupernetEngine` trains it.
//! * A selection (an op per edge, −1 where dropped) becomes a genome: block `i` is node `i`
//!   with its two kept edges as branches, DARTS's `dil_conv_k` as `dil_sep_conv_k` and
//!   `skip_connect` as `identity`.

pub mod mixed;
pub mod network;

use crate::genome::{op_set, Combine, CombineMode};
use crate::Nasnet;
use mixed::{space_op, NONE, PRIMITIVES, SKIP};
use network::DartsSearchNet;
use xnas_core::abi_stable::std_types::{RSome, RString, RVec};
use xnas_core::{PluginError, PluginResult, SupernetEdge, SupernetLayout, SupernetSpec};
use xnas_tch::supernet::{EngineConfig, SupernetEngine};
use xnas_tch::tch::Kind;

/// Intermediate nodes of a DARTS cell.
pub const NODES: usize = 4;
/// Edges of one cell: 2 + 3 + 4 + 5.
pub const CELL_EDGES: usize = 14;
/// Default initial channels and cells of the search network (DARTS).
pub const DEFAULT_CHANNELS: usize = 16;
pub const DEFAULT_CELLS: usize = 8;
/// The owner of a saved supernet state.
pub const STATE_OWNER: &str = "nasnet.darts-supernet";

/// `(node, input)` of each edge of a cell, in edge order.
pub fn cell_edges() -> Vec<(usize, usize)> {
    (0..NODES)
        .flat_map(|node| (0..node + 2).map(move |input| (node, input)))
        .collect()
}

/// The DARTS cell's layout.
pub fn layout() -> SupernetLayout {
    let edges = ["normal", "reduce"]
        .into_iter()
        .flat_map(|cell| {
            cell_edges()
                .into_iter()
                .map(move |(node, input)| SupernetEdge {
                    cell: cell.into(),
                    node: node as u32,
                    input: input as u32,
                })
        })
        .collect();
    SupernetLayout {
        edges,
        ops: PRIMITIVES.iter().map(|&p| RString::from(p)).collect(),
        zero_op: RSome(NONE),
        skip_op: RSome(SKIP),
        edges_per_node: 2,
        zero_op_selectable: false,
        skip_cell: "normal".into(),
    }
}

/// The genome (not yet canonical) of a selection: `selection[e]` is the primitive chosen on
/// layout edge `e`, or −1 where the edge is dropped.
pub fn genome(selection: &[i32]) -> PluginResult<Vec<u32>> {
    let bad = |m: String| Err(PluginError::invalid_architecture(m));
    if selection.len() != 2 * CELL_EDGES {
        return bad(format!(
            "a selection has one entry per layout edge ({}), got {}",
            2 * CELL_EDGES,
            selection.len()
        ));
    }
    let edges = cell_edges();
    let mut genome = Vec::with_capacity(2 * NODES * 4);
    for (c, cell) in ["normal", "reduce"].into_iter().enumerate() {
        let sel = &selection[c * CELL_EDGES..(c + 1) * CELL_EDGES];
        for node in 0..NODES {
            let mut kept = Vec::new();
            for (e, &(n, input)) in edges.iter().enumerate().filter(|(_, (n, _))| *n == node) {
                debug_assert_eq!(n, node);
                match sel[e] {
                    -1 => {}
                    op if op == NONE as i32 => {
                        return bad(format!(
                            "{cell} edge {e} (node {node} from state {input}) chooses `none`, \
                             which a DARTS cell never keeps; drop the edge (−1) instead"
                        ))
                    }
                    op => match u32::try_from(op).ok().and_then(space_op) {
                        Some(o) => kept.push((input as u32, o)),
                        None => {
                            return bad(format!(
                                "{cell} edge {e}: unknown op index {op} (the layout's ops are \
                                 0..{}, or −1 to drop the edge)",
                                PRIMITIVES.len() - 1
                            ))
                        }
                    },
                }
            }
            if kept.len() != 2 {
                return bad(format!(
                    "{cell} node {node} keeps {} edges; a DARTS cell node keeps exactly two",
                    kept.len()
                ));
            }
            let darts = op_set("darts").expect("the darts op set");
            for (input, op) in kept {
                let index = darts.iter().position(|&o| o == op).expect("a darts op");
                genome.extend([input, index as u32]);
            }
        }
    }
    Ok(genome)
}

impl Nasnet {
    /// Why this space is not the DARTS cell space, in one sentence, if it is not.
    pub fn check_darts_space(&self) -> PluginResult<()> {
        let mut set = Vec::new();
        if Some(&self.space.ops) != op_set("darts").as_ref() {
            set.push("`ops = \"darts\"`");
        }
        if self.space.blocks != NODES {
            set.push("`blocks = 4`");
        }
        if self.space.combine != CombineMode::Fixed(Combine::Add) {
            set.push("`combine = \"add\"`");
        }
        if self.params.concat != "all" {
            set.push("`concat = \"all\"`");
        }
        if set.is_empty() {
            return Ok(());
        }
        Err(PluginError::unsupported(format!(
            "the nasnet space offers its DARTS cell supernet only as the DARTS cell space: set {} \
             in [search_space.params]",
            set.join(", ")
        )))
    }

    /// The candidates table of a spec: every primitive on every edge when it gives none.
    fn candidates(spec: &SupernetSpec) -> PluginResult<Vec<Vec<u32>>> {
        let n = 2 * CELL_EDGES;
        if spec.candidates.is_empty() {
            return Ok(vec![(0..PRIMITIVES.len() as u32).collect(); n]);
        }
        let bad = |m: String| {
            Err(PluginError::invalid_params(format!(
                "supernet candidates: {m}"
            )))
        };
        if spec.candidates.len() != n {
            return bad(format!(
                "one list per layout edge ({n}), got {}",
                spec.candidates.len()
            ));
        }
        let rows: Vec<Vec<u32>> = spec.candidates.iter().map(|r| r.to_vec()).collect();
        for (e, row) in rows.iter().enumerate() {
            if row.is_empty() {
                return bad(format!("edge {e} keeps no op"));
            }
            if row.len() != rows[0].len() {
                return bad(format!(
                    "every edge must keep the same number of ops; edge 0 keeps {}, edge {e} \
                     keeps {}",
                    rows[0].len(),
                    row.len()
                ));
            }
            for (k, &op) in row.iter().enumerate() {
                if op as usize >= PRIMITIVES.len() {
                    return bad(format!(
                        "edge {e}: unknown op index {op} (the layout's ops are 0..{})",
                        PRIMITIVES.len() - 1
                    ));
                }
                if row[..k].contains(&op) {
                    return bad(format!(
                        "edge {e} lists `{}` twice",
                        PRIMITIVES[op as usize]
                    ));
                }
            }
        }
        Ok(rows)
    }

    /// DARTS's cell supernet for `spec`, weights in `kind` (`Double` for gradient checks).
    pub fn darts_supernet(
        &self,
        spec: &SupernetSpec,
        kind: Kind,
    ) -> PluginResult<SupernetEngine<DartsSearchNet>> {
        self.check_darts_space()?;
        if spec.tasks.is_empty() {
            return Err(PluginError::invalid_params(
                "supernet spec: no tasks; name at least one".to_string(),
            ));
        }
        let candidates = Self::candidates(spec)?;
        let channels = match spec.channels {
            0 => DEFAULT_CHANNELS,
            c => c as usize,
        };
        let cells = match spec.cells {
            0 => DEFAULT_CELLS,
            c => c as usize,
        };
        if channels > 1 << 12 || cells > 1 << 8 {
            return Err(PluginError::invalid_params(format!(
                "supernet spec: {cells} cells of {channels} channels is too large (at most 256 \
                 cells and 4096 channels)"
            )));
        }
        let data = spec
            .tasks
            .iter()
            .map(|t| self.task_data(t.as_str()))
            .collect::<PluginResult<Vec<_>>>()?;
        let refs: Vec<&xnas_tch::data::TaskData> = data.iter().map(|d| d.as_ref()).collect();
        let cfg = EngineConfig {
            owner: STATE_OWNER.into(),
            candidates: candidates.clone(),
            recipe: spec.recipe.clone(),
            seed: spec.seed,
            device: self.device,
            threads: self.params.threads,
            kind,
            eval_batch_size: self.params.eval_batch_size,
        };
        let stems = self.params.supernet_stems;
        SupernetEngine::new(cfg, &refs, |p, tasks| {
            DartsSearchNet::new(p, tasks, &candidates, channels, cells, stems)
        })
    }
}

/// The selection's rows as a candidates table: `RVec` rows for a spec.
pub fn candidates_spec(rows: &[Vec<u32>]) -> RVec<RVec<u32>> {
    rows.iter().map(|r| RVec::from(r.clone())).collect()
}
