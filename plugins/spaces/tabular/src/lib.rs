//! `tabular`: a search space backed by a user's own benchmark table.
//!
//! A genome is a fixed number of positions, position `i` taking values `0..choices[i]`. Its text
//! form is the values (or, when `labels` are given, their labels) joined by `-`: `0-3-1-2`. The
//! table is a CSV file with a header and one row per (task, genome):
//!
//! ```text
//! task,genome,metric,test_metric,cost
//! cifar10,0-3-1-2,91.2,90.8,1520.5
//! ```
//!
//! `task`, `genome` and `metric` are required; `test_metric` and `cost` (seconds) are optional.
//! Evaluation is a lookup. Sampling and mutation stay inside the *available* genomes: those with a
//! row for every task of the experiment (all the table's tasks when the experiment names none),
//! so every proposal can be evaluated on the target and on every source.
//!
//! The plugin declares the `test-metric` capability whether or not the table has that column
//! (capabilities are fixed at registration); without the column `test_metric` is `None`.

mod layout;
mod table;

pub use layout::TabularParams;

use layout::Layout;
use std::path::Path;
use table::Table;
use xnas_core::abi_stable::std_types::{RString, RVec};
use xnas_core::{
    capability, Arch, EvalRequest, EvalResult, Meta, PluginError, PluginResult, PluginSet,
    Position, SearchSpace, SpaceDesc, SpaceInit, SplitMix64,
};

/// Random single-position tries in `mutate` before it enumerates every neighbour.
const MUTATE_TRIES: usize = 32;

/// The `tabular` search space.
#[derive(Debug)]
pub struct TabularSpace {
    layout: Layout,
    table: Table,
    /// Genome indices with a row for every required task, sorted.
    available: Vec<u64>,
    /// Positions with more than one choice (the ones a mutation can change).
    mutable: Vec<usize>,
    /// The task ids every available genome has rows for.
    required: Vec<String>,
}

impl TabularSpace {
    /// Loads the table named in `params` and checks the experiment's tasks against it.
    pub fn new(params: TabularParams, init: &SpaceInit) -> PluginResult<Self> {
        let layout = Layout::new(&params);
        let path = Path::new(&params.table);
        let path = if path.is_absolute() || init.base_dir.is_empty() {
            path.to_path_buf()
        } else {
            Path::new(init.base_dir.as_str()).join(path)
        };
        let table = Table::load(&path, &layout)?;

        let mut required: Vec<String> = Vec::new();
        for task in init.tasks.iter() {
            if !required.iter().any(|t| t == task.as_str()) {
                required.push(task.to_string());
            }
        }
        if required.is_empty() {
            required = table.tasks.clone();
        }
        let unknown: Vec<String> = required
            .iter()
            .filter(|t| table.task_index(t).is_none())
            .map(|t| format!("`{t}`"))
            .collect();
        if !unknown.is_empty() {
            return Err(PluginError::unknown_task(format!(
                "task{} {} not in table {}; its tasks are: {}",
                if unknown.len() == 1 { " is" } else { "s are" },
                unknown.join(", "),
                table.file,
                table.tasks.join(", ")
            )));
        }
        let ids: Vec<u32> = required
            .iter()
            .filter_map(|t| table.task_index(t))
            .collect();
        let mut available: Vec<u64> = table.by_task[ids[0] as usize]
            .iter()
            .copied()
            .filter(|&g| ids[1..].iter().all(|&t| table.row(t, g).is_some()))
            .collect();
        available.sort_unstable();
        if available.is_empty() {
            return Err(PluginError::data(format!(
                "no genome of table {} has rows for every task of the experiment ({})",
                table.file,
                required.join(", ")
            )));
        }
        if u32::try_from(available.len()).is_err() {
            return Err(PluginError::data(format!(
                "table {} has more than 2^32 genomes",
                table.file
            )));
        }
        let mutable = (0..layout.len())
            .filter(|&i| layout.choices[i] > 1)
            .collect();
        tracing::debug!(
            "tabular: {} rows, {} tasks, {} of {} genomes available for {} from {}",
            table.rows.len(),
            table.tasks.len(),
            available.len(),
            layout.size,
            required.join(","),
            table.file
        );
        Ok(TabularSpace {
            layout,
            table,
            available,
            mutable,
            required,
        })
    }

    /// Number of genomes sampling and mutation choose from.
    pub fn available_count(&self) -> usize {
        self.available.len()
    }

    /// The tasks every available genome has rows for.
    pub fn required_tasks(&self) -> &[String] {
        &self.required
    }

    /// Whether the table has a `test_metric` column.
    pub fn has_test_metric(&self) -> bool {
        self.table.has_test_metric
    }

    /// Whether the table has a `cost` column (without one every evaluation costs 0 s).
    pub fn has_cost(&self) -> bool {
        self.table.has_cost
    }

    fn is_available(&self, index: u64) -> bool {
        self.available.binary_search(&index).is_ok()
    }

    /// The single changes `(position, value)` of `genome` that are available, by position then value.
    fn available_changes(&self, genome: &[u32]) -> Vec<(usize, u32)> {
        let base = self.layout.index(genome);
        self.mutable
            .iter()
            .flat_map(|&p| {
                (0..self.layout.choices[p])
                    .filter(move |&v| v != genome[p])
                    .map(move |v| (p, v))
            })
            .filter(|&(p, v)| self.is_available(self.layout.replace(base, genome, p, v)))
            .collect()
    }

    fn checked(&self, genome: &[u32]) -> PluginResult<()> {
        self.layout
            .validate(genome)
            .map_err(PluginError::invalid_architecture)
    }

