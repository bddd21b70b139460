//! `check_similarity` and `check_transfer`: each check shown to catch a broken measure or
//! decorator, and to pass a correct one.

use super::*;

// --- similarity --------------------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum SimFlaw {
    None,
    /// Landmark architectures from the toy space; embeddings from their scores.
    Landmarks,
    BuildFails,
    EmbedFails,
    EmbedCounter,
    EmbedNaN,
    EmbedLength,
    LandmarksFail,
    LandmarksInvalid,
    LandmarksCounter,
    DistanceFails,
    DistanceOffset,
    DistanceAsymmetric,
}

static SIM_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Embeds a task as two numbers from its name (or its landmarks' scores); Euclidean distance.
struct Measure {
    flaw: SimFlaw,
    seed: u64,
}

impl Similarity for Measure {
    fn embed(&mut self, task: &str) -> PluginResult<Vec<f32>> {
        if self.flaw == SimFlaw::EmbedFails {
            return Err(PluginError::io("probe file missing"));
        }
        let h = derive_seed(fnv1a64(task.as_bytes()), self.seed);
        let mut e = vec![(h >> 40) as f32 / (1 << 24) as f32, task.len() as f32];
        match self.flaw {
            SimFlaw::EmbedCounter => e[1] += SIM_COUNTER.fetch_add(1, Ordering::Relaxed) as f32,
            SimFlaw::EmbedNaN => e[0] = f32::NAN,
            SimFlaw::EmbedLength if task.len().is_multiple_of(2) => e.push(1.0),
            _ => {}
        }
        Ok(e)
    }
    fn distance(&self, a: &[f32], b: &[f32]) -> PluginResult<f64> {
        if self.flaw == SimFlaw::DistanceFails {
            return Err(PluginError::other("not implemented"));
        }
        let d: f64 = a
            .iter()
            .zip(b)
            .filter(|(x, y)| x.is_finite() && y.is_finite())
            .map(|(x, y)| f64::from(x - y).powi(2))
            .sum::<f64>()
            .sqrt();
        Ok(match self.flaw {
            SimFlaw::DistanceOffset => d + 0.5,
            SimFlaw::DistanceAsymmetric => d + f64::from((a[0] - b[0]).max(0.0)) * 0.1,
            _ => d,
        })
    }
    fn landmarks(&mut self) -> PluginResult<Vec<Vec<u32>>> {
        match self.flaw {
            SimFlaw::Landmarks => Ok((0..6).map(|i| ToySpace.sample(i).unwrap()).collect()),
            SimFlaw::LandmarksFail => Err(PluginError::io("no space")),
            SimFlaw::LandmarksInvalid => Ok(vec![vec![9, 9, 9, 9, 9]]),
            SimFlaw::LandmarksCounter => {
                let k = SIM_COUNTER.fetch_add(1, Ordering::Relaxed);
                Ok(vec![ToySpace.sample(k).unwrap()])
            }
            _ => Err(PluginError::unsupported("no landmarks")),
        }
    }
    fn embed_scores(&mut self, _task: &str, scores: &[f64]) -> PluginResult<Vec<f32>> {
        Ok(scores.iter().map(|&s| s as f32).collect())
    }
}

fn similarity_report(flaw: SimFlaw) -> Result<Report, Failure> {
    check_similarity(
        |init: &SimilarityInit| {
            if flaw == SimFlaw::BuildFails {
                return Err(PluginError::invalid_params("`k` is 2"));
            }
            Ok(Measure {
                flaw,
                seed: init.seed,
            })
        },
        &space_box(ToySpace),
        &["target", "source-a", "src-b"],
    )
}

fn assert_similarity_caught(flaw: SimFlaw, check: &str, parts: &[&str]) {
    match similarity_report(flaw) {
        Ok(report) => panic!("{flaw:?} passed the kit:\n{report}"),
        Err(f) => assert_caught(flaw, f, check, parts),
    }
}

#[test]
fn a_correct_measure_passes_with_embed_and_with_landmarks() {
    let report = similarity_report(SimFlaw::None).unwrap();
    report.assert_passed(&["build", "embed", "distance"]);
    assert!(report.skipped().iter().any(|(c, _)| *c == "landmarks"));
    let report = similarity_report(SimFlaw::Landmarks).unwrap();
    report.assert_passed(&["build", "landmarks", "embed", "distance"]);
    assert!(
        report.to_string().contains("from landmark scores"),
        "{report}"
    );
}

#[test]
fn similarity_checks() {
    assert_similarity_caught(SimFlaw::BuildFails, "build", &["`k` is 2"]);
    assert_similarity_caught(SimFlaw::EmbedFails, "embed", &["embed(`target`)", "probe"]);
    assert_similarity_caught(SimFlaw::EmbedCounter, "embed/deterministic", &["`target`"]);
    assert_similarity_caught(SimFlaw::EmbedNaN, "embed/finite", &["finite"]);
    assert_similarity_caught(SimFlaw::EmbedLength, "embed/length", &["same"]);
    assert_similarity_caught(SimFlaw::LandmarksFail, "landmarks", &["UNSUPPORTED"]);
    assert_similarity_caught(
        SimFlaw::LandmarksInvalid,
        "landmarks/valid",
        &["[9, 9, 9, 9, 9]"],
    );
    assert_similarity_caught(
        SimFlaw::LandmarksCounter,
        "landmarks/deterministic",
        &["different landmarks"],
    );
    assert_similarity_caught(SimFlaw::DistanceFails, "distance", &["not implemented"]);
    assert_similarity_caught(SimFlaw::DistanceOffset, "distance/zero", &["is 0.5"]);
    assert_similarity_caught(
        SimFlaw::DistanceAsymmetric,
        "distance/symmetric",
        &["other way"],
    );
}

// --- transfer decorators -----------------------------------------------------------------------

#[derive(Clone, Copy, Debug, PartialEq)]
enum DecoFlaw {
    None,
    BuildFails,
    NoHeads,
    /// The wrapped optimizer's asks depend on a process-wide counter.
    Drifts,
}

static DECO_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Gives core's plain heads and passes everything to the inner optimizer.
struct Decorator(DecoFlaw);

struct Wrapped {
    inner: OptimizerBox,
    flaw: DecoFlaw,
}

impl Optimizer for Wrapped {
    fn ask(&mut self, n: usize) -> PluginResult<Vec<Proposal>> {
        // Only the fifth ask of the process: the first run differs from the second.
        if self.flaw == DecoFlaw::Drifts && DECO_COUNTER.fetch_add(1, Ordering::Relaxed) == 4 {
            return self.inner.ask(n.saturating_sub(1).max(1));
        }
        self.inner.ask(n)
    }
    fn tell(&mut self, observations: &[Observation]) -> PluginResult<()> {
        self.inner.tell(observations)
    }
    fn save_state(&self) -> PluginResult<Vec<u8>> {
        self.inner.save_state()
    }
    fn load_state(&mut self, state: &[u8]) -> PluginResult<()> {
        self.inner.load_state(state)
    }
}

impl Transfer for Decorator {
    fn head_factory(&self) -> PluginResult<HeadFactoryBox> {
        if self.0 == DecoFlaw::NoHeads {
            return Err(PluginError::other("no heads today"));
        }
        Ok(head_factory_box(PlainHeadFactory::new(
            PlainHeadConfig::default(),
        )?))
    }
    fn wrap(&mut self, inner: OptimizerBox, _init: &OptimizerInit) -> PluginResult<OptimizerBox> {
        Ok(optimizer_box(Wrapped {
            inner,
            flaw: self.0,
        }))
    }
}

fn inner_info() -> PluginInfo {
    PluginInfo {
        name: "climber".into(),
        kind: PluginKind::OPTIMIZER,
        version: "0".into(),
        description: "".into(),
        capabilities: RVec::from(vec![RString::from(capability::HEADS)]),
    }
}

fn transfer_report(flaw: DecoFlaw) -> Result<Report, Failure> {
    let seen_heads = std::cell::Cell::new(0);
    let report = check_transfer(
        |init: &TransferInit| {
            assert_eq!(init.sources.as_slice(), [RString::from(KIT_SOURCE)]);
            if flaw == DecoFlaw::BuildFails {
                return Err(PluginError::invalid_params("`phase_switch` is -1"));
            }
            Ok(Decorator(flaw))
        },
        &inner_info(),
        |init: &OptimizerInit| {
            // The inner optimizer gets the decorator's heads and the source knowledge.
            assert!(init.heads.is_some());
            assert!(init.history.iter().all(|o| o.task.as_str() == KIT_SOURCE));
            assert_eq!(init.history.len(), 24);
            seen_heads.set(seen_heads.get() + 1);
            Climber::new(init, OptFlaw::None).map(optimizer_box)
        },
        &space_box(ToySpace),
    );
    if report.is_ok() {
        assert!(
            seen_heads.get() > 3,
            "the kit built several decorated optimizers"
        );
    }
    report
}

#[test]
fn a_correct_decorator_passes_every_optimizer_check() {
    let report = transfer_report(DecoFlaw::None).unwrap();
    report.assert_passed(&["transfer", "ask", "tell", "determinism", "state", "seed"]);
    assert!(report.to_string().contains("factory `plain`"), "{report}");
}

#[test]
fn transfer_checks() {
    for (flaw, parts) in [
        (
            DecoFlaw::BuildFails,
            &["transfer/build", "`phase_switch` is -1"][..],
        ),
        (DecoFlaw::NoHeads, &["head_factory()", "no heads today"][..]),
    ] {
        let f = transfer_report(flaw).unwrap_err();
        assert_caught(flaw, f, "build", parts);
    }
    let f = transfer_report(DecoFlaw::Drifts).unwrap_err();
    assert_eq!(f.check(), "determinism", "{f}");
}
