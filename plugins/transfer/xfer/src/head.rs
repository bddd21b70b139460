//! The XferNAS transfer network as heads (Wistuba 2019, arXiv 1907.08307, Fig. 1): every output is
//! `g_task(z) = g_u(z) + r_task(z)`, a universal MLP shared by all tasks plus one residual MLP
//! per task, learned jointly on all tasks' rows.
//!
//! * The universal MLP is exactly the plain head of the same spec (same widths, same seed), so an
//!   untrained `xfer` head computes what the plain one does, and its saved part is a plain head's
//!   state.
//! * Each residual's last layer starts at zero: a task with no rows yet (the new target) gets the
//!   universal output.
//! * A residual gets gradient only from its own rows, and only residuals that had rows since the
//!   last `step` are updated (each with its own Adam state), so momentum never moves a residual
//!   that saw no data. All residuals of a head live in one tensor ([`crate::residuals`]), so a
//!   step is a few large operations, with the results of one MLP and one Adam per task.

use xnas_core::{
    head_box, state, Head, HeadBox, HeadFactory, HeadSpec, Matrix, PluginError, PluginResult,
    TransferPlan,
};
use xnas_tch::adam::{Adam, AdamConfig};
use xnas_tch::head::{backpropagate, leaf_input};
use xnas_tch::matrix::{check_shape, to_matrix};
use xnas_tch::mlp::{Mlp, MlpConfig};
use xnas_tch::snapshot;
use xnas_tch::tch::{nn, Device, Tensor};
use xnas_tch::{TchContext, ThreadLimit};

use crate::params::XferParams;
use crate::residuals::Residuals;
use serde::{Deserialize, Serialize};

/// Makes [`XferHead`]s; the optimizer trains them on every task's history.
#[derive(Clone, Debug)]
pub struct XferHeadFactory {
    params: XferParams,
    /// Number of tasks the experiment has (sources + target), for `describe`.
    tasks: usize,
    /// The target task: its residual learns at `residual_lr`, the others at
    /// `source_residual_lr`. Unknown (`None`), every residual learns at `residual_lr`.
    target: Option<String>,
}

impl XferHeadFactory {
    pub fn new(params: XferParams, tasks: usize) -> Self {
        xnas_tch::init();
        XferHeadFactory {
            params,
            tasks,
            target: None,
        }
    }

    /// The same factory, told which task is the target.
    pub fn with_target(mut self, target: &str) -> Self {
        self.target = Some(target.to_string());
        self
    }

    /// The concrete head, for code that does not go through the ABI.
    pub fn make(&self, spec: &HeadSpec) -> PluginResult<XferHead> {
        XferHead::new(spec, &self.params, self.target.as_deref())
    }
}

impl HeadFactory for XferHeadFactory {
    fn describe(&self) -> String {
        format!(
            "xfer: universal + {} residual{}",
            self.tasks,
            if self.tasks == 1 { "" } else { "s" }
        )
    }
    fn uses_all_tasks(&self) -> bool {
        true
    }
    fn make_head(&self, spec: &HeadSpec) -> PluginResult<HeadBox> {
        self.make(spec).map(head_box)
    }
    fn plan(&self) -> TransferPlan {
        TransferPlan {
            phase_switch: self.params.phase_switch,
            normalise: self.params.normalise,
            target_share: self.params.target_share,
            pretrain_epochs: self.params.pretrain_epochs.into(),
            pretrain_batch: self.params.pretrain_batch.into(),
            source_replay: self.params.source_replay.into(),
        }
    }
}

/// One MLP with its own variables and Adam: the universal part.
struct Part {
    /// Key prefix in saved states (`universal.`).
    prefix: String,
    vs: nn::VarStore,
    mlp: Mlp,
    adam: Adam,
    /// A backward pass reached it since the last step.
    pending: bool,
}

impl Part {
    fn new(
        prefix: String,
        config: &MlpConfig,
        seed: u64,
        adam: AdamConfig,
        device: Device,
    ) -> PluginResult<Self> {
        let vs = nn::VarStore::new(device);
        let mlp = Mlp::new(&vs.root(), config, seed)?;
        let adam = Adam::new(&vs, adam)?;
        Ok(Part {
            prefix,
            vs,
            mlp,
            adam,
            pending: false,
        })
    }

    /// Parameters (`<prefix>param.<var>`) and Adam state (`<prefix>adam.…`), in name order.
    fn named_state(&self) -> PluginResult<Vec<(String, Tensor)>> {
        let mut named = snapshot::named_variables(&self.vs, &format!("{}param.", self.prefix));
        for (n, t) in self.adam.state()? {
            named.push((format!("{}{n}", self.prefix), t));
        }
        Ok(named)
    }

