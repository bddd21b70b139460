//! `[optimizer.params]` of `pdarts` (docs/plugins/pdarts.md). Defaults are those of the reference
//! code, chenxin061/pdarts `train_search.py`, with the skip dropout the authors quote for
//! CIFAR-10 (0.0, 0.4, 0.7; the README's command line gives 0.1 for the first stage).

use xnas_core::{CheckParams, PluginResult};
use xnas_oneshot::params::invalid;
pub use xnas_oneshot::DropoutSchedule;
use xnas_oneshot::StagePlan;

xnas_oneshot::pdarts_family_params! {
    pub struct PdartsParams {
        /// Cells of each stage's search network (one entry per stage).
        pub cells: Vec<u32> = vec![5, 11, 17],
        /// Initial channels of each stage's search network.
        pub channels: Vec<u32> = vec![16, 16, 16],
        /// Candidate ops kept per edge after each stage but the last (the reference's
        /// `num_to_keep = [5, 3, 1]`; its final 1 is the derivation's one op per edge).
        pub keep: Vec<u32> = vec![5, 3],
        /// Initial skip-connect dropout p0 of each stage.
        pub skip_dropout: Vec<f64> = vec![0.0, 0.4, 0.7],
        /// Transfer architecture search (TAS) for warm-started DARTS: also keep the last stage's
        /// reduced DAG λ and, with its α and weights, λ̂ as artifacts (`lambda.json`,
        /// `lambda_hat.json`).
        pub transfer_search: bool = false,
        /// One search over the target and every source task (`[tasks] sources`), sharing the
        /// weights and α in every stage, each epoch running through the tasks smallest first.
        /// With `transfer_search`, what it keeps is the meta-transfer architecture λ_meta.
        pub meta_search: bool = false,
    }
}

impl CheckParams for PdartsParams {
    fn check(&self) -> PluginResult<()> {
        self.checked().map_err(invalid)
    }
}

impl PdartsParams {
    pub fn stages(&self) -> usize {
        self.cells.len()
    }

    fn checked(&self) -> Result<(), String> {
        let n = self.cells.len();
        if n == 0 {
            return Err("`cells` is empty: give the cells of each stage, e.g. [5, 11, 17]".into());
        }
        for (key, len) in [
            ("channels", self.channels.len()),
            ("skip_dropout", self.skip_dropout.len()),
        ] {
            if len != n {
                return Err(format!(
                    "`{key}` has {len} entries: it needs one per stage ({n}, as `cells`)"
                ));
            }
        }
        if self.keep.len() + 1 != n {
            return Err(format!(
                "`keep` has {} entries: it needs one per stage but the last ({}), as `cells` has {n}",
                self.keep.len(),
                n - 1
            ));
        }
        for (key, list) in [
            ("cells", &self.cells),
            ("channels", &self.channels),
            ("keep", &self.keep),
        ] {
            if list.contains(&0) {
                return Err(format!(
                    "`{key}` is {list:?}: every entry must be at least 1"
                ));
            }
        }
        if self.keep.windows(2).any(|w| w[1] >= w[0]) {
            return Err(format!(
                "`keep` is {:?}: each stage must keep fewer ops than the one before",
                self.keep
            ));
        }
        if let Some(p) = self.skip_dropout.iter().find(|p| !(0.0..1.0).contains(*p)) {
            return Err(format!(
                "`skip_dropout` has {p}: each rate must be at least 0 and below 1"
            ));
        }
        self.check_search_keys()
    }

    /// The plan of stage `stage`, its skip dropout from that stage's p0.
    pub fn stage_plan(&self, stage: usize) -> StagePlan {
        self.plan(self.skip_dropout[stage])
    }
}

#[cfg(test)]
#[path = "params_tests.rs"]
mod tests;
