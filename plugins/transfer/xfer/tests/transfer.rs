//! The `xfer` decorator through its plugin set, as the host creates it: refusal of optimizers
//! without heads, the plan from its parameters, the leakage check, and forwarding to the inner
//! optimizer (the real `random`, on the real `tabular` space over the NAS-Bench-Graph subset).

use std::path::Path;
use xnas_core::abi_stable::std_types::{RNone, RVec};
use xnas_core::{
    capability, parse_params, ErrorKind, Head, HeadFactory, Normalise, Observation, Optimizer,
    OptimizerBox, OptimizerInit, PluginInfo, PluginKind, PluginSet, SpaceBox, SpaceInit, Transfer,
    TransferBox, TransferInit, TrialStatus,
};
use xnas_space_tabular::{TabularParams, TabularSpace};
use xnas_xfer_xfer::params::POLICY_RESIDUAL_LR_FACTOR;
use xnas_xfer_xfer::XferParams;

const TARGET: &str = "cora";
const SOURCES: [&str; 2] = ["citeseer", "pubmed"];

fn info(name: &str, capabilities: &[&str]) -> PluginInfo {
    PluginInfo {
        name: name.into(),
        kind: PluginKind::OPTIMIZER,
        version: "0.1.0".into(),
        description: "".into(),
        capabilities: capabilities.iter().map(|&c| c.into()).collect(),
    }
}

/// What the host lists for a heads-taking optimizer (nao and rl-controller declare these).
fn heads_info() -> PluginInfo {
    info("nao", &[capability::ASK_TELL, capability::HEADS])
}

fn transfer_init(inner: PluginInfo) -> TransferInit {
    TransferInit {
        inner,
        target: TARGET.into(),
        sources: SOURCES.iter().map(|&s| s.into()).collect(),
        seed: 3,
    }
}

fn create(params: &str, inner: PluginInfo) -> Result<TransferBox, xnas_core::PluginError> {
    PluginSet::from_register(xnas_xfer_xfer::register)
        .create_transfer("xfer", params, &transfer_init(inner))
        .into_result()
}

fn space() -> SpaceBox {
    let table =
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../../examples/tabular/nbg-subset.csv");
    let ops = r#"["gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip"]"#;
    let links = r#"["l0", "l1", "l2", "l3", "l4", "l5", "l6", "l7", "l8"]"#;
    let params: TabularParams = parse_params(&format!(
        "table = {:?}\nchoices = [9, 9, 9, 9, 9]\nlabels = [{links}, {ops}, {ops}, {ops}, {ops}]",
        table.display().to_string()
    ))
    .unwrap();
    let init = SpaceInit {
        tasks: std::iter::once(TARGET)
            .chain(SOURCES)
            .map(|t| t.into())
            .collect(),
        base_dir: "".into(),
        data_dir: "".into(),
    };
    xnas_core::space_box(TabularSpace::new(params, &init).unwrap())
}

fn observation(trial_id: u64, task: &str, metric: f64) -> Observation {
    Observation {
        trial_id,
        task: task.into(),
        genome: RVec::from(vec![0, 1, 1, 1, 1]),
        metric,
        test_metric: RNone,
        cost_seconds: 0.0,
        budget: RNone,
        curve: RVec::new(),
        status: if metric.is_finite() {
            TrialStatus::OK
        } else {
            TrialStatus::FAILED
        },
    }
}

fn optimizer_init(history: Vec<Observation>) -> OptimizerInit {
    OptimizerInit {
        space: space(),
        target: TARGET.into(),
        sources: SOURCES.iter().map(|&s| s.into()).collect(),
        history: history.into(),
        seed: 42,
        heads: RNone,
        base_dir: "".into(),
    }
}

fn random(init: &OptimizerInit) -> OptimizerBox {
    PluginSet::from_register(xnas_opt_random::register)
        .create_optimizer("random", "", init)
        .into_result()
        .unwrap()
}

#[test]
fn registers_one_transfer_plugin() {
    let infos = PluginSet::from_register(xnas_xfer_xfer::register).infos();
    assert_eq!(infos.len(), 1);
    assert_eq!(infos[0].name.as_str(), "xfer");
    assert_eq!(infos[0].kind, PluginKind::TRANSFER);
}

