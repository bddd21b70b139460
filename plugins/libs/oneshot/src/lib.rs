//! # xnas-oneshot: what one-shot optimizers share, without tch
//!
//! One-shot optimizers (DARTS, P-DARTS, and later warm-started DARTS and BASE) own the
//! architecture parameters α and talk to a space's supernet only through small matrices (the
//! supernet protocol of `xnas-core`). Everything on the α side lives here, as pure functions
//! over f64 slices with unit tests against hand-computed values and finite differences:
//!
//! * [`mix`]: softmax of α per edge, its vector-Jacobian product, entropy, the f32 matrices.
//! * [`gumbel`]: Gumbel-softmax sampling (soft, hard straight-through) and its temperature.
//! * [`adam`]: PyTorch's Adam (L2 weight decay) and global-norm clipping.
//! * [`rng`]: the seeded random stream (α's initial values, Gumbel noise) and its saved state.
//! * [`derive`]: the derivation rules the layout selects, P-DARTS's pruning and skip limit.
//! * [`kbest`]: the next-best cells after the derived one.
//! * [`stage`]: one stage of search — α step then w step per iteration, epochs, state.
//! * [`dropout`]: P-DARTS's skip-connect dropout schedule.
//! * [`transfer`]: warm-started DARTS's transfer architectures λ and λ̂.
//! * [`report`]: epoch reports and genotypes through the space.
//! * [`params`]: shared parameter range checks.
//!
//! With the `testkit` feature, [`testkit`] offers a toy space with a pure-Rust supernet.

pub mod adam;
pub mod derive;
pub mod dropout;
pub mod gumbel;
pub mod kbest;
pub mod mix;
pub mod params;
pub mod report;
pub mod rng;
pub mod stage;
#[cfg(any(test, feature = "testkit"))]
pub mod testkit;
pub mod transfer;

pub use adam::{clip_grad_norm, Adam, AdamConfig};
pub use derive::{derive, derive_limited, prune, skip_count, Weights};
pub use dropout::{skip_dropout, DropoutSchedule};
pub use gumbel::{Anneal, Temperature};
pub use kbest::{best_cells, distinct_cells};
pub use report::{epoch_report, genotype, EpochFigures, Reporting, Rule, StatsSum};
pub use rng::{ArchRng, RngState};
pub use stage::{
    ArchConfig, EpochEnd, Order, Sampling, Stage, StagePlan, StageProgress, StageState,
};
pub use transfer::TransferArch;

use xnas_core::{ErrorKind, PluginError, PluginResult, SearchSpace, SupernetLayout};

/// The space's layout, or one sentence saying that `plugin` needs a space offering a supernet.
pub fn require_supernet<S: SearchSpace + ?Sized>(
    space: &S,
    plugin: &str,
) -> PluginResult<SupernetLayout> {
    let layout = space.supernet_layout().map_err(|e| match e.kind {
        ErrorKind::UNSUPPORTED => PluginError::unsupported(format!(
            "`{plugin}` is a one-shot optimizer: it needs a search space that offers a supernet \
             (capability `supernet`, such as `nasnet` with the DARTS cell), and this one does not"
        )),
        _ => PluginError::new(
            e.kind,
            format!("`{plugin}`: the space's supernet layout: {e}"),
        ),
    })?;
    if layout.edges.is_empty() || layout.ops.is_empty() {
        return Err(PluginError::data(format!(
            "`{plugin}`: the space's supernet layout has {} edges and {} ops",
            layout.edges.len(),
            layout.ops.len()
        )));
    }
    let n = layout.ops.len() as u32;
    for (name, op) in [("zero", layout.zero_op), ("skip", layout.skip_op)] {
        if let Some(op) = op.into_option().filter(|&op| op >= n) {
            return Err(PluginError::data(format!(
                "`{plugin}`: the space's layout names op {op} as its {name} op but has {n} ops"
            )));
        }
    }
    Ok(layout)
}

#[cfg(test)]
mod tests {
    use super::*;
    use testkit::{ToyLayout, ToySpace};

    #[test]
    fn a_space_without_a_supernet_is_one_sentence() {
        let e = require_supernet(&ToySpace::new(ToyLayout::NoSupernet), "darts").unwrap_err();
        assert_eq!(
            e.message(),
            "`darts` is a one-shot optimizer: it needs a search space that offers a supernet \
             (capability `supernet`, such as `nasnet` with the DARTS cell), and this one does not"
        );
        let layout = require_supernet(&ToySpace::new(ToyLayout::Bench201), "darts").unwrap();
        assert_eq!(layout.edges.len(), 6);
    }
}
