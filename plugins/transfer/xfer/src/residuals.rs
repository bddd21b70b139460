//! Every task's residual MLP of one xfer head, held in one tensor so that a step updates all of
//! them with a few large operations instead of one Adam per residual (issue 30, "Cost").
//!
//! Row `t` of `flat` (`[tasks, width]`) holds task `t`'s parameters one after another, in the
//! name order of an MLP's variables (`layer0.bias`, `layer0.weight`, …), each starting on a
//! 64-byte boundary and the rows padded to one too. A residual's forward runs on views of its
//! row, with the same kernels on the same values, at the same alignment, as a residual with its
//! own tensors; the Adam update is elementwise, done on the rows of the tasks that had a
//! backward (grouped by their step counts, which give the bias corrections). So the results are
//! those of one MLP and one Adam per task, bit for bit, and so are the saved states (the same
//! names, `residual.<task>.param.…`, `residual.<task>.adam.…`).

use xnas_core::{PluginError, PluginResult};
use xnas_tch::adam::{self, AdamConfig, Corrections};
use xnas_tch::mlp::{Mlp, MlpConfig};
use xnas_tch::seed::component_seed;
use xnas_tch::snapshot;
use xnas_tch::tch::{self, nn, Device, Kind, Tensor};
use xnas_tch::TchContext;

/// Floats per 64 bytes: where each parameter and each row starts.
const ALIGN: i64 = 16;

fn aligned(n: i64) -> i64 {
    (n + ALIGN - 1) / ALIGN * ALIGN
}

/// One parameter of a residual: where it lies in a row.
struct Param {
    /// Variable name in an MLP (`layer0.weight`).
    name: String,
    shape: Vec<i64>,
    offset: i64,
    numel: i64,
    /// A weight matrix (the L2 penalty's), not a bias.
    weight: bool,
}

/// The residuals of all tasks of one head, and their Adam state.
pub struct Residuals {
    params: Vec<Param>,
    /// Per layer, the indices into `params` of its weight and bias.
    layers: Vec<(usize, usize)>,
    /// `[tasks, width]`, a leaf that requires grad.
    flat: Tensor,
    /// Adam's moments, shaped as `flat`.
    m: Tensor,
    v: Tensor,
    /// `2·residual_l2` at the weights' places of a row, 0 at the biases' and the padding.
    l2: Option<Tensor>,
    /// Adam updates each task's residual has taken.
    steps: Vec<i64>,
    /// A backward reached the task's residual since the last step.
    pending: Vec<bool>,
    adam: AdamConfig,
    /// Adam learning rate of each task's residual (`adam.lr` unless set).
    lr: Vec<f64>,
    /// `residual.<task>.`, the saved states' key prefixes.
    prefixes: Vec<String>,
    device: Device,
}

impl Residuals {
    /// One residual per task, initialised as `Mlp::new` does with the task's seed (derived from
    /// `seed` and the task's name, so it does not depend on where the task is listed).
    pub fn new(
        config: &MlpConfig,
        tasks: &[String],
        seed: u64,
        adam: AdamConfig,
        residual_l2: f64,
        device: Device,
    ) -> PluginResult<Self> {
        let mut rows = Vec::with_capacity(tasks.len());
        let mut params = Vec::new();
        for t in tasks {
            let vs = nn::VarStore::new(Device::Cpu);
            Mlp::new(
                &vs.root(),
                config,
                component_seed(seed, &format!("xfer.residual.{t}")),
            )?;
            let named = snapshot::named_variables(&vs, "");
            if params.is_empty() {
                let mut offset = 0;
                for (name, t) in &named {
                    let numel = t.numel() as i64;
                    params.push(Param {
                        name: name.clone(),
                        shape: t.size(),
                        offset,
                        numel,
                        weight: name.ends_with(".weight"),
                    });
                    offset = aligned(offset + numel);
                }
            }
            rows.push(named);
        }
        let width = params.last().map_or(0, |p| aligned(p.offset + p.numel));
        let what = "xfer: residual parameters";
        let mut flat = Tensor::f_zeros([tasks.len() as i64, width], (Kind::Float, Device::Cpu))
            .context(what)?;
        for (t, named) in rows.iter().enumerate() {
            for (p, (_, value)) in params.iter().zip(named) {
                flat.f_select(0, t as i64)
                    .and_then(|row| row.f_narrow(0, p.offset, p.numel))
                    .and_then(|mut slot| slot.f_copy_(&value.f_detach()?.f_reshape([-1])?))
                    .context(what)?;
            }
        }
        flat = flat.f_to_device(device).context(what)?;
        let m = flat.f_zeros_like().context(what)?;
        let v = flat.f_zeros_like().context(what)?;
        let flat = flat.f_set_requires_grad(true).context(what)?;
        let l2 = if residual_l2 > 0.0 {
            let mut mask = vec![0f32; width as usize];
            for p in params.iter().filter(|p| p.weight) {
                let scale = (2.0 * residual_l2) as f32;
                mask[p.offset as usize..(p.offset + p.numel) as usize].fill(scale);
            }
            Some(
                Tensor::f_from_slice(&mask)
                    .and_then(|t| t.f_to_device(device))
                    .context(what)?,
            )
        } else {
            None
        };
        let find = |name: &str| params.iter().position(|p| p.name == name);
        let layers = (0..=config.hidden.len())
            .map(|i| {
                find(&format!("layer{i}.weight"))
                    .zip(find(&format!("layer{i}.bias")))
                    .ok_or_else(|| PluginError::other(format!("xfer: residual layer {i} lost")))
            })
            .collect::<PluginResult<_>>()?;
        Ok(Residuals {
            params,
            layers,
            flat,
            m,
            v,
            l2,
            steps: vec![0; tasks.len()],
            pending: vec![false; tasks.len()],
            lr: vec![adam.lr; tasks.len()],
            adam,
            prefixes: tasks.iter().map(|t| format!("residual.{t}.")).collect(),
            device,
        })
    }

