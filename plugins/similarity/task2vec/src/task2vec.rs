//! `task2vec`: the Monte-Carlo diagonal Fisher of a trained probe (Achille et al. 2019;
//! awslabs/aws-cv-task2vec task2vec.py `montecarlo_fisher`, task_similarity.py).
//!
//! Choices where the reference leaves one open (its pitfalls): BN runs in eval mode for every
//! task (running statistics of the probe's training; nothing is updated); the Fisher squares
//! batch-mean gradients over fixed batches of `batch` images (as the reference does), so `batch`
//! and `fisher_samples` must stay the same across the tasks compared; labels are drawn from the
//! model's softmax (the true Fisher, not the empirical one); the task's classifier is excluded.

use crate::params::Task2VecParams;
use std::path::PathBuf;
use std::time::Instant;
use tch::nn::{self, Module};
use tch::{Device, Kind, Tensor};
use xnas_core::{
    derive_seed, CheckParams, PluginError, PluginResult, Similarity, SimilarityInit, SplitMix64,
};
use xnas_tch::image_tasks::ImageTasks;
use xnas_tch::probe::{self, prepare, Probe};
use xnas_tch::tch;

/// Version of the probe recipe in the cache key: bump when the architecture or training changes.
const PROBE_RECIPE: u32 = 1;

pub struct Task2Vec {
    params: Task2VecParams,
    data: ImageTasks,
    device: Device,
    probe: Option<Probe>,
}

impl Task2Vec {
    pub fn new(params: Task2VecParams, init: &SimilarityInit) -> PluginResult<Self> {
        params.check()?;
        let device = probe::setup(params.threads, &params.device)?;
        let data = ImageTasks::new(params.tasks.clone(), init)?;
        Ok(Task2Vec {
            params,
            data,
            device,
            probe: None,
        })
    }

    /// The cached probe's file: one per (dataset, recipe), shared by every experiment.
    pub fn probe_path(&self) -> PathBuf {
        let p = &self.params;
        let key = format!(
            "{PROBE_RECIPE}|{:?}|{}|{}|{}|{}|{}",
            p.probe, p.channels, p.size, p.probe_epochs, p.probe_samples, p.seed
        );
        let h = xnas_core::fnv1a64(key.as_bytes());
        let name = p.probe.preset.as_deref().unwrap_or("custom");
        let dir = p.probe_dir();
        let dir = if dir.is_relative() {
            self.data.base_dir.join(dir)
        } else {
            dir
        };
        dir.join(format!("task2vec-{name}-{h:016x}.ot"))
    }

    /// Loads the probe, training it first if no saved one exists.
    fn probe(&mut self) -> PluginResult<&Probe> {
        if self.probe.is_none() {
            let probe = self.load_or_train()?;
            self.probe = Some(probe);
        }
        Ok(self.probe.as_ref().expect("set above"))
    }

