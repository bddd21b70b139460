//! Plain versus decorated mode. A decorating factory is a transfer plugin's; here a small one that
//! hands out the real plain heads but says "train on all tasks" and carries a phase switch, and
//! records what the optimizer asked of it and fed its head, so the wiring can be checked.

mod common;

use common::*;
use std::sync::{Arc, Mutex};
use xnas_core::{
    head_box, head_factory_box, Head, HeadBox, HeadFactory, HeadSpec, Matrix, Normalise,
    Observation, Optimizer, PluginResult, TransferPlan,
};
use xnas_opt_nao::Nao;
use xnas_tch::tch::Device;
use xnas_tch::{HeadConfig, PlainHeadFactory};

#[derive(Default)]
struct Log {
    specs: Vec<HeadSpec>,
    /// Task indices of every forward pass with `train = true`, and of every other one.
    train_tasks: Vec<u32>,
    eval_tasks: Vec<u32>,
}

#[derive(Clone)]
struct AllTasks {
    inner: PlainHeadFactory,
    phase_switch: u32,
    target_share: f64,
    log: Arc<Mutex<Log>>,
}

struct Recording {
    inner: HeadBox,
    log: Arc<Mutex<Log>>,
}

impl Head for Recording {
    fn forward(&mut self, features: &Matrix, tasks: &[u32], train: bool) -> PluginResult<Matrix> {
        let mut log = self.log.lock().unwrap();
        if train {
            log.train_tasks.extend_from_slice(tasks);
        } else {
            log.eval_tasks.extend_from_slice(tasks);
        }
        self.inner.forward(features, tasks, train)
    }
    fn backward(&mut self, grad_output: &Matrix) -> PluginResult<Matrix> {
        self.inner.backward(grad_output)
    }
    fn step(&mut self) -> PluginResult<()> {
        self.inner.step()
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        self.inner.save_state()
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        self.inner.load_state(state)
    }
}

impl HeadFactory for AllTasks {
    fn describe(&self) -> String {
        "all tasks (test)".into()
    }
    fn uses_all_tasks(&self) -> bool {
        true
    }
    fn make_head(&self, spec: &HeadSpec) -> PluginResult<HeadBox> {
        self.log.lock().unwrap().specs.push(spec.clone());
        Ok(head_box(Recording {
            inner: self.inner.make_head(spec)?,
            log: Arc::clone(&self.log),
        }))
    }
    fn plan(&self) -> TransferPlan {
        TransferPlan {
            phase_switch: self.phase_switch,
            normalise: Normalise::RANK,
            target_share: self.target_share,
            ..TransferPlan::plain()
        }
    }
}

/// 30 architectures evaluated on each source task.
fn history() -> Vec<Observation> {
    let mut out = Vec::new();
    for (t, task) in SOURCES.iter().enumerate() {
        for (i, g) in distinct_samples(30, 100 + t as u64).iter().enumerate() {
            out.push(observe((t * 100 + i) as u64, task, g));
        }
    }
    out
}

const FAST: &str = "epochs_first = 20\nepochs = 10\n";

fn tell_target(opt: &mut Nao, proposals: &[xnas_core::Proposal], first_id: u64) {
    let told: Vec<_> = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| observe(first_id + i as u64, TARGET, &p.genome))
        .collect();
    opt.tell(&told).unwrap();
}

#[test]
fn decorated_trains_on_every_task_and_starts_from_sources() {
    let log = Arc::new(Mutex::new(Log::default()));
    let factory = AllTasks {
        inner: PlainHeadFactory::new(HeadConfig::default(), Device::Cpu),
        phase_switch: 5,
        target_share: 0.0,
        log: Arc::clone(&log),
    };
    let init = decorated_init(3, head_factory_box(factory), history());
    let mut opt = Nao::new(xnas_core::parse_params(FAST).unwrap(), &init).unwrap();
    assert!(opt.is_decorated());
    {
        let log = log.lock().unwrap();
        assert_eq!(log.specs.len(), 1);
        let spec = &log.specs[0];
        assert_eq!(spec.name.as_str(), "predictor");
        assert_eq!((spec.in_features, spec.out_features), (96, 1));
        let tasks: Vec<&str> = spec.tasks.iter().map(|t| t.as_str()).collect();
        assert_eq!(tasks, [TARGET, SOURCES[0], SOURCES[1]]);
    }

    // Phase 1: no random start; trained on the 60 source observations, ascent from them.
    let first = opt.ask(5).unwrap();
    assert_eq!(first.len(), 5);
    let report = opt.last_ask().expect("gradient ascent, not random").clone();
    assert!(report.from_sources, "{report:?}");
    assert_eq!(opt.last_train().unwrap().rows, 60);
    {
        let mut log = log.lock().unwrap();
        assert!(log.train_tasks.contains(&1) && log.train_tasks.contains(&2));
        assert!(!log.train_tasks.contains(&0), "no target data yet");
        // The ascent predicts for the target.
        assert!(log.eval_tasks.iter().all(|&t| t == 0) && !log.eval_tasks.is_empty());
        log.train_tasks.clear();
    }

    // Five target successes reach the phase switch: start points come from the target.
    tell_target(&mut opt, &first, 1000);
    let second = opt.ask(5).unwrap();
    assert_eq!(second.len(), 5);
    assert!(!opt.last_ask().unwrap().from_sources);
    assert_eq!(opt.last_train().unwrap().rows, 65);
    assert!(log.lock().unwrap().train_tasks.contains(&0));
}

