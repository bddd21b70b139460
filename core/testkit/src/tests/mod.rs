//! Every check of the kit, shown to catch a plugin that breaks its contract, and to pass the
//! kit's own toy space and a correct optimizer.

use super::*;
use abi_stable::std_types::{RNone, RString, RVec};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};
use xnas_core::*;

// --- search spaces ------------------------------------------------------------------------------

/// One way a search space can break its contract.
#[derive(Clone, Copy, Debug, PartialEq)]
enum SpaceFlaw {
    None,
    Labels,
    NoPositions,
    Tasks,
    SamplePanics,
    SampleCounter,
    SampleConstant,
    SampleRefused,
    SampleOutside,
    CanonicalCounter,
    CanonicalOutside,
    CanonicalTextOfInput,
    CanonicalSwaps,
    CanonicalEmptyText,
    CanonicalSharedText,
    CanonicalIgnoresExtra,
    CanonicalNoRangeCheck,
    ParseUnsupported,
    ParseSwapped,
    SizeTooSmall,
    MutateFails,
    MutateCounter,
    MutateIdentity,
    MutateInvalid,
    MutateOutside,
    MutateSameArchitecture,
    NeighboursCounter,
    NeighboursDuplicate,
    NeighboursSelf,
    NeighboursOutside,
    NeighboursTwoGenes,
    NeighboursMissMutation,
    VariantsFail,
    VariantInvalid,
    VariantOtherMetric,
    NoBenchmark,
    BestNaN,
    BestTooLow,
    EvaluateThreadLocal,
    EvaluateFails,
    EvaluatePanics,
    EvaluateNegativeCost,
    EvaluateExtras,
}

/// [`ToySpace`] with one flaw.
struct Flawed {
    flaw: SpaceFlaw,
    counter: AtomicU64,
}

thread_local! {
    static EVALUATIONS: Cell<u32> = const { Cell::new(0) };
}

impl Flawed {
    fn new(flaw: SpaceFlaw) -> Self {
        Flawed {
            flaw,
            counter: AtomicU64::new(0),
        }
    }
    fn tick(&self) -> u64 {
        self.counter.fetch_add(1, Ordering::Relaxed)
    }
}

