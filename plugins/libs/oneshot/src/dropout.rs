//! P-DARTS's skip-connect dropout schedule (chenxin061/pdarts `train_search.py`), shared by
//! `pdarts` and `ws-darts` (which keeps it as its one P-DARTS regulariser).

use serde::Deserialize;

/// The skip-dropout rate over a stage's epochs.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum DropoutSchedule {
    /// The reference's: `p0·(E−e−1)/E` in the weights-only epochs, then `p0·exp(−decay·(e−W))`,
    /// which jumps back up to p0 at epoch W.
    Reference,
    /// Without the jump: after the weights-only epochs the decay starts from `p0·(E−W)/E`, the
    /// value the linear decay reaches there.
    Continuous,
}

/// The rate of each of `epochs` epochs from the initial rate `p0` (the reference's
/// `p0 * (epochs - epoch - 1) / epochs` while `epoch < eps_no_arch`, then
/// `p0 * exp(-(epoch - eps_no_arch) * scale_factor)`).
pub fn skip_dropout(
    p0: f64,
    epochs: u32,
    weights_only: u32,
    decay: f64,
    schedule: DropoutSchedule,
) -> Vec<f64> {
    let e_total = f64::from(epochs);
    let start = match schedule {
        DropoutSchedule::Reference => p0,
        DropoutSchedule::Continuous => p0 * (e_total - f64::from(weights_only)) / e_total,
    };
    (0..epochs)
        .map(|e| {
            if e < weights_only {
                p0 * (e_total - f64::from(e) - 1.0) / e_total
            } else {
                start * (-f64::from(e - weights_only) * decay).exp()
            }
        })
        .collect()
}
