//! One owner per run directory: an advisory lock (`flock`) on `DIR/xnas.lock`, held by every
//! command that writes the directory (`run`, `resume`, `report`, `compare`, `ablation`) for as
//! long as it writes. The file records who holds it (PID, host, command), so a second process
//! can say whom it waits for. The kernel releases the lock when its holder dies, however it dies:
//! a lock file left by a killed process never blocks.

use crate::error::{HostError, HostResult};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, Write};
use std::path::{Path, PathBuf};

/// The lock file in a locked directory.
pub const LOCK_FILE: &str = "xnas.lock";

/// A held lock; released when dropped (or when the process ends).
#[derive(Debug)]
pub struct DirLock {
    _file: File,
    path: PathBuf,
}

impl DirLock {
    /// Locks `dir` (which must exist) for this process, or says who holds it (exit 2).
    pub fn acquire(dir: &Path) -> HostResult<DirLock> {
        let path = dir.join(LOCK_FILE);
        let mut file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
            .map_err(|e| HostError::io(&path, e))?;
        use rustix::fs::{flock, FlockOperation};
        match flock(&file, FlockOperation::NonBlockingLockExclusive) {
            Ok(()) => {}
            Err(rustix::io::Errno::WOULDBLOCK) => {
                return Err(HostError::Usage(format!(
                    "{} is in use by another xnas ({}): wait for it to end or stop it first, \
                     one run directory takes one process at a time",
                    dir.display(),
                    holder(&mut file)
                )))
            }
            Err(e) => return Err(HostError::io(&path, e.into())),
        }
        let command: Vec<String> = std::env::args().collect();
        let record = format!(
            "pid {}\nhost {}\ncommand {}\n",
            std::process::id(),
            host_name(),
            command.join(" ")
        );
        file.set_len(0)
            .and_then(|()| file.rewind())
            .and_then(|()| file.write_all(record.as_bytes()))
            .and_then(|()| file.flush())
            .map_err(|e| HostError::io(&path, e))?;
        Ok(DirLock { _file: file, path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// This machine's name (as `uname -n` gives it).
pub fn host_name() -> String {
    rustix::system::uname()
        .nodename()
        .to_string_lossy()
        .into_owned()
}

/// "PID n on host h" from the lock file of the process holding it. The holder writes the file
/// just after it takes the lock: a few short retries cover a reader that comes in between.
fn holder(file: &mut File) -> String {
    for _ in 0..50 {
        let mut text = String::new();
        if file.rewind().is_ok() && file.read_to_string(&mut text).is_ok() {
            let field = |key: &str| {
                text.lines()
                    .find_map(|l| l.strip_prefix(key).map(str::trim))
                    .filter(|v| !v.is_empty())
                    .map(str::to_string)
            };
            if let (Some(pid), Some(host)) = (field("pid "), field("host ")) {
                return format!("PID {pid} on host {host}");
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    "a process that has not said who it is".into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_lock_names_the_first_and_a_released_one_is_free() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        // flock locks belong to the open file: a second open in this process conflicts too.
        let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
        let me = format!("PID {} on host {}", std::process::id(), host_name());
        assert!(err.contains(&me), "{err}");
        assert!(err.contains("is in use by another xnas"), "{err}");
        drop(first);
        DirLock::acquire(dir.path()).unwrap();
    }
}