impl SearchSpace for Flawed {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let mut d = ToySpace.describe()?;
        match self.flaw {
            SpaceFlaw::Labels => d.positions[2].labels = RVec::from(vec![RString::from("narrow")]),
            SpaceFlaw::NoPositions => d.positions = RVec::new(),
            SpaceFlaw::Tasks => d.tasks = RVec::from(vec![RString::from("cifar10")]),
            SpaceFlaw::SizeTooSmall => d.size = 7,
            // Says width has 2 choices while the space samples and accepts 3.
            SpaceFlaw::SampleOutside | SpaceFlaw::MutateOutside => d.positions[2].choices = 2,
            _ => {}
        }
        Ok(d)
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        match self.flaw {
            SpaceFlaw::SamplePanics => panic!("index out of bounds: the len is 0"),
            SpaceFlaw::SampleCounter => ToySpace.sample(seed ^ self.tick()),
            SpaceFlaw::SampleConstant => ToySpace.sample(7),
            // Samples fit describe(), which gives width 2 choices; mutations do not.
            SpaceFlaw::MutateOutside => ToySpace.sample(seed).map(|mut g| {
                g[2] = g[2].min(1);
                g
            }),
            _ => ToySpace.sample(seed),
        }
    }

    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        let mut child = ToySpace.mutate(genome, seed)?;
        match self.flaw {
            SpaceFlaw::MutateFails => {
                return Err(PluginError::other("no neighbour found"));
            }
            SpaceFlaw::MutateCounter => child = ToySpace.mutate(genome, seed ^ self.tick())?,
            SpaceFlaw::MutateIdentity => child = genome.to_vec(),
            SpaceFlaw::MutateInvalid => child[4] = 2,
            SpaceFlaw::MutateOutside => child[2] = 2,
            SpaceFlaw::MutateSameArchitecture => {
                child = genome.to_vec();
                child[4] = 1 - child[4];
            }
            _ => {}
        }
        Ok(child)
    }

    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        let mut n = ToySpace.neighbours(genome)?;
        let changed = |p: usize, v: u32| {
            let mut g = genome.to_vec();
            g[p] = v;
            g
        };
        match self.flaw {
            SpaceFlaw::NeighboursCounter if self.tick() % 2 == 1 => n.reverse(),
            SpaceFlaw::NeighboursDuplicate => n.push(n[0].clone()),
            SpaceFlaw::NeighboursSelf => n.insert(0, genome.to_vec()),
            SpaceFlaw::NeighboursOutside => n.push(changed(4, 2)),
            SpaceFlaw::NeighboursTwoGenes => {
                let mut g = changed(2, (genome[2] + 1) % 3);
                g[3] = (g[3] + 1) % 3;
                n.push(g);
            }
            SpaceFlaw::NeighboursMissMutation => n.truncate(1),
            _ => {}
        }
        Ok(n)
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        let mut g = genome.to_vec();
        match self.flaw {
            SpaceFlaw::CanonicalIgnoresExtra => g.truncate(5),
            SpaceFlaw::CanonicalNoRangeCheck if g.len() == 5 && g[4] >= 2 => {
                return Ok(Arch {
                    genome: g.into(),
                    text: "conv+conv|w0|d0|r2".into(),
                })
            }
            SpaceFlaw::SampleRefused if g.len() == 5 && g[4] == 1 => {
                return Err(PluginError::invalid_architecture(
                    "residual is not supported",
                ))
            }
            _ => {}
        }
        let mut a = ToySpace.canonical(&g)?;
        match self.flaw {
            SpaceFlaw::CanonicalCounter => a.text = format!("{}#{}", a.text, self.tick()).into(),
            // Canonicalises the genome but writes the text of the genome it was given.
            SpaceFlaw::CanonicalTextOfInput => {
                let text = format!("{}+{}|w{}|d{}|r{}", op(g[0]), op(g[1]), g[2], g[3], g[4]);
                a.text = text.into();
            }
            // "Canonical" form that swaps the branches every time.
            SpaceFlaw::CanonicalSwaps => {
                let mut s = g.clone();
                s.swap(0, 1);
                a.genome = s.into();
            }
            SpaceFlaw::CanonicalEmptyText => a.text = RString::new(),
            SpaceFlaw::CanonicalSharedText => {
                a.text = a.text.split('|').next().unwrap_or_default().into()
            }
            SpaceFlaw::CanonicalOutside => a.genome = vec![0, 0, 9, 0, 0].into(),
            SpaceFlaw::MutateSameArchitecture => {
                // The residual is ignored, so its canonical value is always 0.
                let mut c = a.genome.to_vec();
                c[4] = 0;
                a = ToySpace.canonical(&c)?;
            }
            _ => {}
        }
        Ok(a)
    }

    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        match self.flaw {
            SpaceFlaw::ParseUnsupported => Err(PluginError::unsupported("no text form")),
            SpaceFlaw::ParseSwapped => {
                let mut g = ToySpace.parse(text)?;
                g.swap(0, 1);
                Ok(g)
            }
            SpaceFlaw::CanonicalSharedText => ToySpace.parse(&format!("{text}|w0|d0|r0")),
            SpaceFlaw::CanonicalCounter => ToySpace.parse(text.split('#').next().unwrap()),
            _ => ToySpace.parse(text),
        }
    }

    fn symmetric_variants(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        let mut v = ToySpace.symmetric_variants(genome)?;
        match self.flaw {
            SpaceFlaw::VariantsFail => return Err(PluginError::other("not implemented")),
            SpaceFlaw::VariantInvalid => v.push(vec![0, 0, 0, 0, 2]),
            SpaceFlaw::VariantOtherMetric => {
                let mut w = genome.to_vec();
                w[3] = (w[3] + 1) % 3;
                v.push(w);
            }
            _ => {}
        }
        Ok(v)
    }

    fn best_metric(&self, task: &str) -> Option<f64> {
        let best = ToySpace.best_metric(task)?;
        match self.flaw {
            SpaceFlaw::NoBenchmark => None,
            SpaceFlaw::BestNaN => Some(f64::NAN),
            SpaceFlaw::BestTooLow => Some(best - 0.4),
            _ => Some(best),
        }
    }

    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        let mut r = ToySpace.evaluate(request)?;
        match self.flaw {
            SpaceFlaw::EvaluateFails => {
                return Err(PluginError::evaluation("the table has no row for it"))
            }
            // A generator kept per thread: results depend on which worker evaluates.
            SpaceFlaw::EvaluateThreadLocal => {
                let k = EVALUATIONS.with(|c| {
                    c.set(c.get() + 1);
                    c.get()
                });
                r.metric *= 1.0 - f64::from(k) * 1e-3;
            }
            SpaceFlaw::EvaluatePanics => panic!("attempt to divide by zero"),
            SpaceFlaw::EvaluateNegativeCost => r.cost_seconds = -1.0,
            SpaceFlaw::EvaluateExtras => r.extras = "latency=3ms".into(),
            _ => {}
        }
        Ok(r)
    }
}

