//! What a genome of the NASNet cell space means (ALGORITHMS.md §0): ops, op sets, blocks, cells,
//! and the genome ↔ genotype ↔ text conversions. No tch here; `network` builds from [`Genotype`].
//!
//! Genome layout: the normal cell's blocks, then the reduction cell's; per block
//! `[in1, op1, in2, op2]`, plus `combine` (0 = add, 1 = concat) when the combination is searched.
//! Block `b` (0-based) reads inputs `0 ..= b+1`: 0 and 1 are the cell's inputs (`h0` = the cell
//! two back, `h1` = the previous cell), `j ≥ 2` is block `j-2`'s output.

use std::fmt;

/// One candidate operation. Kernel sizes are odd except the 2×2 pools.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Op {
    Identity,
    /// ReLU–conv k×k–BN (k = 1, 3).
    Conv(usize),
    /// ReLU–conv 1×k–conv k×1–BN (k = 3, 7).
    ConvFactored(usize),
    /// ReLU–conv k×k with dilation 2–BN (NASNet's "3×3 dilated conv").
    DilConv(usize),
    /// Separable conv applied twice: (ReLU–depthwise k×k–pointwise–BN) × 2.
    SepConv(usize),
    /// ReLU–depthwise k×k with dilation 2–pointwise–BN, once.
    DilSepConv(usize),
    MaxPool(usize),
    AvgPool(usize),
    /// −maxpool(−x).
    MinPool(usize),
}

impl Op {
    pub fn name(self) -> String {
        match self {
            Op::Identity => "identity".into(),
            Op::Conv(k) => format!("conv_{k}x{k}"),
            Op::ConvFactored(k) => format!("conv_1x{k}_{k}x1"),
            Op::DilConv(k) => format!("dil_conv_{k}x{k}"),
            Op::SepConv(k) => format!("sep_conv_{k}x{k}"),
            Op::DilSepConv(k) => format!("dil_sep_conv_{k}x{k}"),
            Op::MaxPool(k) => format!("max_pool_{k}x{k}"),
            Op::AvgPool(k) => format!("avg_pool_{k}x{k}"),
            Op::MinPool(k) => format!("min_pool_{k}x{k}"),
        }
    }

    /// Every op this space can build, in a fixed order (the order of `ops = "all"`).
    pub fn all() -> Vec<Op> {
        let mut v = vec![
            Op::Identity,
            Op::Conv(1),
            Op::Conv(3),
            Op::ConvFactored(3),
            Op::ConvFactored(7),
            Op::DilConv(3),
        ];
        v.extend([3, 5, 7].map(Op::SepConv));
        v.extend([3, 5, 7].map(Op::DilSepConv));
        v.extend([2, 3, 5, 7].map(Op::MaxPool));
        v.extend([2, 3, 5].map(Op::AvgPool));
        v.push(Op::MinPool(2));
        v
    }

    pub fn parse(name: &str) -> Option<Op> {
        Op::all().into_iter().find(|op| op.name() == name.trim())
    }

