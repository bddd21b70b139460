//! Few-shot episodes (`xnas_core::Episode`): N classes of the current task relabelled 0..N, K
//! support and Q query images of each, drawn from the task's whole training split (both the w
//! and the α part) by the episode's seed alone, so the same episode gives the same images after
//! a resume. While one lasts, the support set is the one batch `train_step`, `arch_grad` and the
//! unrolled gradient read (the iterators stand still), `evaluate` reads the query set, and the
//! logits are the first N outputs of the task's classifier.

use super::data::{Batch, Part, TaskSplit};
use super::engine::SupernetEngine;
use super::SearchNetwork;
use crate::data::split_permutation;
use crate::error::TchContext;
use serde::{Deserialize, Serialize};
use tch::{Device, Kind, Tensor};
use xnas_core::{derive_seed, Episode, PluginError, PluginResult};

/// The episode under way.
#[derive(Debug)]
pub(crate) struct Active {
    pub spec: Episode,
    pub task: usize,
    /// The task's labels of the episode's classes, in relabelled order.
    pub classes: Vec<u32>,
    pub support: Part,
    pub query: Part,
}

impl Active {
    /// The whole support set as one batch (its dropout masks seeded by the episode).
    pub fn support_batch(&self) -> Batch {
        Batch {
            images: self.support.images.shallow_clone(),
            labels: self.support.labels.shallow_clone(),
            seed: self.spec.seed,
        }
    }
}

/// What a saved state keeps of an episode: enough to draw it again.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct SavedEpisode {
    pub task: u32,
    pub way: u32,
    pub shot: u32,
    pub query: u32,
    pub seed: u64,
}

impl SavedEpisode {
    pub fn of(a: &Active) -> Self {
        SavedEpisode {
            task: a.task as u32,
            way: a.spec.way,
            shot: a.spec.shot,
            query: a.spec.query,
            seed: a.spec.seed,
        }
    }

    pub fn spec(&self) -> Episode {
        Episode {
            way: self.way,
            shot: self.shot,
            query: self.query,
            seed: self.seed,
        }
    }
}

impl<N: SearchNetwork> SupernetEngine<N> {
    pub(crate) fn do_set_episode(&mut self, e: Option<Episode>) -> PluginResult<Vec<u32>> {
        let _threads = self.threads();
        self.episode = None;
        let Some(e) = e else {
            return Ok(Vec::new());
        };
        let active = draw(&self.tasks[self.task], self.task, e, self.cfg.kind)?;
        let classes = active.classes.clone();
        self.episode = Some(active);
        Ok(classes)
    }
}

/// Draws episode `e` from task `index`'s training split; the class counts are checked first.
pub(crate) fn draw(task: &TaskSplit, index: usize, e: Episode, kind: Kind) -> PluginResult<Active> {
    let bad = |m: String| PluginError::invalid_params(format!("episode: {m}"));
    if e.way < 2 {
        return Err(bad(format!(
            "`way = {}`: an episode tells at least 2 classes apart",
            e.way
        )));
    }
    for (key, v) in [("shot", e.shot), ("query", e.query)] {
        if v == 0 {
            return Err(bad(format!(
                "`{key} = 0`: expected at least 1 image per class"
            )));
        }
    }
    let what = format!("task `{}`: drawing an episode", task.name);
    let labels_of = |p: &Part| -> PluginResult<Vec<i64>> {
        let cpu = p.labels.f_to_device(Device::Cpu).context(&what)?;
        Vec::<i64>::try_from(&cpu).context(&what)
    };
    let labels: Vec<i64> = [labels_of(&task.w)?, labels_of(&task.alpha)?].concat();
    let mut by_class = vec![Vec::new(); task.classes];
    for (row, &l) in labels.iter().enumerate() {
        if let Some(rows) = usize::try_from(l).ok().and_then(|l| by_class.get_mut(l)) {
            rows.push(row);
        }
    }
    let need = (e.shot + e.query) as usize;
    if e.way as usize > task.classes {
        return Err(PluginError::data(format!(
            "task `{}` has {} classes, and an episode draws `way = {}` of them: lower `way` to \
             at most {}, or give the task more classes",
            task.name, task.classes, e.way, task.classes
        )));
    }
    if let Some((c, rows)) = by_class.iter().enumerate().find(|(_, r)| r.len() < need) {
        return Err(PluginError::data(format!(
            "task `{}`: class {c} holds {} training images, and an episode draws `shot + query \
             = {need}` of each class: lower `shot` or `query`, or give the task more images \
             (`limit_train`)",
            task.name,
            rows.len()
        )));
    }
    let order = split_permutation(task.classes, derive_seed(e.seed, 0));
    let classes: Vec<usize> = order[..e.way as usize].to_vec();
    let (mut support, mut query) = (Vec::new(), Vec::new());
    for (new, &c) in classes.iter().enumerate() {
        let rows = &by_class[c];
        let pick = split_permutation(rows.len(), derive_seed(e.seed, 1 + c as u64));
        let new = new as i64;
        support.extend(pick[..e.shot as usize].iter().map(|&i| (rows[i], new)));
        query.extend(pick[e.shot as usize..need].iter().map(|&i| (rows[i], new)));
    }
    Ok(Active {
        spec: e,
        task: index,
        classes: classes.iter().map(|&c| c as u32).collect(),
        support: gather(task, &support, kind, &what)?,
        query: gather(task, &query, kind, &what)?,
    })
}

