//! The NAS-Bench-201 cell (Dong & Yang, ICLR 2020): a DAG of 4 nodes, node 0 the cell's input and
//! node 3 its output, with an edge `j → i` for every `j < i` (6 edges), each carrying one op.
//! Node `i` is the sum of its incoming edges' outputs.
//!
//! * **Genome**: the 6 edges' op indices (into the space's op list) in the paper's edge order
//!   `1←0, 2←0, 2←1, 3←0, 3←1, 3←2`.
//! * **Text**: the paper's notation (NAS-Bench-201's `Structure.tostr`): one `|op~j|` group per
//!   incoming edge, nodes joined by `+`:
//!   `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|`.

use std::fmt;

/// The op names of the NAS-Bench-201 space, in the paper's order (the default op list).
pub const OP_NAMES: [&str; 5] = [
    "none",
    "skip_connect",
    "nor_conv_1x1",
    "nor_conv_3x3",
    "avg_pool_3x3",
];

/// Nodes of a cell: the input, two intermediate nodes, the output.
pub const NODES: usize = 4;
/// Edges of a cell.
pub const EDGES: usize = 6;
/// `(to, from)` of each edge, in genome order.
pub const EDGE_ENDS: [(usize, usize); EDGES] = [(1, 0), (2, 0), (2, 1), (3, 0), (3, 1), (3, 2)];

/// One candidate operation of an edge (every one maps `C` channels to `C` at stride 1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Op {
    /// The zero op: the edge is absent.
    None,
    /// Identity.
    Skip,
    /// ReLU, 1×1 conv, BN.
    Conv1x1,
    /// ReLU, 3×3 conv, BN.
    Conv3x3,
    /// 3×3 average pool, stride 1, padding 1, padded pixels not counted.
    AvgPool3x3,
}

impl Op {
    pub const ALL: [Op; 5] = [Op::None, Op::Skip, Op::Conv1x1, Op::Conv3x3, Op::AvgPool3x3];