#[test]
fn refuses_an_optimizer_without_heads() {
    let random_info = PluginSet::from_register(xnas_opt_random::register).infos()[0].clone();
    let e = create("", random_info).err().unwrap();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert_eq!(
        e.message(),
        "xfer decorates optimizers that take heads (capability `heads`); `random` does not — wrap `nao` or `rl-controller`"
    );
    assert!(create("", heads_info()).is_ok());
}

#[test]
fn plan_and_factory_carry_the_params() {
    let t = create(
        "phase_switch = 3\nnormalise = \"rank\"\nresidual_hidden = [8]\ntarget_share = 0.25",
        heads_info(),
    )
    .unwrap();
    let factory = t.head_factory().unwrap();
    let plan = factory.plan();
    assert_eq!(
        (plan.phase_switch, plan.normalise, plan.target_share),
        (3, Normalise::RANK, 0.25)
    );
    assert!(factory.uses_all_tasks());
    assert_eq!(factory.describe(), "xfer: universal + 3 residuals");

    let defaults = create("", heads_info()).unwrap().head_factory().unwrap();
    assert_eq!(defaults.plan().phase_switch, 10);
    assert_eq!(defaults.plan().normalise, Normalise::MIN_MAX);
    assert_eq!(defaults.plan().target_share, 0.8);

    // Parameters are checked (and errors name the key) before anything is built.
    let set = PluginSet::from_register(xnas_xfer_xfer::register);
    let e = set
        .check_params(PluginKind::TRANSFER, "xfer", "normalise = \"zscore\"")
        .into_result()
        .unwrap_err();
    assert_eq!(e.kind, ErrorKind::INVALID_PARAMS);
    assert!(e.message().contains("`normalise`"), "{e}");
    assert!(e.message().contains("`minmax`"), "{e}");
}

#[test]
fn unset_residual_lr_follows_the_wrapped_optimizers_kind() {
    let surrogate = info("nao", &[capability::HEADS, capability::PREDICT]);
    let policy = info("rl-controller", &[capability::HEADS]);
    let p: XferParams = parse_params("lr = 0.002").unwrap();
    assert_eq!(p.clone().for_inner(&surrogate).residual_lr, Some(0.002));
    assert_eq!(
        p.for_inner(&policy).residual_lr,
        Some(0.002 * POLICY_RESIDUAL_LR_FACTOR)
    );
    // A value set in the config is kept for either kind.
    let p: XferParams = parse_params("residual_lr = 0.005").unwrap();
    assert_eq!(p.clone().for_inner(&policy).residual_lr, Some(0.005));
    assert_eq!(p.for_inner(&surrogate).residual_lr, Some(0.005));
}

/// How far one training step on the target's row moves the target's output of a head made by
/// xfer wrapping `inner` (xfer's `lr` is 1e-3 for the universal part throughout).
fn target_output_shift(params: &str, inner: PluginInfo) -> f32 {
    let factory = create(params, inner).unwrap().head_factory().unwrap();
    let spec = xnas_core::HeadSpec {
        name: "logits.op".into(),
        in_features: 4,
        out_features: 3,
        hidden: RVec::new(),
        tasks: std::iter::once(TARGET)
            .chain(SOURCES)
            .map(|t| t.into())
            .collect(),
        seed: 7,
    };
    let mut head = factory.make_head(&spec).unwrap();
    let features = xnas_core::Matrix::new(2, 4, vec![0.5, -0.2, 0.1, 0.3, -0.4, 0.2, 0.6, -0.1]);
    let tasks = [0u32, 0];
    let before = head.forward(&features, &tasks, true).unwrap();
    head.backward(&xnas_core::Matrix::new(2, 3, vec![1.0; 6]))
        .unwrap();
    head.step().unwrap();
    let after = head.forward(&features, &tasks, false).unwrap();
    before
        .data
        .iter()
        .zip(after.data.iter())
        .map(|(a, b)| (a - b).abs())
        .fold(0.0, f32::max)
}

