//! The host's side of the protocol as the kit plays it: building, asking, telling, whole runs,
//! and what tells two transcripts apart.

use super::*;

impl Kit<'_> {
    pub(super) fn build<M: Make>(&self, make: &mut M, seed: u64) -> Result<M::Optimizer, Failure> {
        let init = optimizer_init(self.space, &self.options.target, seed);
        guarded(
            "build",
            || format!("make (building the optimizer with seed {seed})"),
            || make.make(&init),
        )?
        .map_err(|e| {
            Failure::new(
                "build",
                format!(
                    "building the optimizer with seed {seed} failed: {}",
                    err_text(&e)
                ),
            )
        })
    }

    /// `count` canonical architectures sampled from the space with the kit's seeds.
    pub(super) fn sampled(&self, tag: u64, count: usize) -> Result<Vec<Arch>, Failure> {
        let base = derive_seed(KIT_SEED, tag);
        (0..count)
            .map(|j| {
                let seed = derive_seed(base, j as u64);
                self.space
                    .sample(seed)
                    .and_then(|g| self.space.canonical(&g))
                    .map_err(|e| {
                        Failure::new(
                            "space",
                            format!(
                                "the space given to check_optimizer failed to sample and \
                                 canonicalise an architecture (seed {seed}): {}; check the space \
                                 with check_space",
                                err_text(&e)
                            ),
                        )
                    })
            })
            .collect()
    }

    /// Observations of `count` sampled architectures, trial ids `0..count`, some failed.
    pub(super) fn unasked(&self, count: usize) -> Result<Vec<Observation>, Failure> {
        Ok(self
            .sampled(UNASKED_TAG, count)?
            .iter()
            .enumerate()
            .map(|(j, a)| observation(&self.options.target, j as u64, a, RNone))
            .collect())
    }

    pub(super) fn tell<O: Optimizer>(
        &self,
        opt: &mut O,
        observations: &[Observation],
        check: &'static str,
        at: &dyn Fn() -> String,
    ) -> Result<(), Failure> {
        guarded(
            check,
            || format!("tell ({})", at()),
            || opt.tell(observations),
        )?
        .map_err(|e| {
            let failed: Vec<u64> = observations
                .iter()
                .filter(|o| o.status != TrialStatus::OK)
                .map(|o| o.trial_id)
                .collect();
            let ids = match (observations.first(), observations.last()) {
                (Some(a), Some(b)) => format!("trial ids {}..={}", a.trial_id, b.trial_id),
                _ => "no observations".into(),
            };
            let unasked = if check == "tell" {
                ""
            } else {
                " The host tells observations before the first ask when a similarity plugin's \
                 landmarks were evaluated on the target, and in `xnas ablation`."
            };
            Failure::new(
                check,
                format!(
                    "{}: tell of {} observations ({ids}; failed, with status FAILED and a NaN \
                     metric: {failed:?}) failed: {}. The host tells a batch at once, in trial-id \
                     order, failed trials included, each with the genome canonical returned, \
                     which may differ from the one proposed.{unasked}",
                    at(),
                    observations.len(),
                    err_text(&e)
                ),
            )
        })
    }

    /// One batch as the run loop does it. `None`: the optimizer proposed nothing (the host stops).
    pub(super) fn round<O: Optimizer>(
        &self,
        opt: &mut O,
        seed: u64,
        r: usize,
        next_id: &mut u64,
        context: &str,
    ) -> Result<Option<Vec<Proposal>>, Failure> {
        let n = self.options.batches[r];
        let at = || format!("seed {seed}{context}, round {r}");
        let proposals =
            guarded("ask", || format!("ask({n}) ({})", at()), || opt.ask(n))?.map_err(|e| {
                Failure::new(
                    "ask",
                    format!("ask({n}) failed ({}): {}", at(), err_text(&e)),
                )
            })?;
        if proposals.len() > n {
            return Err(Failure::new(
                "ask/count",
                format!(
                    "{}: ask({n}) returned {} proposals; at most n are allowed (the host stops \
                     the run otherwise)",
                    at(),
                    proposals.len()
                ),
            ));
        }
        if proposals.is_empty() {
            if r == 0 {
                return Err(Failure::new(
                    "ask/empty",
                    format!(
                        "{}: ask({n}) returned no proposals: the host ends a search at an empty \
                         ask, so this one would end before it began",
                        at()
                    ),
                ));
            }
            return Ok(None);
        }
        let mut observations = Vec::with_capacity(proposals.len());
        for (i, p) in proposals.iter().enumerate() {
            let arch = self.space.canonical(&p.genome).map_err(|e| {
                Failure::new(
                    "ask/valid",
                    format!(
                        "{}: ask({n}) proposal {i}, {}, is not an architecture of the space: \
                         canonical says {}. The host records it as a failed trial without \
                         evaluating it",
                        at(),
                        proposal_text(p),
                        err_text(&e)
                    ),
                )
            })?;
            let o = observation(&self.options.target, *next_id, &arch, p.budget);
            if o.status != TrialStatus::OK {
                self.failed.set(self.failed.get() + 1);
            }
            observations.push(o);
            *next_id += 1;
        }
        self.tell(opt, &observations, "tell", &at)?;
        Ok(Some(proposals))
    }

    /// A fresh optimizer with `seed` through every round.
    pub(super) fn run(&self, make: &mut impl Make, seed: u64) -> Result<Transcript, Failure> {
        let mut opt = self.build(make, seed)?;
        let rounds = 0..self.options.batches.len();
        self.run_on(&mut opt, seed, rounds, 0, "")
    }

    /// `rounds` on `opt`, trial ids from `next_id`, until the last or an empty ask.
    pub(super) fn run_on<O: Optimizer>(
        &self,
        opt: &mut O,
        seed: u64,
        rounds: std::ops::Range<usize>,
        mut next_id: u64,
        context: &str,
    ) -> Result<Transcript, Failure> {
        let mut transcript = Vec::new();
        for r in rounds {
            match self.round(opt, seed, r, &mut next_id, context)? {
                Some(p) => transcript.push(p),
                None => break,
            }
        }
        Ok(transcript)
    }

    /// The first difference between two transcripts whose first round is `first_round`, told
    /// as what `who.0` and `who.1` proposed.
    pub(super) fn difference(
        &self,
        a: &[Vec<Proposal>],
        b: &[Vec<Proposal>],
        first_round: usize,
        who: (&str, &str),
    ) -> Option<String> {
        for (k, (x, y)) in a.iter().zip(b).enumerate() {
            let r = first_round + k;
            let n = self.options.batches[r];
            if x.len() != y.len() {
                return Some(format!(
                    "in round {r}, ask({n}) gave {} proposals from {} and {} from {}",
                    x.len(),
                    who.0,
                    y.len(),
                    who.1
                ));
            }
            if let Some(i) = (0..x.len()).find(|&i| !same_proposal(&x[i], &y[i])) {
                return Some(format!(
                    "in round {r}, proposal {i} of ask({n}) was {} from {} and {} from {}",
                    proposal_text(&x[i]),
                    who.0,
                    proposal_text(&y[i]),
                    who.1
                ));
            }
        }
        if a.len() != b.len() {
            let r = first_round + a.len().min(b.len());
            let (empty, other) = if a.len() < b.len() {
                who
            } else {
                (who.1, who.0)
            };
            return Some(format!(
                "in round {r}, ask({}) gave no proposals from {empty} and some from {other}",
                self.options.batches[r]
            ));
        }
        None
    }
}