    pub fn name(self) -> &'static str {
        OP_NAMES[self as usize]
    }

    pub fn parse(name: &str) -> Option<Op> {
        Op::ALL.into_iter().find(|op| op.name() == name)
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The space's op list: what genome values index.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OpList(Vec<Op>);

impl OpList {
    /// Refuses an empty list, a repeated op and a list of one (a space of one cell).
    pub fn new(ops: Vec<Op>) -> Result<OpList, String> {
        if ops.len() < 2 {
            return Err(format!(
                "{} op(s) listed: list at least two (one op gives a space of a single cell)",
                ops.len()
            ));
        }
        for (i, op) in ops.iter().enumerate() {
            if ops[..i].contains(op) {
                return Err(format!("`{op}` is listed twice"));
            }
        }
        Ok(OpList(ops))
    }

    /// The paper's five ops.
    pub fn nb201() -> OpList {
        OpList(Op::ALL.to_vec())
    }

    pub fn ops(&self) -> &[Op] {
        &self.0
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The genome value of `op`, if the list has it.
    pub fn index(&self, op: Op) -> Option<u32> {
        self.0.iter().position(|&o| o == op).map(|i| i as u32)
    }

    /// Number of cells: `ops⁶`.
    pub fn space_size(&self) -> u64 {
        (self.0.len() as u64).pow(EDGES as u32)
    }

    /// The cell a genome describes; names the first bad gene.
    pub fn decode(&self, genome: &[u32]) -> Result<Cell, String> {
        if genome.len() != EDGES {
            return Err(format!(
                "a NAS-Bench-201 genome has {EDGES} genes (one op per edge), not {}: {genome:?}",
                genome.len()
            ));
        }
        let mut ops = [Op::None; EDGES];
        for (e, (&g, op)) in genome.iter().zip(ops.iter_mut()).enumerate() {
            let (to, from) = EDGE_ENDS[e];
            *op = *self.0.get(g as usize).ok_or_else(|| {
                format!(
                    "gene {e} (edge {to}<-{from}) is {g}, but this space has {} ops (0..{})",
                    self.0.len(),
                    self.0.len()
                )
            })?;
        }
        Ok(Cell { ops })
    }

    /// The genome of `cell`; fails when it uses an op outside the list.
    pub fn encode(&self, cell: &Cell) -> Result<Vec<u32>, String> {
        cell.ops
            .iter()
            .map(|&op| {
                self.index(op).ok_or_else(|| {
                    format!(
                        "op `{op}` is not one of this space's ops ({})",
                        self.0
                            .iter()
                            .map(|o| o.name())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                })
            })
            .collect()
    }
}

/// One cell: an op per edge, in genome order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub ops: [Op; EDGES],
}

impl Cell {
    /// The op on edge `from → to`.
    pub fn op(&self, to: usize, from: usize) -> Op {
        let e = edge_index(to, from).expect("an edge j → i with j < i < 4");
        self.ops[e]
    }

    /// Whether the output node depends on the input through edges that are not `none`. A cell
    /// where it does not outputs zeros: valid, but its network cannot beat chance.
    pub fn output_connected(&self) -> bool {
        let mut reached = [true, false, false, false];
        for (e, &(to, from)) in EDGE_ENDS.iter().enumerate() {
            if reached[from] && self.ops[e] != Op::None {
                reached[to] = true;
            }
        }
        reached[NODES - 1]
    }

    /// The paper's text form.
    pub fn to_text(&self) -> String {
        let mut s = String::new();
        for to in 1..NODES {
            if to > 1 {
                s.push('+');
            }
            s.push('|');
            for from in 0..to {
                s += &format!("{}~{from}|", self.op(to, from));
            }
        }
        s
    }

    /// Reads the paper's text form. Each node lists each earlier node once, in any order;
    /// spaces around names are allowed.
    pub fn parse(text: &str) -> Result<Cell, String> {
        let nodes: Vec<&str> = text.trim().split('+').collect();
        if nodes.len() != NODES - 1 {
            return Err(format!(
                "`{text}`: expected {} nodes joined by `+` (like \
                 `|nor_conv_3x3~0|+|none~0|skip_connect~1|+|…~0|…~1|…~2|`), found {}",
                NODES - 1,
                nodes.len()
            ));
        }
        let mut ops = [None; EDGES];
        for (k, node) in nodes.iter().enumerate() {
            let to = k + 1;
            let inner = node
                .trim()
                .strip_prefix('|')
                .and_then(|n| n.strip_suffix('|'))
                .ok_or_else(|| {
                    format!("node {to} `{node}`: expected `|op~input|…|` between bars")
                })?;
            let entries: Vec<&str> = inner.split('|').collect();
            if entries.len() != to {
                return Err(format!(
                    "node {to} `{node}`: expected {to} inputs (one per earlier node), found {}",
                    entries.len()
                ));
            }
            for entry in entries {
                let (name, from) = entry.split_once('~').ok_or_else(|| {
                    format!("node {to}: `{entry}` is not `op~input` (like `nor_conv_3x3~0`)")
                })?;
                let name = name.trim();
                let op = Op::parse(name).ok_or_else(|| {
                    format!(
                        "node {to}: unknown op `{name}`; known: {}",
                        OP_NAMES.join(", ")
                    )
                })?;
                let from: usize = from.trim().parse().map_err(|_| {
                    format!("node {to}: input `{from}` of `{entry}` is not a node number")
                })?;
                let e = edge_index(to, from).ok_or_else(|| {
                    format!("node {to}: input {from} is not an earlier node (0..{to})")
                })?;
                if ops[e].replace(op).is_some() {
                    return Err(format!("node {to}: input {from} is listed twice"));
                }
            }
        }
        Ok(Cell {
            ops: ops.map(|o| o.expect("each node listed every earlier node once")),
        })
    }
}

/// The genome position of edge `from → to`, if it is an edge.
pub fn edge_index(to: usize, from: usize) -> Option<usize> {
    EDGE_ENDS.iter().position(|&e| e == (to, from))
}

impl fmt::Display for Cell {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_text())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_round_trips_and_names_the_paper_edges() {
        let cell = OpList::nb201().decode(&[3, 0, 1, 2, 4, 3]).unwrap();
        let text = cell.to_text();
        assert_eq!(
            text,
            "|nor_conv_3x3~0|+|none~0|skip_connect~1|+|nor_conv_1x1~0|avg_pool_3x3~1|nor_conv_3x3~2|"
        );
        assert_eq!(Cell::parse(&text).unwrap(), cell);
        // Inputs in another order, spaces around names.
        let shuffled = "|nor_conv_3x3~0|+| skip_connect~1|none~0|+|nor_conv_3x3~2|nor_conv_1x1~0|avg_pool_3x3 ~1|";
        assert_eq!(Cell::parse(shuffled).unwrap(), cell);
        assert_eq!(cell.op(3, 1), Op::AvgPool3x3);
    }

    #[test]
    fn connectivity() {
        let mut cell = Cell {
            ops: [Op::None; EDGES],
        };
        assert!(!cell.output_connected());
        cell.ops[edge_index(3, 2).unwrap()] = Op::Skip;
        assert!(!cell.output_connected(), "node 2 is not reached");
        cell.ops[edge_index(2, 1).unwrap()] = Op::Conv1x1;
        assert!(!cell.output_connected(), "node 1 is not reached");
        cell.ops[edge_index(1, 0).unwrap()] = Op::AvgPool3x3;
        assert!(cell.output_connected());
        let direct = Cell {
            ops: [Op::None, Op::None, Op::None, Op::Skip, Op::None, Op::None],
        };
        assert!(direct.output_connected());
    }
}
