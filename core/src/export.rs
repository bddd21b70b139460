//! Registering plugins: a library fills a [`PluginSet`] in one `register` function, then either
//! exports it as a dynamic library ([`crate::export_plugins!`]) or, linked into the host, as a
//! built-in ([`crate::builtin_plugins!`], through `inventory`).

use crate::abi::*;
use crate::adapters::guard;
use crate::error::{PluginError, PluginResult};
use crate::params::parse_params;
use crate::traits::*;
use crate::{one_shot_box, optimizer_box, similarity_box, space_box, transfer_box};
use abi_stable::std_types::{RResult, RString, RVec};
use serde::de::DeserializeOwned;

/// Static description of one plugin, given when it is registered.
#[derive(Clone, Copy, Debug)]
pub struct Meta {
    pub name: &'static str,
    pub version: &'static str,
    pub description: &'static str,
    pub capabilities: &'static [&'static str],
}

impl Meta {
    fn info(&self, kind: PluginKind) -> PluginInfo {
        PluginInfo {
            name: self.name.into(),
            kind,
            version: self.version.into(),
            description: self.description.into(),
            capabilities: self
                .capabilities
                .iter()
                .map(|c| RString::from(*c))
                .collect(),
        }
    }
}

type Check = Box<dyn Fn(&str) -> PluginResult<()> + Send + Sync>;
type MakeSpace = Box<dyn Fn(&str, &SpaceInit) -> PluginResult<SpaceBox> + Send + Sync>;
type MakeOptimizer = Box<dyn Fn(&str, &OptimizerInit) -> PluginResult<OptimizerBox> + Send + Sync>;
type MakeTransfer = Box<dyn Fn(&str, &TransferInit) -> PluginResult<TransferBox> + Send + Sync>;
type MakeSimilarity =
    Box<dyn Fn(&str, &SimilarityInit) -> PluginResult<SimilarityBox> + Send + Sync>;
type MakeOneShot = Box<dyn Fn(&str, &OneShotInit) -> PluginResult<OneShotBox> + Send + Sync>;

enum Maker {
    Space(MakeSpace),
    Optimizer(MakeOptimizer),
    Transfer(MakeTransfer),
    Similarity(MakeSimilarity),
    OneShot(MakeOneShot),
}

struct Entry {
    info: PluginInfo,
    check: Check,
    make: Maker,
}

/// The plugins of one library. Each registration names a parameter type (serde, usually with
/// `#[serde(deny_unknown_fields)]`) and a constructor; parameter checking comes for free.
#[derive(Default)]
pub struct PluginSet {
    entries: Vec<Entry>,
}

fn checker<P: DeserializeOwned>() -> Check {
    Box::new(|text| parse_params::<P>(text).map(|_| ()))
}

impl PluginSet {
    pub fn new() -> Self {
        Self::default()
    }

    /// Builds a set by calling a library's `register` function.
    pub fn from_register(register: fn(&mut PluginSet)) -> Self {
        let mut set = PluginSet::new();
        register(&mut set);
        set
    }

    pub fn space<P, S>(
        &mut self,
        meta: Meta,
        make: fn(P, &SpaceInit) -> PluginResult<S>,
    ) -> &mut Self
    where
        P: DeserializeOwned + 'static,
        S: SearchSpace,
    {
        self.entries.push(Entry {
            info: meta.info(PluginKind::SEARCH_SPACE),
            check: checker::<P>(),
            make: Maker::Space(Box::new(move |text, init| {
                make(parse_params(text)?, init).map(space_box)
            })),
        });
        self
    }

    pub fn optimizer<P, O>(
        &mut self,
        meta: Meta,
        make: fn(P, &OptimizerInit) -> PluginResult<O>,
    ) -> &mut Self
    where
        P: DeserializeOwned + 'static,
        O: Optimizer,
    {
        self.entries.push(Entry {
            info: meta.info(PluginKind::OPTIMIZER),
            check: checker::<P>(),
            make: Maker::Optimizer(Box::new(move |text, init| {
                make(parse_params(text)?, init).map(optimizer_box)
            })),
        });
        self
    }

    pub fn transfer<P, T>(
        &mut self,
        meta: Meta,
        make: fn(P, &TransferInit) -> PluginResult<T>,
    ) -> &mut Self
    where
        P: DeserializeOwned + 'static,
        T: Transfer,
    {
        self.entries.push(Entry {
            info: meta.info(PluginKind::TRANSFER),
            check: checker::<P>(),
            make: Maker::Transfer(Box::new(move |text, init| {
                make(parse_params(text)?, init).map(transfer_box)
            })),
        });
        self
    }