    /// True for ops with parameters (convolutions of any kind).
    pub fn has_weights(self) -> bool {
        !matches!(
            self,
            Op::Identity | Op::MaxPool(_) | Op::AvgPool(_) | Op::MinPool(_)
        )
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

/// The named op sets of the seed papers.
pub const OP_SETS: &[&str] = &["xfernas", "nasnet", "enas", "darts"];

/// An op set by name: `"xfernas"` (the 19 of XferNAS), `"nasnet"` (the 13 of NASNet),
/// `"enas"` (the 5 of ENAS / NAO-WS, in NAO_V1's order), `"darts"` (the 7 DARTS primitives but
/// `none`, in DARTS's order).
pub fn op_set(name: &str) -> Option<Vec<Op>> {
    Some(match name {
        // XferNAS §4 (ALGORITHMS.md §2): identity; conv 1×1, 3×3, 1×3+3×1, 1×7+7×1; max/avg pool
        // 2×2, 3×3, 5×5; max pool 7×7; min pool 2×2; sep conv 3/5/7; dilated sep conv 3/5/7.
        "xfernas" => vec![
            Op::Identity,
            Op::Conv(1),
            Op::Conv(3),
            Op::ConvFactored(3),
            Op::ConvFactored(7),
            Op::MaxPool(2),
            Op::MaxPool(3),
            Op::MaxPool(5),
            Op::MaxPool(7),
            Op::AvgPool(2),
            Op::AvgPool(3),
            Op::AvgPool(5),
            Op::MinPool(2),
            Op::SepConv(3),
            Op::SepConv(5),
            Op::SepConv(7),
            Op::DilSepConv(3),
            Op::DilSepConv(5),
            Op::DilSepConv(7),
        ],
        // NASNet (Zoph et al. 2018, §3): identity, 1×3 then 3×1, 1×7 then 7×1, 3×3 dilated conv,
        // 3×3 avg pool, 3×3/5×5/7×7 max pool, 1×1 conv, 3×3 conv, 3×3/5×5/7×7 sep conv.
        "nasnet" => vec![
            Op::Identity,
            Op::ConvFactored(3),
            Op::ConvFactored(7),
            Op::DilConv(3),
            Op::AvgPool(3),
            Op::MaxPool(3),
            Op::MaxPool(5),
            Op::MaxPool(7),
            Op::Conv(1),
            Op::Conv(3),
            Op::SepConv(3),
            Op::SepConv(5),
            Op::SepConv(7),
        ],
        // ENAS micro / NAO-WS (NAO_V1 model_search.py: x_op 0..4).
        "enas" => vec![
            Op::SepConv(3),
            Op::SepConv(5),
            Op::AvgPool(3),
            Op::MaxPool(3),
            Op::Identity,
        ],
        // DARTS (Liu et al. 2019, quark0/darts genotypes.py `PRIMITIVES` without `none`):
        // DARTS's `dil_conv_k` (ReLU, depthwise k×k dilation 2, pointwise, BN) is this space's
        // `dil_sep_conv_k`, its `skip_connect` is `identity`.
        "darts" => vec![
            Op::MaxPool(3),
            Op::AvgPool(3),
            Op::Identity,
            Op::SepConv(3),
            Op::SepConv(5),
            Op::DilSepConv(3),
            Op::DilSepConv(5),
        ],
        _ => return None,
    })
}

/// How a block combines its two branches.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Combine {
    Add,
    /// Channel concatenation (NASNet's option); the block's output has twice the channels and
    /// a 1×1 conv brings it back where it is used.
    Concat,
}

/// Whether the combination is fixed or a searched decision (NASNet's 5th decision).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CombineMode {
    Fixed(Combine),
    Searched,
}

/// One block: `combine(ops[0](state[inputs[0]]), ops[1](state[inputs[1]]))`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Block {
    pub inputs: [usize; 2],
    pub ops: [Op; 2],
    pub combine: Combine,
}

/// A cell: its blocks in order.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Cell {
    pub blocks: Vec<Block>,
}

impl Cell {
    /// States (indices ≥ 2) that no block reads: the cell's output is their concatenation.
    pub fn loose_ends(&self) -> Vec<usize> {
        let n = self.blocks.len();
        let mut used = vec![false; n + 2];
        for b in &self.blocks {
            for &i in &b.inputs {
                used[i] = true;
            }
        }
        (2..n + 2).filter(|&s| !used[s]).collect()
    }

    /// The states the cell's output concatenates: every block's (`all`, DARTS's cell) or the
    /// loose ends (NASNet's).
    pub fn outputs(&self, all: bool) -> Vec<usize> {
        if all {
            (2..self.blocks.len() + 2).collect()
        } else {
            self.loose_ends()
        }
    }
}

/// A decoded architecture: the normal and the reduction cell.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Genotype {
    pub normal: Cell,
    pub reduce: Cell,
}

/// The shape of the space: its op set, blocks per cell and how blocks combine.
#[derive(Clone, Debug, PartialEq)]
pub struct CellSpace {
    pub ops: Vec<Op>,
    pub blocks: usize,
    pub combine: CombineMode,
}

/// Gene kinds within a block.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gene {
    Input,
    Op,
    Combine,
}

pub const CELL_NAMES: [&str; 2] = ["normal", "reduce"];

impl CellSpace {
    pub fn genes_per_block(&self) -> usize {
        match self.combine {
            CombineMode::Searched => 5,
            CombineMode::Fixed(_) => 4,
        }
    }