#[test]
fn plain_mode_ignores_history() {
    let mut init = init(3);
    init.sources = SOURCES.iter().map(|&s| s.into()).collect();
    init.history = history().into();
    let mut opt = Nao::new(xnas_core::parse_params(FAST).unwrap(), &init).unwrap();
    assert!(!opt.is_decorated());
    // Random until the target has `initial_random` (10) observations.
    let first = opt.ask(10).unwrap();
    assert!(opt.last_ask().is_none() && opt.last_train().is_none());
    tell_target(&mut opt, &first, 0);
    opt.ask(4).unwrap();
    assert!(opt.last_ask().is_some());
    assert_eq!(
        opt.last_train().unwrap().rows,
        10,
        "target observations only"
    );
    // Source observations told later are ignored as well.
    let source = observe(500, SOURCES[0], &first[0].genome);
    opt.tell(&[source]).unwrap();
    assert_eq!(opt.target_observations(), 10);
    assert!(
        !opt.train_if_needed().unwrap(),
        "nothing new for the target"
    );
}

/// `TransferPlan::target_share`: a target whose metric runs against its sources' is learnt when
/// its 15 rows carry half the prediction loss, and drowned by the 200 source rows when every row
/// weighs the same. One head is shared by all tasks here, so the rows compete directly.
#[test]
fn target_share_lets_a_few_target_rows_outweigh_many_source_rows() {
    let mut history = Vec::new();
    for (t, task) in SOURCES.iter().enumerate() {
        for (i, g) in distinct_samples(100, 200 + t as u64).iter().enumerate() {
            history.push(observe((t * 1000 + i) as u64, task, g));
        }
    }
    let target: Vec<Observation> = distinct_samples(15, 7)
        .iter()
        .enumerate()
        .map(|(i, g)| {
            let mut o = observe(5000 + i as u64, TARGET, g);
            o.metric = -o.metric; // the opposite of what the sources teach
            o
        })
        .collect();
    let genomes: Vec<Vec<u32>> = target.iter().map(|o| o.genome.to_vec()).collect();
    let truth: Vec<f64> = target.iter().map(|o| o.metric).collect();
    let fit = |share: f64| {
        let factory = AllTasks {
            inner: PlainHeadFactory::new(HeadConfig::default(), Device::Cpu),
            phase_switch: 0,
            target_share: share,
            log: Arc::default(),
        };
        let init = decorated_init(5, head_factory_box(factory), history.clone());
        let mut opt = Nao::new(xnas_core::parse_params(FAST).unwrap(), &init).unwrap();
        opt.tell(&target).unwrap();
        assert!(opt.train_if_needed().unwrap());
        assert_eq!(opt.last_train().unwrap().rows, 215);
        let predicted: Vec<f64> = opt
            .predict(&genomes)
            .unwrap()
            .into_iter()
            .map(f64::from)
            .collect();
        xnas_core::rank::spearman(&predicted, &truth)
    };
    let (even, half) = (fit(0.0), fit(0.5));
    assert!(
        half > 0.3 && half > even + 0.5,
        "Spearman on the target's rows: {half:.3} with target_share 0.5, {even:.3} with 0"
    );
}

/// `candidates` chooses by the model's rating only once the start points are the target's: from
/// source start points (phase 1) the proposals are the ascent's first `n`, exactly what
/// `candidates = 0` proposes, and after the phase switch the ascent gathers `candidates` (and
/// `sampled_candidates` random ones and `mutated_candidates` mutations join them only then).
#[test]
fn candidates_choose_only_from_target_start_points() {
    let run = |candidates: usize| {
        let factory = AllTasks {
            inner: PlainHeadFactory::new(HeadConfig::default(), Device::Cpu),
            phase_switch: 5,
            target_share: 0.8,
            log: Arc::default(),
        };
        let init = decorated_init(3, head_factory_box(factory), history());
        let params = format!(
            "epochs_first = 100\nepochs = 50\ncandidates = {candidates}\nsampled_candidates = 20\n\
             mutated_candidates = 15\n"
        );
        let mut opt = Nao::new(xnas_core::parse_params(&params).unwrap(), &init).unwrap();
        let first = opt.ask(5).unwrap();
        let phase1 = opt.last_ask().unwrap().clone();
        assert!(phase1.from_sources);
        assert_eq!(
            (
                phase1.gathered,
                phase1.sampled,
                phase1.mutated,
                phase1.ascended
            ),
            (5, 0, 0, 5),
            "{phase1:?}"
        );
        tell_target(&mut opt, &first, 1000);
        opt.ask(5).unwrap();
        let phase2 = opt.last_ask().unwrap().clone();
        assert!(!phase2.from_sources);
        assert_eq!(
            (phase2.gathered, phase2.sampled, phase2.mutated),
            (candidates.max(5), 20, 15),
            "{phase2:?}"
        );
        first.into_iter().map(|p| p.genome).collect::<Vec<_>>()
    };
    assert_eq!(
        run(30),
        run(0),
        "phase 1 proposes the same with or without candidates"
    );
}
