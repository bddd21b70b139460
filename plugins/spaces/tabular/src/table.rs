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

/// Line numbers from byte offsets, counting `\n` (so `\r\n` files number lines as editors do;
/// the csv crate counts a `\r\n` pair differently).
struct Lines(Vec<usize>);

impl Lines {
    fn new(bytes: &[u8]) -> Lines {
        Lines(
            bytes
                .iter()
                .enumerate()
                .filter(|(_, &b)| b == b'\n')
                .map(|(i, _)| i)
                .collect(),
        )
    }
    /// The 1-based line of a record starting at byte `offset`. The csv reader ends a record at
    /// `\r` and starts the next at the `\n` that follows, which belongs to the next line here.
    fn at(&self, offset: u64) -> u64 {
        self.0.partition_point(|&nl| (nl as u64) <= offset) as u64 + 1
    }
}

/// Turns a csv error into a data error naming the file and line.
fn csv_error(file: &str, lines: &Lines, e: csv::Error) -> PluginError {
    let line = e.position().map(|p| lines.at(p.byte()));
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

/// Refuses a file cut short: its last line has no line end and is missing fields, has an empty
/// field, or ends in a number cut after its point or exponent sign (`0.` or `1e-`), which
/// parse as something else. A complete last row without a line end is fine.
fn check_complete_end(file: &str, bytes: &[u8], lines: &Lines, fields: usize) -> PluginResult<()> {
    if bytes.is_empty() || bytes.ends_with(b"\n") {
        return Ok(());
    }
    let start = bytes.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    let last = String::from_utf8_lossy(&bytes[start..]);
    let parts: Vec<&str> = last.split(',').map(str::trim).collect();
    let cut = parts.last().is_some_and(|p| {
        p.ends_with(['.', 'e', 'E', '+', '-']) && p[..p.len() - 1].parse::<f64>().is_ok()
    });
    if parts.len() < fields || parts.iter().any(|p| p.is_empty()) || cut {
        return Err(PluginError::data(format!(
            "table {file} line {}: the file ends in the middle of a row (`{}`, no line end): it \
             was cut short; copy or write it again",
            lines.at(start as u64),
            last.trim_end()
        )));
    }
    Ok(())
}

impl Table {
    /// Loads and checks `path` against `layout`.
    pub fn load(path: &Path, layout: &Layout) -> PluginResult<Table> {
        let file = path.display().to_string();
        let bytes = std::fs::read(path)
            .map_err(|e| PluginError::io(format!("cannot open table {file}: {e}")))?;
        let line_of = Lines::new(&bytes);
        let mut reader = csv::ReaderBuilder::new()
            .trim(csv::Trim::All)
            .from_reader(bytes.as_slice());
        let header = reader
            .headers()
            .map_err(|e| csv_error(&file, &line_of, e))?
            .clone();
        let cols = columns(&file, &header)?;
        check_complete_end(&file, &bytes, &line_of, header.len())?;

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
                Err(e) => return Err(csv_error(&file, &line_of, e)),
            }
            let line = record.position().map_or(0, |p| line_of.at(p.byte()));
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
