//! How `ask` proposes: gradient ascent in the code space from the best architectures
//! (NAO_pytorch NAO_V1 `controller.infer`), mutations of them, and random fill.

use super::train::sigmoid;
use super::*;

impl Nao {
    /// Start points of the gradient ascent: the best source architectures while the transfer
    /// plan's phase 1 lasts (and there are any), else the best target ones. `true` = sources.
    pub(super) fn start_points(&self) -> (Vec<Vec<u32>>, bool) {
        let k = self.params.top_k;
        let successes = self
            .data
            .iter()
            .filter(|o| o.task == 0 && o.metric.is_some())
            .count();
        if self.decorated && successes < self.plan.phase_switch as usize {
            let idx: Vec<usize> = (0..self.data.len())
                .filter(|&i| self.data[i].task != 0 && self.data[i].metric.is_some())
                .collect();
            let tasks: Vec<usize> = idx.iter().map(|&i| self.data[i].task as usize).collect();
            let metrics: Vec<f64> = idx
                .iter()
                .map(|&i| self.data[i].metric.unwrap_or(f64::NAN))
                .collect();
            let y = xnas_tch::normalise::per_task(&tasks, &metrics, self.plan.normalise);
            let ranked: Vec<(usize, f64)> = idx
                .iter()
                .zip(&y)
                .map(|(&i, &v)| (i, f64::from(v)))
                .collect();
            let starts = self.best(ranked, k);
            if !starts.is_empty() {
                return (starts, true);
            }
        }
        let ranked: Vec<(usize, f64)> = (0..self.data.len())
            .filter_map(|i| {
                let o = &self.data[i];
                (o.task == 0).then_some(())?;
                o.metric.map(|m| (i, m))
            })
            .collect();
        (self.best(ranked, k), false)
    }

    /// The genomes of the `k` best (index, value) pairs, distinct by key; ties keep data order.
    pub(super) fn best(&self, mut ranked: Vec<(usize, f64)>, k: usize) -> Vec<Vec<u32>> {
        ranked.sort_by(|a, b| b.1.total_cmp(&a.1).then(a.0.cmp(&b.0)));
        let mut keys = BTreeSet::new();
        ranked
            .into_iter()
            .filter(|&(i, _)| keys.insert(self.data[i].key.clone()))
            .take(k)
            .map(|(i, _)| self.data[i].genome.clone())
            .collect()
    }

    /// Gradient ascent in code space (NAO_V1/controller.py `generate_new_arch`) from `starts`: up to `n` new architectures, valid,
    /// unseen and distinct. Returns them with the largest step size tried.
    pub fn ascend(
        &mut self,
        starts: &[Vec<u32>],
        n: usize,
        taken: &mut BTreeSet<String>,
    ) -> PluginResult<(Vec<Vec<u32>>, f64)> {
        let what = "nao gradient ascent";
        let enc = self.encode_eval(starts)?;
        // A leaf copy of the encoder outputs: its gradient is g = ∂Σσ(f)/∂enc_out.
        let memory = enc
            .out
            .f_detach()
            .and_then(|t| t.f_set_requires_grad(true))
            .context(what)?;
        let emb = pool(&memory).context(what)?;
        // The head's backward also accumulates gradients into its own parameters; those are
        // not a training signal, so the head is put back exactly as it was afterwards.
        let head_state = self.head.save_state()?;
        let logits = self
            .head
            .forward(&to_matrix(&emb)?, &vec![0; starts.len()], false)?;
        check_shape(&logits, Some(starts.len()), Some(1), HEAD_OUTPUT)?;
        let dsigma: Vec<f32> = logits
            .data
            .iter()
            .map(|&l| {
                let s = sigmoid(l);
                s * (1.0 - s)
            })
            .collect();
        let grad_features = self
            .head
            .backward(&xnas_core::Matrix::new(starts.len(), 1, dsigma))?;
        self.head.load_state(&head_state)?;
        let grad_features = to_tensor(&grad_features, self.device())?;
        emb.f_mul(&grad_features)
            .and_then(|t| t.f_sum(Kind::Float))
            .and_then(|t| t.f_backward())
            .context(what)?;
        let g = memory.grad();
        let memory = memory.f_detach().context(what)?;
        let mut out = Vec::new();
        let mut eta = self.params.step_start;
        let mut max_eta = eta;
        while eta <= self.params.max_step && out.len() < n {
            max_eta = eta;
            let (moved, moved_emb) = xnas_tch::tch::no_grad(|| {
                let moved = crate::model::normalise(&memory.f_add(&g.f_mul_scalar(eta)?)?)?;
                let e = pool(&moved)?;
                Ok::<_, xnas_tch::tch::TchError>((moved, e))
            })
            .context(what)?;
            for decoded in self.model.decode_greedy(&moved, &moved_emb)? {
                let genome = self.view.decode(&decoded)?;
                let Some((genome, key)) = self.canonical(&genome) else {
                    continue;
                };
                if self.seen.contains(&key) || !taken.insert(key) {
                    continue;
                }
                out.push(genome);
                if out.len() == n {
                    break;
                }
            }
            eta += 1.0;
        }
        Ok((out, max_eta))
    }