    /// Genome length.
    pub fn len(&self) -> usize {
        2 * self.blocks * self.genes_per_block()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// (cell, block, gene kind, branch) of every genome position.
    pub fn layout(&self) -> Vec<(usize, usize, Gene, usize)> {
        let mut v = Vec::with_capacity(self.len());
        for cell in 0..2 {
            for b in 0..self.blocks {
                v.push((cell, b, Gene::Input, 0));
                v.push((cell, b, Gene::Op, 0));
                v.push((cell, b, Gene::Input, 1));
                v.push((cell, b, Gene::Op, 1));
                if self.combine == CombineMode::Searched {
                    v.push((cell, b, Gene::Combine, 0));
                }
            }
        }
        v
    }

    /// The number of choices at each position.
    pub fn choices(&self) -> Vec<u32> {
        self.layout()
            .into_iter()
            .map(|(_, b, gene, _)| match gene {
                Gene::Input => (b + 2) as u32,
                Gene::Op => self.ops.len() as u32,
                Gene::Combine => 2,
            })
            .collect()
    }

    /// Checks ranges and decodes.
    pub fn decode(&self, genome: &[u32]) -> Result<Genotype, String> {
        if genome.len() != self.len() {
            return Err(format!(
                "a genome of this space has {} genes ({} blocks × 2 cells × {}), not {}",
                self.len(),
                self.blocks,
                self.genes_per_block(),
                genome.len()
            ));
        }
        for (i, (&g, c)) in genome.iter().zip(self.choices()).enumerate() {
            if g >= c {
                let (cell, b, gene, _) = self.layout()[i];
                return Err(format!(
                    "gene {i} ({} block {b} {}) is {g}, expected 0..{c}",
                    CELL_NAMES[cell],
                    match gene {
                        Gene::Input => "input",
                        Gene::Op => "op",
                        Gene::Combine => "combine",
                    }
                ));
            }
        }
        let gpb = self.genes_per_block();
        let cell = |c: usize| Cell {
            blocks: (0..self.blocks)
                .map(|b| {
                    let g = &genome[(c * self.blocks + b) * gpb..][..gpb];
                    Block {
                        inputs: [g[0] as usize, g[2] as usize],
                        ops: [self.ops[g[1] as usize], self.ops[g[3] as usize]],
                        combine: match self.combine {
                            CombineMode::Fixed(c) => c,
                            CombineMode::Searched if g[4] == 1 => Combine::Concat,
                            CombineMode::Searched => Combine::Add,
                        },
                    }
                })
                .collect(),
        };
        Ok(Genotype {
            normal: cell(0),
            reduce: cell(1),
        })
    }

    /// The genome of a genotype whose ops are all in this space's op set.
    pub fn encode(&self, g: &Genotype) -> Result<Vec<u32>, String> {
        let mut out = Vec::with_capacity(self.len());
        for (ci, cell) in [&g.normal, &g.reduce].into_iter().enumerate() {
            if cell.blocks.len() != self.blocks {
                return Err(format!(
                    "the {} cell has {} blocks; this space has {}",
                    CELL_NAMES[ci],
                    cell.blocks.len(),
                    self.blocks
                ));
            }
            for (b, block) in cell.blocks.iter().enumerate() {
                for k in 0..2 {
                    if block.inputs[k] > b + 1 {
                        return Err(format!(
                            "{} block {b} reads state {}, but only states 0..={} exist before it",
                            CELL_NAMES[ci],
                            block.inputs[k],
                            b + 1
                        ));
                    }
                    let op = self.op_index(block.ops[k]).ok_or_else(|| {
                        format!(
                            "op `{}` is not in this space's op set ({})",
                            block.ops[k],
                            self.op_names().join(", ")
                        )
                    })?;
                    out.push(block.inputs[k] as u32);
                    out.push(op);
                }
                match self.combine {
                    CombineMode::Searched => out.push(u32::from(block.combine == Combine::Concat)),
                    CombineMode::Fixed(c) if c != block.combine => {
                        return Err(format!(
                            "{} block {b} combines by {:?}, but this space fixes {:?}",
                            CELL_NAMES[ci], block.combine, c
                        ))
                    }
                    CombineMode::Fixed(_) => {}
                }
            }
        }
        Ok(out)
    }

    pub fn op_index(&self, op: Op) -> Option<u32> {
        self.ops.iter().position(|&o| o == op).map(|i| i as u32)
    }

    pub fn op_names(&self) -> Vec<String> {
        self.ops.iter().map(|o| o.name()).collect()
    }

    /// The canonical genome: each block's two branches ordered by (input, op index). Adding (or
    /// concatenating, up to a permutation of channels) is symmetric in the branches, so the two
    /// orders are the same network (the NAO swap symmetry, ALGORITHMS.md §9).
    pub fn canonicalise(&self, genome: &[u32]) -> Vec<u32> {
        let mut g = genome.to_vec();
        let gpb = self.genes_per_block();
        for block in g.chunks_mut(gpb) {
            if (block[2], block[3]) < (block[0], block[1]) {
                block.swap(0, 2);
                block.swap(1, 3);
            }
        }
        g
    }

    /// Each single-block branch swap that changes the genome.
    pub fn swaps(&self, genome: &[u32]) -> Vec<Vec<u32>> {
        let gpb = self.genes_per_block();
        let mut out = Vec::new();
        for start in (0..genome.len()).step_by(gpb) {
            let b = &genome[start..start + gpb];
            if (b[0], b[1]) != (b[2], b[3]) {
                let mut v = genome.to_vec();
                v.swap(start, start + 2);
                v.swap(start + 1, start + 3);
                out.push(v);
            }
        }
        out
    }
}

/// Names of the states a block can read: `h0`, `h1`, then `b0`, `b1`, ... (block outputs).
pub fn state_name(i: usize) -> String {
    match i {
        0 => "h0".into(),
        1 => "h1".into(),
        _ => format!("b{}", i - 2),
    }
}

fn parse_state(s: &str) -> Option<usize> {
    match s {
        "h0" => Some(0),
        "h1" => Some(1),
        _ => s.strip_prefix('b')?.parse::<usize>().ok().map(|b| b + 2),
    }
}

/// The text form: `normal: b0 = sep_conv_3x3(h0) + conv_3x3(h1); b1 = ... | reduce: ...`;
/// `++` instead of `+` marks concatenation. Written by `canonical`, read by [`parse_text`].
pub fn to_text(g: &Genotype) -> String {
    let cell = |c: &Cell| {
        c.blocks
            .iter()
            .enumerate()
            .map(|(b, blk)| {
                format!(
                    "b{b} = {}({}) {} {}({})",
                    blk.ops[0],
                    state_name(blk.inputs[0]),
                    match blk.combine {
                        Combine::Add => "+",
                        Combine::Concat => "++",
                    },
                    blk.ops[1],
                    state_name(blk.inputs[1])
                )
            })
            .collect::<Vec<_>>()
            .join("; ")
    };
    format!("normal: {} | reduce: {}", cell(&g.normal), cell(&g.reduce))
}

/// Reads the text form of [`to_text`]. Whitespace is free.
pub fn parse_text(text: &str) -> Result<Genotype, String> {
    let (normal, reduce) = text
        .split_once('|')
        .ok_or("expected `normal: ... | reduce: ...`")?;
    let cell = |part: &str, name: &str| -> Result<Cell, String> {
        let body = part
            .trim()
            .strip_prefix(name)
            .and_then(|r| r.trim_start().strip_prefix(':'))
            .ok_or_else(|| format!("expected `{name}: ...`, found `{}`", part.trim()))?;
        let mut blocks = Vec::new();
        for (b, stmt) in body.split(';').enumerate() {
            let stmt = stmt.trim();
            let (lhs, rhs) = stmt.split_once('=').ok_or_else(|| {
                format!("{name} block {b}: expected `b{b} = op(in) + op(in)`, found `{stmt}`")
            })?;
            if lhs.trim() != format!("b{b}") {
                return Err(format!(
                    "{name}: blocks must be written in order; expected `b{b}`, found `{}`",
                    lhs.trim()
                ));
            }
            let (combine, parts) = if let Some((a, c)) = rhs.split_once("++") {
                (Combine::Concat, (a, c))
            } else if let Some((a, c)) = rhs.split_once('+') {
                (Combine::Add, (a, c))
            } else {
                return Err(format!("{name} block {b}: expected `+` or `++` in `{rhs}`"));
            };
            let branch = |s: &str| -> Result<(Op, usize), String> {
                let s = s.trim();
                let (op, rest) = s.split_once('(').ok_or_else(|| {
                    format!("{name} block {b}: expected `op(input)`, found `{s}`")
                })?;
                let input = rest
                    .strip_suffix(')')
                    .ok_or_else(|| format!("{name} block {b}: missing `)` in `{s}`"))?;
                let op = Op::parse(op)
                    .ok_or_else(|| format!("{name} block {b}: unknown op `{}`", op.trim()))?;
                let i = parse_state(input.trim()).ok_or_else(|| {
                    format!(
                        "{name} block {b}: unknown input `{}` (h0, h1, b0, b1, ...)",
                        input.trim()
                    )
                })?;
                Ok((op, i))
            };
            let (o1, i1) = branch(parts.0)?;
            let (o2, i2) = branch(parts.1)?;
            blocks.push(Block {
                inputs: [i1, i2],
                ops: [o1, o2],
                combine,
            });
        }
        Ok(Cell { blocks })
    };
    Ok(Genotype {
        normal: cell(normal, "normal")?,
        reduce: cell(reduce, "reduce")?,
    })
}

/// The XferNASNet cell found by XferNAS on CIFAR-10 (ALGORITHMS.md §2; Wistuba 2019, Fig. 4).
/// The paper's node_1 / node_2 are the cells two back and one back (h0, h1), node_k (k ≥ 3) is
/// block k−3.
pub fn xfernasnet() -> Genotype {
    use Op::*;
    let blk = |i1, i2, o1, o2| Block {
        inputs: [i1, i2],
        ops: [o1, o2],
        combine: Combine::Add,
    };
    Genotype {
        normal: Cell {
            blocks: vec![
                blk(0, 1, SepConv(3), Conv(3)),
                blk(0, 2, Identity, AvgPool(2)),
                blk(0, 2, DilSepConv(5), Identity),
                blk(0, 1, Conv(1), AvgPool(5)),
                blk(4, 0, Conv(3), Conv(1)),
            ],
        },
        reduce: Cell {
            blocks: vec![
                blk(1, 0, Identity, ConvFactored(3)),
                blk(1, 1, MaxPool(5), ConvFactored(3)),
                blk(3, 2, AvgPool(3), DilSepConv(5)),
                blk(1, 4, MaxPool(2), SepConv(3)),
                blk(3, 0, SepConv(7), SepConv(3)),
            ],
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn space(ops: &str) -> CellSpace {
        CellSpace {
            ops: op_set(ops).unwrap(),
            blocks: 5,
            combine: CombineMode::Fixed(Combine::Add),
        }
    }

    #[test]
    fn op_sets_have_the_papers_sizes_and_unique_names() {
        for (name, n) in [("xfernas", 19), ("nasnet", 13), ("enas", 5), ("darts", 7)] {
            let ops = op_set(name).unwrap();
            assert_eq!(ops.len(), n, "{name}");
            let mut names: Vec<String> = ops.iter().map(|o| o.name()).collect();
            names.sort();
            names.dedup();
            assert_eq!(names.len(), n, "{name} has duplicate ops");
            for o in ops {
                assert_eq!(Op::parse(&o.name()), Some(o));
            }
        }
    }

    #[test]
    fn enas_layout_matches_nao_variant_a() {
        let s = space("enas");
        assert_eq!(s.len(), 40);
        let c = s.choices();
        assert_eq!(&c[..8], &[2, 5, 2, 5, 3, 5, 3, 5]);
        assert_eq!(c[16], 6); // block 4's first input: h0, h1, b0..b3
    }

    #[test]
    fn xfernasnet_round_trips_through_genome_and_text() {
        let s = space("xfernas");
        let g = xfernasnet();
        let genome = s.encode(&g).unwrap();
        assert_eq!(s.decode(&genome).unwrap(), g);
        let text = to_text(&g);
        assert_eq!(parse_text(&text).unwrap(), g);
        assert_eq!(g.normal.loose_ends(), vec![3, 5, 6]);
    }

    #[test]
    fn canonical_form_is_shared_by_swapped_genomes() {
        let s = space("xfernas");
        let genome = s.encode(&xfernasnet()).unwrap();
        let canon = s.canonicalise(&genome);
        for v in s.swaps(&genome) {
            assert_ne!(v, genome);
            assert_eq!(s.canonicalise(&v), canon);
        }
    }

    #[test]
    fn bad_genomes_and_texts_are_refused_with_the_place() {
        let s = space("enas");
        let mut g = vec![0u32; 40];
        g[16] = 6;
        let e = s.decode(&g).unwrap_err();
        assert!(e.contains("gene 16") && e.contains("block 4"), "{e}");
        let e = parse_text("normal: b0 = foo(h0) + identity(h1) | reduce: ").unwrap_err();
        assert!(e.contains("unknown op `foo`"), "{e}");
    }
}
