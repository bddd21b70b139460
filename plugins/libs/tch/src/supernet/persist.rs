//! The engine's persistence: saved state (`xnas_core::state` format), snapshots and Reptile's
//! interpolation, weights exported and imported by name; and the `Supernet` implementation.

use super::data::Position;
use super::engine::{Snapshot, SupernetEngine, ALPHA, W};
use super::episode::{draw, SavedEpisode};
use super::SearchNetwork;
use crate::error::TchContext;
use crate::snapshot::{from_bytes, match_saved, to_bytes};
use serde::{Deserialize, Serialize};
use tch::Tensor;
use xnas_core::abi_stable::std_types::RString;
use xnas_core::{
    ArchGrad, BatchStats, Episode, ImportReport, Matrix, PluginError, PluginResult, Supernet,
    SupernetInfo,
};

/// The format version of a saved supernet state.
const STATE_VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
struct SavedState {
    /// What the supernet was built from; a state loads only into a supernet built the same way.
    tasks: Vec<String>,
    candidates: Vec<Vec<u32>>,
    seed: u64,
    recipe: String,
    kind: String,
    /// `(name, shape)` of every weight, then every buffer.
    variables: Vec<(String, Vec<i64>)>,
    epoch: u32,
    task: u32,
    skip_dropout: f64,
    /// Per task: the w and the α iterator.
    positions: Vec<[Position; 2]>,
    snapshots: Vec<u32>,
    next_snapshot: u32,
    /// The episode under way (drawn again from it on load); absent in states saved before
    /// episodes.
    #[serde(default)]
    episode: Option<SavedEpisode>,
    /// Named tensors: `params`, `buffers`, `momentum`, `snapshot.{id}.{params|buffers|momentum}`.
    tensors: Vec<u8>,
}

impl<N: SearchNetwork> SupernetEngine<N> {
    fn variables(&self) -> Vec<(String, Vec<i64>)> {
        let mut v = self.store.params.layout();
        v.extend(self.store.buffers.layout());
        v
    }

    fn saved(&self) -> PluginResult<SavedState> {
        let what = "supernet save_state";
        let copy = |t: &Tensor| t.f_detach_copy().context(what);
        let mut named = vec![
            ("params".to_string(), copy(&self.store.params.flat)?),
            ("buffers".to_string(), copy(&self.store.buffers.flat)?),
            ("momentum".to_string(), copy(&self.momentum)?),
        ];
        for (id, s) in &self.snapshots {
            named.push((format!("snapshot.{id}.params"), copy(&s.params)?));
            named.push((format!("snapshot.{id}.buffers"), copy(&s.buffers)?));
            named.push((format!("snapshot.{id}.momentum"), copy(&s.momentum)?));
        }
        Ok(SavedState {
            tasks: self.tasks.iter().map(|t| t.name.clone()).collect(),
            candidates: self.cfg.candidates.clone(),
            seed: self.cfg.seed,
            recipe: format!("{:?}", self.cfg.recipe),
            kind: format!("{:?}", self.cfg.kind),
            variables: self.variables(),
            epoch: self.epoch,
            task: self.task as u32,
            skip_dropout: self.skip_dropout,
            positions: self
                .iters
                .iter()
                .map(|[w, a]| [w.position(), a.position()])
                .collect(),
            snapshots: self.snapshots.keys().copied().collect(),
            next_snapshot: self.next_snapshot,
            episode: self.episode.as_ref().map(SavedEpisode::of),
            tensors: to_bytes(&named, what)?,
        })
    }

    /// Checks that `s` was saved by a supernet built like this one; says what differs.
    fn check_saved(&self, s: &SavedState) -> PluginResult<()> {
        let mine = self.saved_identity();
        let theirs = [
            ("tasks", format!("{:?}", s.tasks)),
            ("candidate ops", format!("{:?}", s.candidates)),
            ("seed", s.seed.to_string()),
            ("weight recipe", s.recipe.clone()),
            ("float kind", s.kind.clone()),
        ];
        for ((what, a), (_, b)) in mine.iter().zip(&theirs) {
            if a != b {
                return Err(PluginError::data(format!(
                    "supernet state: it was saved by a supernet with other {what} ({b}; this one \
                     has {a}); build the supernet from the spec it was saved with"
                )));
            }
        }
        let vars = self.variables();
        if vars != s.variables {
            let diff = vars
                .iter()
                .zip(&s.variables)
                .find(|(a, b)| a != b)
                .map(|(a, b)| format!("`{}` {:?} there, `{}` {:?} here", b.0, b.1, a.0, a.1))
                .unwrap_or_else(|| {
                    format!("{} variables there, {} here", s.variables.len(), vars.len())
                });
            return Err(PluginError::data(format!(
                "supernet state: saved by a network of another shape ({diff})"
            )));
        }
        let episode_task = s.episode.map_or(s.task, |e| e.task);
        if s.positions.len() != self.iters.len()
            || s.task as usize >= self.tasks.len()
            || episode_task != s.task
        {
            return Err(PluginError::data(
                "supernet state: damaged (task positions)".to_string(),
            ));
        }
        for (t, (pos, it)) in s.positions.iter().zip(&self.iters).enumerate() {
            for (p, i, part) in [(pos[W], &it[W], "w"), (pos[ALPHA], &it[ALPHA], "α")] {
                i.check(p).map_err(|e| {
                    PluginError::data(format!(
                        "supernet state: task {t}'s {part} iterator is at {e}"
                    ))
                })?;
            }
        }
        Ok(())
    }

