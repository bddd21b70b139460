use super::*;
use std::sync::{Arc, Mutex};
use xnas_core::abi_stable::std_types::{RNone, RString, RVec};
use xnas_core::{
    failed_observation, parse_params, space_box, Arch, ErrorKind, EvalRequest, EvalResult,
    PluginError, PluginKind, Position, SpaceDesc,
};

/// What the fake space was asked to do, in order.
#[derive(Default)]
struct Calls {
    samples: Mutex<Vec<u64>>,
    /// (parent, seed) of every mutation.
    mutations: Mutex<Vec<(Vec<u32>, u64)>>,
}

impl Calls {
    fn samples(&self) -> usize {
        self.samples.lock().unwrap().len()
    }
    fn mutations(&self) -> Vec<(Vec<u32>, u64)> {
        self.mutations.lock().unwrap().clone()
    }
}

/// `len` positions of `k` choices each; the objective is the sum of the genes.
struct Fake {
    len: usize,
    k: u32,
    calls: Arc<Calls>,
}

fn fake_sample(len: usize, k: u32, seed: u64) -> Vec<u32> {
    let mut rng = SplitMix64::new(seed);
    (0..len).map(|_| rng.below(k)).collect()
}

fn objective(genome: &[u32]) -> f64 {
    genome.iter().map(|&g| f64::from(g)).sum()
}

impl SearchSpace for Fake {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        Ok(SpaceDesc {
            positions: (0..self.len)
                .map(|i| Position {
                    name: format!("p{i}").into(),
                    choices: self.k,
                    group: RString::new(),
                    labels: RVec::new(),
                })
                .collect(),
            tasks: RVec::new(),
            size: 0,
        })
    }
    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        self.calls.samples.lock().unwrap().push(seed);
        Ok(fake_sample(self.len, self.k, seed))
    }
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.calls
            .mutations
            .lock()
            .unwrap()
            .push((genome.to_vec(), seed));
        if self.k == 1 {
            return Err(PluginError::other(
                "no neighbour: every position has one choice",
            ));
        }
        let mut rng = SplitMix64::new(seed);
        let p = rng.below(self.len as u32) as usize;
        let mut child = genome.to_vec();
        child[p] = rng.below_except(self.k, genome[p]);
        Ok(child)
    }
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        Ok(Arch {
            genome: genome.to_vec().into(),
            text: format!("{genome:?}").into(),
        })
    }
    fn parse(&self, _text: &str) -> PluginResult<Vec<u32>> {
        Err(PluginError::unsupported("fake"))
    }
    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        Ok(EvalResult {
            metric: objective(&request.genome),
            test_metric: RNone,
            cost_seconds: 0.0,
            curve: RVec::new(),
            extras: RString::new(),
        })
    }
}

const LEN: usize = 8;
const K: u32 = 4;

fn init_with(
    seed: u64,
    len: usize,
    k: u32,
    history: Vec<Observation>,
) -> (OptimizerInit, Arc<Calls>) {
    let calls = Arc::new(Calls::default());
    let space = space_box(Fake {
        len,
        k,
        calls: Arc::clone(&calls),
    });
    let init = OptimizerInit {
        space,
        target: "target".into(),
        sources: RVec::new(),
        history: history.into(),
        seed,
        heads: RNone,
        base_dir: RString::new(),
    };
    (init, calls)
}

fn make(params: &str, seed: u64) -> (Evolution, Arc<Calls>) {
    let (init, calls) = init_with(seed, LEN, K, Vec::new());
    let params: EvolutionParams = parse_params(params).expect("params");
    (Evolution::new(params, &init).unwrap(), calls)
}

fn obs(trial_id: u64, genome: &[u32], metric: f64) -> Observation {
    Observation {
        trial_id,
        task: "target".into(),
        genome: genome.to_vec().into(),
        metric,
        test_metric: RNone,
        cost_seconds: 0.0,
        budget: RNone,
        curve: RVec::new(),
        status: TrialStatus::OK,
    }
}