fn op(i: u32) -> &'static str {
    ["conv", "pool", "attn", "skip"][i as usize]
}

fn space_failure(flaw: SpaceFlaw) -> Failure {
    match check_space(&Flawed::new(flaw), &["t"]) {
        Ok(report) => panic!("{flaw:?} passed the kit:\n{report}"),
        Err(f) => f,
    }
}

/// The flaw was caught by `check`, and the message names each of `parts`.
fn assert_caught(flaw: impl std::fmt::Debug, f: Failure, check: &str, parts: &[&str]) {
    assert_eq!(f.check(), check, "{flaw:?}: {f}");
    for part in parts {
        assert!(
            f.message().contains(part),
            "{flaw:?}: `{part}` missing in:\n{f}"
        );
    }
}

fn assert_space_caught(flaw: SpaceFlaw, check: &str, parts: &[&str]) {
    assert_caught(flaw, space_failure(flaw), check, parts);
}

#[test]
#[should_panic(expected = "check `evaluate` did not pass")]
fn assert_passed_refuses_a_skipped_check() {
    // No task of the toy space is a benchmark here, so `evaluate` is skipped.
    let report = check_space(&ToySpace, &[]).unwrap();
    report.assert_passed(&["sample", "evaluate"]);
}

#[test]
fn the_toy_space_passes_every_space_check() {
    let report = check_space(&ToySpace, &["a", "b"]).unwrap();
    for check in [
        "describe",
        "sample",
        "canonical",
        "parse",
        "describe/size",
        "canonical/refuses",
        "mutate",
        "neighbours",
        "symmetric_variants",
        "evaluate",
    ] {
        assert!(report.has_passed(check), "{check} did not run:\n{report}");
    }
    assert!(report.skipped().is_empty(), "{report}");
    // Through the ABI, as the host holds it, and with a flawless wrapper.
    check_space(&space_box(ToySpace), &["a"]).unwrap();
    check_space(&Flawed::new(SpaceFlaw::None), &["a"]).unwrap();
    let text = report.to_string();
    assert!(text.contains("ok    evaluate: `b`"), "{text}");
}

#[test]
fn toy_space_canonical_form_and_text() {
    let a = ToySpace.canonical(&[2, 0, 1, 2, 1]).unwrap();
    assert_eq!(a.genome.as_slice(), &[0, 2, 1, 2, 1]);
    assert_eq!(a.text.as_str(), "conv+attn|w1|d2|r1");
    assert_eq!(
        ToySpace.parse("attn+conv|w1|d2|r1").unwrap(),
        vec![2, 0, 1, 2, 1]
    );
    assert!(ToySpace.parse("attn+conv|w3|d2|r1").is_err());
    assert!(ToySpace.parse("attn|w1|d2|r1").is_err());
    let m = |g: &[u32]| {
        ToySpace
            .evaluate(&EvalRequest {
                trial_id: 0,
                task: "t".into(),
                genome: g.to_vec().into(),
                seed: 0,
                budget: RNone,
            })
            .unwrap()
            .metric
    };
    assert_eq!(m(&[2, 0, 1, 2, 1]), m(&[0, 2, 1, 2, 1]));
    // The best metric is reached by some genome.
    let mut best = f64::NEG_INFINITY;
    for i in 0..288u32 {
        let g = [i % 4, (i / 4) % 4, (i / 16) % 3, (i / 48) % 3, i / 144];
        best = best.max(m(&g));
    }
    assert_eq!(Some(best), ToySpace.best_metric("t"));
}