    fn saved_identity(&self) -> [(&'static str, String); 5] {
        [
            (
                "tasks",
                format!(
                    "{:?}",
                    self.tasks.iter().map(|t| &t.name).collect::<Vec<_>>()
                ),
            ),
            ("candidate ops", format!("{:?}", self.cfg.candidates)),
            ("seed", self.cfg.seed.to_string()),
            ("weight recipe", format!("{:?}", self.cfg.recipe)),
            ("float kind", format!("{:?}", self.cfg.kind)),
        ]
    }

    fn load(&mut self, blob: &[u8]) -> PluginResult<()> {
        let what = "supernet load_state";
        let s: SavedState = xnas_core::state::decode(&self.cfg.owner, STATE_VERSION, blob)?;
        self.check_saved(&s)?;
        let tensors = from_bytes(&s.tensors, self.cfg.device, what, "supernet state")?;
        // Every tensor the state names, paired with the one it must match in shape.
        let (p, b, m) = (
            &self.store.params.flat,
            &self.store.buffers.flat,
            &self.momentum,
        );
        let mut wanted = vec![
            ("params".to_string(), p.shallow_clone()),
            ("buffers".to_string(), b.shallow_clone()),
            ("momentum".to_string(), m.shallow_clone()),
        ];
        for id in &s.snapshots {
            for (part, like) in [("params", p), ("buffers", b), ("momentum", m)] {
                wanted.push((format!("snapshot.{id}.{part}"), like.shallow_clone()));
            }
        }
        let episode = s
            .episode
            .map(|e| {
                draw(
                    &self.tasks[e.task as usize],
                    e.task as usize,
                    e.spec(),
                    self.cfg.kind,
                )
            })
            .transpose()?;
        let found = match_saved(wanted, &tensors, what, "this supernet", "")?
            .into_iter()
            .map(|(_, t)| t.f_to_kind(self.cfg.kind).context(what))
            .collect::<PluginResult<Vec<_>>>()?;
        let mut found = found.into_iter();
        let mut next = || found.next().expect("one tensor per name");
        let (params, buffers, momentum) = (next(), next(), next());
        let mut snapshots = std::collections::BTreeMap::new();
        for id in &s.snapshots {
            let (params, buffers, momentum) = (next(), next(), next());
            snapshots.insert(
                *id,
                Snapshot {
                    params,
                    buffers,
                    momentum,
                },
            );
        }
        // Everything is checked: now change.
        self.set_weights(&params, what)?;
        tch::no_grad(|| {
            self.store.buffers.flat.f_copy_(&buffers)?;
            self.momentum.f_copy_(&momentum)
        })
        .context(what)?;
        for (it, pos) in self.iters.iter_mut().zip(&s.positions) {
            it[W].seek(pos[W])?;
            it[ALPHA].seek(pos[ALPHA])?;
        }
        self.snapshots = snapshots;
        self.next_snapshot = s.next_snapshot;
        self.epoch = s.epoch;
        self.task = s.task as usize;
        self.skip_dropout = s.skip_dropout;
        self.episode = episode;
        Ok(())
    }

    fn snapshot_of(&self, id: u32) -> PluginResult<&Snapshot> {
        self.snapshots.get(&id).ok_or_else(|| {
            let ids: Vec<String> = self.snapshots.keys().map(u32::to_string).collect();
            PluginError::invalid_params(format!(
                "snapshot {id} does not exist (kept: {})",
                if ids.is_empty() {
                    "none".to_string()
                } else {
                    ids.join(", ")
                }
            ))
        })
    }

    /// w ← base + ε·mean(others − base) over the shared weights and buffers (computed as
    /// `lerp(base, mean(others), ε)`, exact at ε = 0 and 1); task-specific variables and the
    /// momentum are left as they are.
    fn do_interpolate(&mut self, base: u32, others: &[u32], epsilon: f64) -> PluginResult<()> {
        let what = "interpolate";
        if !epsilon.is_finite() {
            return Err(PluginError::invalid_params(format!(
                "interpolate: ε = {epsilon}, expected a finite number"
            )));
        }
        if others.is_empty() {
            return Err(PluginError::invalid_params(
                "interpolate: no snapshots to move towards (`others` is empty)".to_string(),
            ));
        }
        let b = self.snapshot_of(base)?;
        let os = others
            .iter()
            .map(|&id| self.snapshot_of(id))
            .collect::<PluginResult<Vec<_>>>()?;
        let target =
            |pick: fn(&Snapshot) -> &Tensor, base: &Tensor, current: &Tensor, keep: &Tensor| {
                tch::no_grad(|| -> Result<Tensor, tch::TchError> {
                    let mut sum = pick(os[0]).f_detach_copy()?;
                    for o in &os[1..] {
                        let _ = sum.f_add_(pick(o))?;
                    }
                    let mean = sum.f_div_scalar(os.len() as f64)?;
                    let moved = base.f_lerp(&mean, epsilon)?;
                    // Shared variables move; task-specific ones keep their current values.
                    moved.f_where_self(&keep.f_gt(0.5)?, current)
                })
            };
        let params = target(
            |s| &s.params,
            &b.params,
            &self.store.params.flat,
            &self.shared[0],
        )
        .context(what)?;
        let buffers = target(
            |s| &s.buffers,
            &b.buffers,
            &self.store.buffers.flat,
            &self.shared[1],
        )
        .context(what)?;
        self.set_weights(&params, what)?;
        tch::no_grad(|| self.store.buffers.flat.f_copy_(&buffers)).context(what)
    }

    fn import(&mut self, bytes: &[u8]) -> PluginResult<ImportReport> {
        let what = "import_weights";
        let saved = from_bytes(bytes, self.cfg.device, what, "set of supernet weights")?;
        let mut report = ImportReport::default();
        for (name, mut var) in self.store.named() {
            match saved.iter().find(|(n, _)| *n == name) {
                Some((_, t)) if t.size() == var.size() => {
                    tch::no_grad(|| var.f_copy_(t)).context(what)?;
                    report.loaded += 1;
                }
                _ => report.kept.push(RString::from(name)),
            }
        }
        Ok(report)
    }
}

impl<N: SearchNetwork> Supernet for SupernetEngine<N> {
    fn info(&self) -> PluginResult<SupernetInfo> {
        Ok(self.do_info())
    }

