//! BASE's few-shot mode (Shaw et al. 2019, "Meta Architecture Search", appendix B): the
//! meta-network is meta-learned over N-way K-shot episodes instead of whole tasks, and a
//! meta-test adapts it on M episodes of held-out classes and reports their mean query accuracy.
//!
//! * **Episodes** come from the supernet (`Supernet::set_episode`): N classes of a task
//!   relabelled 0..N, K support and Q query images each, all drawn from an episode seed. The
//!   seeds are derived from the run seed and the episode's index (meta-step and draw in
//!   meta-training, the episode number in the meta-test), so the same seed draws the same
//!   episodes, after a resume too.
//! * **Meta-training**: per meta-step, m episodes; for each a task drawn uniformly from the
//!   meta tasks (with replacement: a single pool of classes is the usual set-up), the whole
//!   network back to the meta-network's (its classifiers included), K inner steps on the support
//!   set (Θ and w, each forward with a Gumbel sample), then the query loss and accuracy of the
//!   adapted network. Reptile's update (Nichol et al. 2018) then moves the shared weights and Θ
//!   towards the episodes' mean. Labels are a fresh permutation in every episode, so a
//!   classifier has nothing to carry across episodes: every episode starts from the task's
//!   initial classifier, as every meta-test episode starts from the held-out task's.
//! * **Meta-test**: per episode of the target (whose classes meta-training never saw), the
//!   meta-network, K′ steps on the support set at the final temperature, the query accuracy
//!   with softmax(Θ) mixing (DARTS's evaluation). The mean over the M episodes with its 95%
//!   interval (mean ± 1.96·s/√M, the few-shot literature's convention) is `fewshot.json`.

use crate::meta::Inner;
use crate::params::Episodes;
use serde::{Deserialize, Serialize};
use xnas_core::{
    component_seed, derive_seed, Episode, PluginError, PluginResult, Supernet, SupernetBox,
};
use xnas_oneshot::mix::{softmax, to_matrix};
use xnas_oneshot::{Adam, ArchRng, StatsSum};

/// The result kept beside the meta-network.
pub const FEWSHOT: &str = "fewshot.json";

/// How episodes are drawn: the run seed and the episodes' shape.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Draw {
    pub seed: u64,
    pub way: u32,
    pub shot: u32,
    pub query: u32,
}

impl Draw {
    pub fn new(e: &Episodes, seed: u64) -> Self {
        Draw {
            seed,
            way: e.way,
            shot: e.shot,
            query: e.query,
        }
    }

    fn episode(&self, seed: u64) -> Episode {
        Episode {
            way: self.way,
            shot: self.shot,
            query: self.query,
            seed,
        }
    }

    /// The `j`-th episode of meta-training's meta-step `step`.
    pub fn train(&self, step: u64, j: usize) -> Episode {
        let s = derive_seed(component_seed(self.seed, "episodes.train"), step);
        self.episode(derive_seed(s, j as u64))
    }

    /// Meta-test episode `i`.
    pub fn test(&self, i: u32) -> Episode {
        self.episode(derive_seed(
            component_seed(self.seed, "episodes.test"),
            u64::from(i),
        ))
    }
}

/// One meta-test episode's outcome.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct TestEpisode {
    /// The target's labels of its classes.
    pub classes: Vec<u32>,
    pub accuracy: f64,
    pub loss: f64,
    /// max |Θ_adapted − Θ_meta|: how far adaptation moved the architecture.
    pub theta_shift: f64,
}

fn mix(theta: &[f64], cols: usize) -> xnas_core::Matrix {
    to_matrix(&softmax(theta, cols), cols)
}