    pub fn similarity<P, T>(
        &mut self,
        meta: Meta,
        make: fn(P, &SimilarityInit) -> PluginResult<T>,
    ) -> &mut Self
    where
        P: DeserializeOwned + 'static,
        T: Similarity,
    {
        self.entries.push(Entry {
            info: meta.info(PluginKind::SIMILARITY),
            check: checker::<P>(),
            make: Maker::Similarity(Box::new(move |text, init| {
                make(parse_params(text)?, init).map(similarity_box)
            })),
        });
        self
    }

    /// A one-shot optimizer: listed as an optimizer with the `one-shot` capability (added here if
    /// `meta` does not name it), created by the host with `create_one_shot`.
    pub fn one_shot<P, O>(
        &mut self,
        meta: Meta,
        make: fn(P, &OneShotInit) -> PluginResult<O>,
    ) -> &mut Self
    where
        P: DeserializeOwned + 'static,
        O: OneShot,
    {
        let mut info = meta.info(PluginKind::OPTIMIZER);
        if !info.has(capability::ONE_SHOT) {
            info.capabilities.push(capability::ONE_SHOT.into());
        }
        self.entries.push(Entry {
            info,
            check: checker::<P>(),
            make: Maker::OneShot(Box::new(move |text, init| {
                make(parse_params(text)?, init).map(one_shot_box)
            })),
        });
        self
    }

    /// The listing of this set.
    pub fn infos(&self) -> Vec<PluginInfo> {
        self.entries.iter().map(|e| e.info.clone()).collect()
    }

    fn find(&self, kind: PluginKind, name: &str) -> PluginResult<&Entry> {
        self.entries
            .iter()
            .find(|e| e.info.kind == kind && e.info.name.as_str() == name)
            .ok_or_else(|| {
                PluginError::other(format!(
                    "this library has no {} plugin named `{name}`",
                    kind.name()
                ))
            })
    }

    pub fn check_params(
        &self,
        kind: PluginKind,
        name: &str,
        params: &str,
    ) -> RResult<(), PluginError> {
        guard("check_params", || (self.find(kind, name)?.check)(params))
    }

    pub fn create_space(
        &self,
        name: &str,
        params: &str,
        init: &SpaceInit,
    ) -> RResult<SpaceBox, PluginError> {
        guard("create", || {
            match &self.find(PluginKind::SEARCH_SPACE, name)?.make {
                Maker::Space(f) => f(params, init),
                _ => unreachable!("entry kind matches its maker"),
            }
        })
    }

    pub fn create_optimizer(
        &self,
        name: &str,
        params: &str,
        init: &OptimizerInit,
    ) -> RResult<OptimizerBox, PluginError> {
        guard("create", || {
            match &self.find(PluginKind::OPTIMIZER, name)?.make {
                Maker::Optimizer(f) => f(params, init),
                Maker::OneShot(_) => Err(PluginError::unsupported(format!(
                    "optimizer `{name}` is a one-shot optimizer; it does not speak ask/tell"
                ))),
                _ => unreachable!("entry kind matches its maker"),
            }
        })
    }

    pub fn create_transfer(
        &self,
        name: &str,
        params: &str,
        init: &TransferInit,
    ) -> RResult<TransferBox, PluginError> {
        guard("create", || {
            match &self.find(PluginKind::TRANSFER, name)?.make {
                Maker::Transfer(f) => f(params, init),
                _ => unreachable!("entry kind matches its maker"),
            }
        })
    }

    pub fn create_similarity(
        &self,
        name: &str,
        params: &str,
        init: &SimilarityInit,
    ) -> RResult<SimilarityBox, PluginError> {
        guard("create", || {
            match &self.find(PluginKind::SIMILARITY, name)?.make {
                Maker::Similarity(f) => f(params, init),
                _ => unreachable!("entry kind matches its maker"),
            }
        })
    }

    pub fn create_one_shot(
        &self,
        name: &str,
        params: &str,
        init: &OneShotInit,
    ) -> RResult<OneShotBox, PluginError> {
        guard("create", || {
            match &self.find(PluginKind::OPTIMIZER, name)?.make {
                Maker::OneShot(f) => f(params, init),
                _ => Err(PluginError::unsupported(format!(
                    "optimizer `{name}` is not a one-shot optimizer (it speaks ask/tell)"
                ))),
            }
        })
    }

    /// Lists the set, guarded (a `register` function that panics is reported, not fatal).
    pub fn guarded_infos(register: fn(&mut PluginSet)) -> RResult<RVec<PluginInfo>, PluginError> {
        guard("register", || {
            Ok(PluginSet::from_register(register).infos().into())
        })
    }
}

