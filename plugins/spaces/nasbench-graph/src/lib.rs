//! `nasbench-graph`: the NAS-Bench-Graph benchmark (Qin et al., NeurIPS 2022 Datasets and
//! Benchmarks) as a search space. 26,206 canonical GNN architectures, each with its validation and
//! test metric, latency and parameter count on nine graph datasets; evaluation is a table lookup.
//!
//! A genome has five genes: `[link, op1, op2, op3, op4]`. `link` indexes the package's nine link
//! patterns (the input of each of the four computing nodes, 0 being the graph input:
//! `0-0-0-0` ... `0-1-2-3`); `opN` is the op of node N in the package's order
//! `gat gcn gin cheb sage arma graph fc skip`. Many genomes describe the same network (parallel
//! branches can be swapped, skip nodes moved); the converter stored the package's own
//! canonicalisation of all 59,049 genomes, so [`SearchSpace::canonical`] is a lookup. The text
//! form is `0-1-1-2|skip,gat,gcn,sage`.
//!
//! The proteins dataset covers only the ops `gcn sage arma fc skip` (2,021 architectures). With
//! `ops = "auto"` (the default) an experiment that involves proteins samples and mutates inside
//! that subset; in any mode sampling and mutation stay inside the architectures every task of the
//! experiment has an entry for, so every proposal can be evaluated on the target and all sources.
//!
//! The data file is made by `convert.py` (see the README for its format and provenance).

mod data;

pub use data::{LINKS, OPS, PROTEINS_OPS, TASKS};

use data::{genome_index, index_genome, Data, GENES, INVALID};
use serde::Deserialize;
use std::path::{Path, PathBuf};
use std::time::Instant;
use xnas_core::abi_stable::std_types::{RSome, RString, RVec};
use xnas_core::{
    capability, Arch, EvalRequest, EvalResult, Meta, PluginError, PluginResult, PluginSet,
    Position, SearchSpace, SpaceDesc, SpaceInit, SplitMix64,
};

/// Random single-gene tries in `mutate` before it scans every neighbour.
const MUTATE_TRIES: usize = 64;
const GENE_NAMES: [&str; GENES] = ["link", "op1", "op2", "op3", "op4"];
const ALL_CHOICES: [u32; 9] = [0, 1, 2, 3, 4, 5, 6, 7, 8];

/// Which op choices sampling and mutation use.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OpsMode {
    /// `proteins` when any task of the experiment is proteins, else `all`.
    #[default]
    Auto,
    /// All nine ops.
    All,
    /// Only the ops of the proteins table: gcn, sage, arma, fc, skip.
    Proteins,
    /// Whatever the target's table covers (the experiment's first task): all ops unless the
    /// target is proteins. Source tasks without an entry for an architecture fail that
    /// evaluation, so sources do not shrink the target's search (leave-one-task-out).
    Target,
}

/// Parameters of `[search_space.params]` for `nasbench-graph`.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NasBenchGraphParams {
    /// The converted data file; relative to the experiment's base folder (`[experiment] base_dir`, else its file's). Default:
    /// `<data dir>/nasbench-graph/nasbench-graph.bin`.
    #[serde(default)]
    pub data: Option<String>,
    /// `"auto"` (default), `"all"` or `"proteins"`: see [`OpsMode`].
    #[serde(default)]
    pub ops: OpsMode,
}

/// Where the data file lives by default, given the host's data directory (empty: the
/// `XNAS_DATA_DIR` environment variable, else `~/.cache/xnas/data`).
pub fn default_data_path(data_dir: &str) -> PathBuf {
    let dir = if !data_dir.is_empty() {
        PathBuf::from(data_dir)
    } else if let Some(d) = std::env::var_os("XNAS_DATA_DIR").filter(|d| !d.is_empty()) {
        PathBuf::from(d)
    } else {
        let home = std::env::var_os("HOME").unwrap_or_default();
        Path::new(&home).join(".cache").join("xnas").join("data")
    };
    dir.join("nasbench-graph").join("nasbench-graph.bin")
}

fn link_label(link: u32) -> String {
    let l = LINKS[link as usize];
    format!("{}-{}-{}-{}", l[0], l[1], l[2], l[3])
}

