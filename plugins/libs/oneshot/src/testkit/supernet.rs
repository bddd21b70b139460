//! The toy supernet: per edge `y_e = Σ_c mix[e,c] · gain(op_c) · w[e,c]`, loss
//! `½ mean_e (y_e − t_e − noise)²` with a deterministic noise per (split, batch, edge). Its
//! weights train by SGD with the spec's recipe (momentum, L2, clipping, cosine schedule); its
//! second-order gradient is the finite-difference formula of the protocol.

use super::Event;
use crate::derive::Weights;
use serde::{Deserialize, Serialize};
use std::sync::{Arc, Mutex};
use xnas_core::{
    derive_seed, state, ArchGrad, BatchStats, ImportReport, Matrix, PluginError, PluginResult,
    SplitMix64, Supernet, SupernetInfo, SupernetLayout, SupernetSpec,
};

const OWNER: &str = "toy-supernet";

/// See the module docs.
pub struct ToySupernet {
    spec: SupernetSpec,
    candidates: Vec<Vec<u32>>,
    gains: Vec<f64>,
    skip: Vec<bool>,
    targets: Vec<f64>,
    train_batches: u32,
    valid_batches: u32,
    s: ToyState,
    snapshots: Vec<Option<Vec<f64>>>,
    events: Arc<Mutex<Vec<Event>>>,
}

#[derive(Clone, Serialize, Deserialize)]
struct ToyState {
    w: Vec<f64>,
    momentum: Vec<f64>,
    train_pos: u32,
    valid_pos: u32,
    epoch: u32,
    skip_dropout: f64,
}

#[derive(Clone, Copy)]
enum Split {
    Train,
    Valid,
}

impl ToySupernet {
    pub fn new(
        layout: &SupernetLayout,
        spec: &SupernetSpec,
        examples: u32,
        events: Arc<Mutex<Vec<Event>>>,
    ) -> PluginResult<Self> {
        let all: Vec<u32> = (0..layout.ops.len() as u32).collect();
        let candidates: Vec<Vec<u32>> = if spec.candidates.is_empty() {
            vec![all; layout.edges.len()]
        } else {
            spec.candidates.iter().map(|c| c.to_vec()).collect()
        };
        // Validates the shape.
        let cols = Weights::new(
            candidates.clone(),
            vec![0.0; candidates.len() * candidates[0].len()],
        )?
        .cols;
        let zero = layout.zero_op.into_option();
        let skip_op = layout.skip_op.into_option();
        let gain = |op: u32| match op {
            _ if Some(op) == zero => 0.0,
            _ if Some(op) == skip_op => 1.0,
            _ => 0.5 + 0.1 * f64::from(op % 4),
        };
        let gains = candidates.iter().flatten().map(|&op| gain(op)).collect();
        let skip = candidates
            .iter()
            .flatten()
            .map(|&op| Some(op) == skip_op)
            .collect();
        let targets = (0..candidates.len())
            .map(|e| 1.0 + 0.5 * (e as f64).sin())
            .collect();
        let mut r = SplitMix64::new(spec.seed);
        let n = candidates.len() * cols;
        let w = (0..n).map(|_| 0.5 + 0.1 * (r.next_f64() - 0.5)).collect();
        let batch = spec.recipe.batch_size.max(1);
        let train = (f64::from(examples) * spec.recipe.train_portion).floor() as u32;
        events
            .lock()
            .expect("event log")
            .push(Event::Built(spec.clone()));
        Ok(ToySupernet {
            spec: spec.clone(),
            candidates,
            gains,
            skip,
            targets,
            train_batches: train.div_ceil(batch),
            valid_batches: (examples - train).div_ceil(batch),
            s: ToyState {
                w,
                momentum: vec![0.0; n],
                train_pos: 0,
                valid_pos: 0,
                epoch: 0,
                skip_dropout: 0.0,
            },
            snapshots: Vec::new(),
            events,
        })
    }

    fn log(&self, e: Event) {
        self.events.lock().expect("event log").push(e);
    }

    fn cols(&self) -> usize {
        self.candidates[0].len()
    }

    fn lr(&self) -> f64 {
        let r = &self.spec.recipe;
        let t = f64::from(self.s.epoch) / f64::from(r.epochs.max(1));
        r.learning_rate_min
            + (r.learning_rate - r.learning_rate_min) * (1.0 + (std::f64::consts::PI * t).cos())
                / 2.0
    }

    fn noise(&self, split: Split, batch: u32, e: usize) -> f64 {
        let tag = (batch as u64) << 20 | (e as u64) << 1 | split as u64;
        SplitMix64::new(derive_seed(self.spec.seed, tag)).next_f64() * 0.2 - 0.1
    }

