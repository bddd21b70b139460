//! Shared by the tests: the real NAS-Bench-Graph space (with its converted data file), an
//! optimizer built on it, and evaluation through the space, as the host would do it.
#![allow(dead_code)]

use std::sync::OnceLock;
use xnas_core::abi_stable::std_types::{RNone, RSome, RString, RVec};
use xnas_core::{
    derive_seed, failed_observation, parse_params, space_box, EvalRequest, HeadFactoryBox,
    Observation, Optimizer, OptimizerInit, SearchSpace, SpaceBox, SpaceInit, TrialStatus,
};
use xnas_opt_nao::{Nao, NaoParams};
use xnas_space_nasbench_graph::{default_data_path, NasBenchGraph, NasBenchGraphParams};

pub const TARGET: &str = "cora";
pub const SOURCES: [&str; 2] = ["citeseer", "pubmed"];

/// The space over the target and the sources, loaded once per test binary.
pub fn space() -> SpaceBox {
    static SPACE: OnceLock<SpaceBox> = OnceLock::new();
    SPACE
        .get_or_init(|| {
            let path = default_data_path("");
            assert!(
                path.is_file(),
                "NAS-Bench-Graph data file {} is missing: run `make data`",
                path.display()
            );
            let tasks: RVec<RString> = std::iter::once(TARGET)
                .chain(SOURCES)
                .map(RString::from)
                .collect();
            let init = SpaceInit {
                tasks,
                base_dir: RString::new(),
                data_dir: RString::new(),
            };
            space_box(
                NasBenchGraph::new(NasBenchGraphParams::default(), &init).expect("space loads"),
            )
        })
        .clone()
}

pub fn init(seed: u64) -> OptimizerInit {
    OptimizerInit {
        space: space(),
        target: TARGET.into(),
        sources: RVec::new(),
        history: RVec::new(),
        seed,
        heads: RNone,
        base_dir: ".".into(),
    }
}

/// An init decorated with `factory`, with `history` as source knowledge.
pub fn decorated_init(
    seed: u64,
    factory: HeadFactoryBox,
    history: Vec<Observation>,
) -> OptimizerInit {
    let mut i = init(seed);
    i.sources = SOURCES.iter().map(|&s| RString::from(s)).collect();
    i.history = history.into();
    i.heads = RSome(factory);
    i
}

pub fn nao(params: &str, seed: u64) -> Nao {
    let p: NaoParams = parse_params(params).expect("params parse");
    Nao::new(p, &init(seed)).expect("nao builds")
}

/// Evaluates `genome` on `task` through the space: an observation as the host tells it
/// (canonical genome; failed with a NaN metric when the space refuses it).
pub fn observe(trial_id: u64, task: &str, genome: &[u32]) -> Observation {
    let space = space();
    let Ok(arch) = space.canonical(genome) else {
        return failed_observation(trial_id, task, genome.to_vec());
    };
    let request = EvalRequest {
        trial_id,
        task: task.into(),
        genome: arch.genome.clone(),
        seed: derive_seed(1, trial_id),
        budget: RNone,
    };
    let mut o = failed_observation(trial_id, task, arch.genome.to_vec());
    if let Ok(r) = space.evaluate(&request) {
        o.metric = r.metric;
        o.status = TrialStatus::OK;
    }
    o
}

/// `count` distinct architectures (by canonical text) sampled with seeds from `seed`.
pub fn distinct_samples(count: usize, seed: u64) -> Vec<Vec<u32>> {
    let space = space();
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    let mut i = 0;
    while out.len() < count {
        let g = space.sample(derive_seed(seed, i)).unwrap();
        i += 1;
        let a = space.canonical(&g).unwrap();
        if seen.insert(a.text.to_string()) {
            out.push(a.genome.to_vec());
        }
    }
    out
}

/// The target metric of a genome.
pub fn metric(genome: &[u32]) -> f64 {
    observe(0, TARGET, genome).metric
}

/// Canonical text of a genome.
pub fn key(genome: &[u32]) -> String {
    space().canonical(genome).unwrap().text.to_string()
}

/// Runs ask/tell for `evaluations` evaluations in batches of `batch`; returns every proposal in
/// order.
pub fn search(opt: &mut dyn Optimizer, evaluations: usize, batch: usize) -> Vec<Vec<u32>> {
    let mut asked = Vec::new();
    while asked.len() < evaluations {
        let n = batch.min(evaluations - asked.len());
        let proposals = opt.ask(n).expect("ask");
        assert!(!proposals.is_empty() && proposals.len() <= n);
        let told: Vec<Observation> = proposals
            .iter()
            .enumerate()
            .map(|(i, p)| observe((asked.len() + i) as u64, TARGET, &p.genome))
            .collect();
        asked.extend(proposals.into_iter().map(|p| p.genome.to_vec()));
        opt.tell(&told).expect("tell");
    }
    asked
}
