//! Reading `nasbench-graph.bin`, the table `convert.py` writes (format documented there and in
//! the README). Everything is checked on load, so lookups afterwards need no checks: the file's
//! SHA-256 (format version 2), its structure, and every metric against the range the benchmark
//! defines (accuracies in [0, 1], latency and parameters finite and ≥ 0).

use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};
use xnas_core::{PluginError, PluginResult};

pub const MAGIC: &[u8; 8] = b"XNASNBG\0";
pub const END: &[u8; 8] = b"NBGEND\0\0";
/// The format `convert.py` writes: version 1's layout followed by the SHA-256 of every byte
/// before it.
pub const VERSION: u32 = 2;
/// Version 1 (no checksum) is still read, with the range checks only.
pub const VERSION_WITHOUT_CHECKSUM: u32 = 1;
/// Bytes of the SHA-256 trailer of version 2.
pub const CHECKSUM_LEN: usize = 32;
/// `canon` entry of a genome that has no table entry (every op `skip`).
pub const INVALID: u32 = u32::MAX;

/// The package's `link_list`: the input node of computing nodes 1..4 (0 = the graph input).
pub const LINKS: [[u8; 4]; 9] = [
    [0, 0, 0, 0],
    [0, 0, 0, 1],
    [0, 0, 1, 1],
    [0, 0, 1, 2],
    [0, 0, 1, 3],
    [0, 1, 1, 1],
    [0, 1, 1, 2],
    [0, 1, 2, 2],
    [0, 1, 2, 3],
];
/// The package's `gnn_list`, in its order (the op gene values).
pub const OPS: [&str; 9] = [
    "gat", "gcn", "gin", "cheb", "sage", "arma", "graph", "fc", "skip",
];
/// Ops of the proteins table (`gnn_list_proteins`), as indices into [`OPS`].
pub const PROTEINS_OPS: [u32; 5] = [1, 4, 5, 7, 8];
/// The nine datasets of NAS-Bench-Graph, in the file's order.
pub const TASKS: [&str; 9] = [
    "cora",
    "citeseer",
    "pubmed",
    "cs",
    "physics",
    "photo",
    "computers",
    "arxiv",
    "proteins",
];
/// Genes of a genome: link pattern, then the ops of nodes 1..4.
pub const GENES: usize = 5;
/// Number of genomes: 9 link patterns x 9^4 op choices.
pub const N_GENOMES: usize = 9 * 9 * 9 * 9 * 9;

/// One architecture's record on one dataset.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Row {
    pub valid: f64,
    pub test: f64,
    pub latency_s: f64,
    pub params_m: f64,
}

/// One dataset's table, dense over canonical key indices.
#[derive(Debug)]
pub struct TaskTable {
    pub name: String,
    pub rows: Vec<Option<Row>>,
    pub count: usize,
}

/// The whole benchmark.
#[derive(Debug)]
pub struct Data {
    pub path: PathBuf,
    /// Canonical keys (the package's base-10 hash), ascending.
    pub keys: Vec<u32>,
    /// Genome index -> key index, or [`INVALID`].
    pub canon: Vec<u32>,
    /// Key index -> canonical genome (the key's digits).
    pub key_genome: Vec<[u32; GENES]>,
    pub tasks: Vec<TaskTable>,
}

/// Genome index of a genome whose genes are in range.
#[inline]
pub fn genome_index(g: &[u32]) -> usize {
    g.iter().fold(0usize, |acc, &x| acc * 9 + x as usize)
}

/// The genome of a genome index.
pub fn index_genome(mut i: usize) -> [u32; GENES] {
    let mut g = [0u32; GENES];
    for slot in g.iter_mut().rev() {
        *slot = (i % 9) as u32;
        i /= 9;
    }
    g
}

struct Reader<'a> {
    buf: &'a [u8],
    pos: usize,
    path: &'a Path,
}

