//! "Stop requested": the one flag that long work polls to stop cleanly.
//!
//! [`install`] makes SIGTERM, SIGINT and SIGHUP set the flag instead of killing the process
//! (a cluster's time limit sends SIGTERM, Ctrl-C SIGINT, a closed terminal SIGHUP). Loops check
//! [`requested`] between units of work (an evaluation, a batch, a run), finish what is running,
//! save it, and return [`crate::HostError::Stopped`]; `main` exits with [`Signal::exit_code`]
//! (128 + the signal's number, the shell's convention). A second signal stops at once: unfinished
//! work is abandoned as it stands (a run's store keeps every committed trial, so it resumes).
//!
//! Child processes started through [`run_child`] (the runs of `xnas compare`) get their own
//! process group, so a Ctrl-C reaches them once, through the parent: every signal the parent
//! receives is forwarded to each of them exactly once.

use std::io;
use std::process::{Command, ExitStatus};
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::{Mutex, OnceLock};

/// A stop signal, by number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Signal(i32);

impl Signal {
    pub fn name(self) -> &'static str {
        match self.0 {
            signal_hook::consts::SIGTERM => "SIGTERM",
            signal_hook::consts::SIGINT => "SIGINT",
            signal_hook::consts::SIGHUP => "SIGHUP",
            _ => "a signal",
        }
    }

    /// 128 + the signal's number: 130 for SIGINT, 143 for SIGTERM, 129 for SIGHUP.
    pub fn exit_code(self) -> i32 {
        128 + self.0
    }

    /// The signal a process that exited with `code` was stopped by, if the code is a stop code.
    pub fn from_exit_code(code: i32) -> Option<Signal> {
        STOP_SIGNALS
            .iter()
            .map(|&s| Signal(s))
            .find(|s| s.exit_code() == code)
    }
}

impl std::fmt::Display for Signal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

const STOP_SIGNALS: [i32; 3] = [
    signal_hook::consts::SIGTERM,
    signal_hook::consts::SIGINT,
    signal_hook::consts::SIGHUP,
];

/// The first stop signal received (0: none).
static FIRST: AtomicI32 = AtomicI32::new(0);
/// Every stop signal received, in order (forwarded to children).
static RECEIVED: Mutex<Vec<i32>> = Mutex::new(Vec::new());
/// Running children: pid and how many of [`RECEIVED`] each has been sent.
static CHILDREN: Mutex<Vec<(u32, usize)>> = Mutex::new(Vec::new());
static INSTALLED: OnceLock<()> = OnceLock::new();

/// The signal that asked this process to stop, once one has.
pub fn requested() -> Option<Signal> {
    match FIRST.load(Ordering::SeqCst) {
        0 => None,
        s => Some(Signal(s)),
    }
}

/// `Err(Stopped)` once a stop was requested: `?` after it unwinds to the command, which saves
/// what is done and fills in the message.
pub fn poll() -> crate::HostResult<()> {
    match requested() {
        None => Ok(()),
        Some(signal) => Err(crate::HostError::Stopped {
            signal,
            message: String::new(),
        }),
    }
}

/// Catches the stop signals for the rest of the process's life (once; later calls do nothing).
/// Only commands that poll [`requested`] call it: the others keep the default (die at once).
pub fn install() -> io::Result<()> {
    if INSTALLED.get().is_some() {
        return Ok(());
    }
    let mut signals = signal_hook::iterator::Signals::new(STOP_SIGNALS)?;
    std::thread::Builder::new()
        .name("xnas-signals".into())
        .spawn(move || {
            for s in signals.forever() {
                received(Signal(s));
            }
        })?;
    let _ = INSTALLED.set(());
    Ok(())
}

fn received(signal: Signal) {
    let _ = FIRST.compare_exchange(0, signal.0, Ordering::SeqCst, Ordering::SeqCst);
    let count = RECEIVED
        .lock()
        .map(|mut r| {
            r.push(signal.0);
            r.len()
        })
        .unwrap_or(1);
    forward();
    if count == 1 {
        eprintln!(
            "\nxnas: {signal} received: stopping after the work now running; what is done is \
             saved (send it again to stop at once)"
        );
    } else {
        eprintln!(
            "\nxnas: {signal} received again: stopping at once; unfinished evaluations stay \
             pending and `xnas resume` runs them"
        );
        // `_exit`: no destructor of a plugin's library (libtorch) runs on this thread while
        // the main thread is inside it. Committed trials are in the store's WAL.
        signal_hook::low_level::exit(signal.exit_code());
    }
}

/// Sends each running child the signals it has not been sent yet (each exactly once).
fn forward() {
    let received = RECEIVED.lock().map(|r| r.clone()).unwrap_or_default();
    let Ok(mut children) = CHILDREN.lock() else {
        return;
    };
    for (pid, sent) in children.iter_mut() {
        for &s in &received[*sent..] {
            if let Some(pid) = rustix::process::Pid::from_raw(*pid as i32) {
                let _ = rustix::process::kill_process(pid, signal(s));
            }
        }
        *sent = received.len();
    }
}

fn signal(s: i32) -> rustix::process::Signal {
    match s {
        signal_hook::consts::SIGINT => rustix::process::Signal::INT,
        signal_hook::consts::SIGHUP => rustix::process::Signal::HUP,
        _ => rustix::process::Signal::TERM,
    }
}

/// Runs `cmd` to its end as a child that receives every stop signal this process receives (in
/// its own process group, so a terminal's Ctrl-C reaches it only through this process). If
/// this process dies without stopping it (`kill -9`), the child is killed too, as it would be
/// in this process's group.
pub fn run_child(cmd: &mut Command) -> io::Result<ExitStatus> {
    use std::os::unix::process::CommandExt;
    cmd.process_group(0);
    // SAFETY: the closure runs in the forked child before exec and only makes one system call
    // (prctl), which is async-signal-safe.
    unsafe {
        cmd.pre_exec(|| {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))
                .map_err(io::Error::from)
        });
    }
    let mut child = {
        let mut children = CHILDREN.lock().map_err(|_| io::Error::other("poisoned"))?;
        let child = cmd.spawn()?;
        children.push((child.id(), 0));
        child
    };
    forward(); // a signal that came while it started
               // Wait without reaping, so the pid is untracked before it can be reused.
    let pid = rustix::process::Pid::from_child(&child);
    let waited = rustix::process::waitid(
        rustix::process::WaitId::Pid(pid),
        rustix::process::WaitIdOptions::EXITED | rustix::process::WaitIdOptions::NOWAIT,
    );
    if let Ok(mut children) = CHILDREN.lock() {
        children.retain(|(p, _)| *p != child.id());
    }
    waited.map_err(io::Error::from)?;
    child.wait()
}