/// An unset `residual_lr` is `lr` under a surrogate (`predict`) and 100·`lr` under a policy, whose
/// heads take a few steps per told batch; a value set in the config holds for either.
#[test]
fn the_residual_learns_faster_under_a_policy_unless_set() {
    let surrogate = || info("nao", &[capability::HEADS, capability::PREDICT]);
    let policy = || info("rl-controller", &[capability::HEADS]);
    let (s, p) = (
        target_output_shift("", surrogate()),
        target_output_shift("", policy()),
    );
    assert!(p > 10.0 * s, "policy {p}, surrogate {s}");
    let (s, p) = (
        target_output_shift("residual_lr = 0.001", surrogate()),
        target_output_shift("residual_lr = 0.001", policy()),
    );
    assert!((p - s).abs() <= 1e-6, "policy {p}, surrogate {s}");
}

#[test]
fn target_observations_in_the_source_knowledge_are_refused() {
    let mut t = create("", heads_info()).unwrap();
    let mut history = vec![
        observation(0, "citeseer", 0.6),
        observation(1, TARGET, 0.7),
        observation(2, "pubmed", 0.8),
        observation(3, TARGET, f64::NAN),
    ];
    let init = optimizer_init(history.clone());
    let e = t.wrap(random(&init), &init).err().unwrap();
    assert_eq!(e.kind, ErrorKind::DATA);
    assert!(
        e.message().starts_with(
            "xfer: the source knowledge holds 2 observations of the target task `cora` (trial ids 1, 3);"
        ),
        "{e}"
    );
    // Many offenders: the first ten ids and a count.
    history.extend((10..25).map(|i| observation(i, TARGET, 0.5)));
    let e = xnas_xfer_xfer::check_no_leak(&optimizer_init(history)).unwrap_err();
    assert!(
        e.message()
            .contains("(trial ids 1, 3, 10, 11, 12, 13, 14, 15, 16, 17, and 7 more)"),
        "{e}"
    );
    // Sources only (or nothing at all) is fine.
    let clean = optimizer_init(vec![observation(0, "citeseer", 0.6)]);
    assert!(xnas_xfer_xfer::check_no_leak(&clean).is_ok());
    let init = optimizer_init(Vec::new());
    assert!(t.wrap(random(&init), &init).is_ok());
}

#[test]
fn the_decorated_optimizer_forwards_to_the_inner_one() {
    let history = vec![
        observation(0, "citeseer", 0.6),
        observation(1, "pubmed", 0.8),
    ];
    let init = optimizer_init(history);
    let mut t = create("phase_switch = 2", heads_info()).unwrap();
    let mut decorated = t.wrap(random(&init), &init).unwrap();
    let mut plain = random(&init);
    for round in 0..3u64 {
        let asked = decorated.ask(4).unwrap();
        assert_eq!(asked, plain.ask(4).unwrap(), "round {round}");
        let told: Vec<Observation> = asked
            .iter()
            .enumerate()
            .map(|(i, p)| {
                let mut o = observation(10 + 4 * round + i as u64, TARGET, 0.5);
                o.genome = p.genome.clone();
                o
            })
            .collect();
        decorated.tell(&told).unwrap();
        plain.tell(&told).unwrap();
    }
    // State is the inner optimizer's: random has none, and says so through the decorator.
    let e = decorated.save_state().unwrap_err();
    assert_eq!(e.kind, ErrorKind::UNSUPPORTED, "{e}");
    let e = decorated.load_state(b"something else").unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA, "{e}");
    assert!(
        e.message().contains("xfer state: not a saved xnas state"),
        "{e}"
    );
    let e = decorated
        .load_state(&xnas_core::state::encode("xfer", 1, &0u8).unwrap())
        .unwrap_err();
    assert!(e.message().contains("format 1 by an older"), "{e}");
}

#[test]
fn phase_switch_counts_target_successes_only() {
    let init = optimizer_init(vec![observation(0, "citeseer", 0.6)]);
    let t = xnas_xfer_xfer::Xfer::new(
        parse_params("phase_switch = 2").unwrap(),
        &transfer_init(heads_info()),
    )
    .unwrap();
    let mut d = t.decorate(random(&init), &init).unwrap();
    d.tell(&[
        observation(5, TARGET, f64::NAN),
        observation(6, "citeseer", 0.9),
    ])
    .unwrap();
    assert_eq!(d.target_successes(), 0);
    assert!(!d.in_phase_two());
    d.tell(&[observation(7, TARGET, 0.4)]).unwrap();
    assert!(!d.in_phase_two());
    d.tell(&[observation(8, TARGET, 0.6)]).unwrap();
    assert_eq!(d.target_successes(), 2);
    assert!(d.in_phase_two());
}