/// The text form of a genome whose genes are in range: `0-0-1-2|gcn,gat,skip,sage`.
fn genome_text(g: &[u32]) -> String {
    let ops: Vec<&str> = g[1..].iter().map(|&o| OPS[o as usize]).collect();
    format!("{}|{}", link_label(g[0]), ops.join(","))
}

/// The `nasbench-graph` search space.
#[derive(Debug)]
pub struct NasBenchGraph {
    data: Data,
    mode: OpsMode,
    /// Key indices every task of the experiment has (inside the op subset), ascending.
    available: Vec<u32>,
    is_available: Vec<bool>,
    /// Op values a mutation may set.
    op_choices: &'static [u32],
    /// Genomes of each key: `variants[variant_start[k]..variant_start[k + 1]]`.
    variant_start: Vec<u32>,
    variants: Vec<u32>,
    /// Best validation metric over the available architectures, per data task.
    best: Vec<Option<f64>>,
}

impl NasBenchGraph {
    /// Loads the data file named in `params` and checks the experiment's tasks against it.
    pub fn new(params: NasBenchGraphParams, init: &SpaceInit) -> PluginResult<Self> {
        let mut tasks: Vec<&str> = Vec::new();
        for t in init.tasks.iter() {
            let t = t.as_str();
            if !TASKS.contains(&t) {
                return Err(PluginError::unknown_task(format!(
                    "task `{t}` is not a NAS-Bench-Graph dataset; the datasets are: {}",
                    TASKS.join(", ")
                )));
            }
            if !tasks.contains(&t) {
                tasks.push(t);
            }
        }
        let path = match &params.data {
            Some(p) if Path::new(p).is_absolute() || init.base_dir.is_empty() => PathBuf::from(p),
            Some(p) => Path::new(init.base_dir.as_str()).join(p),
            None => default_data_path(init.data_dir.as_str()),
        };
        let target_only = params.ops == OpsMode::Target;
        let mode = match params.ops {
            OpsMode::Auto if tasks.contains(&"proteins") => OpsMode::Proteins,
            OpsMode::Auto => OpsMode::All,
            OpsMode::Target if tasks.first() == Some(&"proteins") => OpsMode::Proteins,
            OpsMode::Target => OpsMode::All,
            m => m,
        };
        let start = Instant::now();
        let data = Data::load(&path)?;
        let loaded = start.elapsed();
        Self::with_data(data, mode, &tasks, target_only).inspect(|s| {
            tracing::debug!(
                "nasbench-graph: loaded {} in {:.1} ms; {} of {} architectures available \
                 ({:?} ops, tasks: {})",
                path.display(),
                loaded.as_secs_f64() * 1e3,
                s.available.len(),
                s.data.keys.len(),
                mode,
                tasks.join(",")
            )
        })
    }

    /// `target_only`: availability is decided by the first task's table alone.
    fn with_data(
        data: Data,
        mode: OpsMode,
        tasks: &[&str],
        target_only: bool,
    ) -> PluginResult<Self> {
        let task_ids: Vec<usize> = tasks
            .iter()
            .map(|t| {
                data.task_index(t).ok_or_else(|| {
                    PluginError::data(format!(
                        "NAS-Bench-Graph data file {} has no table for `{t}`",
                        data.path.display()
                    ))
                })
            })
            .collect::<PluginResult<_>>()?;
        let n_keys = data.keys.len();
        let deciding = if target_only {
            &task_ids[..task_ids.len().min(1)]
        } else {
            &task_ids[..]
        };
        let is_available: Vec<bool> = (0..n_keys)
            .map(|k| {
                let ops_ok = mode != OpsMode::Proteins
                    || data.key_genome[k][1..]
                        .iter()
                        .all(|o| PROTEINS_OPS.contains(o));
                ops_ok && deciding.iter().all(|&t| data.tasks[t].rows[k].is_some())
            })
            .collect();
        let available: Vec<u32> = (0..n_keys as u32)
            .filter(|&k| is_available[k as usize])
            .collect();
        if available.is_empty() {
            return Err(PluginError::data(format!(
                "no architecture of {} has entries for every task of the experiment ({})",
                data.path.display(),
                tasks.join(", ")
            )));
        }

        let mut variant_start = vec![0u32; n_keys + 1];
        for &c in &data.canon {
            if c != INVALID {
                variant_start[c as usize + 1] += 1;
            }
        }
        for k in 0..n_keys {
            variant_start[k + 1] += variant_start[k];
        }
        let mut fill = variant_start.clone();
        let mut variants = vec![0u32; variant_start[n_keys] as usize];
        for (g, &c) in data.canon.iter().enumerate() {
            if c != INVALID {
                variants[fill[c as usize] as usize] = g as u32;
                fill[c as usize] += 1;
            }
        }

        let best = data
            .tasks
            .iter()
            .map(|t| {
                available
                    .iter()
                    .filter_map(|&k| t.rows[k as usize].map(|r| r.valid))
                    .fold(None, |m: Option<f64>, v| Some(m.map_or(v, |m| m.max(v))))
            })
            .collect();

        Ok(NasBenchGraph {
            data,
            mode,
            available,
            is_available,
            op_choices: if mode == OpsMode::Proteins {
                &PROTEINS_OPS
            } else {
                &ALL_CHOICES
            },
            variant_start,
            variants,
            best,
        })
    }

