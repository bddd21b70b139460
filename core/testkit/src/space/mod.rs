//! [`check_space`]: the contracts of a search space that the host and optimizers rely on.
//!
//! The host calls `canonical` on every proposal, `evaluate` from worker threads, `sample` for
//! source knowledge, `parse` to read stored architecture texts back and `best_metric` for the
//! regret; optimizers call `describe`, `sample`, `mutate`, `canonical` and `symmetric_variants`.

mod evaluate;
mod moves;

use super::{err_text, guarded, outcome_text, Failure, Report};
use std::collections::BTreeMap;
use xnas_core::{derive_seed, Arch, PluginResult, SearchSpace, SpaceDesc};

/// Seed tags of the kit's calls, so samples, mutations and evaluations draw independent seeds.
const SAMPLE_TAG: u64 = 1;
const MUTATE_TAG: u64 = 2;
const EVALUATE_TAG: u64 = 3;
/// Sampled architectures whose neighbours outside the space are probed (`canonical/refuses`).
const REFUSAL_PROBES: usize = 2;
/// Sampled architectures whose symmetric variants are checked.
const VARIANT_PROBES: usize = 8;

/// How much [`check_space_with`] exercises.
#[derive(Clone, Debug)]
pub struct SpaceOptions {
    /// Seeds `sample` is called with (each twice); every sample is canonicalised, parsed back and
    /// mutated. At least 2.
    pub samples: usize,
    /// Sampled architectures evaluated on each benchmark task (each twice: here and on another
    /// thread, as the host's workers do).
    pub evaluations: usize,
    /// Base of the seeds the kit passes (to `sample`, `mutate`, `evaluate`).
    pub seed: u64,
}

impl Default for SpaceOptions {
    fn default() -> Self {
        SpaceOptions {
            samples: 32,
            evaluations: 8,
            seed: 0x7e57_5eed,
        }
    }
}

/// Checks a search space with the default [`SpaceOptions`]. `tasks` are task ids the space was
/// created for; on those for which `best_metric` is `Some` (a benchmark), `evaluate` is checked
/// too. Evaluation is never called on other tasks (it may train a network).
///
/// The checks, each named in a [`Failure`]:
///
/// * `describe`: it lists positions, each with at least one choice and no labels or one per
///   choice, and every task in `tasks` when it lists tasks at all;
/// * `sample/deterministic`, `sample/valid`, `sample/fits`, `sample/seed`: `sample(seed)` returns
///   the same genome for the same seed, `canonical` accepts it, its genes fit `describe()`'s
///   positions, and not every seed gives the same genome;
/// * `canonical/deterministic`, `canonical/fits`, `canonical/idempotent`, `canonical/text`:
///   canonicalising the canonical genome gives the same genome and text, and two different
///   canonical genomes never share a text; `describe/size`: no more distinct architectures
///   are sampled than `describe().size` says there are;
/// * `canonical/refuses`: a genome with a gene too many or too few, or a gene equal to its
///   position's number of choices, is refused;
/// * `parse`: `parse` of the canonical text gives the canonical genome back;
/// * `mutate`, `mutate/deterministic`, `mutate/valid`, `mutate/fits`, `mutate/changes`:
///   `mutate(canonical genome, seed)` succeeds, is a function of its arguments, gives a genome
///   `canonical` accepts, never returns its input unchanged, and not always the same architecture;
///   it may refuse only a genome without neighbours;
/// * `neighbours`, `neighbours/deterministic`, `neighbours/distinct`, `neighbours/changes`,
///   `neighbours/fits`, `neighbours/valid`, `neighbours/one-decision`, `neighbours/mutate`: the
///   neighbours of each canonical sample are the same on every call, distinct, not the genome
///   itself, valid genomes of the space, each a single-position change (or the canonical form of
///   one, for a space that answers canonical genomes), and every mutation the kit drew is among
///   them;
/// * `symmetric_variants`, `symmetric_variants/metric`: every variant is an architecture of the
///   space, and on a benchmark task it evaluates to the same metric;
/// * `best_metric`, `evaluate`, `evaluate/deterministic`, `evaluate/best`, `evaluate/succeeds`,
///   `evaluate/result`: `best_metric` is finite; `evaluate` gives the same outcome for the same
///   request on another thread (metric, test metric, curve, extras, or the error kind; not the
///   cost, which may be measured), never a metric above `best_metric`, succeeds at least once,
///   reports a finite non-negative cost and `extras` that are empty or a JSON object.
pub fn check_space<S: SearchSpace + ?Sized>(space: &S, tasks: &[&str]) -> Result<Report, Failure> {
    check_space_with(space, tasks, &SpaceOptions::default())
}