    fn load_or_train(&self) -> PluginResult<Probe> {
        let p = &self.params;
        let data = self.data.load("probe", &p.probe)?;
        let path = self.probe_path();
        let mut probe = Probe::new(
            p.channels,
            data.classes as i64,
            derive_seed(p.seed, 1),
            self.device,
        );
        if path.exists() {
            probe.load(&path)?;
            tracing::info!("task2vec: probe loaded from {}", path.display());
            return Ok(probe);
        }
        let started = Instant::now();
        let n = data.train.len().min(p.probe_samples) as i64;
        let (x, y) = probe::first(&data.train, n, p.channels, p.size, self.device)?;
        tracing::info!(
            "task2vec: training the probe on {n} images of {:?} for {} epochs (once; saved to {})",
            p.probe.preset.as_deref().unwrap_or("the probe dataset"),
            p.probe_epochs,
            path.display()
        );
        let loss = probe::train(
            &probe.vs,
            |xb| probe.logits(xb, true),
            &x,
            &y,
            p.probe_epochs,
            128,
            1e-3,
            0.0,
            derive_seed(p.seed, 2),
        )?;
        let nv = data.valid.len().min(5000) as i64;
        let (xv, yv) = probe::first(&data.valid, nv, p.channels, p.size, self.device)?;
        let acc = probe::accuracy(|xb| probe.logits(xb, false), &xv, &yv, 256);
        let seconds = started.elapsed().as_secs_f64();
        tracing::info!("task2vec: probe trained in {seconds:.1} s: loss {loss:.4}, validation accuracy {acc:.4}");
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|e| {
                PluginError::io(format!(
                    "cannot create the probe folder {}: {e}",
                    dir.display()
                ))
            })?;
        }
        probe.save(&path)?;
        let about = serde_json::json!({
            "dataset": format!("{:?}", p.probe),
            "images": n, "epochs": p.probe_epochs, "channels": p.channels, "size": p.size,
            "seed": p.seed, "final_loss": loss, "valid_accuracy": acc, "seconds": seconds,
        });
        let _ = std::fs::write(
            path.with_extension("json"),
            serde_json::to_string_pretty(&about).unwrap_or_default(),
        );
        Ok(probe)
    }

    /// The Task2Vec embedding of `task`: one Fisher value per probe filter (conv weights
    /// averaged over their input and kernel dimensions, BN scales per channel).
    pub fn embedding(&mut self, task: &str) -> PluginResult<Vec<f32>> {
        let started = Instant::now();
        let t = self.data.task(task)?;
        let device = self.device;
        let p = self.params.clone();
        let probe = self.probe()?;
        let n = t.train.len().min(p.max_samples) as i64;
        if n == 0 {
            return Err(PluginError::data(format!(
                "task `{task}` has no training images"
            )));
        }
        let classes = t.classes as i64;

        // 1. Features of the frozen probe, then a classifier fitted on them alone.
        let (x, y) = probe::first(&t.train, n, p.channels, p.size, device)?;
        let feats = tch::no_grad(|| probe.features(&x, false));
        let cls_vs =
            xnas_tch::seed::with_torch_seed(derive_seed(p.seed, 3), || nn::VarStore::new(device));
        let fc = xnas_tch::seed::with_torch_seed(derive_seed(p.seed, 4), || {
            nn::linear(
                cls_vs.root() / "fc",
                probe::FEATURES,
                classes,
                Default::default(),
            )
        });
        probe::train(
            &cls_vs,
            |f| fc.forward(f),
            &feats,
            &y,
            p.classifier_epochs,
            p.batch,
            p.classifier_lr,
            p.classifier_weight_decay,
            derive_seed(p.seed, 5),
        )?;
        let fit = probe::accuracy(|f| fc.forward(f), &feats, &y, 256);
        let mut cls_vs = cls_vs;
        cls_vs.freeze();

        // 2. Monte-Carlo Fisher over class-balanced draws from the whole training split.
        let labels: Vec<i64> = Vec::<i64>::try_from(&t.train.labels)
            .map_err(|e| PluginError::data(format!("task `{task}`: unreadable labels: {e}")))?;
        let draws = balanced_draws(&labels, t.classes, p.fisher_samples, derive_seed(p.seed, 6));
        let mut weights = probe.embedded_weights();
        let mut acc: Vec<Tensor> = weights.iter().map(Tensor::zeros_like).collect();
        let mut rng = SplitMix64::new(derive_seed(p.seed, 7));
        let mut batches = 0usize;
        for chunk in draws.chunks_exact(p.batch) {
            let idx = Tensor::from_slice(chunk);
            let xb = prepare(
                &t.train.images.index_select(0, &idx),
                p.channels,
                p.size,
                device,
            )?;
            for w in &mut weights {
                w.zero_grad();
            }
            let logits = fc.forward(&probe.features(&xb, false));
            let sampled = sample_labels(&logits, &mut rng)?;
            let loss =
                logits.cross_entropy_for_logits(&Tensor::from_slice(&sampled).to_device(device));
            loss.backward();
            tch::no_grad(|| {
                for (a, w) in acc.iter_mut().zip(&weights) {
                    *a += w.grad().square();
                }
            });
            batches += 1;
        }
        for w in &mut weights {
            w.zero_grad();
        }
        let mut out = Vec::new();
        for a in acc {
            let a = a / batches as f64;
            let per_filter = if a.dim() > 1 {
                let dims: Vec<i64> = (1..a.dim() as i64).collect();
                a.mean_dim(Some(dims.as_slice()), false, Kind::Float)
            } else {
                a
            };
            out.extend(
                Vec::<f32>::try_from(per_filter.to_device(Device::Cpu))
                    .map_err(|e| PluginError::other(format!("reading the Fisher: {e}")))?,
            );
        }
        tracing::info!(
            "task2vec: {task}: classifier fit accuracy {fit:.3} on {n} images; Fisher over {batches} \
             batches of {}; {} values in {:.2} s",
            p.batch,
            out.len(),
            started.elapsed().as_secs_f64()
        );
        Ok(out)
    }
}