impl<'a> Reader<'a> {
    fn err(&self, what: &str) -> PluginError {
        PluginError::data(format!(
            "NAS-Bench-Graph data file {} is malformed: {what} (at byte {}); re-create it with \
             `make data`",
            self.path.display(),
            self.pos
        ))
    }
    fn take(&mut self, n: usize, what: &str) -> PluginResult<&'a [u8]> {
        if self.buf.len() - self.pos < n {
            return Err(self.err(&format!("file is truncated while reading {what}")));
        }
        let s = &self.buf[self.pos..self.pos + n];
        self.pos += n;
        Ok(s)
    }
    fn u8(&mut self, what: &str) -> PluginResult<u8> {
        Ok(self.take(1, what)?[0])
    }
    fn u32(&mut self, what: &str) -> PluginResult<u32> {
        let b = self.take(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }
    fn str(&mut self, what: &str) -> PluginResult<&'a str> {
        let n = self.u8(what)? as usize;
        let b = self.take(n, what)?;
        std::str::from_utf8(b).map_err(|_| self.err(&format!("{what} is not UTF-8")))
    }
    /// A `u32` count that must equal `want` (a fixed part of the format).
    fn count(&mut self, what: &str, want: usize) -> PluginResult<usize> {
        let n = self.u32(what)? as usize;
        if n != want {
            return Err(self.err(&format!("{what} is {n}, expected {want}")));
        }
        Ok(n)
    }
}

fn le_u32(b: &[u8]) -> u32 {
    u32::from_le_bytes([b[0], b[1], b[2], b[3]])
}

fn le_f64(b: &[u8]) -> f64 {
    let mut a = [0u8; 8];
    a.copy_from_slice(&b[..8]);
    f64::from_le_bytes(a)
}

impl Row {
    /// What is wrong with the row's values, if anything: NAS-Bench-Graph's accuracies are
    /// fractions in [0, 1], its latency (s) and parameter count (millions) finite and ≥ 0.
    pub fn out_of_range(&self) -> Option<String> {
        let fields = [
            ("validation accuracy", self.valid, 1.0),
            ("test accuracy", self.test, 1.0),
            ("latency", self.latency_s, f64::MAX),
            ("parameter count", self.params_m, f64::MAX),
        ];
        fields.iter().find_map(|&(what, v, hi)| {
            (!v.is_finite() || v < 0.0 || v > hi).then(|| {
                if hi == 1.0 {
                    format!("{what} {v:e} is outside [0, 1]")
                } else {
                    format!("{what} {v:e} is not a finite number ≥ 0")
                }
            })
        })
    }
}

/// The SHA-256 of every byte before the trailer, as `convert.py` computes it.
pub fn checksum(body: &[u8]) -> [u8; CHECKSUM_LEN] {
    Sha256::digest(body).into()
}

/// Checks the trailer of a version-2 file against its contents.
fn verify_checksum(buf: &[u8], path: &Path) -> PluginResult<()> {
    let Some(split) = buf.len().checked_sub(CHECKSUM_LEN) else {
        return Err(PluginError::data(format!(
            "NAS-Bench-Graph data file {} is truncated (shorter than its checksum); re-create it \
             with `make data`",
            path.display()
        )));
    };
    let (body, stored) = buf.split_at(split);
    if checksum(body) != stored {
        return Err(PluginError::data(format!(
            "NAS-Bench-Graph data file {} is damaged: its contents do not match the SHA-256 it \
             carries (a changed or corrupted byte); re-create it with `make data`",
            path.display()
        )));
    }
    Ok(())
}