    fn train_step(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        self.do_train_step(mix)
    }

    fn arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        self.do_arch_grad(mix)
    }

    fn unrolled_arch_grad(&mut self, mix: &Matrix) -> PluginResult<ArchGrad> {
        let u = self.unrolled(mix)?;
        Ok(ArchGrad {
            stats: u.stats,
            grad: crate::matrix::to_matrix(&u.grad()?)?,
        })
    }

    fn evaluate(&mut self, mix: &Matrix) -> PluginResult<BatchStats> {
        self.do_evaluate(mix)
    }

    fn end_epoch(&mut self) -> PluginResult<u32> {
        self.epoch += 1;
        Ok(self.epoch)
    }

    fn set_skip_dropout(&mut self, p: f64) -> PluginResult<()> {
        self.do_set_skip_dropout(p)
    }

    fn set_task(&mut self, task: u32) -> PluginResult<()> {
        self.do_set_task(task)
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        xnas_core::state::encode(&self.cfg.owner, STATE_VERSION, &self.saved()?)
    }

    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        self.load(state)
    }

    /// Keeps a copy of the weights, buffers and momentum.
    fn snapshot(&mut self) -> PluginResult<u32> {
        let what = "snapshot";
        let s = Snapshot {
            params: self.store.params.flat.f_detach_copy().context(what)?,
            buffers: self.store.buffers.flat.f_detach_copy().context(what)?,
            momentum: self.momentum.f_detach_copy().context(what)?,
        };
        let id = self.next_snapshot;
        self.next_snapshot += 1;
        self.snapshots.insert(id, s);
        Ok(id)
    }

    /// Sets weights, buffers and momentum to the snapshot's (task-specific ones included).
    fn restore(&mut self, id: u32) -> PluginResult<()> {
        let what = "restore";
        let s = self.snapshot_of(id)?;
        let (p, b, m) = (
            s.params.shallow_clone(),
            s.buffers.shallow_clone(),
            s.momentum.shallow_clone(),
        );
        self.set_weights(&p, what)?;
        tch::no_grad(|| {
            self.store.buffers.flat.f_copy_(&b)?;
            self.momentum.f_copy_(&m)
        })
        .context(what)
    }

    fn drop_snapshot(&mut self, id: u32) -> PluginResult<()> {
        self.snapshot_of(id)?;
        self.snapshots.remove(&id);
        Ok(())
    }

    fn interpolate(&mut self, base: u32, others: &[u32], epsilon: f64) -> PluginResult<()> {
        let _threads = self.threads();
        self.do_interpolate(base, others, epsilon)
    }

    /// Every weight and buffer by name (`xnas_tch::snapshot`'s format).
    fn export_weights(&self) -> PluginResult<Vec<u8>> {
        to_bytes(&self.store.named(), "export_weights")
    }

    /// Loads the tensors whose name and shape match; the rest keep their values.
    fn import_weights(&mut self, weights: &[u8]) -> PluginResult<ImportReport> {
        self.import(weights)
    }

    fn set_episode(&mut self, episode: Option<Episode>) -> PluginResult<Vec<u32>> {
        self.do_set_episode(episode)
    }
}