    /// Parameter `p` of `row` (one task's row of `flat`, `m` or `v`), in its own shape.
    fn view(&self, row: &Tensor, p: usize) -> Result<Tensor, tch::TchError> {
        let p = &self.params[p];
        row.f_narrow(0, p.offset, p.numel)?
            .f_view(p.shape.as_slice())
    }

    /// Task `task`'s residual on `x` (`[rows, in]`): Linear/ReLU/…/Linear, as `Mlp::forward`.
    pub fn forward(&self, task: usize, x: &Tensor) -> PluginResult<Tensor> {
        let what = "xfer: residual forward";
        let row = self.flat.f_select(0, task as i64).context(what)?;
        let mut h = x.shallow_clone();
        let last = self.layers.len() - 1;
        for (i, &(w, b)) in self.layers.iter().enumerate() {
            let (w, b) = (self.view(&row, w), self.view(&row, b));
            h = w.and_then(|w| h.f_linear(&w, Some(&b?))).context(what)?;
            if i < last {
                h = h.f_relu().context(what)?;
            }
        }
        Ok(h)
    }

    /// Task `task`'s residual learns at `lr` from now on.
    pub fn set_lr(&mut self, task: usize, lr: f64) {
        self.lr[task] = lr;
    }

    /// A backward pass reached task `task`'s residual.
    pub fn mark(&mut self, task: usize) {
        self.pending[task] = true;
    }

    /// One Adam step (`xnas_tch::adam`'s update, torch's) for each residual a backward reached,
    /// with the penalty `residual_l2·Σ‖W‖²` in its loss; then the gradients are cleared.
    pub fn step(&mut self) -> PluginResult<()> {
        let what = "xfer: residual step";
        let grad = self.flat.grad();
        let tasks: Vec<usize> = (0..self.steps.len()).filter(|&t| self.pending[t]).collect();
        if grad.defined() && !tasks.is_empty() {
            // One update for every stepped row: each row's bias corrections and step size as a
            // column, the same f32 numbers torch makes of the scalars of a per-task Adam.
            let mut scale = Vec::with_capacity(tasks.len());
            let mut root2 = Vec::with_capacity(tasks.len());
            for &t in &tasks {
                self.steps[t] += 1;
                let t_steps = self.steps[t] as i32;
                let c = self.adam;
                scale.push((self.lr[t] / (1.0 - c.beta1.powi(t_steps))) as f32);
                root2.push((1.0 - c.beta2.powi(t_steps)).sqrt() as f32);
            }
            let rows: Vec<i64> = tasks.iter().map(|&t| t as i64).collect();
            let c = self.adam;
            let n = rows.len() as i64;
            tch::no_grad(|| -> Result<(), tch::TchError> {
                let column = |v: &[f32]| {
                    Tensor::f_from_slice(v)?
                        .f_reshape([n, 1])?
                        .f_to_device(self.device)
                };
                let (scale, root2) = (column(&scale)?, column(&root2)?);
                let index = Tensor::f_from_slice(&rows)?.f_to_device(self.device)?;
                let mut g = grad.f_index_select(0, &index)?;
                let mut p = self.flat.f_index_select(0, &index)?;
                let mut m = self.m.f_index_select(0, &index)?;
                let mut v = self.v.f_index_select(0, &index)?;
                if let Some(l2) = &self.l2 {
                    let _ = g.f_add_(&p.f_mul(l2)?)?;
                }
                if c.weight_decay != 0.0 {
                    g = g.f_add(&p.f_mul_scalar(c.weight_decay)?)?;
                }
                let corrections = Corrections::Rows {
                    step_size: &scale,
                    root_bias2: &root2,
                };
                adam::update(&mut p, &g, &mut m, &mut v, &c, corrections)?;
                let _ = self.m.f_index_copy_(0, &index, &m)?;
                let _ = self.v.f_index_copy_(0, &index, &v)?;
                let _ = self.flat.f_index_copy_(0, &index, &p)?;
                Ok(())
            })
            .context(what)?;
        }
        self.pending.fill(false);
        self.zero_grad()
    }

