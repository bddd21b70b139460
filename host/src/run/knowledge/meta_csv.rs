//! The meta-dataset CSV of `tasks.source_file`: observations on the source tasks, one row each,
//! columns found by their header names.

use super::knowledge_err;
use crate::error::{HostError, HostResult};
use std::collections::BTreeMap;
use std::io::Read;

/// One usable row of a meta-dataset file (the architecture still as text).
#[derive(Debug, Clone, PartialEq)]
pub struct MetaRow {
    /// 1-based line the row starts on.
    pub line: u64,
    pub task: String,
    pub arch: String,
    pub metric: f64,
    pub test_metric: Option<f64>,
    pub cost_s: f64,
}

/// What a meta-dataset file holds for an experiment.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetaRows {
    /// Rows on the source tasks whose status is ok, in file order.
    pub rows: Vec<MetaRow>,
    /// Rows skipped because their task is not a source task, per task.
    pub other_tasks: BTreeMap<String, u64>,
    /// Rows skipped because their `status` column is not `ok`.
    pub not_ok: u64,
}

const META_COLUMNS: &str = "task,arch,metric (optional: test_metric, cost_seconds, status)";

/// Reads a meta-dataset CSV. Columns are found by header name, so their order is free and other
/// columns are ignored; `xnas report`'s `trials.csv` (with `cost_s` and `status`) reads as is.
/// `name` is how messages name the file. Rows of tasks outside `sources` are skipped; a row on
/// `target` is an error, as is any malformed row of a source task.
pub fn read_meta_csv(
    reader: impl Read,
    name: &str,
    target: &str,
    sources: &[String],
) -> HostResult<MetaRows> {
    let mut csv = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(reader);
    let headers = csv
        .headers()
        .map_err(|e| knowledge_err(format!("{name}:1"), format!("cannot read the header: {e}")))?
        .clone();
    let columns = Columns::of(&headers, name)?;
    let mut out = MetaRows::default();
    for record in csv.records() {
        let record = record.map_err(|e| row_error(&e, name))?;
        let row = Row {
            record: &record,
            line: record.position().map_or(0, |p| p.line()),
            columns: &columns,
            name,
        };
        let task = row.field(columns.task);
        if task.is_empty() {
            return Err(row.error("column `task` is empty: name the task the row was measured on"));
        }
        if task == target {
            return Err(row.error(format!(
                "the row is on the target task `{target}`: the target never counts as source \
                 knowledge; remove the target's rows from the file (tasks.source_file)"
            )));
        }
        if !sources.iter().any(|s| s == task) {
            *out.other_tasks.entry(task.to_string()).or_insert(0) += 1;
            continue;
        }
        match row.observation()? {
            Some(r) => out.rows.push(r),
            None => out.not_ok += 1,
        }
    }
    Ok(out)
}

/// Where the columns are.
struct Columns<'h> {
    names: Vec<&'h str>,
    task: usize,
    arch: usize,
    metric: usize,
    test_metric: Option<usize>,
    cost: Option<usize>,
    status: Option<usize>,
}

impl<'h> Columns<'h> {
    fn of(headers: &'h csv::StringRecord, name: &str) -> HostResult<Columns<'h>> {
        let err = |message: String| knowledge_err(format!("{name}:1"), message);
        if headers.iter().all(str::is_empty) {
            return Err(err(format!(
                "the file is empty: it needs a header line naming the columns {META_COLUMNS}"
            )));
        }
        let names: Vec<&str> = headers
            .iter()
            .map(|h| h.trim_start_matches('\u{feff}'))
            .collect();
        for (i, n) in names.iter().enumerate() {
            if !n.is_empty() && names[..i].contains(n) {
                return Err(err(format!(
                    "column `{n}` appears twice in the header: keep one"
                )));
            }
        }
        let find = |n: &str| names.iter().position(|h| *h == n);
        let required = |n: &str| {
            find(n).ok_or_else(|| {
                err(format!(
                    "the header has no `{n}` column (it has: {}); the columns are {META_COLUMNS}",
                    names.join(",")
                ))
            })
        };
        Ok(Columns {
            task: required("task")?,
            arch: required("arch")?,
            metric: required("metric")?,
            test_metric: find("test_metric"),
            cost: find("cost_seconds").or_else(|| find("cost_s")),
            status: find("status"),
            names,
        })
    }
}

/// A row the CSV reader refused, as one sentence naming its line.
fn row_error(e: &csv::Error, name: &str) -> HostError {
    let line = e.position().map_or(0, |p| p.line());
    let message = match e.kind() {
        csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => format!(
            "the row has {len} fields and the header {expected_len}: give every column a \
             value (empty for a missing optional one) and quote fields that contain commas"
        ),
        csv::ErrorKind::Utf8 { .. } => "the row is not valid UTF-8: save the file as UTF-8".into(),
        _ => format!("cannot read the row: {e}"),
    };
    knowledge_err(format!("{name}:{line}"), message)
}

/// One row of a source task.
struct Row<'a> {
    record: &'a csv::StringRecord,
    line: u64,
    columns: &'a Columns<'a>,
    name: &'a str,
}

