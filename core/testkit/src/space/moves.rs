//! The moves of local search and evolution: `mutate` and `neighbours`.

use super::{canonical, fits, Sampled, SpaceOptions, MUTATE_TAG};
use crate::{err_text, guarded, outcome_text, Failure, Report};
use std::collections::HashSet;
use xnas_core::{derive_seed, SearchSpace, SpaceDesc};

/// A sample's mutation the kit drew: `(sample index, child)`.
pub(super) type Mutations = Vec<(usize, Vec<u32>)>;

fn neighbours_of<S: SearchSpace + ?Sized>(
    space: &S,
    check: &'static str,
    genome: &[u32],
) -> Result<Vec<Vec<u32>>, Failure> {
    let call = || format!("neighbours({genome:?})");
    guarded(check, call, || space.neighbours(genome))?.map_err(|e| {
        Failure::new(
            check,
            format!(
                "{} failed: {}. Local search lists the neighbours of the canonical genomes the \
                 host tells it (an isolated genome has none: an empty list)",
                call(),
                err_text(&e)
            ),
        )
    })
}

pub(super) fn check_mutate<S: SearchSpace + ?Sized>(
    space: &S,
    desc: &SpaceDesc,
    samples: &[Sampled],
    options: &SpaceOptions,
    report: &mut Report,
) -> Result<Mutations, Failure> {
    let base = derive_seed(options.seed, MUTATE_TAG);
    let mut moved = 0;
    let mut isolated = 0;
    let mut out = Vec::with_capacity(samples.len());
    for (i, s) in samples.iter().enumerate() {
        let parent = s.arch.genome.to_vec();
        let seed = derive_seed(base, i as u64);
        let call = || format!("mutate({parent:?}, seed {seed})");
        let child = match guarded("mutate", call, || space.mutate(&parent, seed))? {
            Ok(child) => child,
            Err(e) => {
                // The trait allows an error for a genome without neighbours, and only then.
                let listed = neighbours_of(space, "mutate", &parent)?;
                if listed.is_empty() {
                    isolated += 1;
                    continue;
                }
                return Err(Failure::new(
                    "mutate",
                    format!(
                        "{} failed: {}, though neighbours lists {} genomes one decision away \
                         (the first {:?}). Optimizers (evolution, local search) mutate the \
                         canonical genomes the host tells them",
                        call(),
                        err_text(&e),
                        listed.len(),
                        listed[0]
                    ),
                ));
            }
        };
        let again = guarded("mutate/deterministic", call, || space.mutate(&parent, seed))?;
        if again.as_ref() != Ok(&child) {
            let second = outcome_text(&again, |g| format!("{g:?}"));
            return Err(Failure::new(
                "mutate/deterministic",
                format!(
                    "{} returned {child:?}, then {second} when called again: mutate must be a \
                     function of the genome and the seed",
                    call()
                ),
            ));
        }
        if child == parent {
            return Err(Failure::new(
                "mutate/changes",
                format!(
                    "{} returned its input unchanged: a mutation changes a decision",
                    call()
                ),
            ));
        }
        let arch = canonical(space, "mutate/valid", &child)?.map_err(|e| {
            Failure::new(
                "mutate/valid",
                format!(
                    "{} returned {child:?}, which canonical refuses: {}. A mutation must stay \
                     inside the space",
                    call(),
                    err_text(&e)
                ),
            )
        })?;
        fits(desc, &child).map_err(|why| {
            Failure::new(
                "mutate/fits",
                format!(
                    "{} returned {child:?}, which does not fit describe(): {why}",
                    call()
                ),
            )
        })?;
        if arch.genome != s.arch.genome {
            moved += 1;
        }
        out.push((i, child));
    }
    if isolated == samples.len() {
        report.skip(
            "mutate",
            format!(
                "all {isolated} sampled architectures are isolated (no neighbours), and mutate \
                 refused each"
            ),
        );
        return Ok(out);
    }
    if moved == 0 {
        return Err(Failure::new(
            "mutate/changes",
            format!(
                "all {} mutations gave back the architecture they started from (the same \
                 canonical genome): a mutation must reach another architecture",
                out.len()
            ),
        ));
    }
    report.pass(
        "mutate",
        format!(
            "{} mutations of canonical genomes, each repeated; {moved} reached another \
             architecture; {isolated} isolated genomes refused (no neighbours)",
            out.len()
        ),
    );
    Ok(out)
}