/// [`check_space`] with explicit options.
pub fn check_space_with<S: SearchSpace + ?Sized>(
    space: &S,
    tasks: &[&str],
    options: &SpaceOptions,
) -> Result<Report, Failure> {
    let mut report = Report::new("search space");
    let desc = check_describe(space, tasks, &mut report)?;
    let samples = check_samples(space, &desc, options, &mut report)?;
    let mutations = moves::check_mutate(space, &desc, &samples, options, &mut report)?;
    moves::check_neighbours(space, &desc, &samples, &mutations, &mut report)?;
    check_refusals(space, &desc, &samples, &mut report)?;
    let variants = evaluate::check_variants(space, &desc, &samples, &mut report)?;
    evaluate::check_evaluate(space, tasks, &samples, &variants, options, &mut report)?;
    Ok(report)
}

/// A sampled genome and its canonical architecture.
struct Sampled {
    genome: Vec<u32>,
    arch: Arch,
}

/// Why `genome` does not fit `desc`'s positions, if it does not.
fn fits(desc: &SpaceDesc, genome: &[u32]) -> Result<(), String> {
    if genome.len() != desc.positions.len() {
        return Err(format!(
            "it has {} genes, but describe() lists {} positions",
            genome.len(),
            desc.positions.len()
        ));
    }
    for (i, (&g, p)) in genome.iter().zip(desc.positions.iter()).enumerate() {
        if g >= p.choices {
            return Err(format!(
                "gene {i} (`{}`) is {g}, but that position takes 0..{}",
                p.name, p.choices
            ));
        }
    }
    Ok(())
}

fn canonical<S: SearchSpace + ?Sized>(
    space: &S,
    check: &'static str,
    genome: &[u32],
) -> Result<PluginResult<Arch>, Failure> {
    guarded(
        check,
        || format!("canonical({genome:?})"),
        || space.canonical(genome),
    )
}

fn arch_text(a: &Arch) -> String {
    format!("{:?} (text `{}`)", a.genome.as_slice(), a.text)
}

fn check_describe<S: SearchSpace + ?Sized>(
    space: &S,
    tasks: &[&str],
    report: &mut Report,
) -> Result<SpaceDesc, Failure> {
    let fail = |m: String| Failure::new("describe", m);
    let desc = guarded("describe", || "describe()".into(), || space.describe())?
        .map_err(|e| fail(format!("describe() failed: {}", err_text(&e))))?;
    if desc.positions.is_empty() {
        return Err(fail(
            "describe() lists no positions. A genome has one gene per position, and optimizers \
             that build genomes themselves (NAO, RL controllers) read them from describe()"
                .into(),
        ));
    }
    for (i, p) in desc.positions.iter().enumerate() {
        if p.choices == 0 {
            return Err(fail(format!(
                "position {i} (`{}`) has 0 choices: every position needs at least one",
                p.name
            )));
        }
        if !p.labels.is_empty() && p.labels.len() != p.choices as usize {
            return Err(fail(format!(
                "position {i} (`{}`) has {} choices but {} labels: labels are empty or one per \
                 choice",
                p.name,
                p.choices,
                p.labels.len()
            )));
        }
    }
    if !desc.tasks.is_empty() {
        for task in tasks {
            if !desc.tasks.iter().any(|t| t.as_str() == *task) {
                let listed: Vec<&str> = desc.tasks.iter().map(|t| t.as_str()).collect();
                return Err(fail(format!(
                    "task `{task}` was given to check_space, but describe() lists only the tasks \
                     {listed:?} (an empty list would mean any task id)"
                )));
            }
        }
    }
    report.pass(
        "describe",
        format!(
            "{} positions, {} tasks listed, size {}",
            desc.positions.len(),
            desc.tasks.len(),
            desc.size
        ),
    );
    Ok(desc)
}