#[test]
fn describe_checks() {
    assert_space_caught(
        SpaceFlaw::Labels,
        "describe",
        &["`width`", "3 choices but 1 labels"],
    );
    assert_space_caught(SpaceFlaw::NoPositions, "describe", &["no positions"]);
    assert_space_caught(SpaceFlaw::Tasks, "describe", &["task `t`", "cifar10"]);
    assert_space_caught(
        SpaceFlaw::SizeTooSmall,
        "describe/size",
        &["7 architectures"],
    );
}

#[test]
fn sample_checks() {
    let f = space_failure(SpaceFlaw::SamplePanics);
    assert_eq!(f.check(), "sample");
    assert!(
        f.message().contains("sample(seed ")
            && f.message().contains("panicked: index out of bounds"),
        "{f}"
    );
    assert_space_caught(
        SpaceFlaw::SampleCounter,
        "sample/deterministic",
        &["sample(seed ", "then"],
    );
    assert_space_caught(
        SpaceFlaw::SampleConstant,
        "sample/seed",
        &["ignores its seed"],
    );
    assert_space_caught(
        SpaceFlaw::SampleRefused,
        "sample/valid",
        &["canonical refuses", "residual is not supported"],
    );
    assert_space_caught(
        SpaceFlaw::SampleOutside,
        "sample/fits",
        &["gene 2 (`width`) is 2", "0..2"],
    );
}

