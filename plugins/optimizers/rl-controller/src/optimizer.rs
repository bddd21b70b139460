//! The `rl-controller` optimizer: `ask` samples architectures from the policy, `tell` turns the
//! results into rewards and updates the policy (PPO or REINFORCE); in decorated mode the source
//! history trains it too.

use crate::params::{Algorithm, RlParams, SourcePhase};
use crate::policy::{Policy, Row, Sampled, StepStats};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::time::Instant;
use xnas_core::abi_stable::std_types::ROption;
use xnas_core::{
    derive_seed, head_factory_box, HeadFactory, HeadFactoryBox, Normalise, Observation, Optimizer,
    OptimizerInit, PluginError, PluginResult, Proposal, SearchSpace, SpaceBox, SplitMix64,
    TrialStatus,
};
use xnas_tch::normalise::per_task;
use xnas_tch::seed::component_seed;
use xnas_tch::PlainHeadFactory;
use xnas_tch::ThreadLimit;

/// Task row of the target in the heads' task list.
const TARGET: u32 = 0;

/// A proposal waiting for its result: the decisions as sampled and their log π then.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub(crate) struct Pending {
    pub genome: Vec<u32>,
    /// f32 bit patterns (exact in any codec).
    pub logp_bits: Vec<u32>,
}

impl Pending {
    fn new(genome: Vec<u32>, logp: &[f32]) -> Self {
        Pending {
            genome,
            logp_bits: logp.iter().map(|v| v.to_bits()).collect(),
        }
    }
    fn logp(&self) -> Vec<f32> {
        self.logp_bits.iter().map(|&b| f32::from_bits(b)).collect()
    }
}

/// Everything besides the network that decides what comes next; saved as it is. Floats are kept
/// as bit patterns so a saved state restores them exactly.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub(crate) struct Progress {
    /// Calls of `ask` so far: the tag of the next ask's sampling seed.
    pub asks: u64,
    /// Tells that carried target observations: the tag of the next replay seed.
    pub tells: u64,
    /// Metric of every target observation told so far, NaN for a failed one (f64 bits).
    pub target_metrics: Vec<u64>,
    /// EMA baseline per task row (f64 bits), `None` until the task's first reward.
    pub baselines: Vec<Option<u64>>,
    /// Canonical texts proposed or told: never proposed again.
    pub seen: BTreeSet<String>,
    /// Proposals without a result yet, by canonical text.
    pub pending: BTreeMap<String, Pending>,
    /// Proposals that came from the uniform fallback.
    pub uniform: u64,
}

/// The target's best results so far, best first (ties: the earlier first), at most
/// `self_imitation`: `(metric as f64 bits, genome)`. Saved beside [`Progress`] (state format 3).
pub(crate) type Elite = Vec<(u64, Vec<u32>)>;

/// A source observation, ready for replay.
#[derive(Clone, Debug)]
struct SourceRow {
    genome: Vec<u32>,
    task: u32,
    reward: f64,
}

/// The `rl-controller` optimizer.
pub struct RlController {
    space: SpaceBox,
    params: RlParams,
    sample_seed: u64,
    replay_seed: u64,
    target: String,
    /// Task list of the heads: the target, then the sources.
    tasks: Vec<String>,
    /// The head factory trains on every task (transfer): pretrain and replay the sources.
    decorated: bool,
    normalise: Normalise,
    /// The transfer plan's phase 1 lasts until this many successful target results.
    phase_switch: usize,
    pub(crate) policy: Policy,
    pub(crate) progress: Progress,
    pub(crate) elite: Elite,
    sources: Vec<SourceRow>,
    last_update: Vec<StepStats>,
}

