//! The two parts of each task's training split (w and α) and their cycling batch iterators.

use crate::data::{split_permutation, TaskData};
use crate::error::TchContext;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};
use xnas_core::{derive_seed, PluginError, PluginResult};

/// One batch on the engine's device.
#[derive(Debug)]
pub struct Batch {
    /// `[B, C, H, W]` in the engine's float kind.
    pub images: Tensor,
    /// `[B]` int64.
    pub labels: Tensor,
    /// Seeds this batch's skip-dropout masks ([`super::Pass`]).
    pub seed: u64,
}

impl Batch {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Images and labels of one part, on the device.
#[derive(Debug)]
pub(crate) struct Part {
    pub images: Tensor,
    pub labels: Tensor,
}

impl Part {
    pub fn len(&self) -> usize {
        self.labels.size()[0] as usize
    }
}

/// A task's training split cut in two: `w` trains the weights, `alpha` gives the α batches and
/// the split `evaluate` reports on.
#[derive(Debug)]
pub(crate) struct TaskSplit {
    pub name: String,
    /// Classes of the task (labels are 0..classes).
    pub classes: usize,
    pub w: Part,
    pub alpha: Part,
}

impl TaskSplit {
    /// Shuffles `data.train` with `seed` and keeps the first ⌊portion·n⌋ rows for w (DARTS).
    pub fn new(
        data: &TaskData,
        portion: f64,
        seed: u64,
        device: Device,
        kind: Kind,
    ) -> PluginResult<Self> {
        let n = data.train.len();
        let n_w = (portion * n as f64).floor() as usize;
        if n_w < 2 || n - n_w < 2 {
            return Err(PluginError::invalid_params(format!(
                "task `{}`: `train_portion = {portion}` splits its {n} training images into {n_w} \
                 for the weights and {} for α; each part needs at least 2 (batch norm)",
                data.name,
                n - n_w
            )));
        }
        let what = format!("task `{}`: splitting for the supernet", data.name);
        let perm: Vec<i64> = split_permutation(n, seed)
            .into_iter()
            .map(|i| i as i64)
            .collect();
        let part = |rows: &[i64]| -> PluginResult<Part> {
            let idx = Tensor::f_from_slice(rows).context(&what)?;
            Ok(Part {
                images: data
                    .train
                    .images
                    .f_index_select(0, &idx)
                    .and_then(|t| t.f_to_kind(kind))
                    .and_then(|t| t.f_to_device(device))
                    .context(&what)?,
                labels: data
                    .train
                    .labels
                    .f_index_select(0, &idx)
                    .and_then(|t| t.f_to_kind(Kind::Int64))
                    .and_then(|t| t.f_to_device(device))
                    .context(&what)?,
            })
        };
        Ok(TaskSplit {
            name: data.name.clone(),
            classes: data.classes,
            w: part(&perm[..n_w])?,
            alpha: part(&perm[n_w..])?,
        })
    }
}

/// Where a cycling iterator is: the pass (reshuffle) and the next batch within it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Position {
    pub pass: u64,
    pub batch: u32,
}

/// Batches of one part, cycling: each pass visits the part once in an order drawn from
/// (seed, pass); the last batch of a pass may be smaller, and is skipped when it would hold one
/// image.
#[derive(Debug)]
pub(crate) struct Cycle {
    n: usize,
    batch: usize,
    seed: u64,
    device: Device,
    pos: Position,
    /// This pass's order, int64 on the device.
    order: Tensor,
}

impl Cycle {
    /// `n ≥ 2` rows in batches of `batch` (at most `n`).
    pub fn new(n: usize, batch: usize, seed: u64, device: Device) -> PluginResult<Self> {
        let mut c = Cycle {
            n,
            batch: batch.clamp(1, n),
            seed,
            device,
            pos: Position { pass: 0, batch: 0 },
            order: Tensor::new(),
        };
        c.order = c.order_of(0)?;
        Ok(c)
    }

    fn order_of(&self, pass: u64) -> PluginResult<Tensor> {
        let order: Vec<i64> = split_permutation(self.n, derive_seed(self.seed, pass))
            .into_iter()
            .map(|i| i as i64)
            .collect();
        Tensor::f_from_slice(&order)
            .and_then(|t| t.f_to_device(self.device))
            .context("supernet batch order")
    }