impl Data {
    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> PluginResult<Data> {
        let buf = match std::fs::read(path) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(PluginError::io(format!(
                    "NAS-Bench-Graph data file {} not found; run `make data` to create it (it \
                     converts the nas-bench-graph package with plugins/spaces/nasbench-graph/convert.py), \
                     or point the space's `data` parameter at the file",
                    path.display()
                )))
            }
            Err(e) => {
                return Err(PluginError::io(format!(
                    "cannot read NAS-Bench-Graph data file {}: {e}",
                    path.display()
                )))
            }
        };
        Self::parse(&buf, path)
    }

    /// Parses the bytes of a data file; `path` is only used in messages.
    pub fn parse(buf: &[u8], path: &Path) -> PluginResult<Data> {
        let mut r = Reader { buf, pos: 0, path };
        if r.take(8, "the header")? != MAGIC {
            r.pos = 0;
            return Err(r.err("it does not start with the NAS-Bench-Graph magic `XNASNBG`"));
        }
        let version = r.u32("the format version")?;
        if version != VERSION && version != VERSION_WITHOUT_CHECKSUM {
            return Err(r.err(&format!(
                "format version {version}, this plugin reads versions \
                 {VERSION_WITHOUT_CHECKSUM} and {VERSION}"
            )));
        }
        if version == VERSION {
            verify_checksum(buf, path)?;
        } else {
            tracing::info!(
                "NAS-Bench-Graph data file {} has no checksum (format version 1); re-create it \
                 with `make data` to have it verified on every load",
                path.display()
            );
        }
        r.count("the number of link patterns", LINKS.len())?;
        for (i, want) in LINKS.iter().enumerate() {
            let got = r.take(4, "the link patterns")?;
            if got != want {
                return Err(r.err(&format!(
                    "link pattern {i} is {got:?}, expected {want:?} (package link_list)"
                )));
            }
        }
        r.count("the number of ops", OPS.len())?;
        for (i, want) in OPS.iter().enumerate() {
            let got = r.str("the op names")?;
            if got != *want {
                return Err(r.err(&format!(
                    "op {i} is `{got}`, expected `{want}` (package gnn_list)"
                )));
            }
        }

        let n_keys = r.u32("the number of canonical keys")? as usize;
        if n_keys == 0 || n_keys > N_GENOMES {
            return Err(r.err(&format!("{n_keys} canonical keys")));
        }
        let raw = r.take(4 * n_keys, "the canonical keys")?;
        let keys: Vec<u32> = raw.chunks_exact(4).map(le_u32).collect();
        let mut key_genome = Vec::with_capacity(n_keys);
        for (i, &k) in keys.iter().enumerate() {
            if i > 0 && keys[i - 1] >= k {
                return Err(r.err("canonical keys are not strictly ascending"));
            }
            // Base-10 digits: link, op1..op4.
            let g = [k / 10_000, k / 1000 % 10, k / 100 % 10, k / 10 % 10, k % 10];
            if k >= 90_000 || g[1..].iter().any(|&d| d >= 9) {
                return Err(r.err(&format!("canonical key {k} does not decode into a genome")));
            }
            key_genome.push(g);
        }

        r.count("the number of genomes", N_GENOMES)?;
        let raw = r.take(4 * N_GENOMES, "the canonical map")?;
        let canon: Vec<u32> = raw.chunks_exact(4).map(le_u32).collect();
        if let Some(g) = canon
            .iter()
            .position(|&c| c != INVALID && c as usize >= n_keys)
        {
            return Err(r.err(&format!("genome {g} maps to a key index out of range")));
        }
        for (ki, g) in key_genome.iter().enumerate() {
            if canon[genome_index(g)] as usize != ki {
                return Err(r.err(&format!(
                    "canonical key {} is not its own canonical form",
                    keys[ki]
                )));
            }
        }

        r.count("the number of tasks", TASKS.len())?;
        let mut tasks = Vec::with_capacity(TASKS.len());
        for _ in 0..TASKS.len() {
            let name = r.str("a task name")?.to_string();
            if !TASKS.contains(&name.as_str()) || tasks.iter().any(|t: &TaskTable| t.name == name) {
                return Err(r.err(&format!("unexpected or repeated task `{name}`")));
            }
            let n = r.u32("a task's row count")? as usize;
            if n > n_keys {
                return Err(r.err(&format!("task {name} has {n} rows for {n_keys} keys")));
            }
            let raw = r.take(36 * n, &format!("the rows of task {name}"))?;
            let mut rows = vec![None; n_keys];
            let mut last: Option<usize> = None;
            for row in raw.chunks_exact(36) {
                let ki = le_u32(row) as usize;
                if ki >= n_keys || last.is_some_and(|l| l >= ki) {
                    return Err(r.err(&format!(
                        "task {name}: key indices out of range or not ascending"
                    )));
                }
                last = Some(ki);
                let values = Row {
                    valid: le_f64(&row[4..]),
                    test: le_f64(&row[12..]),
                    latency_s: le_f64(&row[20..]),
                    params_m: le_f64(&row[28..]),
                };
                if let Some(problem) = values.out_of_range() {
                    return Err(r.err(&format!(
                        "task {name}, architecture key {}: {problem}",
                        keys[ki]
                    )));
                }
                rows[ki] = Some(values);
            }
            tasks.push(TaskTable {
                name,
                rows,
                count: n,
            });
        }
        if r.take(8, "the end marker")? != END {
            return Err(r.err("the end marker is missing"));
        }
        if version == VERSION {
            r.take(CHECKSUM_LEN, "the checksum")?;
        }
        if r.pos != buf.len() {
            return Err(r.err("unexpected bytes after the end marker"));
        }
        Ok(Data {
            path: path.to_path_buf(),
            keys,
            canon,
            key_genome,
            tasks,
        })
    }

    pub fn task_index(&self, task: &str) -> Option<usize> {
        self.tasks.iter().position(|t| t.name == task)
    }
}