fn genomes(proposals: &[Proposal]) -> Vec<Vec<u32>> {
    proposals.iter().map(|p| p.genome.to_vec()).collect()
}

/// Asks `n`, evaluates with the objective and tells, numbering trials from `*next_id`.
fn step(opt: &mut Evolution, n: usize, next_id: &mut u64) -> Vec<Vec<u32>> {
    let asked = genomes(&opt.ask(n).unwrap());
    let told: Vec<Observation> = asked
        .iter()
        .map(|g| {
            *next_id += 1;
            obs(*next_id, g, objective(g))
        })
        .collect();
    opt.tell(&told).unwrap();
    asked
}

fn hamming(a: &[u32], b: &[u32]) -> usize {
    a.iter().zip(b).filter(|(x, y)| x != y).count()
}

#[test]
fn params_defaults_and_checks() {
    let p: EvolutionParams = parse_params("").unwrap();
    assert_eq!((p.population, p.sample_size, p.p_identity), (100, 10, 0.0));
    let p: EvolutionParams =
        parse_params("population = 20\nsample_size = 25\np_identity = 0.05").unwrap();
    assert_eq!((p.population, p.sample_size, p.p_identity), (20, 25, 0.05));
    for (text, part) in [
        ("population = 0", "`population` is 0"),
        ("sample_size = 0", "`sample_size` is 0"),
        ("p_identity = 1.5", "`p_identity` is 1.5"),
        ("p_identity = -0.1", "`p_identity`"),
        ("popsize = 10", "popsize"),
        ("population = \"ten\"", "`population`"),
    ] {
        let e = parse_params::<EvolutionParams>(text).expect_err(text);
        assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
        assert!(e.message().contains(part), "`{e}` lacks `{part}`");
    }
}

#[test]
fn first_population_proposals_are_seeded_samples() {
    let seed = 42;
    let (mut opt, calls) = make("population = 10", seed);
    let mut id = 0;
    let mut asked = Vec::new();
    for n in [4, 4, 2] {
        asked.extend(step(&mut opt, n, &mut id));
    }
    assert_eq!(calls.samples(), 10);
    assert!(calls.mutations().is_empty());
    let want: Vec<Vec<u32>> = (0..10)
        .map(|i| fake_sample(LEN, K, derive_seed(seed, i)))
        .collect();
    assert_eq!(asked, want);
    assert_eq!(opt.population_len(), 10);

    // The quota is spent: now every proposal is a child.
    let children = step(&mut opt, 3, &mut id);
    assert_eq!(calls.samples(), 10);
    let mutations = calls.mutations();
    assert_eq!(mutations.len(), 3);
    for (child, (parent, _)) in children.iter().zip(&mutations) {
        assert_eq!(hamming(child, parent), 1);
    }
}

#[test]
fn batch_larger_than_the_remaining_quota_mixes_samples_and_children() {
    let seed = 7;
    let (mut opt, calls) = make("population = 5\nsample_size = 2", seed);
    let mut id = 0;
    let first = step(&mut opt, 3, &mut id);
    let second = genomes(&opt.ask(4).unwrap());
    assert_eq!(calls.samples(), 5);
    assert_eq!(calls.mutations().len(), 2);
    assert_eq!(second[0], fake_sample(LEN, K, derive_seed(seed, 3)));
    assert_eq!(second[1], fake_sample(LEN, K, derive_seed(seed, 4)));
    // The children come from tournaments over the three told members.
    for (child, (parent, _)) in second[2..].iter().zip(calls.mutations()) {
        assert!(first.contains(&parent), "{parent:?} was never told");
        assert_eq!(hamming(child, &parent), 1);
    }
}

#[test]
fn nothing_told_yet_means_random_samples_beyond_the_quota() {
    let (mut opt, calls) = make("population = 3", 1);
    let asked = genomes(&opt.ask(5).unwrap());
    assert_eq!(asked.len(), 5);
    assert_eq!(calls.samples(), 5);
    assert!(calls.mutations().is_empty());
    assert_eq!(asked[4], fake_sample(LEN, K, derive_seed(1, 4)));
    assert!(opt.ask(0).unwrap().is_empty());
}