#[test]
fn canonical_checks() {
    assert_space_caught(
        SpaceFlaw::CanonicalCounter,
        "canonical/deterministic",
        &["#0", "#1"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalOutside,
        "canonical/fits",
        &["[0, 0, 9, 0, 0]"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalTextOfInput,
        "canonical/idempotent",
        &["text `"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalSwaps,
        "canonical/idempotent",
        &["idempotent"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalEmptyText,
        "canonical/text",
        &["empty text"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalSharedText,
        "canonical/text",
        &["have the same text"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalIgnoresExtra,
        "canonical/refuses",
        &["a gene appended"],
    );
    assert_space_caught(
        SpaceFlaw::CanonicalNoRangeCheck,
        "canonical/refuses",
        &["gene 4 (`residual`) set to 2"],
    );
}

#[test]
fn parse_checks() {
    assert_space_caught(
        SpaceFlaw::ParseUnsupported,
        "parse",
        &["failed on the text canonical wrote", "no text form"],
    );
    assert_space_caught(
        SpaceFlaw::ParseSwapped,
        "parse",
        &["but the canonical genome with that text is"],
    );
}

#[test]
fn mutate_checks() {
    assert_space_caught(
        SpaceFlaw::MutateFails,
        "mutate",
        &["mutate([", "seed ", "no neighbour found"],
    );
    assert_space_caught(SpaceFlaw::MutateCounter, "mutate/deterministic", &["then"]);
    assert_space_caught(
        SpaceFlaw::MutateIdentity,
        "mutate/changes",
        &["its input unchanged"],
    );
    assert_space_caught(
        SpaceFlaw::MutateInvalid,
        "mutate/valid",
        &["canonical refuses"],
    );
    assert_space_caught(
        SpaceFlaw::MutateOutside,
        "mutate/fits",
        &["does not fit describe()"],
    );
    assert_space_caught(
        SpaceFlaw::MutateSameArchitecture,
        "mutate/changes",
        &["architecture they started from"],
    );
}

#[test]
fn neighbours_checks() {
    assert_space_caught(
        SpaceFlaw::NeighboursCounter,
        "neighbours/deterministic",
        &["neighbours([", "another order"],
    );
    assert_space_caught(
        SpaceFlaw::NeighboursDuplicate,
        "neighbours/distinct",
        &["twice"],
    );
    assert_space_caught(
        SpaceFlaw::NeighboursSelf,
        "neighbours/changes",
        &["the genome itself"],
    );
    assert_space_caught(
        SpaceFlaw::NeighboursOutside,
        "neighbours/fits",
        &["does not fit describe()"],
    );
    assert_space_caught(
        SpaceFlaw::NeighboursTwoGenes,
        "neighbours/one-decision",
        &["differs in 2 genes"],
    );
    assert_space_caught(
        SpaceFlaw::NeighboursMissMutation,
        "neighbours/mutate",
        &["every mutation is a neighbour"],
    );
}

/// A space of two genomes, far apart: each is isolated (no neighbours), so mutate refuses it.
struct Lonely;

impl SearchSpace for Lonely {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        ToySpace.describe()
    }
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        Ok(if seed.is_multiple_of(2) {
            vec![0; 5]
        } else {
            vec![3, 3, 2, 2, 1]
        })
    }
    fn mutate(&self, genome: &[u32], _seed: u64) -> PluginResult<Vec<u32>> {
        self.canonical(genome)?;
        Err(PluginError::other("no neighbour"))
    }
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        if genome == [0; 5] || genome == [3, 3, 2, 2, 1] {
            ToySpace.canonical(genome)
        } else {
            Err(PluginError::invalid_architecture(format!(
                "{genome:?} is not one of the two"
            )))
        }
    }
    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        ToySpace.parse(text)
    }
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        ToySpace.evaluate(request)
    }
}

#[test]
fn mutate_may_refuse_only_a_genome_without_neighbours() {
    let report = check_space(&Lonely, &[]).unwrap();
    assert!(report
        .skipped()
        .iter()
        .any(|(c, why)| *c == "mutate" && why.contains("isolated")));
    report.assert_passed(&["neighbours"]);
    assert!(Lonely.neighbours(&[0; 5]).unwrap().is_empty());
}

#[test]
fn symmetric_variant_checks() {
    assert_space_caught(
        SpaceFlaw::VariantsFail,
        "symmetric_variants",
        &["not implemented"],
    );
    assert_space_caught(
        SpaceFlaw::VariantInvalid,
        "symmetric_variants",
        &["[0, 0, 0, 0, 2]"],
    );
    assert_space_caught(
        SpaceFlaw::VariantOtherMetric,
        "symmetric_variants/metric",
        &["same metric"],
    );
}

#[test]
fn evaluate_checks() {
    let report = check_space(&Flawed::new(SpaceFlaw::NoBenchmark), &["t"]).unwrap();
    assert!(!report.has_passed("evaluate"));
    assert!(
        report
            .skipped()
            .iter()
            .any(|(c, why)| *c == "evaluate" && why.contains("`t`")),
        "{report}"
    );
    assert_space_caught(
        SpaceFlaw::BestNaN,
        "best_metric",
        &["best_metric(`t`) is NaN"],
    );
    assert_space_caught(
        SpaceFlaw::BestTooLow,
        "evaluate/best",
        &["above best_metric(`t`)"],
    );
    assert_space_caught(
        SpaceFlaw::EvaluateThreadLocal,
        "evaluate/deterministic",
        &["on one thread", "on another", "trial 1"],
    );
    assert_space_caught(
        SpaceFlaw::EvaluateFails,
        "evaluate/succeeds",
        &["the table has no row"],
    );
    assert_space_caught(
        SpaceFlaw::EvaluatePanics,
        "evaluate",
        &["evaluate(task `t`", "panicked: attempt to divide"],
    );
    assert_space_caught(
        SpaceFlaw::EvaluateNegativeCost,
        "evaluate/result",
        &["-1 s"],
    );
    assert_space_caught(
        SpaceFlaw::EvaluateExtras,
        "evaluate/result",
        &["latency=3ms"],
    );
}

// --- optimizers ---------------------------------------------------------------------------------

/// One way an optimizer can break its contract.
#[derive(Clone, Copy, Debug, PartialEq)]
enum OptFlaw {
    None,
    /// No `save_state` or `predict` (the defaults).
    Stateless,
    BuildFails,
    AskFails,
    AskPanics,
    AskTooMany,
    AskEmpty,
    AskInvalid,
    /// Seeds from a process-wide counter instead of `init.seed`.
    GlobalCounter,
    /// A constant seed instead of `init.seed`.
    FixedSeed,
    /// A budget that depends on a process-wide counter.
    BudgetDrifts,
    TellRejectsFailed,
    /// Looks up each observation among its proposals by the genome it proposed.
    TellMatchesProposedGenome,
    TellRejectsUnasked,
    StateSaveFails,
    StateLoadFails,
    /// The state leaves out the proposal counter.
    StateForgetsCounter,
    PredictFails,
    PredictCount,
    PredictCounter,
}

static GLOBAL: AtomicU64 = AtomicU64::new(0);

/// Samples, then mutates the best architecture told so far on every other proposal.
struct Climber {
    space: SpaceBox,
    seed: u64,
    counter: u64,
    best: Option<(Vec<u32>, f64)>,
    proposed: Vec<Vec<u32>>,
    flaw: OptFlaw,
}

impl Climber {
    fn new(init: &OptimizerInit, flaw: OptFlaw) -> PluginResult<Self> {
        if flaw == OptFlaw::BuildFails {
            return Err(PluginError::invalid_params("`population` is 0"));
        }
        Ok(Climber {
            space: init.space.clone(),
            seed: init.seed,
            counter: 0,
            best: None,
            proposed: Vec::new(),
            flaw,
        })
    }
}

impl Optimizer for Climber {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        match self.flaw {
            OptFlaw::AskFails => return Err(PluginError::other("the surrogate diverged")),
            OptFlaw::AskPanics => panic!("called `Option::unwrap()` on a `None` value"),
            OptFlaw::AskEmpty => return Ok(Vec::new()),
            _ => {}
        }
        let k = if self.flaw == OptFlaw::AskTooMany {
            n + 1
        } else {
            n
        };
        let mut out = Vec::new();
        for _ in 0..k {
            let seed = match self.flaw {
                OptFlaw::GlobalCounter => GLOBAL.fetch_add(1, Ordering::Relaxed),
                OptFlaw::FixedSeed => derive_seed(42, self.counter),
                _ => derive_seed(self.seed, self.counter),
            };
            self.counter += 1;
            let mut genome = match &self.best {
                Some((g, _)) if self.counter.is_multiple_of(2) => self.space.mutate(g, seed)?,
                _ => self.space.sample(seed)?,
            };
            if self.flaw == OptFlaw::AskInvalid && self.counter == 4 {
                genome[2] = 7;
            }
            self.proposed.push(genome.clone());
            let budget = if self.flaw == OptFlaw::BudgetDrifts {
                abi_stable::std_types::RSome(GLOBAL.fetch_add(1, Ordering::Relaxed) as f64)
            } else {
                RNone
            };
            out.push(Proposal {
                genome: genome.into(),
                budget,
            });
        }
        Ok(out)
    }

    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        for o in observations {
            if self.flaw == OptFlaw::TellRejectsUnasked && self.proposed.is_empty() {
                return Err(PluginError::other("told a result before asking"));
            }
            if self.flaw == OptFlaw::TellMatchesProposedGenome
                && !self
                    .proposed
                    .iter()
                    .any(|g| g.as_slice() == o.genome.as_slice())
            {
                return Err(PluginError::other(format!(
                    "trial {} was never proposed",
                    o.trial_id
                )));
            }
            let ok = o.status == TrialStatus::OK && o.metric.is_finite();
            if self.flaw == OptFlaw::TellRejectsFailed && !ok {
                return Err(PluginError::other("metric is NaN"));
            }
            if ok && self.best.as_ref().is_none_or(|(_, m)| o.metric > *m) {
                self.best = Some((o.genome.to_vec(), o.metric));
            }
        }
        Ok(())
    }

    fn save_state(&self) -> PluginResult<Vec<u8>> {
        match self.flaw {
            OptFlaw::Stateless => return Err(PluginError::unsupported("no state")),
            OptFlaw::StateSaveFails => return Err(PluginError::io("disk full")),
            _ => {}
        }
        let counter = if self.flaw == OptFlaw::StateForgetsCounter {
            0
        } else {
            self.counter
        };
        let mut out = counter.to_le_bytes().to_vec();
        if let Some((g, m)) = &self.best {
            out.extend(m.to_bits().to_le_bytes());
            out.extend(g.iter().flat_map(|v| v.to_le_bytes()));
        }
        Ok(out)
    }

    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        if self.flaw == OptFlaw::StateLoadFails {
            return Err(PluginError::data("state blob version 2 is not supported"));
        }
        let word = |i: usize| u64::from_le_bytes(state[i..i + 8].try_into().unwrap());
        self.counter = word(0);
        self.best = (state.len() > 8).then(|| {
            let genome = state[16..]
                .chunks(4)
                .map(|c| u32::from_le_bytes(c.try_into().unwrap()))
                .collect();
            (genome, f64::from_bits(word(8)))
        });
        Ok(())
    }

    fn predict(&mut self, genomes: &[Vec<u32>]) -> PluginResult<Vec<f64>> {
        match self.flaw {
            OptFlaw::Stateless => return Err(PluginError::unsupported("no surrogate")),
            OptFlaw::PredictFails => return Err(PluginError::other("not trained")),
            _ => {}
        }
        let noise = if self.flaw == OptFlaw::PredictCounter {
            GLOBAL.fetch_add(1, Ordering::Relaxed) as f64
        } else {
            0.0
        };
        let best = self.best.as_ref().map_or(0.0, |(_, m)| *m);
        let mut out: Vec<f64> = genomes
            .iter()
            .map(|g| best + noise + (fnv1a64(format!("{g:?}").as_bytes()) % 100) as f64)
            .collect();
        if self.flaw == OptFlaw::PredictCount {
            out.pop();
        }
        Ok(out)
    }
}