impl Row<'_> {
    fn field(&self, col: usize) -> &str {
        self.record.get(col).unwrap_or("")
    }

    fn error(&self, message: impl Into<String>) -> HostError {
        knowledge_err(format!("{}:{}", self.name, self.line), message)
    }

    /// An optional number; `what` says what to write instead of a bad one.
    fn number(&self, col: usize, what: &str) -> HostResult<Option<f64>> {
        let text = self.field(col);
        if text.is_empty() {
            return Ok(None);
        }
        match text.parse::<f64>() {
            Ok(v) if v.is_finite() => Ok(Some(v)),
            _ => Err(self.error(format!(
                "column `{}`: `{text}` is not a finite number; write {what}",
                self.columns.names[col]
            ))),
        }
    }

    /// The row as an observation; None when its `status` says it failed or is pending.
    fn observation(&self) -> HostResult<Option<MetaRow>> {
        let c = self.columns;
        if let Some(col) = c.status {
            match self.field(col) {
                "ok" => {}
                "failed" | "pending" => return Ok(None),
                other => {
                    return Err(self.error(format!(
                        "column `status`: `{other}` is not `ok`, `failed` or `pending`; only `ok` \
                         rows are used (or drop the column)"
                    )))
                }
            }
        }
        let arch = self.field(c.arch);
        if arch.is_empty() {
            return Err(self.error(
                "column `arch` is empty: give the architecture in the space's canonical text, as \
                 in the `arch` column of trials.csv",
            ));
        }
        let metric = self
            .number(
                c.metric,
                "the validation metric as a number (higher is better)",
            )?
            .ok_or_else(|| {
                self.error(
                    "column `metric` is empty: give the validation metric (leave out rows of \
                     failed evaluations, or mark them with a `status` column saying `failed`)",
                )
            })?;
        let test_metric = c
            .test_metric
            .map(|col| self.number(col, "the test metric as a number, or leave it empty"))
            .transpose()?
            .flatten();
        let cost_s = match c.cost {
            None => 0.0,
            Some(col) => {
                let what = "the evaluation cost in seconds (≥ 0), or leave it empty";
                let cost = self.number(col, what)?.unwrap_or(0.0);
                if cost < 0.0 {
                    return Err(self.error(format!(
                        "column `{}`: {cost} is negative; write {what}",
                        c.names[col]
                    )));
                }
                cost
            }
        };
        Ok(Some(MetaRow {
            line: self.line,
            task: self.field(c.task).to_string(),
            arch: arch.to_string(),
            metric,
            test_metric,
            cost_s,
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read(text: &str) -> HostResult<MetaRows> {
        read_meta_csv(
            text.as_bytes(),
            "meta.csv",
            "cora",
            &["citeseer".to_string(), "pubmed".to_string()],
        )
    }

    fn err(text: &str) -> String {
        read(text).expect_err("must be refused").to_string()
    }

    #[test]
    fn columns_by_name_optional_ones_may_be_missing_or_empty() {
        let m = read(
            "metric,arch,task\n\
             0.7,\"0-0-0-0|gcn,gcn,gcn,gcn\",citeseer\n\
             0.25,x,photo\n\
             0.5,y,pubmed\n",
        )
        .unwrap();
        assert_eq!(
            m.rows,
            vec![
                MetaRow {
                    line: 2,
                    task: "citeseer".into(),
                    arch: "0-0-0-0|gcn,gcn,gcn,gcn".into(),
                    metric: 0.7,
                    test_metric: None,
                    cost_s: 0.0,
                },
                MetaRow {
                    line: 4,
                    task: "pubmed".into(),
                    arch: "y".into(),
                    metric: 0.5,
                    test_metric: None,
                    cost_s: 0.0,
                },
            ]
        );
        assert_eq!(m.other_tasks, BTreeMap::from([("photo".to_string(), 1)]));

        let m = read(
            "task,arch,metric,test_metric,cost_seconds\nciteseer,a,0.7,,\npubmed,b,0.6,0.55,3.5\n",
        )
        .unwrap();
        assert_eq!((m.rows[0].test_metric, m.rows[0].cost_s), (None, 0.0));
        assert_eq!((m.rows[1].test_metric, m.rows[1].cost_s), (Some(0.55), 3.5));
    }

    #[test]
    fn reads_the_trials_csv_that_report_writes() {
        // The header of `report::write_trials_csv`; failed rows are skipped, cost_s is the cost.
        let m = read(
            "trial_id,role,task,arch,genome,metric,test_metric,cost_s,status,seed,error\n\
             0,source,citeseer,\"0-0-0-0|gcn,gcn,gcn,gcn\",0-1-1-1-1,0.7,0.69,2.5,ok,17,\n\
             1,source,pubmed,\"0-0-0-0|gat,gcn,gcn,gcn\",0-0-1-1-1,,,0,failed,18,evaluation failed: x\n\
             2,target,photo,\"0-0-0-0|gat,gcn,gcn,gcn\",0-0-1-1-1,0.9,0.9,1,ok,19,\n",
        )
        .unwrap();
        assert_eq!(m.rows.len(), 1);
        assert_eq!(m.rows[0].task, "citeseer");
        assert_eq!(m.rows[0].arch, "0-0-0-0|gcn,gcn,gcn,gcn");
        assert_eq!((m.rows[0].test_metric, m.rows[0].cost_s), (Some(0.69), 2.5));
        assert_eq!(m.not_ok, 1);
        assert_eq!(m.other_tasks.get("photo"), Some(&1));
    }

    #[test]
    fn a_row_on_the_target_is_an_error_naming_the_line() {
        let e = err("task,arch,metric\nciteseer,a,0.5\ncora,b,0.6\npubmed,c,0.7\n");
        assert!(e.starts_with("meta.csv:3: "), "{e}");
        assert!(e.contains("target task `cora`"), "{e}");
        // Even with a bad metric, the leak is what is reported.
        let e = err("task,arch,metric\ncora,b,oops\n");
        assert!(e.contains("target task `cora`"), "{e}");
    }

    #[test]
    fn bad_values_name_line_column_and_fix() {
        let e = err("task,arch,metric\nciteseer,a,0.5\npubmed,b,abc\n");
        assert!(
            e.starts_with("meta.csv:3: column `metric`: `abc` is not a finite number"),
            "{e}"
        );
        let e = err("task,arch,metric\npubmed,b,NaN\n");
        assert!(e.starts_with("meta.csv:2: column `metric`"), "{e}");
        let e = err("task,arch,metric\npubmed,b,\n");
        assert!(e.starts_with("meta.csv:2: column `metric` is empty"), "{e}");
        let e = err("task,arch,metric\npubmed,,0.5\n");
        assert!(e.starts_with("meta.csv:2: column `arch` is empty"), "{e}");
        let e = err("task,arch,metric\n,a,0.5\n");
        assert!(e.starts_with("meta.csv:2: column `task` is empty"), "{e}");
        let e = err("task,arch,metric,test_metric\npubmed,a,0.5,x\n");
        assert!(e.starts_with("meta.csv:2: column `test_metric`"), "{e}");
        let e = err("task,arch,metric,cost_seconds\npubmed,a,0.5,-1\n");
        assert!(
            e.starts_with("meta.csv:2: column `cost_seconds`: -1 is negative"),
            "{e}"
        );
        let e = err("task,arch,metric,status\npubmed,a,0.5,maybe\n");
        assert!(e.starts_with("meta.csv:2: column `status`"), "{e}");
    }

    #[test]
    fn rows_of_other_tasks_are_not_checked() {
        let m = read("task,arch,metric\nphoto,,not a number\n").unwrap();
        assert!(m.rows.is_empty());
        assert_eq!(m.other_tasks.get("photo"), Some(&1));
    }

    #[test]
    fn unequal_rows_and_header_problems() {
        let e = err("task,arch,metric\npubmed,a,0.5\npubmed,0-0-0-0|gcn,gcn,gcn,gcn,0.5\n");
        assert!(
            e.starts_with("meta.csv:3: the row has 6 fields and the header 3"),
            "{e}"
        );
        assert!(e.contains("quote fields that contain commas"), "{e}");
        let e = err("task,architecture,metric\npubmed,a,0.5\n");
        assert!(
            e.starts_with("meta.csv:1: the header has no `arch` column"),
            "{e}"
        );
        let e = err("task,arch,metric,metric\n");
        assert!(e.contains("column `metric` appears twice"), "{e}");
        let e = err("");
        assert!(e.starts_with("meta.csv:1: the file is empty"), "{e}");
    }

    #[test]
    fn a_byte_order_mark_is_not_part_of_the_first_column() {
        let m = read("\u{feff}task,arch,metric\npubmed,a,0.5\n").unwrap();
        assert_eq!(m.rows.len(), 1);
    }
}