    /// Batches per pass.
    pub fn batches(&self) -> u32 {
        let (full, rest) = (self.n / self.batch, self.n % self.batch);
        (full + usize::from(rest >= 2)) as u32
    }

    pub fn position(&self) -> Position {
        self.pos
    }

    /// Checks that `pos` is a position of this iterator.
    pub fn check(&self, pos: Position) -> Result<(), String> {
        if pos.batch >= self.batches() {
            return Err(format!(
                "batch {} of a pass of {} batches",
                pos.batch,
                self.batches()
            ));
        }
        Ok(())
    }

    /// Moves to `pos` (checked with [`Cycle::check`] first).
    pub fn seek(&mut self, pos: Position) -> PluginResult<()> {
        if pos.pass != self.pos.pass {
            self.order = self.order_of(pos.pass)?;
        }
        self.pos = pos;
        Ok(())
    }

    /// The batch at the current position, without moving.
    pub fn peek(&self, part: &Part) -> PluginResult<Batch> {
        let from = self.pos.batch as usize * self.batch;
        let len = self.batch.min(self.n - from);
        let what = "supernet batch";
        let idx = self
            .order
            .f_narrow(0, from as i64, len as i64)
            .context(what)?;
        Ok(Batch {
            images: part.images.f_index_select(0, &idx).context(what)?,
            labels: part.labels.f_index_select(0, &idx).context(what)?,
            seed: derive_seed(derive_seed(self.seed, self.pos.pass), self.pos.batch as u64),
        })
    }

    /// Moves to the next batch, starting a new pass (a new order) after the last.
    pub fn advance(&mut self) -> PluginResult<()> {
        let next = if self.pos.batch + 1 < self.batches() {
            Position {
                batch: self.pos.batch + 1,
                ..self.pos
            }
        } else {
            Position {
                pass: self.pos.pass + 1,
                batch: 0,
            }
        };
        self.seek(next)
    }

    /// The current batch, then moves on.
    #[cfg(test)]
    pub fn next(&mut self, part: &Part) -> PluginResult<Batch> {
        let b = self.peek(part)?;
        self.advance()?;
        Ok(b)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn part(n: usize) -> Part {
        Part {
            images: Tensor::arange(n as i64, (Kind::Float, Device::Cpu)).view([n as i64, 1, 1, 1]),
            labels: Tensor::arange(n as i64, (Kind::Int64, Device::Cpu)),
        }
    }

    fn rows(b: &Batch) -> Vec<i64> {
        Vec::<i64>::try_from(&b.labels).unwrap()
    }

    #[test]
    fn a_pass_visits_every_row_once_and_the_next_pass_reshuffles() {
        let p = part(11);
        let mut c = Cycle::new(11, 4, 7, Device::Cpu).unwrap();
        // 4 + 4 + 3: the short last batch is kept.
        assert_eq!(c.batches(), 3);
        let pass = |c: &mut Cycle| {
            let mut all: Vec<i64> = (0..3).flat_map(|_| rows(&c.next(&p).unwrap())).collect();
            let order = all.clone();
            all.sort();
            assert_eq!(all, (0..11).collect::<Vec<_>>());
            order
        };
        let first = pass(&mut c);
        assert_eq!(c.position(), Position { pass: 1, batch: 0 });
        let second = pass(&mut c);
        assert_ne!(first, second, "each pass has its own order");
        // A trailing batch of one image is skipped.
        assert_eq!(Cycle::new(9, 4, 7, Device::Cpu).unwrap().batches(), 2);
        assert_eq!(Cycle::new(3, 8, 7, Device::Cpu).unwrap().batches(), 1);
    }

    #[test]
    fn seeking_gives_the_same_batches_and_seeds() {
        let p = part(10);
        let mut a = Cycle::new(10, 3, 1, Device::Cpu).unwrap();
        for _ in 0..5 {
            a.advance().unwrap();
        }
        let mut b = Cycle::new(10, 3, 1, Device::Cpu).unwrap();
        b.check(a.position()).unwrap();
        b.seek(a.position()).unwrap();
        for _ in 0..4 {
            let (x, y) = (a.next(&p).unwrap(), b.next(&p).unwrap());
            assert_eq!(rows(&x), rows(&y));
            assert_eq!(x.seed, y.seed);
        }
        assert!(b
            .check(Position { pass: 0, batch: 3 })
            .unwrap_err()
            .contains("batch 3 of a pass of 3"));
    }
}