fn optimizer_report(flaw: OptFlaw) -> Result<Report, Failure> {
    let space = space_box(ToySpace);
    check_optimizer(|init| Climber::new(init, flaw), &space)
}

fn optimizer_failure(flaw: OptFlaw) -> Failure {
    match optimizer_report(flaw) {
        Ok(report) => panic!("{flaw:?} passed the kit:\n{report}"),
        Err(f) => f,
    }
}

fn assert_optimizer_caught(flaw: OptFlaw, check: &str, parts: &[&str]) {
    assert_caught(flaw, optimizer_failure(flaw), check, parts);
}

#[test]
fn a_correct_optimizer_passes_every_check() {
    let report = optimizer_report(OptFlaw::None).unwrap();
    for check in [
        "ask",
        "tell",
        "determinism",
        "state",
        "seed",
        "tell/unasked",
        "predict",
    ] {
        assert!(report.has_passed(check), "{check} did not run:\n{report}");
    }
    assert!(report.skipped().is_empty(), "{report}");
    // The kit told failed trials.
    let tell = &report
        .passed()
        .iter()
        .find(|(c, _)| *c == "tell")
        .unwrap()
        .1;
    assert!(!tell.contains("; 0 of them failed"), "{tell}");
}

#[test]
fn unsupported_state_and_predict_are_skipped_not_failed() {
    let report = optimizer_report(OptFlaw::Stateless).unwrap();
    let skipped: Vec<&str> = report.skipped().iter().map(|(c, _)| *c).collect();
    assert_eq!(skipped, ["state", "predict"], "{report}");
    assert!(report.has_passed("determinism"));
    // And through the ABI, as the host holds an optimizer.
    let space = space_box(ToySpace);
    check_optimizer(
        |init| Climber::new(init, OptFlaw::None).map(xnas_core::optimizer_box),
        &space,
    )
    .unwrap();
}

