//! The controller's mechanics: re-scoring, masking, determinism, state, failures and parameters.

mod common;

use common::*;
use xnas_core::{
    failed_observation, space_box, ErrorKind, Optimizer, PluginKind, PluginSet, SearchSpace,
};
use xnas_opt_rl_controller::{register, RlController};

/// Re-scoring a sampled sequence (the teacher-forced path PPO trains on) gives the log π it was
/// sampled with, so the first PPO epoch's ratio is 1; later epochs move away from it.
#[test]
fn rescoring_matches_sampling_and_the_first_ppo_ratio_is_one() {
    let space = nasbench_graph(&["cora"]);
    let mut opt = controller(&space, "", 3);
    let proposals = opt.ask(20).unwrap();
    assert_eq!(proposals.len(), 20);
    for p in &proposals {
        let sampled = opt.sampled_log_probs(&p.genome).expect("pending proposal");
        let rescored = opt.log_probs(&p.genome).unwrap();
        assert_eq!(sampled.len(), 5);
        for (a, b) in sampled.iter().zip(&rescored) {
            assert!(a.is_finite() && *a < 0.0, "{sampled:?}");
            assert!(
                (a - b).abs() < 1e-5,
                "sampled {sampled:?} re-scored {rescored:?}"
            );
        }
    }
    let told: Vec<_> = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| observe(&space, "cora", i as u64, &p.genome))
        .collect();
    opt.tell(&told).unwrap();
    let stats = opt.last_update();
    assert_eq!(stats.len(), 4, "ppo_epochs = 4 steps");
    assert!(stats[0].max_ratio_deviation < 1e-5, "{stats:?}");
    assert!(
        stats[3].max_ratio_deviation > 1e-6,
        "the policy moved: {stats:?}"
    );
    assert!(stats.iter().all(|s| s.loss.is_finite() && s.entropy > 0.0));
    // Told proposals are no longer pending.
    assert!(opt.sampled_log_probs(&proposals[0].genome).is_none());
}

/// NASNet cells: node positions of one group have 2..=6 choices, so the head's 6 outputs must be
/// cut to each position's own. Sharp logits (T = 0.3, no tanh) and updates that reward the
/// largest node index make out-of-range choices as tempting as they can be.
#[test]
fn masking_never_samples_an_out_of_range_choice() {
    let cells = NasnetCells { blocks: 5, ops: 5 };
    let choices = cells.choices();
    assert_eq!(choices.len(), 40);
    let space = space_box(cells);
    let text = "temperature = 0.3\ntanh_constant = 0\nlr = 0.01\nhidden = 32";
    let mut opt = RlController::new(params(text), &init(&space, "t", 1)).unwrap();
    let mut texts = std::collections::HashSet::new();
    for round in 0..6 {
        let proposals = opt.ask(40).unwrap();
        assert_eq!(proposals.len(), 40);
        let mut told = Vec::new();
        for (i, p) in proposals.iter().enumerate() {
            assert_eq!(p.genome.len(), 40);
            for (pos, (&g, &c)) in p.genome.iter().zip(&choices).enumerate() {
                assert!(g < c, "position {pos} took {g} of {c} choices");
            }
            assert!(texts.insert(space.canonical(&p.genome).unwrap().text.to_string()));
            told.push(observe(&space, "t", (round * 40 + i) as u64, &p.genome));
        }
        opt.tell(&told).unwrap();
    }
    assert_eq!(opt.uniform_proposals(), 0);
}

#[test]
fn the_same_seed_gives_the_same_proposals() {
    let space = nasbench_graph(&["cora"]);
    let run = |seed| {
        let mut opt = controller(&space, "lr = 0.003", seed);
        search(&mut opt, &space, "cora", 48, 8)
            .into_iter()
            .map(|o| o.genome.to_vec())
            .collect::<Vec<_>>()
    };
    let a = run(5);
    assert_eq!(a, run(5));
    assert_ne!(a, run(6));
    // Never the same architecture twice.
    let distinct: std::collections::HashSet<_> = a.iter().collect();
    assert_eq!(distinct.len(), a.len());
}

/// A restored instance proposes exactly what the original would, also when the state was saved
/// with proposals still pending (their log π and the seen set travel with it).
#[test]
fn a_restored_controller_proposes_what_the_original_would() {
    let space = nasbench_graph(&["cora"]);
    let text = "lr = 0.003";
    let mut a = controller(&space, text, 9);
    search(&mut a, &space, "cora", 24, 8);

    let state = a.save_state().unwrap();
    let mut fresh = controller(&space, text, 9);
    let mut b = controller(&space, text, 9);
    b.load_state(&state).unwrap();
    let next = a.ask(8).unwrap();
    assert_eq!(next, b.ask(8).unwrap());
    assert_ne!(
        next,
        fresh.ask(8).unwrap(),
        "the state carries the training"
    );

    // Saved with `next` pending, then both told the same results.
    let pending_state = a.save_state().unwrap();
    let mut c = controller(&space, text, 9);
    c.load_state(&pending_state).unwrap();
    let told: Vec<_> = next
        .iter()
        .enumerate()
        .map(|(i, p)| observe(&space, "cora", 24 + i as u64, &p.genome))
        .collect();
    for opt in [&mut a, &mut b, &mut c] {
        opt.tell(&told).unwrap();
    }
    let after = a.ask(8).unwrap();
    assert_eq!(after, b.ask(8).unwrap());
    assert_eq!(after, c.ask(8).unwrap());
    assert_eq!(a.save_state().unwrap(), c.save_state().unwrap());
}

