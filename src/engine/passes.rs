//! The background passes (tiering, compaction, retiring the log) on a thread of their own, at a
//! lower CPU priority than the threads that serve writes and queries: a pass is work that can
//! wait a little, a write is a client waiting. On a machine with every core busy, the kernel
//! then gives a pass the time that requests leave, instead of an equal share.

use std::sync::Arc;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::thread::JoinHandle;
use std::time::Duration;

use super::state::Engine;

/// How much lower than the serving threads the passes run: `nice` +10 (a tenth of the CPU share
/// of a thread at the default priority when both want the same core).
const NICE: i32 = 10;

/// The thread that runs [`Engine::checkpoint`] every interval until stopped.
pub(crate) struct Passes {
    stop: Option<mpsc::Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

impl Passes {
    /// Starts the thread; the first pass runs one interval from now.
    pub(crate) fn start(engine: Arc<Engine>, every: Duration) -> std::io::Result<Self> {
        let (stop, stopped) = mpsc::channel::<()>();
        let thread = std::thread::Builder::new().name("ruuvistream-passes".into()).spawn(move || {
            lower_thread_priority();
            while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(every) {
                if let Err(err) = engine.checkpoint() {
                    eprintln!("ruuvistream engine: tiering failed (the log still has every write): {err}");
                }
            }
        })?;
        Ok(Self { stop: Some(stop), thread: Some(thread) })
    }

    /// Asks the thread to stop after the pass it may be running, without waiting for it.
    pub(crate) fn signal(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }

    /// Stops the thread and waits for it (for the pass it may be running).
    pub(crate) fn stop(mut self) {
        self.signal();
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Lowers the calling thread's CPU priority to that of the engine's background passes (`nice`
/// +10 for this thread only, on Linux; elsewhere it does nothing). A thread cannot raise its
/// priority again without privileges, so call it only on a thread that runs background work
/// for the rest of its life — as [`crate::engine::LocalTimestream`]'s pass thread does, and a
/// program that runs [`Engine::checkpoint`] on a schedule of its own should.
#[allow(unsafe_code)] // two system calls (gettid, setpriority), which std does not wrap
pub fn lower_thread_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: gettid has no preconditions; setpriority on this thread's id changes only its
    // own scheduling, and a failure (refused by a sandbox) leaves the priority as it was.
    unsafe {
        let tid = libc::gettid();
        let _ = libc::setpriority(libc::PRIO_PROCESS, tid as libc::id_t, NICE);
    }
}

#[cfg(test)]
#[allow(unsafe_code)] // reading a thread's priority back (gettid, getpriority)
mod tests {
    use super::*;

    #[cfg(target_os = "linux")]
    #[test]
    fn the_calling_thread_alone_runs_at_the_lower_priority() {
        let nice_of = |tid: libc::pid_t| {
            // SAFETY: getpriority reads a thread's priority; errno is cleared before, as its
            // manual page asks (-1 is also a valid answer).
            unsafe {
                *libc::__errno_location() = 0;
                libc::getpriority(libc::PRIO_PROCESS, tid as libc::id_t)
            }
        };
        // SAFETY: gettid has no preconditions.
        let before = nice_of(unsafe { libc::gettid() });
        let lowered = std::thread::spawn(move || {
            lower_thread_priority();
            // SAFETY: as above.
            nice_of(unsafe { libc::gettid() })
        })
        .join()
        .unwrap();
        assert_eq!(lowered, (before + NICE).min(19));
        // SAFETY: as above.
        assert_eq!(nice_of(unsafe { libc::gettid() }), before, "only the thread that asked is lowered");
    }
}