    fn group_names(&self) -> Vec<String> {
        match &self.layout.labels {
            // Positions with the same label list share a group (one token range).
            Some(labels) => {
                let mut distinct: Vec<&Vec<String>> = Vec::new();
                labels
                    .iter()
                    .map(|list| {
                        let k = match distinct.iter().position(|d| *d == list) {
                            Some(k) => k,
                            None => {
                                distinct.push(list);
                                distinct.len() - 1
                            }
                        };
                        format!("labels{k}")
                    })
                    .collect()
            }
            None => self.layout.names.clone(),
        }
    }
}

impl SearchSpace for TabularSpace {
    fn describe(&self) -> PluginResult<SpaceDesc> {
        let groups = self.group_names();
        let positions = (0..self.layout.len())
            .map(|i| Position {
                name: self.layout.names[i].as_str().into(),
                choices: self.layout.choices[i],
                group: groups[i].as_str().into(),
                labels: match &self.layout.labels {
                    Some(l) => l[i].iter().map(|s| RString::from(s.as_str())).collect(),
                    None => RVec::new(),
                },
            })
            .collect();
        Ok(SpaceDesc {
            positions,
            tasks: self
                .table
                .tasks
                .iter()
                .map(|t| RString::from(t.as_str()))
                .collect(),
            size: self.available.len() as u64,
        })
    }

    fn sample(&self, seed: u64) -> PluginResult<Vec<u32>> {
        let mut rng = SplitMix64::new(seed);
        let k = rng.below(self.available.len() as u32) as usize;
        Ok(self.layout.decode(self.available[k]))
    }

    /// Changes one position to a different value so that the result is available. Tries random
    /// single changes first, then picks uniformly among all available single changes
    /// ([`SearchSpace::neighbours`]); a genome with none is an error (it is isolated in the table).
    fn mutate(&self, genome: &[u32], seed: u64) -> PluginResult<Vec<u32>> {
        self.checked(genome)?;
        if self.mutable.is_empty() {
            return Err(PluginError::other(
                "tabular: every position has a single choice, so no mutation exists",
            ));
        }
        let base = self.layout.index(genome);
        let mut rng = SplitMix64::new(seed);
        for _ in 0..MUTATE_TRIES {
            let p = self.mutable[rng.below(self.mutable.len() as u32) as usize];
            let v = rng.below_except(self.layout.choices[p], genome[p]);
            if self.is_available(self.layout.replace(base, genome, p, v)) {
                return Ok(changed(genome, p, v));
            }
        }
        let neighbours = self.available_changes(genome);
        if neighbours.is_empty() {
            return Err(PluginError::other(format!(
                "tabular: no single change of genome {} is in table {} for every task of the \
                 experiment, so it has no neighbour to mutate into",
                self.layout.text(genome),
                self.table.file
            )));
        }
        let (p, v) = neighbours[rng.below(neighbours.len() as u32) as usize];
        Ok(changed(genome, p, v))
    }

    /// The available single changes of `genome` (a row for every task of the experiment), by
    /// position then value: what `mutate` draws from.
    fn neighbours(&self, genome: &[u32]) -> PluginResult<Vec<Vec<u32>>> {
        self.checked(genome)?;
        Ok(self
            .available_changes(genome)
            .into_iter()
            .map(|(p, v)| changed(genome, p, v))
            .collect())
    }

    fn canonical(&self, genome: &[u32]) -> PluginResult<Arch> {
        self.checked(genome)?;
        Ok(Arch {
            genome: genome.to_vec().into(),
            text: self.layout.text(genome).into(),
        })
    }

    fn parse(&self, text: &str) -> PluginResult<Vec<u32>> {
        let mut genome = Vec::with_capacity(self.layout.len());
        self.layout
            .parse_into(text, &mut genome)
            .map_err(PluginError::invalid_architecture)?;
        Ok(genome)
    }

    fn best_metric(&self, task: &str) -> Option<f64> {
        self.table
            .task_index(task)
            .map(|t| self.table.best[t as usize])
    }

    fn evaluate(&self, request: &EvalRequest) -> PluginResult<EvalResult> {
        let task = request.task.as_str();
        let t = self.table.task_index(task).ok_or_else(|| {
            PluginError::unknown_task(format!(
                "task `{task}` is not in table {}; its tasks are: {}",
                self.table.file,
                self.table.tasks.join(", ")
            ))
        })?;
        self.checked(&request.genome)?;
        let index = self.layout.index(&request.genome);
        let row = self.table.row(t, index).ok_or_else(|| {
            PluginError::evaluation(format!(
                "genome {} is not in table {} for task {task}",
                self.layout.text(&request.genome),
                self.table.file
            ))
        })?;
        Ok(EvalResult {
            metric: row.metric,
            test_metric: row.test_metric.into(),
            cost_seconds: row.cost,
            curve: RVec::new(),
            extras: RString::new(),
        })
    }
}

/// `genome` with position `p` set to `v`.
fn changed(genome: &[u32], p: usize, v: u32) -> Vec<u32> {
    let mut child = genome.to_vec();
    child[p] = v;
    child
}

/// Registers `tabular` in a plugin set.
pub fn register(set: &mut PluginSet) {
    set.space(
        Meta {
            name: "tabular",
            version: env!("CARGO_PKG_VERSION"),
            description:
                "a benchmark from your own CSV table (task, genome, metric[, test_metric, cost])",
            capabilities: &[capability::BENCHMARK, capability::TEST_METRIC],
        },
        TabularSpace::new,
    );
}

xnas_core::builtin_plugins!(register);

#[cfg(test)]
mod tests;