/// Rows of the split (w's rows first, then α's) with their new labels, as one part.
fn gather(task: &TaskSplit, rows: &[(usize, i64)], kind: Kind, what: &str) -> PluginResult<Part> {
    let n_w = task.w.len();
    let mut images = Vec::with_capacity(2);
    let mut labels = Vec::with_capacity(rows.len());
    for (part, from_w) in [(&task.w, true), (&task.alpha, false)] {
        let picked: Vec<(i64, i64)> = rows
            .iter()
            .filter(|(r, _)| (*r < n_w) == from_w)
            .map(|&(r, l)| ((if from_w { r } else { r - n_w }) as i64, l))
            .collect();
        if picked.is_empty() {
            continue;
        }
        let idx: Vec<i64> = picked.iter().map(|p| p.0).collect();
        let idx = Tensor::f_from_slice(&idx)
            .and_then(|t| t.f_to_device(part.images.device()))
            .context(what)?;
        images.push(part.images.f_index_select(0, &idx).context(what)?);
        labels.extend(picked.iter().map(|p| p.1));
    }
    let device = task.w.images.device();
    Ok(Part {
        images: Tensor::f_cat(&images, 0)
            .and_then(|t| t.f_to_kind(kind))
            .context(what)?,
        labels: Tensor::f_from_slice(&labels)
            .and_then(|t| t.f_to_device(device))
            .context(what)?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 4 classes: class c holds 3 + c images, split over the w and the α part; each image's
    /// value is its row in the split (w's rows first).
    fn split() -> TaskSplit {
        let labels: Vec<i64> = (0..4i64).flat_map(|c| vec![c; 3 + c as usize]).collect();
        let n = labels.len() as i64;
        let images = Tensor::arange(n, (Kind::Float, Device::Cpu)).view([n, 1, 1, 1]);
        let labels = Tensor::from_slice(&labels);
        let part = |from: i64, len: i64| Part {
            images: images.narrow(0, from, len),
            labels: labels.narrow(0, from, len),
        };
        TaskSplit {
            name: "t".into(),
            classes: 4,
            w: part(0, 7),
            alpha: part(7, n - 7),
        }
    }

    fn rows(p: &Part) -> Vec<(i64, i64)> {
        let img = Vec::<f32>::try_from(&p.images.view([-1])).unwrap();
        let lab = Vec::<i64>::try_from(&p.labels).unwrap();
        img.iter().map(|&v| v as i64).zip(lab).collect()
    }

    #[test]
    fn an_episode_relabels_its_classes_and_keeps_support_and_query_apart() {
        let s = split();
        let all = Vec::<i64>::try_from(&Tensor::cat(&[&s.w.labels, &s.alpha.labels], 0)).unwrap();
        let e = Episode {
            way: 3,
            shot: 1,
            query: 2,
            seed: 9,
        };
        let a = draw(&s, 0, e, Kind::Float).unwrap();
        assert_eq!(a.classes.len(), 3);
        let (support, query) = (rows(&a.support), rows(&a.query));
        assert_eq!((support.len(), query.len()), (3, 6));
        for (row, label) in support.iter().chain(&query) {
            // Relabelled: class classes[l] of the task is l here.
            assert_eq!(all[*row as usize], a.classes[*label as usize] as i64);
        }
        assert!(support.iter().all(|s| !query.contains(s)));
        for l in 0..3 {
            assert_eq!(support.iter().filter(|s| s.1 == l).count(), 1);
            assert_eq!(query.iter().filter(|s| s.1 == l).count(), 2);
        }
        // The seed alone decides.
        let b = draw(&s, 0, e, Kind::Float).unwrap();
        assert_eq!(
            (b.classes.clone(), rows(&b.support)),
            (a.classes.clone(), support)
        );
        let seeds: std::collections::BTreeSet<Vec<u32>> = (0..20)
            .map(|seed| {
                draw(&s, 0, Episode { seed, ..e }, Kind::Float)
                    .unwrap()
                    .classes
            })
            .collect();
        assert!(seeds.len() > 5, "{seeds:?}");
    }

    #[test]
    fn impossible_episodes_are_refused_naming_the_task_and_class() {
        let s = split();
        let e = |way, shot, query| Episode {
            way,
            shot,
            query,
            seed: 1,
        };
        let msg = |e| {
            draw(&s, 0, e, Kind::Float)
                .unwrap_err()
                .message()
                .to_string()
        };
        assert!(
            msg(e(5, 1, 1)).starts_with("task `t` has 4 classes, and an episode draws `way = 5`")
        );
        assert!(msg(e(2, 2, 2)).starts_with(
            "task `t`: class 0 holds 3 training images, and an episode draws `shot + query = 4`"
        ));
        assert!(msg(e(1, 1, 1)).contains("`way = 1`"));
        assert!(msg(e(2, 0, 1)).contains("`shot = 0`"));
    }
}