impl RlController {
    pub fn new(params: RlParams, init: &OptimizerInit) -> PluginResult<Self> {
        xnas_tch::init();
        let _threads = ThreadLimit::new(params.threads);
        let desc = init.space.describe()?;
        let factory: HeadFactoryBox = match &init.heads {
            ROption::RSome(f) => f.clone(),
            ROption::RNone => {
                head_factory_box(PlainHeadFactory::new(params.head.clone(), params.device))
            }
        };
        let decorated = factory.uses_all_tasks();
        let plan = factory.plan();
        let normalise = plan.normalise;
        // A transfer plan may set the pretraining's size (xfer's `pretrain_epochs`,
        // `pretrain_batch`): it costs epochs × source rows, the bulk of a decorated search.
        let pretrain = (
            plan.pretrain_epochs
                .map_or(params.pretrain_epochs, |e| e as usize),
            plan.pretrain_batch
                .map_or(params.pretrain_batch, |b| b as usize),
        );
        let target = init.target.to_string();
        let mut tasks = vec![target.clone()];
        for s in init.sources.iter() {
            if s.as_str() != target && !tasks.iter().any(|t| t == s.as_str()) {
                tasks.push(s.to_string());
            }
        }
        let policy = Policy::new(&desc, &params, &factory, &tasks, init.seed)?;
        tracing::debug!(
            "rl-controller: {} decisions, heads {:?} from `{}`{}",
            policy.len(),
            policy.head_names(),
            factory.describe(),
            if decorated {
                " (decorated: trains on every task)"
            } else {
                ""
            }
        );
        let mut me = RlController {
            space: init.space.clone(),
            sample_seed: component_seed(init.seed, "sample"),
            replay_seed: component_seed(init.seed, "replay"),
            target,
            decorated,
            normalise,
            phase_switch: plan.phase_switch as usize,
            policy,
            progress: Progress {
                baselines: vec![None; tasks.len()],
                ..Progress::default()
            },
            tasks,
            elite: Elite::new(),
            sources: Vec::new(),
            last_update: Vec::new(),
            params,
        };
        if decorated {
            me.sources = me.source_rows(&init.history);
            me.pretrain(component_seed(init.seed, "pretrain"), pretrain)?;
        }
        Ok(me)
    }

    /// The statistics of each gradient step of the last update (PPO: one per epoch).
    pub fn last_update(&self) -> &[StepStats] {
        &self.last_update
    }

    /// Whether the head factory made this a decorated (transfer) controller.
    pub fn is_decorated(&self) -> bool {
        self.decorated
    }

    /// Number of source observations replayed (decorated mode).
    pub fn source_len(&self) -> usize {
        self.sources.len()
    }

    /// Number of proposals so far that came from the uniform fallback.
    pub fn uniform_proposals(&self) -> u64 {
        self.progress.uniform
    }

    /// Per-decision log π of `genome` for the target under the current policy.
    pub fn log_probs(&mut self, genome: &[u32]) -> PluginResult<Vec<f32>> {
        let _threads = ThreadLimit::new(self.params.threads);
        let mut s = self.policy.score(&[genome], &[TARGET])?;
        Ok(s.pop().unwrap_or_default())
    }

    /// Per-decision log π recorded when a pending proposal was sampled.
    pub fn sampled_log_probs(&self, genome: &[u32]) -> Option<Vec<f32>> {
        let text = self.space.canonical(genome).ok()?.text.to_string();
        self.progress.pending.get(&text).map(Pending::logp)
    }

    /// Source observations with per-task normalised, transformed rewards. Observations of tasks
    /// the heads were not built for, and genomes outside the token view, are left out.
    fn source_rows(&self, history: &[Observation]) -> Vec<SourceRow> {
        let mut rows = Vec::new();
        let (mut ids, mut metrics) = (Vec::new(), Vec::new());
        let mut skipped = 0usize;
        for o in history {
            let task = self
                .tasks
                .iter()
                .skip(1)
                .position(|t| t == o.task.as_str())
                .map(|i| i as u32 + 1);
            let (Some(task), true) = (task, self.policy.encodable(&o.genome)) else {
                skipped += 1;
                continue;
            };
            ids.push(task as usize);
            metrics.push(metric_of(o));
            rows.push(SourceRow {
                genome: o.genome.to_vec(),
                task,
                reward: 0.0,
            });
        }
        let rewards = per_task(&ids, &metrics, self.normalise);
        for (row, r) in rows.iter_mut().zip(rewards) {
            row.reward = self.params.reward.apply(f64::from(r));
        }
        if skipped > 0 {
            tracing::warn!(
                "rl-controller: {skipped} source observations left out (a task that is not a \
                 source of this run, or a genome outside the search space)"
            );
        }
        rows
    }