#[test]
fn ask_checks() {
    assert_optimizer_caught(
        OptFlaw::BuildFails,
        "build",
        &["seed ", "`population` is 0"],
    );
    assert_optimizer_caught(
        OptFlaw::AskFails,
        "ask",
        &["ask(1) failed", "round 0", "the surrogate diverged"],
    );
    assert_optimizer_caught(OptFlaw::AskPanics, "ask", &["panicked", "unwrap()"]);
    assert_optimizer_caught(
        OptFlaw::AskTooMany,
        "ask/count",
        &["ask(1) returned 2 proposals"],
    );
    assert_optimizer_caught(OptFlaw::AskEmpty, "ask/empty", &["no proposals"]);
    assert_optimizer_caught(
        OptFlaw::AskInvalid,
        "ask/valid",
        &["round 1", "ask(4) proposal 2", "gene `width`", "is 7"],
    );
}

#[test]
fn determinism_checks() {
    assert_optimizer_caught(
        OptFlaw::GlobalCounter,
        "determinism",
        &[
            "seed ",
            "in round ",
            "from the first optimizer and ",
            "derive_seed",
        ],
    );
    assert_optimizer_caught(OptFlaw::BudgetDrifts, "determinism", &["with budget"]);
    assert_optimizer_caught(OptFlaw::FixedSeed, "seed", &["ignores OptimizerInit::seed"]);
    // An optimizer that is deterministic by design may opt out.
    let space = space_box(ToySpace);
    let options = OptimizerOptions {
        seed_matters: false,
        ..OptimizerOptions::default()
    };
    let report = check_optimizer_with(
        |init| Climber::new(init, OptFlaw::FixedSeed),
        &space,
        &options,
    )
    .unwrap();
    assert!(report.skipped().iter().any(|(c, _)| *c == "seed"));
}

