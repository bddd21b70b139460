//! The checks of [`super::check_optimizer`], one method each.

use super::*;

impl Kit<'_> {
    /// The run loop with the first seed, twice: what a run does and what its resume replays.
    pub(super) fn check_run(
        &self,
        make: &mut impl Make,
        report: &mut Report,
    ) -> Result<(Transcript, Saved), Failure> {
        let (options, seed) = (self.options, self.options.seeds[0]);
        let rounds = options.batches.len();
        let state_after = options.state_after.min(rounds - 1);

        // The run loop, with the state saved after one round.
        let mut a = self.build(make, seed)?;
        let mut first: Transcript = Vec::new();
        let mut next_id = 0;
        let mut saved = None;
        for r in 0..rounds {
            match self.round(&mut a, seed, r, &mut next_id, "")? {
                Some(p) => first.push(p),
                None => break,
            }
            if r == state_after {
                let state = guarded(
                    "state/save",
                    || format!("save_state() after round {r} (seed {seed})"),
                    || a.save_state(),
                )?;
                saved = Some((state, next_id));
            }
        }
        report.pass(
            "ask",
            format!(
                "{} rounds with n = {:?}: at most n proposals each, all accepted by canonical",
                first.len(),
                &options.batches[..first.len()]
            ),
        );
        report.pass(
            "tell",
            format!(
                "{next_id} observations told batch by batch in trial-id order, with canonical \
                 genomes; {} of them failed trials",
                self.failed.get()
            ),
        );

        // The same seed and the same tells again: what a resume replays.
        let second = self.run(make, seed)?;
        if let Some(d) = self.difference(&first, &second, 0, TWO) {
            return Err(Failure::new(
                "determinism",
                format!(
                    "two optimizers built with seed {seed} and told the same results proposed \
                     different architectures: {d}. An optimizer must be a function of its seed \
                     and of what it was told: `xnas resume` replays the asks and tells and stops \
                     at the first difference. Take every random draw from derive_seed(init.seed, \
                     counter), never from the clock, a global or thread-local generator, or \
                     HashMap order"
                ),
            ));
        }
        report.pass(
            "determinism",
            format!(
                "two optimizers with seed {seed} proposed the same {} architectures",
                first.iter().map(Vec::len).sum::<usize>()
            ),
        );
        Ok((first, saved))
    }

    /// save_state / load_state, unless unsupported.
    pub(super) fn check_state(
        &self,
        make: &mut impl Make,
        first: &[Vec<Proposal>],
        saved: Saved,
        report: &mut Report,
    ) -> Result<(), Failure> {
        let seed = self.options.seeds[0];
        let rounds = self.options.batches.len();
        let state_after = self.options.state_after.min(rounds - 1);
        match saved {
            None => report.skip(
                "state",
                format!(
                    "the optimizer proposed nothing before round {state_after}, after which the \
                     state is saved"
                ),
            ),
            Some((Err(e), _)) if e.kind == ErrorKind::UNSUPPORTED => report.skip(
                "state",
                format!(
                    "save_state is unsupported ({}): the host resumes by replay",
                    e.message()
                ),
            ),
            Some((Err(e), _)) => {
                return Err(Failure::new(
                    "state/save",
                    format!(
                        "save_state() after round {state_after} (seed {seed}) failed: {}. An \
                         optimizer without state keeps the default, an UNSUPPORTED error; any \
                         other error stops a run",
                        err_text(&e)
                    ),
                ))
            }
            Some((Ok(blob), id)) => {
                let mut c = self.build(make, seed)?;
                guarded(
                    "state/load",
                    || format!("load_state({} bytes)", blob.len()),
                    || c.load_state(&blob),
                )?
                .map_err(|e| {
                    Failure::new(
                        "state/load",
                        format!(
                            "a fresh optimizer (seed {seed}) refused the {}-byte state that \
                             save_state() returned after round {state_after}: {}. On resume the \
                             host loads the latest saved state into a freshly built optimizer",
                            blob.len(),
                            err_text(&e)
                        ),
                    )
                })?;
                let context = ", restored by load_state";
                let restored = self.run_on(&mut c, seed, state_after + 1..rounds, id, context)?;
                if let Some(d) = self.difference(
                    &first[state_after + 1..],
                    &restored,
                    state_after + 1,
                    ("the original", "the restored one"),
                ) {
                    return Err(Failure::new(
                        "state/restore",
                        format!(
                            "an optimizer restored with load_state from the state saved after \
                             round {state_after} proposes differently from the one that saved it \
                             (seed {seed}, told the same): {d}. The state must hold everything \
                             later asks depend on (counters, generator states, models, pending \
                             proposals)"
                        ),
                    ));
                }
                report.pass(
                    "state",
                    format!(
                        "{} bytes saved after round {state_after}; the restored optimizer \
                         proposed the same in the {} later rounds",
                        blob.len(),
                        restored.len()
                    ),
                );
            }
        }
        Ok(())
    }

    /// Other seeds must give other proposals.
    pub(super) fn check_seeds(
        &self,
        make: &mut impl Make,
        first: &[Vec<Proposal>],
        report: &mut Report,
    ) -> Result<(), Failure> {
        let (options, seed) = (self.options, self.options.seeds[0]);
        let mut differs = None;
        for &other in &options.seeds[1..] {
            let t = self.run(make, other)?;
            if differs.is_none() && self.difference(first, &t, 0, TWO).is_some() {
                differs = Some(other);
            }
        }
        match differs {
            _ if options.seeds.len() < 2 => report.skip("seed", "only one seed given"),
            _ if !options.seed_matters => {
                report.skip("seed", "OptimizerOptions::seed_matters is off")
            }
            Some(other) => report.pass(
                "seed",
                format!("seeds {seed} and {other} gave different proposals"),
            ),
            None => {
                return Err(Failure::new(
                    "seed",
                    format!(
                        "optimizers built with the seeds {:?} proposed the same architectures \
                         in every round: the optimizer ignores OptimizerInit::seed, so runs of an \
                         experiment with different seeds repeat one search. (For an optimizer \
                         that is deterministic by design, set OptimizerOptions::seed_matters = \
                         false.)",
                        options.seeds
                    ),
                ))
            }
        }
        Ok(())
    }

    /// Observations told before the first ask (landmarks, ablation).
    pub(super) fn check_unasked(
        &self,
        make: &mut impl Make,
        report: &mut Report,
    ) -> Result<(), Failure> {
        let (options, seed) = (self.options, self.options.seeds[0]);
        let rounds = options.batches.len();
        if options.told_first == 0 {
            report.skip("tell/unasked", "OptimizerOptions::told_first is 0");
            return Ok(());
        }
        let told = self.unasked(options.told_first)?;
        let mut runs = Vec::new();
        for _ in 0..2 {
            let mut d = self.build(make, seed)?;
            self.tell(&mut d, &told, "tell/unasked", &|| {
                format!("seed {seed}, before the first ask")
            })?;
            let to = rounds.min(ROUNDS_AFTER_UNASKED);
            let context = ", after observations told before the first ask";
            runs.push(self.run_on(&mut d, seed, 0..to, told.len() as u64, context)?);
        }
        if let Some(d) = self.difference(&runs[0], &runs[1], 0, TWO) {
            return Err(Failure::new(
                "determinism",
                format!(
                    "two optimizers built with seed {seed} and told the same {} observations \
                     before their first ask proposed different architectures: {d}",
                    told.len()
                ),
            ));
        }
        report.pass(
            "tell/unasked",
            format!(
                "{} observations told before the first ask were accepted; the asks after them \
                 were valid and deterministic",
                told.len()
            ),
        );
        Ok(())
    }

    /// predict, as `xnas ablation` uses it: tell, then predict.
    pub(super) fn check_predict(
        &self,
        make: &mut impl Make,
        report: &mut Report,
    ) -> Result<(), Failure> {
        let (options, seed) = (self.options, self.options.seeds[0]);
        let told = self.unasked(options.told_first.max(PREDICTED))?;
        let held: Vec<Vec<u32>> = self
            .sampled(HELD_TAG, PREDICTED)?
            .into_iter()
            .map(|a| a.genome.to_vec())
            .collect();
        let mut predictions = Vec::new();
        for _ in 0..2 {
            let mut f = self.build(make, seed)?;
            self.tell(&mut f, &told, "predict", &|| {
                format!("seed {seed}, before predict")
            })?;
            let p = guarded(
                "predict",
                || format!("predict({held:?})"),
                || f.predict(&held),
            )?;
            match p {
                Err(e) if e.kind == ErrorKind::UNSUPPORTED => {
                    report.skip(
                        "predict",
                        format!("predict is unsupported ({})", e.message()),
                    );
                    return Ok(());
                }
                Err(e) => {
                    return Err(Failure::new(
                        "predict",
                        format!(
                            "predict({held:?}) after {} observations (seed {seed}) failed: {}. An \
                             optimizer without a surrogate keeps the default, an UNSUPPORTED error",
                            told.len(),
                            err_text(&e)
                        ),
                    ))
                }
                Ok(v) if v.len() != held.len() => {
                    return Err(Failure::new(
                        "predict/count",
                        format!(
                            "predict was given {} genomes ({held:?}) and returned {} values \
                             ({v:?}): one value per genome, in order",
                            held.len(),
                            v.len()
                        ),
                    ))
                }
                Ok(v) => predictions.push(v),
            }
        }
        let (p, q) = (&predictions[0], &predictions[1]);
        if p.iter().zip(q).any(|(x, y)| !same_f64(*x, *y)) {
            return Err(Failure::new(
                "predict/deterministic",
                format!(
                    "two optimizers built with seed {seed} and told the same {} observations \
                     predicted {p:?} and {q:?} for {held:?}: predictions must be a function of \
                     the seed and the observations, so that an ablation reproduces",
                    told.len()
                ),
            ));
        }
        report.pass(
            "predict",
            format!("one value per genome, the same for the same seed: {p:?}"),
        );
        Ok(())
    }
}