#[test]
fn aging_removes_the_oldest_not_the_worst() {
    let (mut opt, _calls) = make("population = 3", 1);
    let g = |v: u32| vec![v; LEN];
    opt.tell(&[obs(1, &g(0), 10.0), obs(2, &g(1), 1.0), obs(3, &g(2), 5.0)])
        .unwrap();
    opt.tell(&[obs(4, &g(3), 0.0)]).unwrap();
    let members: Vec<(Vec<u32>, f64)> = opt
        .population
        .iter()
        .map(|m| (m.genome.clone(), m.metric))
        .collect();
    // The best (10.0) was the oldest, so it left; the worst (0.0) stays.
    assert_eq!(members, vec![(g(1), 1.0), (g(2), 5.0), (g(3), 0.0)]);
    opt.tell(&[obs(5, &g(0), 2.0), obs(6, &g(1), 3.0)]).unwrap();
    let metrics: Vec<f64> = opt.population.iter().map(|m| m.metric).collect();
    assert_eq!(metrics, [0.0, 2.0, 3.0]);
}

#[test]
fn tournament_picks_the_best_of_a_sample_drawn_with_replacement() {
    let seed = 99;
    let (mut opt, calls) = make("population = 6\nsample_size = 3", seed);
    let pop: Vec<(Vec<u32>, f64)> = (0..6u32)
        .map(|i| (vec![i; LEN], f64::from((i * 7) % 6)))
        .collect();
    let told: Vec<Observation> = pop
        .iter()
        .enumerate()
        .map(|(i, (g, m))| obs(i as u64, g, *m))
        .collect();
    opt.ask(6).unwrap();
    opt.tell(&told).unwrap();
    let mut saw_repeat = false;
    let mut winners = std::collections::HashSet::new();
    for counter in 6..206u64 {
        opt.ask(1).unwrap();
        // Replay the draws: three indices with replacement, first best wins.
        let mut rng = SplitMix64::new(derive_seed(seed, counter));
        let drawn: Vec<usize> = (0..3).map(|_| rng.below(6) as usize).collect();
        let mut best = drawn[0];
        for &i in &drawn[1..] {
            if pop[i].1 > pop[best].1 {
                best = i;
            }
        }
        saw_repeat |= drawn[0] == drawn[1] || drawn[1] == drawn[2] || drawn[0] == drawn[2];
        let (parent, mseed) = calls.mutations().last().cloned().unwrap();
        assert_eq!(parent, pop[best].0, "counter {counter}: drew {drawn:?}");
        assert_eq!(mseed, rng.next_u64());
        winners.insert(best);
        assert!(drawn.iter().all(|&i| pop[i].1 <= pop[best].1));
    }
    assert!(
        saw_repeat,
        "with replacement, some tournament repeats a member"
    );
    // The worst member (metric 0) can only win a tournament of three copies of itself.
    assert!(winners.len() >= 4, "{winners:?}");
}

#[test]
fn same_seed_and_tells_give_the_same_asks() {
    let run = |seed: u64| {
        let (mut opt, _calls) = make("population = 12\nsample_size = 4", seed);
        let mut id = 0;
        let mut all = Vec::new();
        for _ in 0..30 {
            all.extend(step(&mut opt, 7, &mut id));
        }
        all
    };
    let a = run(5);
    assert_eq!(a.len(), 210);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));

    // A resumed run replays recorded asks and tells: the proposals repeat exactly.
    let (mut replay, _calls) = make("population = 12\nsample_size = 4", 5);
    for (b, batch) in a.chunks(7).enumerate() {
        assert_eq!(genomes(&replay.ask(7).unwrap()), batch, "batch {b}");
        let told: Vec<Observation> = batch
            .iter()
            .enumerate()
            .map(|(i, g)| obs((b * 7 + i) as u64, g, objective(g)))
            .collect();
        replay.tell(&told).unwrap();
    }
}