    /// Up to `n` architectures from `draw(space, seed, i)` (the i-th draw of this call) that are
    /// valid, not seen and not in `taken`, giving up after `RANDOM_TRIES` misses. Every draw
    /// takes the next of `draws`' seeds under `component`, so a resumed search draws the same.
    pub(super) fn unseen(
        &mut self,
        n: usize,
        taken: &mut BTreeSet<String>,
        component: &str,
        mut draw: impl FnMut(&SpaceBox, u64, usize) -> PluginResult<Option<Vec<u32>>>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let base = component_seed(self.seed, component);
        let mut out = Vec::with_capacity(n);
        let (mut misses, mut i) = (0, 0);
        while out.len() < n && misses < RANDOM_TRIES {
            let genome = draw(&self.space, derive_seed(base, self.draws), i)?;
            self.draws += 1;
            i += 1;
            match genome.as_deref().and_then(|g| self.canonical(g)) {
                Some((g, key)) if !self.seen.contains(&key) && taken.insert(key.clone()) => {
                    out.push(g)
                }
                _ => misses += 1,
            }
        }
        Ok(out)
    }

    /// Up to `n` random architectures not seen and not in `taken`.
    pub(super) fn random_unseen(
        &mut self,
        n: usize,
        taken: &mut BTreeSet<String>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let out = self.unseen(n, taken, "sample", |space, seed, _| {
            space.sample(seed).map(Some)
        })?;
        if out.len() < n {
            tracing::warn!(
                "nao: found only {} of {n} unseen architectures: {RANDOM_TRIES} random draws were \
                 seen or invalid (is the space nearly exhausted?)",
                out.len()
            );
        }
        Ok(out)
    }

    /// Up to `n` mutations of the best `MUTATION_PARENTS` of `parents` (best first), parent by
    /// parent in turn, not seen and not in `taken`. Fewer where their neighbourhoods run out.
    pub(super) fn mutants(
        &mut self,
        parents: &[Vec<u32>],
        n: usize,
        taken: &mut BTreeSet<String>,
    ) -> PluginResult<Vec<Vec<u32>>> {
        let parents = &parents[..parents.len().min(MUTATION_PARENTS)];
        if parents.is_empty() {
            return Ok(Vec::new());
        }
        self.unseen(n, taken, "mutate", |space, seed, i| {
            let parent = &parents[i % parents.len()];
            match space.mutate(parent, seed) {
                Ok(child) => Ok(Some(child)),
                // An isolated parent (no valid genome one decision away) gives a miss.
                Err(_) if space.neighbours(parent).is_ok_and(|n| n.is_empty()) => Ok(None),
                Err(e) => Err(e),
            }
        })
    }

    pub(super) fn propose(&mut self, n: usize) -> PluginResult<Vec<Vec<u32>>> {
        let mut taken = BTreeSet::new();
        let (starts, from_sources) = self.start_points();
        // Decorated, the model knows the sources before the target has any data: no random phase
        // beyond having no start point at all.
        let random_phase = starts.is_empty()
            || (!self.decorated && self.target_observations() < self.params.initial_random);
        if random_phase {
            self.last_ask = None;
            return self.random_unseen(n, &mut taken);
        }
        self.train_if_needed()?;
        // The ask's own time (training logs its own), for the cost logs (docs/plugins/xfer.md, "Cost").
        let start = std::time::Instant::now();
        // Choosing among candidates needs a surrogate that knows the target. From source start
        // points (the transfer plan's phase 1: fewer than `phase_switch` target results) its
        // rating is mostly the sources': propose the first `n`, the sources' best themselves (on
        // targets the sources mislead, proteins and cora, choosing by it cost evaluations), and
        // gather no random or mutated candidates beside them.
        let p = &self.params;
        let (wanted, wanted_samples, wanted_mutants) = if from_sources {
            (n, 0, 0)
        } else {
            (
                n.max(p.candidates),
                p.sampled_candidates,
                p.mutated_candidates,
            )
        };
        let (mut out, max_eta) = self.ascend(&starts, wanted, &mut taken)?;
        let gathered = out.len();
        // Random architectures rated beside the ascent's: the model may rank some of the space
        // far from the start points above the ascent's neighbours.
        let samples = self.random_unseen(wanted_samples, &mut taken)?;
        let sampled = samples.len();
        out.extend(samples);
        // One-edit neighbours of the best target architectures, rated like the rest: the local
        // search that is strong on NAS benchmarks, screened by the model.
        let mutants = self.mutants(&starts, wanted_mutants, &mut taken)?;
        let mutated = mutants.len();
        out.extend(mutants);
        if out.len() > n {
            // Keep the `n` the model rates best; ties keep the ascent's order.
            let scores = self.predict(&out)?;
            let mut order: Vec<usize> = (0..out.len()).collect();
            order.sort_by(|&a, &b| scores[b].total_cmp(&scores[a]).then(a.cmp(&b)));
            order.truncate(n);
            order.sort_unstable();
            out = order.into_iter().map(|i| out[i].clone()).collect();
        }
        let ascended = out.len();
        if out.len() < n {
            let fill = self.random_unseen(n - out.len(), &mut taken)?;
            out.extend(fill);
        }
        let report = AskReport {
            starts: starts.len(),
            from_sources,
            gathered,
            sampled,
            mutated,
            ascended,
            max_eta,
            random_fill: out.len() - ascended,
        };
        tracing::info!(
            "nao: gradient ascent from {} {} architectures gathered {gathered} new{}, proposes \
             {ascended} of {n} (step sizes {}..={max_eta}); {} random to fill; {:.2} s",
            report.starts,
            if from_sources { "source" } else { "target" },
            match (sampled, mutated) {
                (0, 0) => String::new(),
                (s, 0) => format!(" and {s} random ones joined them"),
                (0, m) => format!(" and {m} mutations of the best joined them"),
                (s, m) => format!(" and {s} random ones and {m} mutations of the best joined them"),
            },
            self.params.step_start,
            report.random_fill,
            start.elapsed().as_secs_f64()
        );
        self.last_ask = Some(report);
        Ok(out)
    }
}