    /// Clears the accumulated gradients (in place, as torch's `zero_grad`).
    pub fn zero_grad(&mut self) -> PluginResult<()> {
        let mut grad = self.flat.grad();
        if grad.defined() {
            let _ = grad
                .f_detach_()
                .and_then(|mut g| g.f_zero_())
                .context("xfer: clearing gradients")?;
        }
        Ok(())
    }

    /// Task `task`'s tensors (`param.<var>`, then per variable `adam.m.<var>`, `adam.v.<var>`,
    /// then `adam.steps`), as views of the held ones, without the key prefix.
    fn task_tensors(&self, task: usize) -> PluginResult<Vec<(String, Tensor)>> {
        let what = "xfer: residual state";
        let t = task as i64;
        // Detached: views that `restore` writes into outside autograd.
        let (row, m, v) = (
            self.flat
                .f_detach()
                .and_then(|f| f.f_select(0, t))
                .context(what)?,
            self.m.f_select(0, t).context(what)?,
            self.v.f_select(0, t).context(what)?,
        );
        let mut named = Vec::with_capacity(3 * self.params.len() + 1);
        for (i, p) in self.params.iter().enumerate() {
            named.push((
                format!("param.{}", p.name),
                self.view(&row, i).context(what)?,
            ));
        }
        for (i, p) in self.params.iter().enumerate() {
            named.push((
                format!("adam.m.{}", p.name),
                self.view(&m, i).context(what)?,
            ));
            named.push((
                format!("adam.v.{}", p.name),
                self.view(&v, i).context(what)?,
            ));
        }
        let steps = Tensor::f_from_slice(&[self.steps[task]]).context(what)?;
        named.push(("adam.steps".into(), steps));
        Ok(named)
    }

    /// Every task's parameters and Adam state under its prefix, copied out of the rows (a saved
    /// view would carry the whole storage).
    pub fn named_state(&self) -> PluginResult<Vec<(String, Tensor)>> {
        let mut out = Vec::new();
        for (task, prefix) in self.prefixes.iter().enumerate() {
            for (name, t) in self.task_tensors(task)? {
                let t = tch::no_grad(|| {
                    let mut copy = t.f_zeros_like()?;
                    copy.f_copy_(&t)?;
                    Ok::<_, tch::TchError>(copy)
                })
                .context("xfer: residual state")?;
                out.push((format!("{prefix}{name}"), t));
            }
        }
        Ok(out)
    }

    /// Checks that `saved` holds every residual tensor with the right shape; returns what
    /// [`Residuals::restore`] applies. Nothing changes here.
    pub fn check_loaded(
        &self,
        saved: &[(String, Tensor)],
        what: &str,
        hint: &str,
    ) -> PluginResult<Loaded> {
        let mut copies = Vec::new();
        let mut steps = Vec::with_capacity(self.prefixes.len());
        for (task, prefix) in self.prefixes.iter().enumerate() {
            let (tensors, step): (Vec<_>, Vec<_>) = self
                .task_tensors(task)?
                .into_iter()
                .map(|(n, t)| (format!("{prefix}{n}"), t))
                .partition(|(n, _)| !n.ends_with("adam.steps"));
            copies.extend(snapshot::match_saved(
                tensors,
                saved,
                what,
                "this head",
                hint,
            )?);
            let key = &step[0].0;
            let value = saved
                .iter()
                .find(|(n, _)| n == key)
                .ok_or_else(|| PluginError::data(format!("{what}: `{key}` is missing")))?;
            steps.push(
                value
                    .1
                    .f_to_kind(Kind::Int64)
                    .and_then(|t| t.f_int64_value(&[0]))
                    .map_err(|e| PluginError::data(format!("{what}: `{key}`: {e}")))?,
            );
        }
        Ok(Loaded { copies, steps })
    }

    /// Applies a checked state; no step is pending afterwards and no gradient is left.
    pub fn restore(&mut self, loaded: Loaded, what: &str) -> PluginResult<()> {
        snapshot::restore(loaded.copies, what)?;
        self.steps = loaded.steps;
        self.pending.fill(false);
        self.zero_grad()
    }
}