#[test]
fn source_history_is_ignored() {
    let history = vec![obs(1, &[3; LEN], 1e9), obs(2, &[2; LEN], 5.0)];
    let params = || parse_params::<EvolutionParams>("population = 4").unwrap();
    let (init_a, _) = init_with(3, LEN, K, history);
    let (init_b, _) = init_with(3, LEN, K, Vec::new());
    let mut a = Evolution::new(params(), &init_a).unwrap();
    let mut b = Evolution::new(params(), &init_b).unwrap();
    let (mut ia, mut ib) = (0, 0);
    for _ in 0..10 {
        assert_eq!(step(&mut a, 3, &mut ia), step(&mut b, 3, &mut ib));
    }
}

#[test]
fn failed_trials_join_the_population_but_never_win() {
    let (mut opt, calls) = make("population = 4\nsample_size = 3", 11);
    let asked = genomes(&opt.ask(4).unwrap());
    let mut nan_ok = obs(3, &asked[2], f64::NAN);
    nan_ok.status = TrialStatus::OK;
    opt.tell(&[
        failed_observation(0, "target", asked[0].clone()),
        failed_observation(1, "target", asked[1].clone()),
        nan_ok,
        failed_observation(3, "target", asked[3].clone()),
    ])
    .unwrap();
    assert_eq!(opt.population_len(), 4);
    assert!(opt.population.iter().all(|m| m.metric == f64::NEG_INFINITY));
    // Every tournament draws only failed members: random samples, no mutation of a failure.
    opt.ask(5).unwrap();
    assert_eq!(calls.samples(), 9);
    assert!(calls.mutations().is_empty());

    // One success: it is the only possible parent; the failures age out in order.
    let good = vec![1; LEN];
    opt.tell(&[obs(10, &good, -3.0)]).unwrap();
    assert_eq!(opt.population.back().unwrap().metric, -3.0);
    assert_eq!(opt.population.front().unwrap().genome, asked[1]);
    opt.ask(50).unwrap();
    let mutations = calls.mutations();
    assert!(!mutations.is_empty());
    assert!(mutations.iter().all(|(parent, _)| *parent == good));
    assert_eq!(calls.samples() + mutations.len(), 9 + 50);
}

#[test]
fn p_identity_one_proposes_parents_unchanged() {
    let (mut opt, calls) = make("population = 5\np_identity = 1.0", 2);
    let mut id = 0;
    let initial = step(&mut opt, 5, &mut id);
    let best = initial
        .iter()
        .max_by(|a, b| objective(a).total_cmp(&objective(b)))
        .unwrap()
        .clone();
    let children = genomes(&opt.ask(20).unwrap());
    assert!(calls.mutations().is_empty());
    assert!(children.iter().all(|c| initial.contains(c)));
    // With S = 10 draws over 5 members the best is drawn almost always.
    let hits = children.iter().filter(|c| **c == best).count();
    assert!(hits >= 15, "best proposed {hits} of 20 times");
}

/// Best objective found within `budget` evaluations, by evolution and by random sampling.
fn best_found(seed: u64, budget: usize) -> (f64, f64) {
    let (init, _calls) = init_with(seed, 16, 8, Vec::new());
    let params = parse_params::<EvolutionParams>("population = 40\nsample_size = 8").unwrap();
    let mut opt = Evolution::new(params, &init).unwrap();
    let mut id = 0;
    let mut evo = f64::NEG_INFINITY;
    while (id as usize) < budget {
        for g in step(&mut opt, 4, &mut id) {
            evo = evo.max(objective(&g));
        }
    }
    let random = (0..budget as u64)
        .map(|i| objective(&fake_sample(16, 8, derive_seed(seed ^ 0xABCD, i))))
        .fold(f64::NEG_INFINITY, f64::max);
    (evo, random)
}

