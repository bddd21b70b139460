//! `[optimizer.params]` of `darts` (docs/plugins/darts.md). Defaults are those of the reference
//! code, quark0/darts `cnn/train_search.py` and `cnn/architect.py`.

use serde::Deserialize;
use xnas_core::range::at_least_one;
use xnas_core::{CheckParams, PluginResult};
use xnas_oneshot::params::{check_recipe, invalid, temperatures};
use xnas_oneshot::{Anneal, ArchConfig, Order, Sampling, Temperature};

/// How the mixing weights are made from α.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SamplingKind {
    Softmax,
    Gumbel,
}

#[derive(Clone, Debug, PartialEq, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct DartsParams {
    /// `"first"` (`arch_grad`) or `"second"` (`unrolled_arch_grad`).
    pub order: Order,
    pub epochs: u32,
    pub batch_size: u32,
    pub learning_rate: f64,
    pub learning_rate_min: f64,
    pub momentum: f64,
    pub weight_decay: f64,
    pub grad_clip: f64,
    pub train_portion: f64,
    /// Initial channels C of the search network.
    pub channels: u32,
    /// Cells of the search network.
    pub cells: u32,
    pub arch_learning_rate: f64,
    pub arch_betas: [f64; 2],
    pub arch_weight_decay: f64,
    /// Global-norm clip of α's gradient; 0 = off (DARTS does not clip α).
    pub arch_grad_clip: f64,
    /// α starts as `init_scale · N(0, 1)`.
    pub init_scale: f64,
    pub sampling: SamplingKind,
    pub gumbel_hard: bool,
    pub tau_max: f64,
    pub tau_min: f64,
    pub tau_anneal: Anneal,
}

impl Default for DartsParams {
    fn default() -> Self {
        DartsParams {
            order: Order::First,
            epochs: 50,
            batch_size: 64,
            learning_rate: 0.025,
            learning_rate_min: 0.001,
            momentum: 0.9,
            weight_decay: 3e-4,
            grad_clip: 5.0,
            train_portion: 0.5,
            channels: 16,
            cells: 8,
            arch_learning_rate: 3e-4,
            arch_betas: [0.5, 0.999],
            arch_weight_decay: 1e-3,
            arch_grad_clip: 0.0,
            init_scale: 1e-3,
            sampling: SamplingKind::Softmax,
            gumbel_hard: false,
            tau_max: 1.0,
            tau_min: 0.1,
            tau_anneal: Anneal::Exponential,
        }
    }
}

xnas_oneshot::shared_keys!(DartsParams);

impl CheckParams for DartsParams {
    fn check(&self) -> PluginResult<()> {
        self.checked().map_err(invalid)
    }
}

impl DartsParams {
    fn checked(&self) -> Result<(), String> {
        check_recipe(&self.recipe())?;
        at_least_one("channels", self.channels as usize)?;
        at_least_one("cells", self.cells as usize)?;
        self.arch_keys().check()?;
        if self.sampling == SamplingKind::Gumbel {
            temperatures(self.tau_max, self.tau_min)?;
        }
        Ok(())
    }

    /// How α is made and stepped.
    pub fn arch(&self) -> ArchConfig {
        let sampling = match self.sampling {
            SamplingKind::Softmax => Sampling::Softmax,
            SamplingKind::Gumbel => Sampling::Gumbel {
                hard: self.gumbel_hard,
                temperature: Temperature {
                    anneal: self.tau_anneal,
                    tau_max: self.tau_max,
                    tau_min: self.tau_min,
                },
            },
        };
        self.arch_keys().config(self.order, sampling)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_oneshot::testkit::parse_checked;

    fn parse(text: &str) -> Result<DartsParams, String> {
        parse_checked(text)
    }

    #[test]
    fn defaults_are_the_reference_codes() {
        let p = parse("").unwrap();
        assert_eq!(p, DartsParams::default());
        let r = p.recipe();
        assert_eq!(
            (r.epochs, r.batch_size, r.learning_rate, r.learning_rate_min),
            (50, 64, 0.025, 0.001)
        );
        assert_eq!(
            (r.momentum, r.weight_decay, r.grad_clip, r.train_portion),
            (0.9, 3e-4, 5.0, 0.5)
        );
        let a = p.arch();
        assert_eq!(
            (a.adam.lr, a.adam.beta1, a.adam.beta2, a.adam.weight_decay),
            (3e-4, 0.5, 0.999, 1e-3)
        );
        assert_eq!(
            (a.order, a.sampling, a.grad_clip),
            (Order::First, Sampling::Softmax, 0.0)
        );
        assert_eq!((p.channels, p.cells), (16, 8));
    }

    #[test]
    fn every_key_can_be_set() {
        let p = parse(
            "order = \"second\"\nsampling = \"gumbel\"\ngumbel_hard = true\ntau_max = 5.0\n\
             tau_min = 0.5\ntau_anneal = \"linear\"\nepochs = 3\ncells = 2\nchannels = 4\n",
        )
        .unwrap();
        assert_eq!(p.arch().order, Order::Second);
        let Sampling::Gumbel { hard, temperature } = p.arch().sampling else {
            panic!("not gumbel");
        };
        assert!(hard);
        assert_eq!(temperature.at(0.5), 2.75);
    }

    #[test]
    fn out_of_range_values_name_their_key() {
        for (text, want) in [
            ("epochs = 0", "`epochs` is 0: it must be at least 1"),
            (
                "learning_rate = -1.0",
                "`learning_rate` is -1: it must be a positive number",
            ),
            (
                "learning_rate_min = 0.5",
                "`learning_rate_min` is 0.5: it must not exceed `learning_rate` (0.025)",
            ),
            (
                "momentum = 1.5",
                "`momentum` is 1.5: it must be at least 0 and below 1",
            ),
            (
                "train_portion = 1.0",
                "`train_portion` is 1: it must be between 0 and 1 (both excluded)",
            ),
            (
                "arch_betas = [0.5, 1.0]",
                "`arch_betas` is [0.5, 1.0]: each beta must be at least 0 and below 1",
            ),
            (
                "sampling = \"gumbel\"\ntau_min = 2.0",
                "`tau_min` is 2: it must not exceed `tau_max` (1)",
            ),
            (
                "grad_clip = -1.0",
                "`grad_clip` is -1: it must be 0 or more",
            ),
        ] {
            assert_eq!(parse(text).unwrap_err(), want, "{text}");
        }
        assert!(parse("order = \"third\"")
            .unwrap_err()
            .contains("unknown variant `third`"));
        assert!(parse("epoch = 3")
            .unwrap_err()
            .starts_with("unknown field `epoch`"));
    }
}