    /// Decorated mode: passes over the source history, each observation with its own task row.
    /// By default policy-gradient passes over every source observation (off-policy replay: the
    /// REINFORCE-weighted log-likelihood); with `pretrain_top = q`, imitation of each source
    /// task's best share `q`. `(epochs, batch)` as the plan or the parameters say.
    fn pretrain(&mut self, seed: u64, (epochs, batch): (usize, usize)) -> PluginResult<()> {
        if self.sources.is_empty() || epochs == 0 {
            return Ok(());
        }
        let start = Instant::now();
        let mut rng = SplitMix64::new(seed);
        let mut steps = 0usize;
        let mut last = None;
        let pool = match self.params.pretrain_top {
            Some(q) => self.best_of_each_task(q),
            None => (0..self.sources.len()).collect(),
        };
        for _ in 0..epochs {
            let mut order = pool.clone();
            shuffle(&mut order, &mut rng);
            for chunk in order.chunks(batch) {
                let rows = match self.params.pretrain_top {
                    Some(_) => self.imitation_rows(chunk),
                    None => self.replay_rows(chunk),
                };
                last = Some(self.policy.step(&rows)?);
                steps += 1;
            }
        }
        // What reached the universal part (the target's row) and what stayed in the sources'
        // residuals: the mean log π of the sources' best architectures under each row.
        let best = self.best_of_each_task(0.1);
        let genomes: Vec<&[u32]> = best
            .iter()
            .map(|&i| self.sources[i].genome.as_slice())
            .collect();
        let own: Vec<u32> = best.iter().map(|&i| self.sources[i].task).collect();
        let mean_joint = |p: Vec<Vec<f32>>| mean(p.iter().map(|l| joint_logp(l)));
        let under_own = mean_joint(self.policy.score(&genomes, &own)?);
        let under_target = mean_joint(self.policy.score(&genomes, &vec![TARGET; genomes.len()])?);
        tracing::info!(
            "rl-controller: the sources' best tenth has mean log π {under_own:.3} under their own \
             tasks' rows and {under_target:.3} under the target's (universal) row; uniform is {:.3}",
            -self.policy.choices().iter().map(|&c| f64::from(c).ln()).sum::<f64>()
        );
        tracing::info!(
            "rl-controller: pretrained on {} source observations of {} tasks{}: {} epochs, \
             {steps} steps of {batch} rows in {:.2} s (last loss {:.4}, entropy {:.3})",
            pool.len(),
            self.tasks.len() - 1,
            match self.params.pretrain_top {
                Some(q) => format!(" (imitating each task's best {q})"),
                None => String::new(),
            },
            epochs,
            start.elapsed().as_secs_f64(),
            last.as_ref().map_or(f64::NAN, |s| s.loss),
            last.as_ref().map_or(f64::NAN, |s| s.entropy),
        );
        Ok(())
    }

    /// Indices of each source task's best `ceil(share · n)` observations (by reward, ties by
    /// history order), in history order.
    fn best_of_each_task(&self, share: f64) -> Vec<usize> {
        let mut keep = Vec::new();
        for task in 1..self.tasks.len() as u32 {
            let mut of_task: Vec<usize> = (0..self.sources.len())
                .filter(|&i| self.sources[i].task == task)
                .collect();
            of_task.sort_by(|&a, &b| self.sources[b].reward.total_cmp(&self.sources[a].reward));
            let k = (share * of_task.len() as f64).ceil() as usize;
            keep.extend_from_slice(&of_task[..k.min(of_task.len())]);
        }
        keep.sort_unstable();
        keep
    }

    /// Imitation rows of the source observations `indices`: advantage 1, so the step is the
    /// maximum likelihood of those architectures (plus the entropy bonus), each weighing 1/len.
    fn imitation_rows(&self, indices: &[usize]) -> Vec<Row> {
        let weight = 1.0 / indices.len() as f64;
        indices
            .iter()
            .map(|&i| {
                Row::reinforce(
                    self.sources[i].genome.clone(),
                    self.sources[i].task,
                    1.0,
                    weight,
                )
            })
            .collect()
    }