    /// Checks that `loaded` holds every tensor of this part with the right shape; returns the
    /// parameter copies to make and this part's Adam state (prefix stripped).
    #[allow(clippy::type_complexity)]
    fn check_loaded(
        &self,
        saved: &[(String, Tensor)],
        what: &str,
    ) -> PluginResult<(Vec<(Tensor, Tensor)>, Vec<(String, Tensor)>)> {
        let check = |named| snapshot::match_saved(named, saved, what, "this head", OTHER_HEAD);
        let copies = check(snapshot::named_variables(
            &self.vs,
            &format!("{}param.", self.prefix),
        ))?;
        let adam = self.adam.state()?;
        let prefixed = adam
            .iter()
            .map(|(n, t)| (format!("{}{n}", self.prefix), t.shallow_clone()))
            .collect();
        let adam = adam
            .into_iter()
            .zip(check(prefixed)?)
            .map(|((name, _), (_, src))| (name, src))
            .collect();
        Ok((copies, adam))
    }
}

/// The end of the message for a saved tensor of another shape.
const OTHER_HEAD: &str = " (another head's state?)";

/// The owner name of an xfer head's saved state (`xnas_core::state`).
const HEAD_STATE_OWNER: &str = "xfer head";
const HEAD_STATE_VERSION: u32 = 1;

/// A saved head: its parts' parameters and Adam state as named tensors (`universal.…`,
/// `residual.<task>.…`, in libtorch's stream, `xnas_tch::snapshot`), which `load_state` matches
/// by name and shape.
#[derive(Serialize, Deserialize)]
struct SavedHead {
    // As bytes, not a sequence of u8: the same postcard encoding, written in one copy.
    #[serde(with = "serde_bytes")]
    tensors: Vec<u8>,
}

/// The named tensors of a saved xfer head state (what [`xnas_tch::snapshot::from_bytes`] reads).
pub fn saved_tensors(blob: &[u8]) -> PluginResult<Vec<u8>> {
    state::decode::<SavedHead>(HEAD_STATE_OWNER, HEAD_STATE_VERSION, blob).map(|s| s.tensors)
}

/// The last forward pass, kept for `backward`.
struct Pass {
    input: Tensor,
    output: Tensor,
    /// Task indices that had rows, ascending.
    present: Vec<usize>,
}

/// Universal + residual MLP heads (see the module docs).
pub struct XferHead {
    name: String,
    in_features: usize,
    device: Device,
    universal: Part,
    /// One per `HeadSpec::tasks` entry, same order.
    residuals: Residuals,
    tasks: Vec<String>,
    last: Option<Pass>,
    /// `XferParams::threads`, set around every call.
    threads: usize,
}

impl XferHead {
    pub fn new(spec: &HeadSpec, params: &XferParams, target: Option<&str>) -> PluginResult<Self> {
        xnas_tch::init();
        let _threads = ThreadLimit::new(params.threads);
        let name = spec.name.to_string();
        let bad = |what: &str| PluginError::invalid_params(format!("head `{name}`: {what}"));
        if spec.tasks.is_empty() {
            return Err(bad(
                "xfer needs the task ids (HeadSpec::tasks) to give each task a residual, and none were given",
            ));
        }
        let tasks: Vec<String> = spec.tasks.iter().map(|t| t.to_string()).collect();
        for (i, t) in tasks.iter().enumerate() {
            if tasks[..i].contains(t) {
                return Err(bad(&format!(
                    "task `{t}` is listed twice in HeadSpec::tasks"
                )));
            }
        }
        let (in_features, out_features) = (spec.in_features as usize, spec.out_features as usize);
        // The universal part is the plain head of this spec: same widths, same seed.
        let universal_config = MlpConfig {
            in_features,
            hidden: spec.hidden.iter().map(|&h| h as usize).collect(),
            out_features,
            zero_last_layer: false,
            dropout: 0.0,
        };
        let universal = Part::new(
            "universal.".into(),
            &universal_config,
            spec.seed,
            AdamConfig {
                lr: params.lr,
                weight_decay: params.weight_decay,
                ..AdamConfig::default()
            },
            params.device,
        )
        .map_err(|e| bad(e.message()))?;
        let residual_config = MlpConfig {
            in_features,
            hidden: params.residual_hidden.iter().map(|&h| h as usize).collect(),
            out_features,
            zero_last_layer: true,
            dropout: 0.0,
        };
        let residual_adam = AdamConfig {
            lr: params.residual_lr(),
            weight_decay: params.residual_weight_decay,
            ..AdamConfig::default()
        };
        // Seeded by task name: a residual does not depend on where its task is listed.
        let mut residuals = Residuals::new(
            &residual_config,
            &tasks,
            spec.seed,
            residual_adam,
            params.residual_l2,
            params.device,
        )
        .map_err(|e| bad(e.message()))?;
        if let Some(target) = target {
            for (i, t) in tasks.iter().enumerate() {
                if t != target {
                    residuals.set_lr(i, params.source_residual_lr());
                }
            }
        }
        Ok(XferHead {
            name,
            in_features,
            device: params.device,
            universal,
            residuals,
            tasks,
            last: None,
            threads: params.threads,
        })
    }