/// The canonical genomes of every single-position change of `genome` that `canonical` accepts.
fn single_change_archs<S: SearchSpace + ?Sized>(
    space: &S,
    desc: &SpaceDesc,
    genome: &[u32],
) -> HashSet<Vec<u32>> {
    let mut out = HashSet::new();
    let mut child = genome.to_vec();
    for (p, position) in desc.positions.iter().enumerate() {
        for v in (0..position.choices).filter(|&v| v != genome[p]) {
            child[p] = v;
            if let Ok(Ok(a)) = canonical(space, "neighbours/one-decision", &child) {
                out.insert(a.genome.to_vec());
            }
        }
        child[p] = genome[p];
    }
    out
}

pub(super) fn check_neighbours<S: SearchSpace + ?Sized>(
    space: &S,
    desc: &SpaceDesc,
    samples: &[Sampled],
    mutations: &Mutations,
    report: &mut Report,
) -> Result<(), Failure> {
    let mut total = 0;
    let mut canonical_forms = 0;
    for s in samples {
        let parent = s.arch.genome.to_vec();
        let listed = neighbours_of(space, "neighbours", &parent)?;
        let again = neighbours_of(space, "neighbours/deterministic", &parent)?;
        if again != listed {
            return Err(Failure::new(
                "neighbours/deterministic",
                format!(
                    "neighbours({parent:?}) listed {} genomes, then {} others or in another \
                     order: the list is a function of the genome",
                    listed.len(),
                    again.len()
                ),
            ));
        }
        let mut seen = HashSet::new();
        let mut singles: Option<HashSet<Vec<u32>>> = None;
        for n in &listed {
            let bad = |check: &'static str, why: String| {
                Failure::new(check, format!("neighbours({parent:?}) lists {n:?}, {why}"))
            };
            if !seen.insert(n.clone()) {
                return Err(bad("neighbours/distinct", "twice".into()));
            }
            if *n == parent {
                return Err(bad(
                    "neighbours/changes",
                    "the genome itself: a neighbour is one decision away".into(),
                ));
            }
            fits(desc, n).map_err(|why| {
                bad(
                    "neighbours/fits",
                    format!("which does not fit describe(): {why}"),
                )
            })?;
            let arch = canonical(space, "neighbours/valid", n)?.map_err(|e| {
                bad(
                    "neighbours/valid",
                    format!("which canonical refuses: {}", err_text(&e)),
                )
            })?;
            let changed = n.iter().zip(&parent).filter(|(a, b)| a != b).count();
            if changed != 1 {
                // A space that answers canonical genomes: the canonical form of a single change.
                let singles =
                    singles.get_or_insert_with(|| single_change_archs(space, desc, &parent));
                if !singles.contains(arch.genome.as_slice()) {
                    return Err(bad(
                        "neighbours/one-decision",
                        format!(
                            "which differs in {changed} genes and is not the canonical form of \
                             any single-position change of it"
                        ),
                    ));
                }
                canonical_forms += 1;
            }
        }
        for (_, child) in mutations.iter().filter(|(i, _)| samples[*i].arch == s.arch) {
            if !seen.contains(child) {
                return Err(Failure::new(
                    "neighbours/mutate",
                    format!(
                        "mutate({parent:?}, …) answered {child:?}, which neighbours({parent:?}) \
                         does not list ({} neighbours): every mutation is a neighbour",
                        listed.len()
                    ),
                ));
            }
        }
        total += listed.len();
    }
    report.pass(
        "neighbours",
        format!(
            "{total} neighbours of {} canonical genomes: distinct, valid, one decision away \
             ({canonical_forms} as canonical forms of a single change), holding each of {} \
             mutations",
            samples.len(),
            mutations.len()
        ),
    );
    Ok(())
}