    /// Advantage `R − b` with the task's old baseline, then the baseline's EMA update (ENAS
    /// TF updates it in the same step as the loss, melodyguan/enas `build_trainer`; here the order
    /// is explicit). The first reward of a task initialises its baseline.
    fn advantage(&mut self, task: u32, reward: f64) -> f64 {
        let slot = &mut self.progress.baselines[task as usize];
        let b = slot.map_or(reward, f64::from_bits);
        let beta = self.params.baseline_decay;
        *slot = Some((beta * b + (1.0 - beta) * reward).to_bits());
        reward - b
    }

    /// Training rows of the source observations `indices`, each weighing 1/len.
    fn replay_rows(&mut self, indices: &[usize]) -> Vec<Row> {
        let weight = 1.0 / indices.len() as f64;
        indices
            .iter()
            .map(|&i| {
                let (task, reward) = (self.sources[i].task, self.sources[i].reward);
                let advantage = self.advantage(task, reward);
                Row::reinforce(self.sources[i].genome.clone(), task, advantage, weight)
            })
            .collect()
    }

    /// A replay minibatch of `params.replay` distinct source observations (decorated mode).
    fn replay_batch(&mut self, rng: &mut SplitMix64) -> Vec<Row> {
        if !self.decorated || self.sources.is_empty() || self.params.replay == 0 {
            return Vec::new();
        }
        let k = self.params.replay.min(self.sources.len());
        let mut order: Vec<usize> = (0..self.sources.len()).collect();
        // Partial Fisher–Yates: the first k are a uniform draw without replacement.
        for i in 0..k {
            let j = i + rng.below((order.len() - i) as u32) as usize;
            order.swap(i, j);
        }
        self.replay_rows(&order[..k])
    }

    /// Keeps `genome` among the target's best `self_imitation` results if its metric earns it a place.
    fn remember(&mut self, metric: f64, genome: &[u32]) {
        let k = self.params.self_imitation;
        if k == 0 || !metric.is_finite() {
            return;
        }
        let elite = &mut self.elite;
        let at = elite.partition_point(|(m, _)| f64::from_bits(*m) >= metric);
        if at < k {
            elite.insert(at, (metric.to_bits(), genome.to_vec()));
            elite.truncate(k);
        }
    }

    /// Self-imitation rows: the target's best results so far, advantage 1, `self_imitation_weight`
    /// in all.
    fn elite_rows(&self) -> Vec<Row> {
        let elite = &self.elite;
        let weight = self.params.self_imitation_weight / elite.len().max(1) as f64;
        elite
            .iter()
            .map(|(_, genome)| Row::reinforce(genome.clone(), TARGET, 1.0, weight))
            .collect()
    }

    /// Decorated, with `source_phase = "likeliest"`, before `phase_switch` successful target
    /// results.
    fn in_source_phase(&self) -> bool {
        let successes = self
            .progress
            .target_metrics
            .iter()
            .filter(|&&b| f64::from_bits(b).is_finite())
            .count();
        self.decorated
            && self.params.source_phase == SourcePhase::Likeliest
            && successes < self.phase_switch
    }

    /// Accepts `drawn` in order until `out` holds `n`, counting the draws looked at and those
    /// refused (seen before, or refused by the space).
    fn take(
        &mut self,
        drawn: Vec<Sampled>,
        n: usize,
        out: &mut Vec<Vec<u32>>,
        (draws, refused): (&mut usize, &mut usize),
    ) {
        for s in drawn {
            if out.len() == n {
                break;
            }
            *draws += 1;
            if self.accept(&s.genome, Some(&s.logp)).is_some() {
                out.push(s.genome);
            } else {
                *refused += 1;
            }
        }
    }

    /// Records a proposal; `false` if its canonical form was seen or the space refuses it.
    fn accept(&mut self, genome: &[u32], logp: Option<&[f32]>) -> Option<String> {
        let text = self.space.canonical(genome).ok()?.text.to_string();
        if !self.progress.seen.insert(text.clone()) {
            return None;
        }
        if let Some(logp) = logp {
            self.progress
                .pending
                .insert(text.clone(), Pending::new(genome.to_vec(), logp));
        }
        Some(text)
    }
}