/// One meta-step over `m` episodes of the first `tasks` supernet tasks; Θ is updated in place
/// and each episode's query figures are added to `query`.
#[allow(clippy::too_many_arguments)]
pub(crate) fn meta_step(
    inner: &Inner,
    net: &mut SupernetBox,
    theta: &mut [f64],
    rng: &mut ArchRng,
    (tasks, m): (usize, usize),
    episode: impl Fn(usize) -> Episode,
    (inner_steps, epsilon): (u32, f64),
    (train, query): (&mut StatsSum, &mut StatsSum),
) -> PluginResult<()> {
    let base = net.snapshot()?;
    let mut adapted = Vec::with_capacity(m);
    let mut sum = vec![0.0; theta.len()];
    for j in 0..m {
        net.restore(base)?;
        net.set_task(rng.below(tasks as u32))?;
        net.set_episode(Some(episode(j)))?;
        let mut theta_j = theta.to_vec();
        let mut adam = Adam::new(theta.len());
        inner.steps(net, &mut theta_j, &mut adam, rng, inner_steps, train)?;
        query.add(&net.evaluate(&mix(&theta_j, inner.cols))?);
        for (s, t) in sum.iter_mut().zip(&theta_j) {
            *s += t;
        }
        adapted.push(net.snapshot()?);
    }
    net.set_episode(None)?;
    // Classifiers stay the meta-network's; the shared weights and Θ move (Reptile).
    net.restore(base)?;
    net.interpolate(base, &adapted, epsilon)?;
    let n = m as f64;
    for (t, s) in theta.iter_mut().zip(&sum) {
        *t += epsilon * (s / n - *t);
    }
    for id in adapted.into_iter().chain([base]) {
        net.drop_snapshot(id)?;
    }
    Ok(())
}

/// One meta-test episode on supernet task `target`, from the meta-network kept as snapshot
/// `meta` and its Θ; the network is left adapted (the next episode restores it).
#[allow(clippy::too_many_arguments)]
pub(crate) fn test_episode(
    inner: &Inner,
    net: &mut SupernetBox,
    (meta, theta): (u32, &[f64]),
    target: u32,
    episode: Episode,
    steps: u32,
    rng: &mut ArchRng,
    train: &mut StatsSum,
) -> PluginResult<TestEpisode> {
    net.restore(meta)?;
    net.set_task(target)?;
    let classes = net.set_episode(Some(episode))?;
    let mut adapted = theta.to_vec();
    let mut adam = Adam::new(theta.len());
    inner.steps(net, &mut adapted, &mut adam, rng, steps, train)?;
    let q = net.evaluate(&mix(&adapted, inner.cols))?;
    let theta_shift = adapted
        .iter()
        .zip(theta)
        .fold(0.0f64, |m, (a, b)| m.max((a - b).abs()));
    Ok(TestEpisode {
        classes,
        accuracy: q.accuracy,
        loss: q.loss,
        theta_shift,
    })
}

/// `fewshot.json`: the meta-test's figures.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct FewShotResult {
    /// The held-out task and the meta-training tasks.
    pub task: String,
    pub meta_tasks: Vec<String>,
    pub way: u32,
    pub shot: u32,
    pub query: u32,
    /// K′.
    pub adapt_steps: u32,
    /// M.
    pub test_episodes: u32,
    pub mean_accuracy: f64,
    /// mean ± 1.96·s/√M.
    pub interval95: [f64; 2],
    pub mean_loss: f64,
    /// The accuracy of guessing: 1/N.
    pub chance: f64,
    pub episodes: Vec<TestEpisode>,
}

impl FewShotResult {
    pub(crate) fn new(
        (task, meta_tasks): (&str, &[String]),
        draw: &Draw,
        adapt_steps: u32,
        episodes: &[TestEpisode],
    ) -> Self {
        let n = episodes.len().max(1) as f64;
        let acc: Vec<f64> = episodes.iter().map(|e| e.accuracy).collect();
        let mean = acc.iter().sum::<f64>() / n;
        let var = acc.iter().map(|a| (a - mean).powi(2)).sum::<f64>() / (n - 1.0).max(1.0);
        let half = 1.96 * (var / n).sqrt();
        FewShotResult {
            task: task.to_string(),
            meta_tasks: meta_tasks.to_vec(),
            way: draw.way,
            shot: draw.shot,
            query: draw.query,
            adapt_steps,
            test_episodes: episodes.len() as u32,
            mean_accuracy: mean,
            interval95: [mean - half, mean + half],
            mean_loss: episodes.iter().map(|e| e.loss).sum::<f64>() / n,
            chance: 1.0 / f64::from(draw.way),
            episodes: episodes.to_vec(),
        }
    }
}

