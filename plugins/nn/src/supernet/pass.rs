//! What one forward pass is: training or evaluation, and the skip dropout of that pass.

use crate::seed::with_torch_seed;
use std::cell::Cell;
use tch::Tensor;
use xnas_core::derive_seed;

/// One forward pass of a [`super::SearchNetwork`]: whether it trains, and the skip dropout to
/// apply after stride-1 identity candidates (P-DARTS).
///
/// Masks are drawn from torch's generator re-seeded, under `with_torch_seed`'s lock, from the
/// pass's seed and the call's index within the pass: the same batch gets the same masks in every
/// pass over it (the ± passes of DARTS's finite difference, the `train_step` after an unrolled
/// gradient), and nothing needs saving to resume.
#[derive(Debug)]
pub struct Pass {
    train: bool,
    skip_dropout: f64,
    seed: u64,
    calls: Cell<u64>,
}

impl Pass {
    /// A training pass with skip dropout `p` (0 = off) and masks seeded from `seed`.
    pub fn training(skip_dropout: f64, seed: u64) -> Self {
        Pass {
            train: true,
            skip_dropout,
            seed,
            calls: Cell::new(0),
        }
    }

    /// An evaluation pass: running statistics, no dropout.
    pub fn evaluation() -> Self {
        Pass {
            train: false,
            skip_dropout: 0.0,
            seed: 0,
            calls: Cell::new(0),
        }
    }

    pub fn is_train(&self) -> bool {
        self.train
    }

    /// `x` after element-wise dropout (kept elements scaled by 1/(1−p), as `nn.Dropout`) in a
    /// training pass with skip dropout on; `x` itself otherwise. Call it on the output of every
    /// stride-1 identity candidate, in the same order in every pass.
    pub fn skip_dropout(&self, x: &Tensor) -> Tensor {
        if !self.train || self.skip_dropout <= 0.0 {
            return x.shallow_clone();
        }
        let call = self.calls.get();
        self.calls.set(call + 1);
        let p = self.skip_dropout;
        with_torch_seed(derive_seed(self.seed, call), || x.dropout(p, true))
    }
}
