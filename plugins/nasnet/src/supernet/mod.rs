//! DARTS's cell supernet (Liu et al. 2019, quark0/darts).

pub mod mixed;
pub mod network;

/// Intermediate nodes of a DARTS cell.
pub const NODES: usize = 4;
/// Edges of one cell: 2 + 3 + 4 + 5.
pub const CELL_EDGES: usize = 14;