    /// Residuals per edge; `train` applies skip dropout (in expectation: gain · (1 − p)).
    fn residuals(&self, w: &[f64], mix: &[f64], split: Split, batch: u32, train: bool) -> Vec<f64> {
        let cols = self.cols();
        (0..self.candidates.len())
            .map(|e| {
                let y: f64 = (0..cols)
                    .map(|c| mix[e * cols + c] * self.gain(e * cols + c, train) * w[e * cols + c])
                    .sum();
                y - self.targets[e] - self.noise(split, batch, e)
            })
            .collect()
    }

    fn gain(&self, i: usize, train: bool) -> f64 {
        let drop = if train && self.skip[i] {
            self.s.skip_dropout
        } else {
            0.0
        };
        self.gains[i] * (1.0 - drop)
    }

    fn stats(&self, r: &[f64]) -> BatchStats {
        let n = r.len() as f64;
        BatchStats {
            loss: r.iter().map(|x| 0.5 * x * x).sum::<f64>() / n,
            accuracy: r.iter().filter(|x| x.abs() < 0.1).count() as f64 / n,
            examples: self.spec.recipe.batch_size,
        }
    }

    fn grad_w(&self, r: &[f64], mix: &[f64]) -> Vec<f64> {
        let (cols, n) = (self.cols(), r.len() as f64);
        (0..mix.len())
            .map(|i| r[i / cols] * self.gain(i, true) * mix[i] / n)
            .collect()
    }

    fn grad_mix(&self, r: &[f64], w: &[f64], train: bool) -> Vec<f64> {
        let (cols, n) = (self.cols(), r.len() as f64);
        (0..w.len())
            .map(|i| r[i / cols] * self.gain(i, train) * w[i] / n)
            .collect()
    }

    fn mix(&self, m: &Matrix) -> PluginResult<Vec<f64>> {
        if m.rows as usize != self.candidates.len() || m.cols as usize != self.cols() {
            return Err(PluginError::data(format!(
                "toy supernet: a {}×{} mix",
                m.rows, m.cols
            )));
        }
        Ok(m.data.iter().map(|&x| f64::from(x)).collect())
    }

    fn matrix(&self, v: &[f64]) -> Matrix {
        Matrix::new(
            self.candidates.len(),
            self.cols(),
            v.iter().map(|&x| x as f32).collect(),
        )
    }
}

impl Supernet for ToySupernet {
    fn info(&self) -> PluginResult<SupernetInfo> {
        Ok(SupernetInfo {
            candidates: self.candidates.iter().map(|c| c.clone().into()).collect(),
            parameters: self.s.w.len() as u64,
            train_batches: self.train_batches,
            valid_batches: self.valid_batches,
            epoch: self.s.epoch,
            learning_rate: self.lr(),
        })
    }

    fn train_step(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        self.log(Event::Train(mix.data.to_vec()));
        let m = self.mix(mix)?;
        let r = self.residuals(&self.s.w, &m, Split::Train, self.s.train_pos, true);
        let mut g = self.grad_w(&r, &m);
        crate::adam::clip_grad_norm(&mut g, self.spec.recipe.grad_clip);
        let (lr, mu, wd) = (
            self.lr(),
            self.spec.recipe.momentum,
            self.spec.recipe.weight_decay,
        );
        for (i, gi) in g.iter().enumerate() {
            self.s.momentum[i] = mu * self.s.momentum[i] + gi + wd * self.s.w[i];
            self.s.w[i] -= lr * self.s.momentum[i];
        }
        self.s.train_pos = (self.s.train_pos + 1) % self.train_batches;
        Ok(self.stats(&r))
    }