#[test]
fn tell_checks() {
    assert_optimizer_caught(
        OptFlaw::TellRejectsFailed,
        "tell",
        &["metric is NaN", "failed, with status FAILED"],
    );
    // The kit tells canonical genomes, as the host does; the toy space's samples are often not
    // canonical (branches in the wrong order).
    assert_optimizer_caught(
        OptFlaw::TellMatchesProposedGenome,
        "tell",
        &["was never proposed", "may differ from the one proposed"],
    );
    assert_optimizer_caught(
        OptFlaw::TellRejectsUnasked,
        "tell/unasked",
        &["before the first ask", "landmarks"],
    );
}

#[test]
fn state_checks() {
    assert_optimizer_caught(
        OptFlaw::StateSaveFails,
        "state/save",
        &["after round 2", "disk full"],
    );
    assert_optimizer_caught(OptFlaw::StateLoadFails, "state/load", &["version 2"]);
    assert_optimizer_caught(
        OptFlaw::StateForgetsCounter,
        "state/restore",
        &["saved after round 2", "in round 3", "from the restored one"],
    );
}

#[test]
fn predict_checks() {
    assert_optimizer_caught(OptFlaw::PredictFails, "predict", &["not trained"]);
    assert_optimizer_caught(
        OptFlaw::PredictCount,
        "predict/count",
        &["returned 4 values"],
    );
    assert_optimizer_caught(
        OptFlaw::PredictCounter,
        "predict/deterministic",
        &["predicted"],
    );
}

/// Proposes the toy space's genomes in order, whatever its seed.
struct Enumerator(u32);

impl Optimizer for Enumerator {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        let mut out = Vec::new();
        for _ in 0..n {
            let i = self.0 % 288;
            self.0 += 1;
            let genome = vec![i % 4, (i / 4) % 4, (i / 16) % 3, (i / 48) % 3, i / 144];
            out.push(Proposal {
                genome: genome.into(),
                budget: RNone,
            });
        }
        Ok(out)
    }
    fn tell(&mut self, _observations: &[Observation]) -> PluginResult<()> {
        Ok(())
    }
}

#[test]
fn a_space_the_kit_cannot_sample_is_reported_as_such() {
    let space = space_box(Flawed::new(SpaceFlaw::SamplePanics));
    let options = OptimizerOptions {
        seed_matters: false,
        ..OptimizerOptions::default()
    };
    let f = check_optimizer_with(|_| Ok(Enumerator(0)), &space, &options).unwrap_err();
    assert_eq!(f.check(), "space", "{f}");
    assert!(
        f.message().contains("check_space") && f.message().contains("panicked"),
        "{f}"
    );
}

#[test]
fn synthetic_outcomes_are_deterministic_and_some_fail() {
    assert_eq!(synthetic_outcome("a", 0), synthetic_outcome("a", 0));
    assert_eq!(synthetic_outcome("a", 3), None);
    let ok: Vec<f64> = (0..100)
        .filter_map(|i| synthetic_outcome(&format!("arch{i}"), 0))
        .collect();
    assert!(ok.len() > 80 && ok.len() < 100, "{}", ok.len());
    assert!(ok.iter().all(|m| (0.0..1.0).contains(m)));
}

#[test]
fn failures_print_the_check_and_the_message() {
    let f = Failure::new("parse", "parse(`x`) failed");
    assert_eq!(
        f.to_string(),
        "xnas testkit: check `parse` failed: parse(`x`) failed"
    );
    assert_eq!(format!("{f:?}"), f.to_string());
}

mod measures;