#[test]
fn evolution_beats_random_search_on_a_separable_objective() {
    let runs: Vec<(f64, f64)> = (0..8).map(|s| best_found(s, 400)).collect();
    let evo = runs.iter().map(|r| r.0).sum::<f64>() / runs.len() as f64;
    let random = runs.iter().map(|r| r.1).sum::<f64>() / runs.len() as f64;
    eprintln!("mean best of 400: evolution {evo:.1}, random {random:.1}");
    // Maximum 16 * 7 = 112; random's best of 400 is about 80.
    assert!(
        evo > random + 10.0,
        "evolution {evo:.1} vs random {random:.1} ({runs:?})"
    );
    assert!(runs.iter().all(|(e, r)| e > r), "{runs:?}");
}

#[test]
fn registered_plugin_runs_through_the_abi() {
    let set = PluginSet::from_register(register);
    let infos = set.infos();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].name.as_str(), "evolution");
    assert_eq!(infos[0].kind, PluginKind::OPTIMIZER);
    assert!(infos[0].has(capability::ASK_TELL));
    let bad = set
        .check_params(PluginKind::OPTIMIZER, "evolution", "sample_size = 0")
        .unwrap_err();
    assert_eq!(bad.kind, ErrorKind::INVALID_PARAMS);

    let (init, calls) = init_with(8, LEN, K, Vec::new());
    let mut opt = set
        .create_optimizer("evolution", "population = 3", &init)
        .unwrap();
    let asked = opt.ask(3).unwrap();
    let told: Vec<Observation> = asked
        .iter()
        .enumerate()
        .map(|(i, p)| obs(i as u64, &p.genome, objective(&p.genome)))
        .collect();
    opt.tell(&told).unwrap();
    let children = opt.ask(2).unwrap();
    assert_eq!(children.len(), 2);
    assert_eq!(calls.samples(), 3);
    assert_eq!(calls.mutations().len(), 2);
}

#[test]
fn an_isolated_parent_is_replaced_by_a_sample() {
    // One choice per position: the only genome has no neighbour and mutate refuses it.
    let (init, calls) = init_with(3, LEN, 1, Vec::new());
    let params: EvolutionParams = parse_params("population = 2\nsample_size = 2").unwrap();
    let mut evo = Evolution::new(params, &init).unwrap();
    let first = evo.ask(2).unwrap();
    evo.tell(&[obs(0, &first[0].genome, 0.0), obs(1, &first[1].genome, 0.0)])
        .unwrap();
    let next = evo.ask(3).unwrap();
    assert_eq!(genomes(&next), vec![vec![0; LEN]; 3]);
    assert_eq!(
        calls.mutations().len(),
        3,
        "each child was first a mutation"
    );
    assert_eq!(calls.samples(), 5, "then a sample");

    // Any other error of mutate still stops the search.
    struct Broken;
    impl SearchSpace for Broken {
        fn describe(&self) -> PluginResult<SpaceDesc> {
            Fake {
                len: 2,
                k: 2,
                calls: Arc::default(),
            }
            .describe()
        }
        fn sample(&self, _seed: u64) -> PluginResult<Vec<u32>> {
            Ok(vec![0, 0])
        }
        fn mutate(&self, _genome: &[u32], _seed: u64) -> PluginResult<Vec<u32>> {
            Err(PluginError::other("broken"))
        }
        fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
            Fake {
                len: 2,
                k: 2,
                calls: Arc::default(),
            }
            .canonical(genome)
        }
        fn parse(&self, _text: &str) -> PluginResult<Vec<u32>> {
            Err(PluginError::unsupported("broken"))
        }
        fn evaluate(&self, _request: &EvalRequest) -> PluginResult<EvalResult> {
            Err(PluginError::unsupported("broken"))
        }
    }
    let mut init = init;
    init.space = space_box(Broken);
    let params: EvolutionParams = parse_params("population = 1\nsample_size = 1").unwrap();
    let mut evo = Evolution::new(params, &init).unwrap();
    let first = evo.ask(1).unwrap();
    evo.tell(&[obs(0, &first[0].genome, 1.0)]).unwrap();
    assert_eq!(evo.ask(1).unwrap_err().message(), "broken");
}