/// A built-in plugin library linked into the host binary, collected with `inventory`.
pub struct BuiltinPlugins {
    /// The crate that registered it (shown as the plugin's "file" in listings).
    pub origin: &'static str,
    pub register: fn(&mut PluginSet),
}

inventory::collect!(BuiltinPlugins);

/// Registers a library's plugins as built-ins of any binary that links this crate.
#[macro_export]
macro_rules! builtin_plugins {
    ($register:path) => {
        $crate::inventory::submit! {
            $crate::BuiltinPlugins { origin: env!("CARGO_PKG_NAME"), register: $register }
        }
    };
}

/// Exports a library's plugins as the root module of a dynamic library. Use it in a `cdylib`
/// crate (plugin crates depend on `abi_stable` directly because its export attribute names it):
///
/// ```text
/// xnas_core::export_plugins!(my_plugin::register);
/// ```
#[macro_export]
macro_rules! export_plugins {
    ($register:path) => {
        #[doc(hidden)]
        pub mod __xnas_export {
            #[allow(unused_imports)]
            use super::*;
            use $crate::abi_stable::prefix_type::PrefixTypeTrait;
            use $crate::abi_stable::std_types::{RResult, RStr, RVec};
            use $crate::*;

            static SET: ::std::sync::OnceLock<PluginSet> = ::std::sync::OnceLock::new();

            fn set() -> Result<&'static PluginSet, PluginError> {
                if let Some(s) = SET.get() {
                    return Ok(s);
                }
                // Build under the guard: a panicking `register` must not abort the host.
                let built = $crate::guard("register", || Ok(PluginSet::from_register($register)))
                    .into_result()?;
                Ok(SET.get_or_init(|| built))
            }

            extern "C" fn init(host: HostCtx) {
                $crate::log::install(host);
            }
            extern "C" fn plugins() -> RVec<PluginInfo> {
                match set() {
                    Ok(s) => s.infos().into(),
                    Err(e) => {
                        $crate::tracing::error!(
                            "plugin library failed to register its plugins: {e}"
                        );
                        RVec::new()
                    }
                }
            }
            extern "C" fn check_params(
                kind: PluginKind,
                name: RStr<'_>,
                params: RStr<'_>,
            ) -> RResult<(), PluginError> {
                match set() {
                    Ok(s) => s.check_params(kind, name.as_str(), params.as_str()),
                    Err(e) => RResult::RErr(e),
                }
            }
            extern "C" fn create_space(
                name: RStr<'_>,
                params: RStr<'_>,
                init: &SpaceInit,
            ) -> RResult<SpaceBox, PluginError> {
                match set() {
                    Ok(s) => s.create_space(name.as_str(), params.as_str(), init),
                    Err(e) => RResult::RErr(e),
                }
            }
            extern "C" fn create_optimizer(
                name: RStr<'_>,
                params: RStr<'_>,
                init: &OptimizerInit,
            ) -> RResult<OptimizerBox, PluginError> {
                match set() {
                    Ok(s) => s.create_optimizer(name.as_str(), params.as_str(), init),
                    Err(e) => RResult::RErr(e),
                }
            }
            extern "C" fn create_transfer(
                name: RStr<'_>,
                params: RStr<'_>,
                init: &TransferInit,
            ) -> RResult<TransferBox, PluginError> {
                match set() {
                    Ok(s) => s.create_transfer(name.as_str(), params.as_str(), init),
                    Err(e) => RResult::RErr(e),
                }
            }
            extern "C" fn create_similarity(
                name: RStr<'_>,
                params: RStr<'_>,
                init: &SimilarityInit,
            ) -> RResult<SimilarityBox, PluginError> {
                match set() {
                    Ok(s) => s.create_similarity(name.as_str(), params.as_str(), init),
                    Err(e) => RResult::RErr(e),
                }
            }

            extern "C" fn create_one_shot(
                name: RStr<'_>,
                params: RStr<'_>,
                init: &OneShotInit,
            ) -> RResult<OneShotBox, PluginError> {
                match set() {
                    Ok(s) => s.create_one_shot(name.as_str(), params.as_str(), init),
                    Err(e) => RResult::RErr(e),
                }
            }

            #[$crate::abi_stable::export_root_module]
            pub fn get_library() -> PluginModRef {
                PluginMod {
                    init,
                    plugins,
                    check_params,
                    create_space,
                    create_optimizer,
                    create_transfer,
                    create_similarity,
                    create_one_shot,
                }
                .leak_into_prefix()
            }
        }
    };
}