fn check_samples<S: SearchSpace + ?Sized>(
    space: &S,
    desc: &SpaceDesc,
    options: &SpaceOptions,
    report: &mut Report,
) -> Result<Vec<Sampled>, Failure> {
    let n = options.samples.max(2);
    let base = derive_seed(options.seed, SAMPLE_TAG);
    let mut samples = Vec::with_capacity(n);
    // Canonical text → canonical genome, over every sample so far.
    let mut texts: BTreeMap<String, Vec<u32>> = BTreeMap::new();
    for i in 0..n {
        let seed = derive_seed(base, i as u64);
        let call = || format!("sample(seed {seed})");
        let genome = guarded("sample", call, || space.sample(seed))?.map_err(|e| {
            Failure::new(
                "sample",
                format!("sample(seed {seed}) failed: {}", err_text(&e)),
            )
        })?;
        let again = guarded("sample/deterministic", call, || space.sample(seed))?;
        if again.as_ref() != Ok(&genome) {
            let second = outcome_text(&again, |g| format!("{g:?}"));
            return Err(Failure::new(
                "sample/deterministic",
                format!(
                    "sample(seed {seed}) returned {genome:?}, then {second} when called again with \
                     the same seed: sample must be a function of its seed (the host samples source \
                     knowledge with recorded seeds, and optimizers replay their samples on resume)"
                ),
            ));
        }
        let arch = canonical(space, "sample/valid", &genome)?.map_err(|e| {
            Failure::new(
                "sample/valid",
                format!(
                    "sample(seed {seed}) returned {genome:?}, which canonical refuses: {}. Every \
                     sample must be an architecture of the space",
                    err_text(&e)
                ),
            )
        })?;
        fits(desc, &genome).map_err(|why| {
            Failure::new(
                "sample/fits",
                format!(
                    "sample(seed {seed}) returned {genome:?}, which does not fit describe(): {why}"
                ),
            )
        })?;
        let canon = arch.genome.to_vec();
        fits(desc, &canon).map_err(|why| {
            Failure::new(
                "canonical/fits",
                format!(
                    "canonical({genome:?}) returned {}, which does not fit describe(): {why}",
                    arch_text(&arch)
                ),
            )
        })?;
        let again = canonical(space, "canonical/deterministic", &genome)?;
        if again.as_ref() != Ok(&arch) {
            let second = outcome_text(&again, arch_text);
            return Err(Failure::new(
                "canonical/deterministic",
                format!(
                    "canonical({genome:?}) returned {}, then {second} when called again: \
                     canonical must be a function of the genome",
                    arch_text(&arch)
                ),
            ));
        }
        let twice = canonical(space, "canonical/idempotent", &canon)?.map_err(|e| {
            Failure::new(
                "canonical/idempotent",
                format!(
                    "canonical({genome:?}) returned {}, but canonical refuses that canonical \
                     genome: {}. The host tells optimizers the canonical genome, and they \
                     canonicalise and mutate it again",
                    arch_text(&arch),
                    err_text(&e)
                ),
            )
        })?;
        if twice.genome != arch.genome || twice.text != arch.text {
            return Err(Failure::new(
                "canonical/idempotent",
                format!(
                    "canonical({genome:?}) returned {}, but canonical of that canonical genome \
                     returned {}: canonical must be idempotent, the same genome and text whatever \
                     form of the architecture it was given (sample seed {seed})",
                    arch_text(&arch),
                    arch_text(&twice)
                ),
            ));
        }
        let text = arch.text.to_string();
        if text.is_empty() {
            return Err(Failure::new(
                "canonical/text",
                format!(
                    "canonical({genome:?}) returned an empty text: the text is the `arch` column \
                     of the host's reports, and parse must read it back"
                ),
            ));
        }
        match texts.get(&text) {
            Some(other) if *other != canon => {
                return Err(Failure::new(
                    "canonical/text",
                    format!(
                        "the different canonical genomes {other:?} and {canon:?} have the same \
                         text `{text}`: the text must name one architecture, since parse reads \
                         it back"
                    ),
                ));
            }
            Some(_) => {}
            None => {
                texts.insert(text.clone(), canon.clone());
            }
        }
        samples.push(Sampled { genome, arch });
    }
    if desc.size != 1 && samples.iter().all(|s| s.genome == samples[0].genome) {
        return Err(Failure::new(
            "sample/seed",
            format!(
                "sample returned {:?} for all {n} seeds it was given: it ignores its seed, so \
                 random search would propose one architecture over and over",
                samples[0].genome
            ),
        ));
    }
    if desc.size > 0 && texts.len() as u64 > desc.size {
        return Err(Failure::new(
            "describe/size",
            format!(
                "describe() says the space has {} architectures, but {} distinct canonical \
                 architectures were sampled",
                desc.size,
                texts.len()
            ),
        ));
    }
    // Parsed back only now: a text shared by two architectures is reported above as the cause.
    for s in &samples {
        let canon = s.arch.genome.to_vec();
        let text = s.arch.text.as_str();
        let parsed = guarded("parse", || format!("parse(`{text}`)"), || space.parse(text))?
            .map_err(|e| {
                Failure::new(
                    "parse",
                    format!(
                        "parse(`{text}`) failed on the text canonical wrote for {canon:?}: {}. \
                             The host parses the texts it stored (source_runs, source_file, xnas \
                             train), so parse must accept everything canonical writes",
                        err_text(&e)
                    ),
                )
            })?;
        if parsed != canon {
            return Err(Failure::new(
                "parse",
                format!(
                    "parse(`{text}`) returned {parsed:?}, but the canonical genome with that \
                         text is {canon:?}: parse of a canonical text must give the canonical \
                         genome back"
                ),
            ));
        }
    }
    report.pass(
        "sample",
        format!(
            "{n} seeds, each sampled twice; {} distinct architectures",
            texts.len()
        ),
    );
    report.pass(
        "canonical",
        "deterministic, idempotent (genome and text), fits describe(), one text per architecture",
    );
    report.pass("parse", format!("{n} canonical texts parsed back"));
    if desc.size > 0 {
        report.pass(
            "describe/size",
            format!("at most {} architectures", desc.size),
        );
    }
    Ok(samples)
}