    /// The op mode in effect (`All` or `Proteins`, never `Auto`).
    pub fn ops_mode(&self) -> OpsMode {
        self.mode
    }

    /// Number of canonical architectures with an entry for `task` in the data file.
    pub fn entries(&self, task: &str) -> Option<usize> {
        Some(self.data.tasks[self.data.task_index(task)?].count)
    }

    /// The data file this space was loaded from.
    pub fn data_path(&self) -> &Path {
        &self.data.path
    }

    /// Number of architectures sampling draws from.
    pub fn available_len(&self) -> usize {
        self.available.len()
    }

    /// Checks a genome's length and ranges; returns its genome index.
    fn check(&self, g: &[u32]) -> PluginResult<usize> {
        if g.len() != GENES {
            return Err(PluginError::invalid_architecture(format!(
                "a nasbench-graph genome has 5 genes [link, op1, op2, op3, op4], this one has {}: \
                 {g:?}",
                g.len()
            )));
        }
        if let Some(i) = g.iter().position(|&x| x >= 9) {
            let choices = if i == 0 {
                (0..9).map(link_label).collect::<Vec<_>>().join(", ")
            } else {
                OPS.join(", ")
            };
            return Err(PluginError::invalid_architecture(format!(
                "gene `{}` of genome {g:?} is {}, out of range: it takes 0..=8 ({choices})",
                GENE_NAMES[i], g[i]
            )));
        }
        Ok(genome_index(g))
    }

    /// Checks a genome and returns its canonical key index.
    fn key_of(&self, g: &[u32]) -> PluginResult<usize> {
        let c = self.data.canon[self.check(g)?];
        if c == INVALID {
            return Err(PluginError::invalid_architecture(not_in_benchmark(g)));
        }
        Ok(c as usize)
    }

    fn arch_of_key(&self, k: usize) -> Arch {
        let g = &self.data.key_genome[k];
        Arch {
            genome: RVec::from(g.to_vec()),
            text: RString::from(genome_text(g)),
        }
    }

    /// The key of `child` if it is a valid, available architecture other than `parent`.
    fn accept(&self, child: &[u32], parent: u32) -> Option<usize> {
        let c = self.data.canon[genome_index(child)];
        (c != INVALID && c != parent && self.is_available[c as usize]).then_some(c as usize)
    }
}

fn not_in_benchmark(g: &[u32]) -> String {
    let why = if g[1..].iter().all(|&o| o == 8) {
        ": every op is skip, so the network computes nothing"
    } else {
        ""
    };
    format!(
        "architecture `{}` is not in NAS-Bench-Graph{why}",
        genome_text(g)
    )
}

