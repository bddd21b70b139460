//! The run store: every trial is written before it is evaluated and its result right after, so a
//! run killed at any instant resumes with nothing lost. SQLite in WAL mode with
//! `synchronous = NORMAL`: each commit survives the process being killed (`kill -9`); only an OS
//! crash or power loss can drop the last commits.

mod epochs;
mod sqlite;

pub use epochs::SearchCheckpoint;
pub use sqlite::Store;

/// Whether a trial belongs to the search or to the source knowledge gathered before it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Role {
    Source,
    Target,
}

impl Role {
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Source => "source",
            Role::Target => "target",
        }
    }
    pub fn parse(s: &str) -> Option<Role> {
        match s {
            "source" => Some(Role::Source),
            "target" => Some(Role::Target),
            _ => None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Status {
    Pending,
    Ok,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "pending",
            Status::Ok => "ok",
            Status::Failed => "failed",
        }
    }
    pub fn parse(s: &str) -> Option<Status> {
        match s {
            "pending" => Some(Status::Pending),
            "ok" => Some(Status::Ok),
            "failed" => Some(Status::Failed),
            _ => None,
        }
    }
}

/// A trial as persisted before evaluation.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialSpec {
    pub id: u64,
    /// Ask round the trial came from (`-1`-free: source trials use batch 0 and role Source).
    pub batch: u64,
    pub role: Role,
    pub task: String,
    /// The genome as proposed (compared on replay).
    pub genome: Vec<u32>,
    /// Canonical genome (evaluated and told); empty when the proposal was invalid.
    pub canonical: Vec<u32>,
    /// Canonical text; empty when the proposal was invalid.
    pub arch: String,
    pub seed: u64,
    pub budget: Option<f64>,
    /// Set when the proposal was rejected by the space before evaluation.
    pub invalid: Option<String>,
}

/// A trial's outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    pub status: Status,
    pub metric: Option<f64>,
    pub test_metric: Option<f64>,
    pub cost_s: f64,
    pub wall_s: f64,
    pub curve: Vec<f64>,
    pub extras: String,
    pub error: Option<String>,
}

/// A stored trial: its spec and, once finished, its outcome.
#[derive(Debug, Clone, PartialEq)]
pub struct TrialRecord {
    pub spec: TrialSpec,
    pub outcome: Option<Outcome>,
}

pub fn genome_text(g: &[u32]) -> String {
    let mut s = String::with_capacity(g.len() * 3);
    for (i, v) in g.iter().enumerate() {
        if i > 0 {
            s.push('-');
        }
        s.push_str(&v.to_string());
    }
    s
}

pub fn parse_genome(s: &str) -> Option<Vec<u32>> {
    if s.is_empty() {
        return Some(Vec::new());
    }
    s.split('-').map(|p| p.parse().ok()).collect()
}