    fn arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        self.log(Event::ArchGrad(mix.data.to_vec()));
        let m = self.mix(mix)?;
        let r = self.residuals(&self.s.w, &m, Split::Valid, self.s.valid_pos, true);
        self.s.valid_pos = (self.s.valid_pos + 1) % self.valid_batches;
        Ok(ArchGrad {
            stats: self.stats(&r),
            grad: self.matrix(&self.grad_mix(&r, &self.s.w, true)),
        })
    }

    fn unrolled_arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        self.log(Event::Unrolled(mix.data.to_vec()));
        let m = self.mix(mix)?;
        let (xi, mu, wd) = (
            self.lr(),
            self.spec.recipe.momentum,
            self.spec.recipe.weight_decay,
        );
        let (tb, vb) = (self.s.train_pos, self.s.valid_pos);
        let w = &self.s.w;
        let r_train = self.residuals(w, &m, Split::Train, tb, true);
        let gw = self.grad_w(&r_train, &m);
        let w1: Vec<f64> = (0..w.len())
            .map(|i| w[i] - xi * (mu * self.s.momentum[i] + gw[i] + wd * w[i]))
            .collect();
        let r_val = self.residuals(&w1, &m, Split::Valid, vb, true);
        let v = self.grad_w(&r_val, &m);
        let g_mix = self.grad_mix(&r_val, &w1, true);
        let eps = 0.01 / v.iter().map(|x| x * x).sum::<f64>().sqrt();
        let shifted = |sign: f64| -> Vec<f64> {
            let wp: Vec<f64> = w.iter().zip(&v).map(|(a, b)| a + sign * eps * b).collect();
            let r = self.residuals(&wp, &m, Split::Train, tb, true);
            self.grad_mix(&r, &wp, true)
        };
        let (plus, minus) = (shifted(1.0), shifted(-1.0));
        let grad: Vec<f64> = (0..g_mix.len())
            .map(|i| g_mix[i] - xi * (plus[i] - minus[i]) / (2.0 * eps))
            .collect();
        self.s.valid_pos = (vb + 1) % self.valid_batches;
        Ok(ArchGrad {
            stats: self.stats(&r_val),
            grad: self.matrix(&grad),
        })
    }

    fn evaluate(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        self.log(Event::Evaluate(mix.data.to_vec()));
        let m = self.mix(mix)?;
        let mut sum = crate::report::StatsSum::default();
        for b in 0..self.valid_batches {
            sum.add(&self.stats(&self.residuals(&self.s.w, &m, Split::Valid, b, false)));
        }
        Ok(sum.mean())
    }

    fn end_epoch(&mut self) -> PluginResult<u32> {
        self.s.epoch += 1;
        self.log(Event::EndEpoch(self.s.epoch));
        Ok(self.s.epoch)
    }

    fn set_skip_dropout(&mut self, p: f64) -> PluginResult<()> {
        self.log(Event::SkipDropout(p));
        self.s.skip_dropout = p;
        Ok(())
    }

    fn set_task(&mut self, task: u32) -> PluginResult<()> {
        match task {
            0 => Ok(()),
            _ => Err(PluginError::unknown_task(format!(
                "toy supernet: no task {task}"
            ))),
        }
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        state::encode(OWNER, 1, &self.s)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let s: ToyState = state::decode(OWNER, 1, blob)?;
        if s.w.len() != self.s.w.len() {
            return Err(PluginError::data("toy supernet: state of another shape"));
        }
        self.log(Event::LoadState);
        self.s = s;
        Ok(())
    }

    fn snapshot(&mut self) -> PluginResult<u32> {
        self.snapshots.push(Some(self.s.w.clone()));
        Ok(self.snapshots.len() as u32 - 1)
    }

    fn restore(&mut self, id: u32) -> PluginResult<()> {
        self.s.w = self.snap(id)?.clone();
        Ok(())
    }

    fn drop_snapshot(&mut self, id: u32) -> PluginResult<()> {
        self.snap(id)?;
        self.snapshots[id as usize] = None;
        Ok(())
    }

    fn interpolate(&mut self, base: u32, others: &[u32], epsilon: f64) -> PluginResult<()> {
        let b = self.snap(base)?.clone();
        let mut mean = vec![0.0; b.len()];
        for &o in others {
            for (m, x) in mean.iter_mut().zip(self.snap(o)?) {
                *m += x / others.len() as f64;
            }
        }
        self.s.w = b
            .iter()
            .zip(&mean)
            .map(|(b, m)| b + epsilon * (m - b))
            .collect();
        Ok(())
    }

    fn export_weights(&self) -> PluginResult<Vec<u8>> {
        state::encode(OWNER, 1, &self.s.w)
    }

    fn import_weights(&mut self, weights: &[u8]) -> PluginResult<ImportReport> {
        let w: Vec<f64> = state::decode(OWNER, 1, weights)?;
        if w.len() != self.s.w.len() {
            return Ok(ImportReport {
                loaded: 0,
                kept: vec!["w".into()].into(),
            });
        }
        self.s.w = w;
        Ok(ImportReport {
            loaded: 1,
            kept: Default::default(),
        })
    }
}

impl ToySupernet {
    fn snap(&self, id: u32) -> PluginResult<&Vec<f64>> {
        self.snapshots
            .get(id as usize)
            .and_then(Option::as_ref)
            .ok_or_else(|| PluginError::other(format!("toy supernet: no snapshot {id}")))
    }
}