#[test]
fn a_foreign_or_damaged_state_is_refused() {
    let space = nasbench_graph(&["cora"]);
    let mut opt = controller(&space, "", 1);
    let e = opt.load_state(b"not a state").unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA);
    assert!(
        e.message()
            .contains("rl-controller state: not a saved xnas state"),
        "{e}"
    );
    let old = xnas_core::state::encode("rl-controller", 1, &0u8).unwrap();
    let e = opt.load_state(&old).unwrap_err();
    assert!(e.message().contains("format 1 by an older version"), "{e}");
    assert!(e.message().contains("reads formats 2 and 3"), "{e}");
    let newer = xnas_core::state::encode("rl-controller", 4, &0u8).unwrap();
    let e = opt.load_state(&newer).unwrap_err();
    assert!(e.message().contains("format 4 by a newer version"), "{e}");
    let foreign = xnas_core::state::encode("nao", 2, &0u8).unwrap();
    let e = opt.load_state(&foreign).unwrap_err();
    assert!(e.message().contains("state of `nao`"), "{e}");

    let state = opt.save_state().unwrap();
    let e = opt.load_state(&state[..state.len() - 10]).unwrap_err();
    assert_eq!(e.kind, ErrorKind::DATA, "{e}");

    let cells = space_box(NasnetCells { blocks: 2, ops: 3 });
    let other = RlController::new(params(""), &init(&cells, "t", 1)).unwrap();
    let e = opt.load_state(&other.save_state().unwrap()).unwrap_err();
    assert!(
        e.message().contains("saved for a space with decisions"),
        "{e}"
    );

    let wider = controller(&space, "hidden = 20", 1);
    let e = opt.load_state(&wider.save_state().unwrap()).unwrap_err();
    assert!(e.message().contains("has shape"), "{e}");
    // The refused loads changed nothing.
    assert_eq!(opt.save_state().unwrap(), state);
}

/// Failed trials (NaN metric) and architectures the controller did not propose are learnt from.
#[test]
fn failed_and_foreign_observations_are_accepted() {
    let space = nasbench_graph(&["cora"]);
    let mut opt = controller(&space, "", 2);
    let proposals = opt.ask(4).unwrap();
    let mut told: Vec<_> = proposals
        .iter()
        .enumerate()
        .map(|(i, p)| observe(&space, "cora", i as u64, &p.genome))
        .collect();
    told[1] = failed_observation(1, "cora", told[1].genome.to_vec());
    let foreign = space.sample(77).unwrap();
    told.push(observe(&space, "cora", 4, &foreign));
    // Another task's observation is ignored.
    told.push(observe(&space, "cora", 5, &foreign));
    told[5].task = "citeseer".into();
    opt.tell(&told).unwrap();
    assert_eq!(opt.last_update().len(), 4);
    assert!(opt.last_update()[0].max_ratio_deviation < 1e-5);
    // The foreign architecture counts as seen.
    let next = opt.ask(30).unwrap();
    let key = |g: &[u32]| space.canonical(g).unwrap().text.to_string();
    assert!(next.iter().all(|p| key(&p.genome) != key(&foreign)));
}

