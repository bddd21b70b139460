//! Loading a benchmark table: a CSV file with a header and one row per (task, genome).
//!
//! Columns: `task`, `genome`, `metric` (required), `test_metric`, `cost` (optional, seconds).
//! Every error names the file and, where there is one, the line.

use crate::layout::Layout;
use std::collections::HashMap;
use std::path::Path;
use xnas_core::{PluginError, PluginResult};

/// The figures of one row.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) struct Row {
    pub metric: f64,
    pub test_metric: Option<f64>,
    pub cost: f64,
}

/// A loaded table.
#[derive(Debug)]
pub(crate) struct Table {
    /// The file, as shown in messages.
    pub file: String,
    /// Task ids in order of first appearance.
    pub tasks: Vec<String>,
    pub rows: Vec<Row>,
    /// (task index, genome index) -> row index.
    pub lookup: HashMap<(u32, u64), u32>,
    /// Genome indices of each task, in file order.
    pub by_task: Vec<Vec<u64>>,
    /// Best metric of each task.
    pub best: Vec<f64>,
    pub has_test_metric: bool,
    pub has_cost: bool,
}

const REQUIRED: [&str; 3] = ["task", "genome", "metric"];
const OPTIONAL: [&str; 2] = ["test_metric", "cost"];

struct Columns {
    task: usize,
    genome: usize,
    metric: usize,
    test_metric: Option<usize>,
    cost: Option<usize>,
}

fn columns(file: &str, header: &csv::StringRecord) -> PluginResult<Columns> {
    let bad = |msg: String| PluginError::data(format!("table {file} line 1: {msg}"));
    let mut found: HashMap<&str, usize> = HashMap::new();
    let mut unknown = Vec::new();
    for (i, name) in header.iter().enumerate() {
        if REQUIRED.contains(&name) || OPTIONAL.contains(&name) {
            if found.insert(name, i).is_some() {
                return Err(bad(format!("the header names column `{name}` twice")));
            }
        } else {
            unknown.push(format!("`{name}`"));
        }
    }
    let missing: Vec<String> = REQUIRED
        .iter()
        .filter(|c| !found.contains_key(*c))
        .map(|c| format!("`{c}`"))
        .collect();
    let plural = |v: &[String]| if v.len() == 1 { "" } else { "s" };
    let mut problems = Vec::new();
    if !missing.is_empty() {
        problems.push(format!(
            "missing column{} {}",
            plural(&missing),
            missing.join(", ")
        ));
    }
    if !unknown.is_empty() {
        problems.push(format!(
            "unknown column{} {}",
            plural(&unknown),
            unknown.join(", ")
        ));
    }
    if !problems.is_empty() {
        let header: Vec<&str> = header.iter().collect();
        return Err(bad(format!(
            "{} (the header is `{}`; required columns: task, genome, metric; optional: \
             test_metric, cost)",
            problems.join("; "),
            header.join(",")
        )));
    }
    Ok(Columns {
        task: found["task"],
        genome: found["genome"],
        metric: found["metric"],
        test_metric: found.get("test_metric").copied(),
        cost: found.get("cost").copied(),
    })
}

/// Turns a csv error into a data error naming the file and line.
fn csv_error(file: &str, e: csv::Error) -> PluginError {
    let line = e.position().map(|p| p.line());
    let at = match line {
        Some(l) => format!("table {file} line {l}"),
        None => format!("table {file}"),
    };
    match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => PluginError::data(format!(
            "{at}: the row has {len} fields, the header has {expected_len}"
        )),
        csv::ErrorKind::Utf8 { .. } => PluginError::data(format!("{at}: the row is not UTF-8")),
        csv::ErrorKind::Io(err) => PluginError::io(format!("{at}: cannot read: {err}")),
        _ => PluginError::data(format!("{at}: {e}")),
    }
}