/// Few-shot meta-training's tasks: `meta_tasks`, or the sources; the target is held out for the
/// meta-test.
pub(crate) fn meta_tasks(
    listed: &[String],
    target: &str,
    sources: &[String],
) -> PluginResult<Vec<String>> {
    let tasks = if listed.is_empty() {
        sources.to_vec()
    } else {
        listed.to_vec()
    };
    if tasks.is_empty() {
        return Err(PluginError::invalid_params(
            "few-shot mode (`episodes`) meta-trains on episodes of `meta_tasks` (or the sources) \
             and meta-tests on the target's: name at least one source task",
        ));
    }
    if tasks.iter().any(|t| t == target) {
        return Err(PluginError::invalid_params(format!(
            "few-shot mode (`episodes`) meta-tests on the target `{target}`, and it is among \
             meta-training's tasks: hold it out (a task of other classes, e.g. a `classes` \
             subset, as the target)"
        )));
    }
    Ok(tasks)
}

/// Checks every task can give an episode (enough classes, enough images per class) before the
/// run starts: the supernet's own errors, naming the task.
pub(crate) fn check_tasks(net: &mut SupernetBox, tasks: usize, draw: &Draw) -> PluginResult<()> {
    for t in 0..tasks {
        net.set_task(t as u32)?;
        net.set_episode(Some(draw.test(0)))?;
    }
    net.set_episode(None)?;
    net.set_task(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn episode_seeds_are_distinct_and_reproducible() {
        let d = Draw {
            seed: 5,
            way: 3,
            shot: 1,
            query: 2,
        };
        assert_eq!(d.train(4, 1), d.train(4, 1));
        assert_ne!(d.train(4, 1).seed, d.train(4, 0).seed);
        assert_ne!(d.train(4, 1).seed, d.train(5, 1).seed);
        assert_ne!(d.test(0).seed, d.train(0, 0).seed);
        assert_eq!((d.test(3).way, d.test(3).shot, d.test(3).query), (3, 1, 2));
    }

    #[test]
    fn the_interval_is_the_normal_one_around_the_mean() {
        let ep = |a: f64| TestEpisode {
            classes: vec![0, 1],
            accuracy: a,
            loss: 1.0,
            theta_shift: 0.0,
        };
        let d = Draw {
            seed: 0,
            way: 2,
            shot: 1,
            query: 1,
        };
        let r = FewShotResult::new(("t", &[]), &d, 3, &[ep(0.5), ep(0.7), ep(0.9), ep(0.7)]);
        assert!((r.mean_accuracy - 0.7).abs() < 1e-12);
        // s = sqrt(0.08 / 3), half = 1.96·s/2.
        let half = 1.96 * (0.08f64 / 3.0).sqrt() / 2.0;
        assert!((r.interval95[1] - 0.7 - half).abs() < 1e-12, "{r:?}");
        assert!((r.interval95[0] - 0.7 + half).abs() < 1e-12);
        assert_eq!((r.chance, r.test_episodes), (0.5, 4));
    }

    #[test]
    fn the_target_is_held_out() {
        let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
        assert_eq!(meta_tasks(&[], "t", &s(&["a"])).unwrap(), s(&["a"]));
        assert_eq!(meta_tasks(&s(&["b"]), "t", &s(&["a"])).unwrap(), s(&["b"]));
        assert!(meta_tasks(&[], "t", &[])
            .unwrap_err()
            .message()
            .contains("name at least one source task"));
        assert!(meta_tasks(&s(&["t"]), "t", &[])
            .unwrap_err()
            .message()
            .contains("hold it out"));
    }
}
