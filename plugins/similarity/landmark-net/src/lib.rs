//! `landmark-net`: TAPAS's dataset characterisation number (Istrate et al. 2019, "TAPAS:
//! Train-less Accuracy Predictor for Architecture Search"): the validation accuracy of a fixed
//! probe architecture (`xnas_tch::probe`, the one `task2vec` uses) trained from scratch on the
//! task with a fixed recipe, averaged over seeds and normalised for chance; distance = difference.
//!
//! Tasks' data: `tasks` (the same tables as a trainable space's; the host passes the space's
//! when the similarity section has none), and a task named like a preset reads that preset.

pub mod params;

pub use params::LandmarkNetParams;

use tch::Device;
use xnas_core::{
    capability, derive_seed, CheckParams, Checked, Meta, PluginError, PluginResult, PluginSet,
    Similarity, SimilarityInit,
};
use xnas_tch::image_tasks::ImageTasks;
use xnas_tch::probe::{self, Probe};
use xnas_tch::tch;

/// `landmark-net`: TAPAS's dataset characterisation number.
pub struct LandmarkNet {
    params: LandmarkNetParams,
    data: ImageTasks,
    device: Device,
}

impl LandmarkNet {
    pub fn new(params: LandmarkNetParams, init: &SimilarityInit) -> PluginResult<Self> {
        params.check()?;
        let device = probe::setup(params.threads, &params.device)?;
        let data = ImageTasks::new(params.tasks.clone(), init)?;
        Ok(LandmarkNet {
            params,
            data,
            device,
        })
    }

    /// Mean validation accuracy over the repeats (and the number of classes).
    pub fn accuracy(&self, task: &str) -> PluginResult<(f64, usize)> {
        let p = &self.params;
        let t = self.data.task(task)?;
        let take = |n: usize, limit: usize| n.min(limit) as i64;
        let ntr = take(t.train.len(), p.max_train);
        let nva = take(t.valid.len(), p.max_valid);
        if ntr == 0 || nva == 0 {
            return Err(PluginError::data(format!(
                "task `{task}` has an empty training or validation split"
            )));
        }
        let (x, y) = probe::first(&t.train, ntr, p.channels, p.size, self.device)?;
        let (xv, yv) = probe::first(&t.valid, nva, p.channels, p.size, self.device)?;
        let mut sum = 0.0;
        for r in 0..p.repeats {
            let seed = derive_seed(p.seed, r as u64);
            let net = Probe::new(p.channels, t.classes as i64, seed, self.device);
            probe::train(
                &net.vs,
                |xb| net.logits(xb, true),
                &x,
                &y,
                p.epochs,
                p.batch,
                p.learning_rate,
                0.0,
                seed,
            )?;
            sum += probe::accuracy(|xb| net.logits(xb, false), &xv, &yv, 256);
        }
        Ok((sum / p.repeats as f64, t.classes))
    }
}

/// `(acc − 1/C) / (1 − 1/C)`: 0 at chance, 1 when perfect, comparable across class counts.
pub fn normalise_for_chance(accuracy: f64, classes: usize) -> f64 {
    let chance = 1.0 / classes.max(2) as f64;
    (accuracy - chance) / (1.0 - chance)
}

impl Similarity for LandmarkNet {
    fn embed(&mut self, task: &str) -> PluginResult<Vec<f32>> {
        let started = std::time::Instant::now();
        let (acc, classes) = self.accuracy(task)?;
        let dcn = normalise_for_chance(acc, classes);
        tracing::info!(
            "landmark-net: {task}: accuracy {acc:.4} over {} repeats, {classes} classes, DCN {dcn:.4} ({:.1} s)",
            self.params.repeats,
            started.elapsed().as_secs_f64()
        );
        Ok(vec![dcn as f32])
    }

    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64> {
        match (a, b) {
            ([x], [y]) => Ok(f64::from((x - y).abs())),
            _ => Err(PluginError::invalid_params(
                "landmark-net embeddings have one value (the DCN)",
            )),
        }
    }
}

pub fn register(set: &mut PluginSet) {
    set.similarity(
        Meta {
            name: "landmark-net",
            version: env!("CARGO_PKG_VERSION"),
            description: "TAPAS's dataset difficulty: chance-normalised accuracy of a fixed small network; distance = difference",
            capabilities: &[capability::TRAINABLE],
        },
        |Checked(p): Checked<LandmarkNetParams>, init: &SimilarityInit| LandmarkNet::new(p, init),
    );
}

#[cfg(test)]
mod tests {
    use super::normalise_for_chance;

    #[test]
    fn chance_is_zero_and_perfect_is_one_for_any_class_count() {
        for classes in [2, 10, 100] {
            let chance = 1.0 / classes as f64;
            assert!(normalise_for_chance(chance, classes).abs() < 1e-12);
            assert!((normalise_for_chance(1.0, classes) - 1.0).abs() < 1e-12);
        }
        // Halfway between chance and perfect on 10 classes: 0.55 accuracy.
        assert!((normalise_for_chance(0.55, 10) - 0.5).abs() < 1e-12);
    }
}