fn number(file: &str, line: u64, column: &str, text: &str) -> PluginResult<f64> {
    match text.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        Ok(_) => Err(PluginError::data(format!(
            "table {file} line {line}: {column} `{text}` is not a finite number"
        ))),
        Err(_) => Err(PluginError::data(format!(
            "table {file} line {line}: {column} `{text}` is not a number"
        ))),
    }
}

impl Table {
    /// Loads and checks `path` against `layout`.
    pub fn load(path: &Path, layout: &Layout) -> PluginResult<Table> {
        let file = path.display().to_string();
        let handle = std::fs::File::open(path)
            .map_err(|e| PluginError::io(format!("cannot open table {file}: {e}")))?;
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(std::io::BufReader::with_capacity(1 << 16, handle));
        let header = reader.headers().map_err(|e| csv_error(&file, e))?.clone();
        let cols = columns(&file, &header)?;

        let mut table = Table {
            file,
            tasks: Vec::new(),
            rows: Vec::new(),
            lookup: HashMap::new(),
            by_task: Vec::new(),
            best: Vec::new(),
            has_test_metric: cols.test_metric.is_some(),
            has_cost: cols.cost.is_some(),
        };
        let file = table.file.clone();
        let mut task_ids: HashMap<String, u32> = HashMap::new();
        let mut lines: Vec<u64> = Vec::new();
        let mut genome = Vec::with_capacity(layout.len());
        let mut record = csv::StringRecord::new();
        loop {
            match reader.read_record(&mut record) {
                Ok(true) => {}
                Ok(false) => break,
                Err(e) => return Err(csv_error(&file, e)),
            }
            let line = record.position().map_or(0, |p| p.line());
            let at = |msg: String| PluginError::data(format!("table {file} line {line}: {msg}"));

            let task = &record[cols.task];
            if task.is_empty() {
                return Err(at("the task is empty".into()));
            }
            let genome_text = &record[cols.genome];
            layout
                .parse_into(genome_text, &mut genome)
                .map_err(|msg| at(format!("bad genome `{genome_text}`: {msg}")))?;
            let metric = number(&file, line, "metric", &record[cols.metric])?;
            let test_metric = match cols.test_metric.map(|c| &record[c]) {
                None | Some("") => None,
                Some(text) => Some(number(&file, line, "test_metric", text)?),
            };
            let cost = match cols.cost.map(|c| &record[c]) {
                None | Some("") => 0.0,
                Some(text) => {
                    let c = number(&file, line, "cost", text)?;
                    if c < 0.0 {
                        return Err(at(format!("cost `{text}` is negative")));
                    }
                    c
                }
            };

            let t = match task_ids.get(task) {
                Some(&t) => t,
                None => {
                    let t = table.tasks.len() as u32;
                    task_ids.insert(task.to_string(), t);
                    table.tasks.push(task.to_string());
                    table.by_task.push(Vec::new());
                    table.best.push(f64::NEG_INFINITY);
                    t
                }
            };
            let index = layout.index(&genome);
            let row = table.rows.len() as u32;
            if let Some(first) = table.lookup.insert((t, index), row) {
                return Err(at(format!(
                    "duplicate row for task `{task}` and genome `{}` (first at line {})",
                    layout.text(&genome),
                    lines[first as usize]
                )));
            }
            table.rows.push(Row {
                metric,
                test_metric,
                cost,
            });
            lines.push(line);
            table.by_task[t as usize].push(index);
            let best = &mut table.best[t as usize];
            *best = best.max(metric);
        }
        if table.rows.is_empty() {
            return Err(PluginError::data(format!(
                "table {file} has a header but no rows"
            )));
        }
        Ok(table)
    }

    /// Index of a task id in [`Table::tasks`].
    pub fn task_index(&self, task: &str) -> Option<u32> {
        self.tasks.iter().position(|t| t == task).map(|t| t as u32)
    }

    /// The row of (task, genome index), if the table has one.
    pub fn row(&self, task: u32, genome: u64) -> Option<&Row> {
        self.lookup
            .get(&(task, genome))
            .map(|&r| &self.rows[r as usize])
    }
}