#[test]
fn bad_parameters_name_the_key() {
    let set = PluginSet::from_register(register);
    let check = |text: &str| {
        set.check_params(PluginKind::OPTIMIZER, "rl-controller", text)
            .into_result()
    };
    check("").unwrap();
    check(
        "hidden = 64\ntemperature = 4.0\ntanh_constant = 0\nalgorithm = \"reinforce\"\n\
         ratio = \"per-decision\"\nclip_epsilon = 0.1\nppo_epochs = 2\nlr = 1e-3\ngrad_clip = 0\n\
         entropy_weight = 1e-4\nbaseline_decay = 0.9\nreward = \"cube\"\npretrain_epochs = 3\n\
         pretrain_batch = 8\npretrain_top = 0.2\nsource_phase = \"likeliest\"\nreplay = 4\nself_imitation = 5\nself_imitation_weight = 0.3\nresample = 3\nhead_hidden = [16]\ndevice = \"cpu\"\nthreads = 2\n\
         [head]\nlr = 0.01\nweight_decay = 1e-4\ndropout = 0.1\nzero_last_layer = true\n",
    )
    .unwrap();
    for (text, key) in [
        ("hiden = 3", "hiden"),
        ("ppo_epochs = 0", "ppo_epochs"),
        ("algorithm = \"a2c\"", "a2c"),
        ("ratio = \"per_decision\"", "per_decision"),
        ("reward = \"square\"", "square"),
        ("temperature = 0", "temperature"),
        ("tanh_constant = -1", "tanh_constant"),
        ("clip_epsilon = 1.5", "clip_epsilon"),
        ("baseline_decay = 1", "baseline_decay"),
        ("lr = \"fast\"", "lr"),
        ("device = \"gpu\"", "device"),
        ("head_hidden = [0]", "head_hidden"),
        ("pretrain_top = 0", "pretrain_top"),
        ("pretrain_top = 1.5", "pretrain_top"),
        ("source_phase = \"best\"", "best"),
        ("self_imitation = -1", "self_imitation"),
        ("self_imitation_weight = -0.1", "self_imitation_weight"),
        ("[head]\nlrr = 0.1", "lrr"),
        ("head = { lr = -1.0 }", "head.lr"),
        ("head = { dropout = 1.0 }", "head.dropout"),
        ("hidden = 8\nlr = -1.0", "`lr` is -1"),
    ] {
        let e = check(text).unwrap_err();
        assert_eq!(e.kind, ErrorKind::INVALID_PARAMS, "{text}: {e}");
        assert!(e.message().contains(key), "{text}: {e}");
    }
    let info = set.infos().into_iter().next().unwrap();
    assert_eq!(info.name.as_str(), "rl-controller");
    for c in ["ask-tell", "heads", "state", "uses-history"] {
        assert!(info.has(c), "capability {c}");
    }
}

/// The per-decision ratio and the cubed reward take the same path: ratio 1 on the first epoch,
/// then a moving policy.
#[test]
fn per_decision_ratio_with_cubed_rewards() {
    let space = nasbench_graph(&["cora"]);
    let mut opt = controller(
        &space,
        "ratio = \"per-decision\"\nreward = \"cube\"\nlr = 0.01",
        4,
    );
    search(&mut opt, &space, "cora", 16, 8);
    let stats = opt.last_update();
    assert_eq!(stats.len(), 4);
    assert!(stats[0].max_ratio_deviation < 1e-5, "{stats:?}");
    assert!(stats[3].max_ratio_deviation > 1e-4, "{stats:?}");
}

/// One REINFORCE step moves every controller parameter (the logit gradients reach the LSTM and
/// the embedding through the heads' feature gradients) and the heads.
#[test]
fn a_step_trains_the_lstm_the_embedding_and_the_heads() {
    use xnas_core::{head_factory_box, SplitMix64};
    use xnas_opt_rl_controller::policy::{Policy, Row};
    use xnas_tch::PlainHeadFactory;

    let space = space_box(NasnetCells { blocks: 2, ops: 3 });
    let p = params("hidden = 8\nlr = 0.01");
    let factory = head_factory_box(PlainHeadFactory::new(p.head.clone(), p.device));
    let mut policy =
        Policy::new(&space.describe().unwrap(), &p, &factory, &["t".into()], 1).unwrap();
    assert_eq!(policy.head_names(), ["logits.node", "logits.op"]);
    let snapshot = |policy: &Policy| -> Vec<(String, Vec<f32>)> {
        policy
            .named_tensors()
            .unwrap()
            .into_iter()
            .filter(|(n, _)| n.starts_with("param."))
            .map(|(n, t)| (n, Vec::<f32>::try_from(t.flatten(0, -1)).unwrap()))
            .collect()
    };
    let before = snapshot(&policy);
    let heads_before = policy.save_heads().unwrap();
    let sampled = policy.sample(4, 0, &mut SplitMix64::new(2)).unwrap();
    let rows: Vec<Row> = sampled
        .iter()
        .zip([1.0, -1.0, 0.5, -0.5])
        .map(|(s, advantage)| Row {
            genome: s.genome.clone(),
            task: 0,
            advantage,
            weight: 0.25,
            old_logp: None,
        })
        .collect();
    let stats = policy.step(&rows).unwrap();
    assert!(stats.grad_norm > 0.0, "{stats:?}");
    let after = snapshot(&policy);
    assert_eq!(
        before.iter().map(|(n, _)| n.as_str()).collect::<Vec<_>>(),
        [
            "param.embedding",
            "param.lstm.b_hh",
            "param.lstm.b_ih",
            "param.lstm.w_hh",
            "param.lstm.w_ih"
        ]
    );
    for ((name, a), (_, b)) in before.iter().zip(&after) {
        assert_ne!(a, b, "{name} did not move");
    }
    for ((name, a), (_, b)) in heads_before.iter().zip(&policy.save_heads().unwrap()) {
        assert_ne!(a, b, "head {name} did not move");
    }
}