fn check_refusals<S: SearchSpace + ?Sized>(
    space: &S,
    desc: &SpaceDesc,
    samples: &[Sampled],
    report: &mut Report,
) -> Result<(), Failure> {
    let expect_refused = |genome: &[u32], what: &dyn Fn() -> String| -> Result<(), Failure> {
        match canonical(space, "canonical/refuses", genome)? {
            Err(_) => Ok(()),
            Ok(a) => Err(Failure::new(
                "canonical/refuses",
                format!(
                    "canonical accepted {genome:?} ({}) and returned {}: it must refuse genomes \
                     outside the space, so that the host fails such a proposal instead of \
                     evaluating it",
                    what(),
                    arch_text(&a)
                ),
            )),
        }
    };
    let mut probed = 0;
    for s in samples.iter().take(REFUSAL_PROBES) {
        let g = s.arch.genome.to_vec();
        let mut longer = g.clone();
        longer.push(0);
        expect_refused(&longer, &|| {
            format!("the architecture {g:?} with a gene appended")
        })?;
        expect_refused(&g[..g.len() - 1], &|| {
            format!("the architecture {g:?} without its last gene")
        })?;
        for (p, pos) in desc.positions.iter().enumerate() {
            let mut bad = g.clone();
            bad[p] = pos.choices;
            expect_refused(&bad, &|| {
                format!(
                    "the architecture {g:?} with gene {p} (`{}`) set to {}, while describe() \
                     gives that position {} choices",
                    pos.name, pos.choices, pos.choices
                )
            })?;
            probed += 1;
        }
        probed += 2;
    }
    report.pass(
        "canonical/refuses",
        format!("{probed} genomes outside the space refused"),
    );
    Ok(())
}
