//! [`check_transfer`]: a transfer decorator driven as the host drives it (`host/src/run/`): the
//! decorator is created for the target and its sources, the inner optimizer is built with the
//! decorator's head factory and source knowledge, the decorator wraps it, and the wrapped
//! optimizer then runs the whole ask/tell protocol of [`crate::check_optimizer`].

use super::optimizer::{check_optimizer_with, observation, OptimizerOptions};
use super::{err_text, guarded, Failure, Report};
use abi_stable::std_types::{RNone, RSome, RVec};
use xnas_core::{
    derive_seed, HeadFactory, Observation, OptimizerBox, OptimizerInit, PluginError, PluginInfo,
    PluginResult, SearchSpace, SpaceBox, Transfer, TransferInit,
};

/// The source task of the source knowledge the kit gives.
pub const KIT_SOURCE: &str = "testkit-source";
/// Sampled architectures observed on the source.
const SOURCE_OBSERVATIONS: u64 = 24;
const SOURCE_TAG: u64 = 0x50;

/// Source knowledge for `space`: `SOURCE_OBSERVATIONS` sampled architectures observed on
/// [`KIT_SOURCE`], scored with [`crate::synthetic_outcome`] of the source's name and the
/// architecture's text (failed ones included).
fn source_history(space: &SpaceBox, seed: u64) -> PluginResult<Vec<Observation>> {
    (0..SOURCE_OBSERVATIONS)
        .map(|i| {
            let g = space.sample(derive_seed(derive_seed(seed, SOURCE_TAG), i))?;
            let mut arch = space.canonical(&g)?;
            let text = arch.text.clone();
            arch.text = format!("{KIT_SOURCE}/{text}").into();
            let mut o = observation(KIT_SOURCE, 1_000_000 + i, &arch, RNone);
            o.genome = arch.genome.clone();
            Ok(o)
        })
        .collect()
}

/// Checks a transfer decorator around an inner optimizer listed as `inner` (its name and
/// capabilities, as the host passes them), with the default [`OptimizerOptions`]. `make_transfer`
/// builds the decorator from a [`TransferInit`]; `make_inner` builds the inner optimizer from
/// the [`OptimizerInit`] it is given, which carries the decorator's head factory and source
/// knowledge (24 sampled architectures on [`KIT_SOURCE`]).
///
/// The checks, each named in a [`Failure`]: `transfer/build` (the decorator is created and
/// gives a head factory), `transfer/wrap` (it wraps the inner optimizer), then every check of
/// [`crate::check_optimizer`] on the wrapped optimizer: the same seed gives the same search,
/// a saved state continues identically (where the inner optimizer saves state), and so on.
pub fn check_transfer<T, FT, FI>(
    make_transfer: FT,
    inner: &PluginInfo,
    make_inner: FI,
    space: &SpaceBox,
) -> Result<Report, Failure>
where
    T: Transfer,
    FT: FnMut(&TransferInit) -> PluginResult<T>,
    FI: FnMut(&OptimizerInit) -> PluginResult<OptimizerBox>,
{
    check_transfer_with(
        make_transfer,
        inner,
        make_inner,
        space,
        &OptimizerOptions::default(),
    )
}

/// [`check_transfer`] with explicit options.
pub fn check_transfer_with<T, FT, FI>(
    mut make_transfer: FT,
    inner: &PluginInfo,
    mut make_inner: FI,
    space: &SpaceBox,
    options: &OptimizerOptions,
) -> Result<Report, Failure>
where
    T: Transfer,
    FT: FnMut(&TransferInit) -> PluginResult<T>,
    FI: FnMut(&OptimizerInit) -> PluginResult<OptimizerBox>,
{
    let history = source_history(space, options.seeds[0]).map_err(|e| {
        Failure::new(
            "transfer/build",
            format!(
                "the kit could not sample source knowledge from the space: {}",
                err_text(&e)
            ),
        )
    })?;
    let mut factories = Vec::new();
    let make = |init: &OptimizerInit| -> PluginResult<OptimizerBox> {
        let transfer_init = TransferInit {
            inner: inner.clone(),
            target: init.target.clone(),
            sources: RVec::from(vec![KIT_SOURCE.into()]),
            seed: init.seed,
        };
        let tag = |what: &str, e: PluginError| PluginError::new(e.kind, format!("{what}: {e}"));
        let mut transfer = make_transfer(&transfer_init).map_err(|e| tag("transfer/build", e))?;
        let heads = transfer
            .head_factory()
            .map_err(|e| tag("transfer/build: head_factory()", e))?;
        factories.push(heads.describe());
        let mut inner_init = init.clone();
        inner_init.sources = transfer_init.sources.clone();
        inner_init.history = RVec::from(history.clone());
        inner_init.heads = RSome(heads);
        let inner = make_inner(&inner_init).map_err(|e| tag("inner optimizer", e))?;
        transfer
            .wrap(inner, &inner_init)
            .map_err(|e| tag("transfer/wrap", e))
    };
    let mut report = guarded(
        "transfer/build",
        || "the decorated optimizer".into(),
        || check_optimizer_with(make, space, options),
    )??;
    if let Some(f) = factories.first() {
        report.pass(
            "transfer",
            format!(
                "`{}` wrapped by the decorator, its heads from the factory `{f}`, with {} source \
                 observations",
                inner.name, SOURCE_OBSERVATIONS
            ),
        );
    }
    Ok(report)
}
