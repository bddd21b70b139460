//! Task similarity from a probe network ([`probe`]) trained in tch on real image tasks:
//!
//! * `task2vec` (Achille et al. 2019; ALGORITHMS.md §6.2): a probe trained once on a dataset the
//!   user names (saved and reused, so every task is embedded by the same probe); per task, a new
//!   classifier is fitted on the frozen probe's features, then the diagonal Fisher information
//!   of the probe's conv and BN weights is estimated by Monte Carlo with labels sampled from the
//!   model, one value per filter; distance = symmetric cosine d_sym.
//! * `landmark-net` (TAPAS's dataset characterisation number, Istrate et al. 2019; §8.2): the
//!   validation accuracy of the fixed probe architecture trained from scratch on the task with a
//!   fixed recipe, averaged over seeds and normalised for chance; distance = difference.
//!
//! Tasks' data: `tasks` (the same tables as a trainable space's; the host passes the space's
//! when the similarity section has none), and a task named like a preset reads that preset.

pub mod params;
pub mod probe;
mod task2vec;

pub use params::{LandmarkNetParams, Task2VecParams};
pub use task2vec::{d_sym, Task2Vec};

use params::TaskTables;
use probe::Probe;
use std::path::PathBuf;
use std::sync::Arc;
use tch::Device;
use xnas_core::{
    capability, derive_seed, CheckParams, Checked, Meta, PluginError, PluginResult, PluginSet,
    Similarity, SimilarityInit,
};
use xnas_tch::data::{load_task_cached, TaskData};
use xnas_tch::tch;

/// Where tasks' files are found, and which spec each task has.
pub(crate) struct DataAccess {
    tables: TaskTables,
    pub(crate) base_dir: PathBuf,
    data_dir: PathBuf,
}

impl DataAccess {
    pub(crate) fn new(tables: TaskTables, init: &SimilarityInit) -> PluginResult<DataAccess> {
        let data_dir = if init.data_dir.is_empty() {
            xnas_tch::data::default_data_dir()
        } else {
            PathBuf::from(init.data_dir.as_str())
        };
        let me = DataAccess {
            tables,
            base_dir: PathBuf::from(init.base_dir.as_str()),
            data_dir,
        };
        // Every task is read up front: a missing or malformed file stops the run before it starts.
        for t in init.tasks.iter() {
            me.task(t.as_str())?;
        }
        Ok(me)
    }

    pub(crate) fn task(&self, name: &str) -> PluginResult<Arc<TaskData>> {
        let spec = self.tables.spec(name)?;
        load_task_cached(name, &spec, &self.base_dir, &self.data_dir).map_err(Into::into)
    }

    pub(crate) fn load(
        &self,
        name: &str,
        spec: &xnas_tch::data::DatasetSpec,
    ) -> PluginResult<Arc<TaskData>> {
        load_task_cached(name, spec, &self.base_dir, &self.data_dir).map_err(Into::into)
    }
}

fn setup(threads: usize, device: &str) -> PluginResult<Device> {
    if threads > 0 {
        tch::set_num_threads(threads as i32);
    }
    xnas_tch::device::parse("device", device)
}

/// `landmark-net`: TAPAS's dataset characterisation number.
pub struct LandmarkNet {
    params: LandmarkNetParams,
    data: DataAccess,
    device: Device,
}

impl LandmarkNet {
    pub fn new(params: LandmarkNetParams, init: &SimilarityInit) -> PluginResult<Self> {
        params.check()?;
        let device = setup(params.threads, &params.device)?;
        let data = DataAccess::new(params.tasks.clone(), init)?;
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
            name: "task2vec",
            version: env!("CARGO_PKG_VERSION"),
            description: "Task2Vec: diagonal Fisher of a trained probe CNN, one value per filter; symmetric cosine distance",
            capabilities: &[capability::TRAINABLE],
        },
        // Checked as parsed, so `xnas validate` refuses what the constructor would.
        |Checked(p): Checked<Task2VecParams>, init: &SimilarityInit| Task2Vec::new(p, init),
    )
    .similarity(
        Meta {
            name: "landmark-net",
            version: env!("CARGO_PKG_VERSION"),
            description: "TAPAS's dataset difficulty: chance-normalised accuracy of a fixed small network; distance = difference",
            capabilities: &[capability::TRAINABLE],
        },
        |Checked(p): Checked<LandmarkNetParams>, init: &SimilarityInit| LandmarkNet::new(p, init),
    );
}