/// `n` row indices drawn with replacement, each class equally likely (the reference's
/// `WeightedRandomSampler` with weights 1 / class count).
pub fn balanced_draws(labels: &[i64], classes: usize, n: usize, seed: u64) -> Vec<i64> {
    let mut by_class: Vec<Vec<i64>> = vec![Vec::new(); classes];
    for (i, &l) in labels.iter().enumerate() {
        if let Some(c) = by_class.get_mut(l as usize) {
            c.push(i as i64);
        }
    }
    by_class.retain(|c| !c.is_empty());
    let mut rng = SplitMix64::new(seed);
    (0..n)
        .map(|_| {
            let c = &by_class[rng.below(by_class.len() as u32) as usize];
            c[rng.below(c.len() as u32) as usize]
        })
        .collect()
}

/// One label per row drawn from the row's softmax.
fn sample_labels(logits: &Tensor, rng: &mut SplitMix64) -> PluginResult<Vec<i64>> {
    let probs = logits
        .detach()
        .softmax(-1, Kind::Double)
        .to_device(Device::Cpu);
    let k = probs.size()[1] as usize;
    let flat = Vec::<f64>::try_from(probs.flatten(0, -1))
        .map_err(|e| PluginError::other(format!("reading probabilities: {e}")))?;
    Ok(flat
        .chunks(k)
        .map(|row| {
            let u = rng.next_f64();
            let mut c = 0.0;
            for (j, p) in row.iter().enumerate() {
                c += p;
                if u < c {
                    return j as i64;
                }
            }
            (k - 1) as i64
        })
        .collect())
}

/// Task2Vec's symmetric cosine distance: `d_cos(a/(a+b+ε), b/(a+b+ε))`, ε = 1e-8.
pub fn d_sym(a: &[f32], b: &[f32]) -> f64 {
    let (mut dot, mut na, mut nb) = (0.0f64, 0.0f64, 0.0f64);
    for (&x, &y) in a.iter().zip(b) {
        let s = f64::from(x) + f64::from(y) + 1e-8;
        let (u, v) = (f64::from(x) / s, f64::from(y) / s);
        dot += u * v;
        na += u * u;
        nb += v * v;
    }
    if na == 0.0 || nb == 0.0 {
        return 1.0;
    }
    // Rounding can put two equal embeddings a hair below 0; a distance is never negative.
    (1.0 - dot / (na.sqrt() * nb.sqrt())).max(0.0)
}

impl Similarity for Task2Vec {
    fn embed(&mut self, task: &str) -> PluginResult<Vec<f32>> {
        self.embedding(task)
    }

    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64> {
        if a.len() != b.len() {
            return Err(PluginError::invalid_params(format!(
                "Task2Vec embeddings of different lengths ({} and {}): they come from different probes",
                a.len(),
                b.len()
            )));
        }
        Ok(d_sym(a, b))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn d_sym_is_zero_on_equal_and_symmetric() {
        let a = [1.0, 2.0, 3.0];
        let b = [3.0, 1.0, 0.5];
        assert!(d_sym(&a, &a).abs() < 1e-12);
        // Never below 0, where rounding would put 1 − cos of equal vectors.
        let c: Vec<f32> = (0..200)
            .map(|i| (i as f32 * 0.37).sin().abs() + 1e-3)
            .collect();
        assert!(d_sym(&c, &c) >= 0.0);
        assert!((d_sym(&a, &b) - d_sym(&b, &a)).abs() < 1e-12);
        assert!(d_sym(&a, &b) > 0.0);
        // Scale-free in the sense of the normalisation: doubling both changes nothing.
        let (a2, b2) = (a.map(|x| 2.0 * x), b.map(|x| 2.0 * x));
        assert!((d_sym(&a, &b) - d_sym(&a2, &b2)).abs() < 1e-9);
    }

    #[test]
    fn balanced_draws_cover_classes_evenly() {
        // 90 rows of class 0, 10 of class 1: draws are about half each.
        let labels: Vec<i64> = (0..100).map(|i| i64::from(i >= 90)).collect();
        let d = balanced_draws(&labels, 2, 4000, 3);
        let ones = d.iter().filter(|&&i| labels[i as usize] == 1).count();
        assert!((1700..2300).contains(&ones), "{ones}");
    }
}