fn mean(v: impl Iterator<Item = f64>) -> f64 {
    let (mut sum, mut n) = (0.0, 0usize);
    for x in v {
        sum += x;
        n += 1;
    }
    sum / n as f64
}

/// The joint log π of an architecture: the sum of its decisions' log π.
fn joint_logp(per_decision: &[f32]) -> f64 {
    per_decision.iter().map(|&v| f64::from(v)).sum()
}

/// The metric of an observation, NaN when it failed.
fn metric_of(o: &Observation) -> f64 {
    if o.status == TrialStatus::OK && o.metric.is_finite() {
        o.metric
    } else {
        f64::NAN
    }
}

fn shuffle(v: &mut [usize], rng: &mut SplitMix64) {
    for i in (1..v.len()).rev() {
        let j = rng.below(i as u32 + 1) as usize;
        v.swap(i, j);
    }
}

impl Optimizer for RlController {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        if n == 0 {
            return Ok(Vec::new());
        }
        let _threads = ThreadLimit::new(self.params.threads);
        let mut rng = SplitMix64::new(derive_seed(self.sample_seed, self.progress.asks));
        self.progress.asks += 1;
        let limit = n.saturating_mul(self.params.resample);
        let mut out: Vec<Vec<u32>> = Vec::with_capacity(n);
        let (mut draws, mut refused) = (0usize, 0usize);
        if self.in_source_phase() {
            // The likeliest first (stable: ties keep the draw order).
            let mut drawn = self.policy.sample(limit, TARGET, &mut rng)?;
            drawn.sort_by(|a, b| joint_logp(&b.logp).total_cmp(&joint_logp(&a.logp)));
            self.take(drawn, n, &mut out, (&mut draws, &mut refused));
        }
        while out.len() < n && draws < limit {
            // After rejections, twice what is missing: one more round is usually enough.
            let missing = n - out.len();
            let want = if draws == 0 { missing } else { 2 * missing }.min(limit - draws);
            let drawn = self.policy.sample(want, TARGET, &mut rng)?;
            self.take(drawn, n, &mut out, (&mut draws, &mut refused));
        }
        // Fallback: uniform samples the policy would not give; their log π is scored now so
        // PPO's ratio is defined for them too.
        let mut uniform: Vec<Vec<u32>> = Vec::new();
        let max_tries = 100 * n;
        let mut tries = 0;
        while out.len() + uniform.len() < n && tries < max_tries {
            tries += 1;
            let genome = self.space.sample(rng.next_u64())?;
            if !self.policy.encodable(&genome) {
                return Err(PluginError::invalid_architecture(format!(
                    "rl-controller: the search space sampled {genome:?}, which does not fit its \
                     own description"
                )));
            }
            if self.accept(&genome, None).is_some() {
                uniform.push(genome);
            }
        }
        if !uniform.is_empty() {
            let refs: Vec<&[u32]> = uniform.iter().map(Vec::as_slice).collect();
            let logp = self.policy.score(&refs, &vec![TARGET; refs.len()])?;
            for (g, l) in uniform.iter().zip(&logp) {
                let text = self.space.canonical(g)?.text.to_string();
                self.progress
                    .pending
                    .insert(text, Pending::new(g.clone(), l));
            }
            self.progress.uniform += uniform.len() as u64;
            tracing::info!(
                "rl-controller: {} of {n} proposals are uniform samples: the policy drew {draws} \
                 sequences, {refused} already seen or refused by the space",
                uniform.len()
            );
            out.extend(uniform);
        }
        if out.len() < n {
            tracing::warn!(
                "rl-controller: found only {} unseen architectures of {n} asked for; the space \
                 may be exhausted",
                out.len()
            );
        }
        Ok(out
            .into_iter()
            .map(|genome| Proposal {
                genome: genome.into(),
                budget: ROption::RNone,
            })
            .collect())
    }

    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        let target: Vec<&Observation> = observations
            .iter()
            .filter(|o| o.task.as_str() == self.target)
            .collect();
        if target.len() < observations.len() {
            tracing::debug!(
                "rl-controller: ignored {} observations of other tasks than the target",
                observations.len() - target.len()
            );
        }
        if target.is_empty() {
            return Ok(());
        }
        let _threads = ThreadLimit::new(self.params.threads);
        let start = self.progress.target_metrics.len();
        self.progress
            .target_metrics
            .extend(target.iter().map(|o| metric_of(o).to_bits()));
        let metrics: Vec<f64> = self
            .progress
            .target_metrics
            .iter()
            .map(|&b| f64::from_bits(b))
            .collect();
        // Normalised over the target's whole history so far; failed = 0.
        let normalised = per_task(&vec![0; metrics.len()], &metrics, self.normalise);

        let mut rows: Vec<Row> = Vec::with_capacity(target.len());
        for (o, r) in target.iter().zip(&normalised[start..]) {
            let reward = self.params.reward.apply(f64::from(*r));
            let advantage = self.advantage(TARGET, reward);
            let (genome, old) = match self.space.canonical(&o.genome) {
                Ok(arch) => {
                    let text = arch.text.to_string();
                    self.progress.seen.insert(text.clone());
                    match self.progress.pending.remove(&text) {
                        Some(p) => {
                            let logp = p.logp();
                            (p.genome, Some(logp))
                        }
                        None => (o.genome.to_vec(), None),
                    }
                }
                Err(_) => (o.genome.to_vec(), None),
            };
            if !self.policy.encodable(&genome) {
                tracing::debug!(
                    "rl-controller: trial {} has a genome outside the search space; not learnt from",
                    o.trial_id
                );
                continue;
            }
            self.remember(metric_of(o), &genome);
            rows.push(Row {
                genome,
                task: TARGET,
                advantage,
                weight: 0.0,
                old_logp: old,
            });
        }
        self.progress.tells += 1;
        if rows.is_empty() {
            return Ok(());
        }
        let weight = 1.0 / rows.len() as f64;
        for r in &mut rows {
            r.weight = weight;
        }
        let mut rng = SplitMix64::new(derive_seed(self.replay_seed, self.progress.tells));
        self.last_update.clear();
        match self.params.algorithm {
            Algorithm::Reinforce => {
                for r in &mut rows {
                    r.old_logp = None;
                }
                rows.extend(self.replay_batch(&mut rng));
                rows.extend(self.elite_rows());
                let stats = self.policy.step(&rows)?;
                self.last_update.push(stats);
            }
            Algorithm::Ppo => {
                // Results of proposals this controller did not sample: their log π under the
                // policy before the update stands in for π_old.
                let missing: Vec<usize> = (0..rows.len())
                    .filter(|&i| rows[i].old_logp.is_none())
                    .collect();
                if !missing.is_empty() {
                    let refs: Vec<&[u32]> =
                        missing.iter().map(|&i| rows[i].genome.as_slice()).collect();
                    let scores = self.policy.score(&refs, &vec![TARGET; refs.len()])?;
                    for (&i, s) in missing.iter().zip(scores) {
                        rows[i].old_logp = Some(s);
                    }
                }
                let told = rows.len();
                // The same self-imitation rows in every epoch: the best results change only
                // with a tell.
                let elite = self.elite_rows();
                for _ in 0..self.params.ppo_epochs {
                    rows.truncate(told);
                    rows.extend(self.replay_batch(&mut rng));
                    rows.extend(elite.iter().cloned());
                    let stats = self.policy.step(&rows)?;
                    self.last_update.push(stats);
                }
            }
        }
        if let Some(s) = self.last_update.last() {
            tracing::debug!(
                "rl-controller: update on {} results: loss {:.4}, entropy {:.3}, |ρ−1| ≤ {:.3}, \
                 grad norm {:.3}",
                target.len(),
                s.loss,
                s.entropy,
                s.max_ratio_deviation,
                s.grad_norm
            );
        }
        Ok(())
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        crate::state::save(self)
    }

    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        crate::state::load(self, state)
    }
}