impl SearchSpace for NasBenchGraph {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let op_labels: RVec<RString> = OPS.iter().map(|&o| RString::from(o)).collect();
        let mut positions = vec![Position {
            name: "link".into(),
            choices: LINKS.len() as u32,
            group: "link".into(),
            labels: (0..LINKS.len() as u32)
                .map(|l| RString::from(link_label(l)))
                .collect(),
        }];
        for name in &GENE_NAMES[1..] {
            positions.push(Position {
                name: (*name).into(),
                choices: OPS.len() as u32,
                group: "op".into(),
                labels: op_labels.clone(),
            });
        }
        Ok(SpaceDesc {
            positions: positions.into(),
            tasks: self
                .data
                .tasks
                .iter()
                .map(|t| RString::from(t.name.as_str()))
                .collect(),
            size: self.available.len() as u64,
        })
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let i = SplitMix64::new(seed).below(self.available.len() as u32) as usize;
        Ok(self.data.key_genome[self.available[i] as usize].to_vec())
    }

    /// Changes one gene (a uniformly chosen position set to a uniformly chosen other value; in
    /// proteins mode op genes only take proteins ops) and returns the canonical form of the first
    /// try that is a valid, available architecture other than the parent. After
    /// [`MUTATE_TRIES`] tries it scans every single-gene neighbour from a seeded offset.
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        let gi = self.check(genome)?;
        let parent = self.data.canon[gi];
        let mut rng = SplitMix64::new(seed);
        let mut child = [0u32; GENES];
        child.copy_from_slice(genome);
        let choices = |pos: usize| -> &[u32] {
            if pos == 0 {
                &ALL_CHOICES
            } else {
                self.op_choices
            }
        };
        for _ in 0..MUTATE_TRIES {
            let pos = rng.below(GENES as u32) as usize;
            let cur = genome[pos];
            let others: Vec<u32> = choices(pos).iter().copied().filter(|&v| v != cur).collect();
            if others.is_empty() {
                continue;
            }
            child[pos] = others[rng.below(others.len() as u32) as usize];
            let got = self.accept(&child, parent);
            child[pos] = cur;
            if let Some(k) = got {
                return Ok(self.data.key_genome[k].to_vec());
            }
        }
        let neighbours: Vec<(usize, u32)> = (0..GENES)
            .flat_map(|p| {
                choices(p)
                    .iter()
                    .filter(move |&&v| v != genome[p])
                    .map(move |&v| (p, v))
            })
            .collect();
        let offset = rng.below(neighbours.len() as u32) as usize;
        for i in 0..neighbours.len() {
            let (pos, v) = neighbours[(offset + i) % neighbours.len()];
            child[pos] = v;
            let got = self.accept(&child, parent);
            child[pos] = genome[pos];
            if let Some(k) = got {
                return Ok(self.data.key_genome[k].to_vec());
            }
        }
        Err(PluginError::invalid_architecture(format!(
            "no single-gene change of `{}` gives another architecture available to this experiment",
            genome_text(genome)
        )))
    }

    /// The canonical genomes of the single-gene changes of `genome` that are another
    /// architecture available to this experiment, each once, by gene then value: what `mutate`
    /// answers. A canonical genome may differ from `genome` in several genes (isomorphic wirings
    /// map to one).
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        let gi = self.check(genome)?;
        let parent = self.data.canon[gi];
        let mut child = [0u32; GENES];
        child.copy_from_slice(genome);
        let mut keys = Vec::new();
        for pos in 0..GENES {
            let choices: &[u32] = if pos == 0 {
                &ALL_CHOICES
            } else {
                self.op_choices
            };
            for &v in choices.iter().filter(|&&v| v != genome[pos]) {
                child[pos] = v;
                if let Some(k) = self.accept(&child, parent) {
                    if !keys.contains(&k) {
                        keys.push(k);
                    }
                }
            }
            child[pos] = genome[pos];
        }
        Ok(keys
            .into_iter()
            .map(|k| self.data.key_genome[k].to_vec())
            .collect())
    }

    /// Refuses architectures outside what this experiment samples (see [`OpsMode`]), so an
    /// optimizer that builds genomes itself (NAO's decoder, an RL controller) treats them as
    /// invalid instead of proposing evaluations that cannot succeed.
    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        let k = self.key_of(genome)?;
        if !self.is_available[k] {
            return Err(PluginError::invalid_architecture(format!(
                "`{}` is not available to this experiment: {}",
                genome_text(genome),
                if self.mode == OpsMode::Proteins {
                    "its ops are outside proteins' gcn, sage, arma, fc, skip (see the `ops` parameter)"
                } else {
                    "some task of the experiment has no entry for it (see the `ops` parameter)"
                }
            )));
        }
        Ok(self.arch_of_key(k))
    }

    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        let bad = |why: String| {
            PluginError::invalid_architecture(format!(
                "cannot parse nasbench-graph architecture `{text}`: {why}"
            ))
        };
        let (link, ops) = text.split_once('|').ok_or_else(|| {
            bad("expected `LINK|OP,OP,OP,OP` like `0-0-1-2|gcn,gat,skip,sage`".into())
        })?;
        let link = link.trim();
        let link_idx = (0..LINKS.len() as u32)
            .find(|&l| link_label(l) == link)
            .ok_or_else(|| {
                bad(format!(
                    "link pattern `{link}` is not one of {}",
                    (0..9).map(link_label).collect::<Vec<_>>().join(", ")
                ))
            })?;
        let names: Vec<&str> = ops.split(',').map(str::trim).collect();
        if names.len() != 4 {
            return Err(bad(format!("expected 4 ops, found {}", names.len())));
        }
        let mut genome = vec![link_idx];
        for (i, name) in names.iter().enumerate() {
            let op = OPS.iter().position(|o| o == name).ok_or_else(|| {
                bad(format!(
                    "op {} `{name}` is not one of {}",
                    i + 1,
                    OPS.join(", ")
                ))
            })?;
            genome.push(op as u32);
        }
        self.key_of(&genome)?;
        Ok(genome)
    }

    fn symmetric_variants(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        let k = self.key_of(genome)?;
        let me = genome_index(genome) as u32;
        let range = self.variant_start[k] as usize..self.variant_start[k + 1] as usize;
        Ok(self.variants[range]
            .iter()
            .filter(|&&g| g != me)
            .map(|&g| index_genome(g as usize).to_vec())
            .collect())
    }

    fn best_metric(&self, task: &str) -> Option<f64> {
        self.best[self.data.task_index(task)?]
    }

    /// A table lookup. `cost_seconds` is 0: the light benchmark records no training time (its
    /// `latency` is inference time, reported in `extras` as `latency_s` with `params_m`).
    fn evaluate(&self, req: &EvalRequest) -> PluginResult<EvalResult> {
        let task = req.task.as_str();
        let t = self.data.task_index(task).ok_or_else(|| {
            PluginError::unknown_task(format!(
                "task `{task}` is not a NAS-Bench-Graph dataset; the datasets are: {}",
                TASKS.join(", ")
            ))
        })?;
        let c = self.data.canon[self.check(&req.genome)?];
        let row = if c == INVALID {
            None
        } else {
            self.data.tasks[t].rows[c as usize]
        };
        let Some(row) = row else {
            let msg = if c == INVALID {
                not_in_benchmark(&req.genome)
            } else {
                format!(
                    "NAS-Bench-Graph has no entry for architecture `{}` on task `{task}`{}",
                    genome_text(&self.data.key_genome[c as usize]),
                    if task == "proteins" {
                        " (proteins covers only the ops gcn, sage, arma, fc, skip)"
                    } else {
                        ""
                    }
                )
            };
            return Err(PluginError::evaluation(msg));
        };
        Ok(EvalResult {
            metric: row.valid,
            test_metric: RSome(row.test),
            cost_seconds: 0.0,
            curve: RVec::new(),
            extras: RString::from(format!(
                "{{\"latency_s\":{},\"params_m\":{}}}",
                json_num(row.latency_s),
                json_num(row.params_m)
            )),
        })
    }
}

/// A JSON number (`null` for a non-finite value, which JSON cannot hold).
fn json_num(x: f64) -> String {
    if x.is_finite() {
        format!("{x}")
    } else {
        "null".into()
    }
}

/// Registers `nasbench-graph` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.space(
        Meta {
            name: "nasbench-graph",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "NAS-Bench-Graph: 26,206 GNN architectures x 9 graph datasets (table lookup)",
            capabilities: &[
                capability::BENCHMARK,
                capability::TEST_METRIC,
                capability::SYMMETRIES,
            ],
        },
        NasBenchGraph::new,
    );
}

xnas_core::builtin_plugins!(register);

#[cfg(test)]
mod tests;