/// A checked residual state (see [`Residuals::check_loaded`]).
pub struct Loaded {
    copies: Vec<(Tensor, Tensor)>,
    steps: Vec<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;
    use xnas_tch::adam::Adam;

    /// What the stacked residuals stand for: one MLP and one Adam per task, the penalty's gradient
    /// added to the weights' before the step, only tasks with rows stepped.
    struct Separate {
        stores: Vec<nn::VarStore>,
        mlps: Vec<Mlp>,
        adams: Vec<Adam>,
    }

    fn bits(t: &Tensor) -> Vec<u32> {
        let flat = t.detach().contiguous().view([-1]);
        Vec::<f32>::try_from(&flat)
            .unwrap()
            .iter()
            .map(|v| v.to_bits())
            .collect()
    }

    /// Mixed batches over three tasks, one task missing from some steps and learning at its own
    /// rate: parameters, moments and step counts equal, bit for bit, those of one MLP and one
    /// Adam per task.
    #[test]
    fn stacked_residuals_compute_what_one_mlp_and_adam_per_task_do() {
        // Widths whose tensors are no multiple of 16 floats: the padding is exercised.
        let config = MlpConfig {
            in_features: 7,
            hidden: vec![5],
            out_features: 3,
            zero_last_layer: true,
            dropout: 0.0,
        };
        let tasks: Vec<String> = ["t", "a", "b"].iter().map(|s| s.to_string()).collect();
        let adam = AdamConfig {
            lr: 0.05,
            weight_decay: 1e-3,
            ..AdamConfig::default()
        };
        let l2 = 0.01;
        let mut stacked = Residuals::new(&config, &tasks, 9, adam, l2, Device::Cpu).unwrap();
        // Task 2 (a source under `source_residual_lr`) at its own rate.
        stacked.set_lr(2, 0.01);
        let mut separate = Separate {
            stores: Vec::new(),
            mlps: Vec::new(),
            adams: Vec::new(),
        };
        for (i, t) in tasks.iter().enumerate() {
            let vs = nn::VarStore::new(Device::Cpu);
            let seed = component_seed(9, &format!("xfer.residual.{t}"));
            separate
                .mlps
                .push(Mlp::new(&vs.root(), &config, seed).unwrap());
            let lr = if i == 2 { 0.01 } else { adam.lr };
            separate
                .adams
                .push(Adam::new(&vs, AdamConfig { lr, ..adam }).unwrap());
            separate.stores.push(vs);
        }
        let mut rng = xnas_core::SplitMix64::new(5);
        for step in 0..12 {
            // Task 2 has no rows on every third step.
            let present: Vec<usize> = if step % 3 == 0 {
                vec![0, 1]
            } else {
                vec![0, 1, 2]
            };
            for &task in &present {
                let x: Vec<f32> = (0..4 * 7).map(|_| rng.next_f64() as f32 - 0.5).collect();
                let x = Tensor::from_slice(&x).reshape([4, 7]);
                let y: Vec<f32> = (0..4 * 3).map(|_| rng.next_f64() as f32).collect();
                let y = Tensor::from_slice(&y).reshape([4, 3]);
                let loss = |out: Tensor| (out - &y).square().sum(Kind::Float);
                loss(stacked.forward(task, &x).unwrap()).backward();
                stacked.mark(task);
                loss(separate.mlps[task].forward(&x, true).unwrap()).backward();
            }
            stacked.step().unwrap();
            for &task in &present {
                for (name, w) in separate.stores[task].variables() {
                    if name.ends_with(".weight") {
                        let mut grad = w.grad();
                        let _ = grad.f_add_(&(w.detach() * (2.0 * l2))).unwrap();
                    }
                }
                separate.adams[task].step().unwrap();
            }
        }
        let want: Vec<(String, Tensor)> = tasks
            .iter()
            .enumerate()
            .flat_map(|(i, t)| {
                let mut named =
                    snapshot::named_variables(&separate.stores[i], &format!("residual.{t}.param."));
                for (n, v) in separate.adams[i].state().unwrap() {
                    named.push((format!("residual.{t}.{n}"), v));
                }
                named
            })
            .collect();
        let got = stacked.named_state().unwrap();
        assert_eq!(
            got.iter().map(|(n, _)| n).collect::<Vec<_>>(),
            want.iter().map(|(n, _)| n).collect::<Vec<_>>()
        );
        for ((name, g), (_, w)) in got.iter().zip(&want) {
            assert_eq!(bits(g), bits(w), "{name}");
        }
        // Task 2 took 8 steps, the others 12.
        let steps: Vec<i64> = got
            .iter()
            .filter(|(n, _)| n.ends_with("adam.steps"))
            .map(|(_, t)| t.int64_value(&[0]))
            .collect();
        assert_eq!(steps, [12, 12, 8]);
    }
}