    fn what(&self, call: &str) -> String {
        format!("head `{}` {call}", self.name)
    }

    /// Row indices of each task present in `tasks`, checking every index.
    fn rows_by_task(&self, tasks: &[u32], what: &str) -> PluginResult<Vec<(usize, Vec<i64>)>> {
        let mut rows: Vec<Vec<i64>> = vec![Vec::new(); self.tasks.len()];
        for (r, &t) in tasks.iter().enumerate() {
            let list = rows.get_mut(t as usize).ok_or_else(|| {
                PluginError::unknown_task(format!(
                    "{what}: row {r} has task index {t}, but this head has {} tasks (0 … {}: {})",
                    self.tasks.len(),
                    self.tasks.len() - 1,
                    self.tasks.join(", ")
                ))
            })?;
            list.push(r as i64);
        }
        Ok(rows
            .into_iter()
            .enumerate()
            .filter(|(_, r)| !r.is_empty())
            .collect())
    }
}

impl Head for XferHead {
    fn forward(&mut self, features: &Matrix, tasks: &[u32], train: bool) -> PluginResult<Matrix> {
        let _threads = ThreadLimit::new(self.threads);
        let what = self.what("forward");
        check_shape(features, None, Some(self.in_features), &what)?;
        if tasks.len() != features.rows as usize {
            return Err(PluginError::other(format!(
                "{what}: {} task indices for {} rows; give one per row",
                tasks.len(),
                features.rows
            )));
        }
        let groups = self.rows_by_task(tasks, &what)?;
        let input = leaf_input(features, self.device, &what)?;
        // The universal part on the whole batch, each present task's residual on its rows only.
        let mut output = self.universal.mlp.forward(&input, train)?;
        let mut present = Vec::with_capacity(groups.len());
        let batch = tasks.len();
        for (task, rows) in groups {
            if rows.len() == batch {
                // One task owns the whole batch (the RL controller's usual case): no gather.
                let r = self.residuals.forward(task, &input)?;
                output = output.f_add(&r).context(&what)?;
                present.push(task);
                continue;
            }
            let index = Tensor::f_from_slice(&rows)
                .and_then(|t| t.f_to_device(self.device))
                .context(&what)?;
            let x = input.f_index_select(0, &index).context(&what)?;
            let r = self.residuals.forward(task, &x)?;
            output = output.f_index_add(0, &index, &r).context(&what)?;
            present.push(task);
        }
        let result = to_matrix(&output)?;
        self.last = Some(Pass {
            input,
            output,
            present,
        });
        Ok(result)
    }

    fn backward(&mut self, grad_output: &Matrix) -> PluginResult<Matrix> {
        let _threads = ThreadLimit::new(self.threads);
        let what = self.what("backward");
        let pass = self.last.take().ok_or_else(|| {
            PluginError::other(format!("{what}: called without a forward pass before it"))
        })?;
        let feature_grad =
            backpropagate(&pass.input, &pass.output, grad_output, self.device, &what)?;
        self.universal.pending = true;
        for &task in &pass.present {
            self.residuals.mark(task);
        }
        Ok(feature_grad)
    }

    fn step(&mut self) -> PluginResult<()> {
        let _threads = ThreadLimit::new(self.threads);
        // Only parts a backward reached: Adam's momentum must not move a residual without rows.
        if self.universal.pending {
            self.universal.adam.step()?;
            self.universal.pending = false;
        }
        self.residuals.step()
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        let _threads = ThreadLimit::new(self.threads);
        let what = self.what("save_state");
        let mut named = self.universal.named_state()?;
        named.extend(self.residuals.named_state()?);
        let saved = SavedHead {
            tensors: snapshot::to_bytes(&named, &what)?,
        };
        state::encode(HEAD_STATE_OWNER, HEAD_STATE_VERSION, &saved)
    }

    fn load_state(&mut self, blob: &[u8]) -> PluginResult<()> {
        let _threads = ThreadLimit::new(self.threads);
        let what = self.what("load_state");
        let saved: SavedHead = state::decode(HEAD_STATE_OWNER, HEAD_STATE_VERSION, blob)
            .map_err(|e| PluginError::data(format!("{what}: {e}")))?;
        let saved = snapshot::from_bytes(&saved.tensors, self.device, &what, "head state")?;
        // Check every part before changing anything: a bad state leaves the head as it was.
        let (copies, adam) = self.universal.check_loaded(&saved, &what)?;
        let residuals = self.residuals.check_loaded(&saved, &what, OTHER_HEAD)?;
        let part = &mut self.universal;
        part.adam
            .load_state(&adam)
            .map_err(|e| PluginError::data(format!("{what}: {}", e.message())))?;
        snapshot::restore(copies, &what)?;
        // A restored head starts a new step: no stale gradients.
        part.adam.zero_grad()?;
        part.pending = false;
        self.residuals.restore(residuals, &what)?;
        self.last = None;
        Ok(())
    }
}
