//! An engine in a child process: `ruuvistream serve` on a free loopback port, for programs and
//! notebooks that use the client without building the engine into themselves.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, RecvTimeoutError, channel};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::error::{Error, Result};

/// How long the engine may take to start listening, and to answer a clock command.
const START_TIMEOUT: Duration = Duration::from_secs(60);
const ANSWER_TIMEOUT: Duration = Duration::from_secs(10);
/// How long a stopping engine may take (its final tiering pass included) before it is killed.
const STOP_TIMEOUT: Duration = Duration::from_secs(30);
/// Lines of the engine's standard error kept for an error report.
const STDERR_LINES: usize = 20;

/// How to start an [`EngineProcess`].
#[derive(Debug, Clone, Default)]
pub struct ServeOptions {
    /// The `ruuvistream` program; `None` takes `RUUVISTREAM_BIN` from the environment, else
    /// `ruuvistream` on the `PATH` (installed by `pip install ruuvistream` or
    /// `cargo install ruuvistream --features cli,engine`).
    pub program: Option<PathBuf>,
    /// Start the engine on a manual clock at this time (nanoseconds since the Unix epoch),
    /// which then moves only with [`EngineProcess::advance`] and [`EngineProcess::set_now`];
    /// `None` runs it on the system clock.
    pub clock_ns: Option<i64>,
    /// More `serve` flags, such as `--data-dir DIR` (the port is always a free one).
    pub args: Vec<String>,
}

/// `ruuvistream serve` in a child process, listening on a free port of 127.0.0.1, controlled
/// through its standard input (`serve --control`): the handle moves its clock, and stops it
/// when dropped — or when this process ends, since the engine stops at the end of its input.
///
/// The engine is the same as [`crate::engine::EngineThread`] runs inside the process (feature
/// `engine`); in a child process, a program that only talks to it needs the client alone,
/// which builds in a fraction of the time.
///
/// ```no_run
/// use std::time::Duration;
/// use ruuvistream::client::{Connect, EngineProcess, ServeOptions, block_on};
/// let start = 1_764_590_400_000_000_000; // 2025-12-01T12:00:00Z
/// let mut engine = EngineProcess::start(ServeOptions { clock_ns: Some(start), ..Default::default() })?;
/// let connect = Connect::endpoint(engine.endpoint_url());
/// let databases = block_on(&connect, |ts| async move { ts.list_databases().await })?;
/// assert_eq!(engine.advance(Duration::from_secs(3600))?, start + 3_600_000_000_000);
/// engine.stop()?;
/// # Ok::<(), ruuvistream::Error>(())
/// ```
pub struct EngineProcess {
    child: Child,
    /// The engine's commands; `None` once stopped (closing it stops the engine).
    stdin: Option<ChildStdin>,
    /// The engine's standard output, line by line.
    lines: Receiver<String>,
    /// The last lines of its standard error, for error reports, and the thread that reads it.
    stderr: Arc<Mutex<Vec<String>>>,
    stderr_reader: Option<std::thread::JoinHandle<()>>,
    endpoint_url: String,
    now_ns: i64,
    program: PathBuf,
}

impl std::fmt::Debug for EngineProcess {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("EngineProcess")
            .field("endpoint_url", &self.endpoint_url)
            .field("pid", &self.child.id())
            .field("now", &crate::units::format_time_ms(self.now_ns))
            .field("running", &self.stdin.is_some())
            .finish()
    }
}

impl EngineProcess {
    /// Starts the engine and waits (up to 60 s) until it listens.
    pub fn start(options: ServeOptions) -> Result<Self> {
        let program = options
            .program
            .or_else(|| std::env::var_os("RUUVISTREAM_BIN").map(PathBuf::from))
            .unwrap_or_else(|| PathBuf::from("ruuvistream"));
        let mut command = Command::new(&program);
        command.args(["serve", "--port", "0", "--control"]);
        if let Some(ns) = options.clock_ns {
            command.args(["--clock", &crate::units::format_time_ns(ns)]);
        }
        command.args(&options.args).stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
        let mut child = command.spawn().map_err(|e| {
            let hint = if e.kind() == std::io::ErrorKind::NotFound {
                "; install it with `pip install ruuvistream` or `cargo install ruuvistream --features cli,engine`, \
                 or set RUUVISTREAM_BIN to its path"
            } else {
                ""
            };
            Error::Io(std::io::Error::new(e.kind(), format!("cannot run {}: {e}{hint}", program.display())))
        })?;
        let stdin = child.stdin.take();
        let (lines, _) = forward_lines(child.stdout.take().expect("stdout is piped"), None);
        let stderr = Arc::new(Mutex::new(Vec::new()));
        let (_, stderr_reader) = forward_lines(child.stderr.take().expect("stderr is piped"), Some(stderr.clone()));
        let mut process = Self {
            child,
            stdin,
            lines,
            stderr,
            stderr_reader: Some(stderr_reader),
            endpoint_url: String::new(),
            now_ns: 0,
            program,
        };
        let deadline = Instant::now() + START_TIMEOUT;
        loop {
            let line = process.next_line(deadline, "start listening")?;
            if let Some(url) = line.strip_prefix("ruuvistream engine listening on ") {
                process.endpoint_url = url.trim().to_string();
                break;
            }
        }
        process.now_ns = process.command("now")?;
        Ok(process)
    }

    /// `http://127.0.0.1:<port>`, the endpoint URL to give clients.
    pub fn endpoint_url(&self) -> &str {
        &self.endpoint_url
    }

    /// The engine's time, in nanoseconds since the Unix epoch: on a manual clock, where the
    /// last command left it; on the system clock, as it was when last asked.
    pub fn now_ns(&self) -> i64 {
        self.now_ns
    }

    /// Moves the engine's manual clock forward; returns the new time.
    pub fn advance(&mut self, by: Duration) -> Result<i64> {
        self.command(&format!("advance {}ns", by.as_nanos()))
    }

    /// Sets the engine's manual clock (nanoseconds since the Unix epoch).
    pub fn set_now(&mut self, ns: i64) -> Result<()> {
        self.command(&format!("set {}", crate::units::format_time_ns(ns))).map(drop)
    }

    /// Whether the engine is serving (until [`EngineProcess::stop`]).
    pub fn is_running(&mut self) -> bool {
        self.stdin.is_some() && matches!(self.child.try_wait(), Ok(None))
    }

    /// Stops the engine as Ctrl-C would (requests in flight finish; with a data directory, a
    /// final tiering pass runs) and waits for it, killing it after 30 s. Idempotent.
    pub fn stop(&mut self) -> Result<()> {
        drop(self.stdin.take());
        let deadline = Instant::now() + STOP_TIMEOUT;
        loop {
            match self.child.try_wait()? {
                Some(status) if status.success() => return Ok(()),
                Some(status) => return Err(self.failed(&format!("stopped with {status}"))),
                None if Instant::now() >= deadline => {
                    self.child.kill()?;
                    self.child.wait()?;
                    return Err(self.failed("did not stop within 30 s and was killed"));
                }
                None => std::thread::sleep(Duration::from_millis(20)),
            }
        }
    }

    /// Sends one control command and returns the clock's time from its answer (lines before
    /// it, such as the engine's description of itself, are skipped).
    fn command(&mut self, line: &str) -> Result<i64> {
        let stdin = self.stdin.as_mut().ok_or_else(|| Error::InvalidArgument("the engine was stopped".into()))?;
        if let Err(e) = writeln!(stdin, "{line}").and_then(|()| stdin.flush()) {
            return Err(self.failed(&format!("stopped taking commands ({e})")));
        }
        let deadline = Instant::now() + ANSWER_TIMEOUT;
        loop {
            let answer = self.next_line(deadline, "answer")?;
            if let Some(why) = answer.strip_prefix("error ") {
                return Err(Error::InvalidArgument(format!("the engine refused `{line}`: {why}")));
            }
            if let Some(rest) = answer.strip_prefix("now ") {
                return match rest.split_whitespace().next().and_then(|ns| ns.parse().ok()) {
                    Some(ns) => {
                        self.now_ns = ns;
                        Ok(ns)
                    }
                    None => Err(self.failed(&format!("answered {answer:?}"))),
                };
            }
        }
    }

    /// The engine's next line of output, waiting until `deadline` for it to `what`.
    fn next_line(&mut self, deadline: Instant, what: &str) -> Result<String> {
        match self.lines.recv_timeout(deadline.saturating_duration_since(Instant::now())) {
            Ok(line) => Ok(line),
            Err(RecvTimeoutError::Timeout) => {
                let _ = self.child.kill();
                let _ = self.child.wait();
                Err(self.failed(&format!("did not {what} in time and was stopped")))
            }
            Err(RecvTimeoutError::Disconnected) => {
                // Its output closed: it exited (or is exiting).
                let status = self.child.wait().map(|s| s.to_string()).unwrap_or_else(|e| e.to_string());
                self.stdin = None;
                Err(self.failed(&format!("exited ({status})")))
            }
        }
    }

    /// An error that says what the engine did, with the end of its standard error.
    fn failed(&mut self, what: &str) -> Error {
        // Once the engine has exited, its last lines are read to the end of the stream.
        if matches!(self.child.try_wait(), Ok(Some(_)))
            && let Some(reader) = self.stderr_reader.take()
        {
            let _ = reader.join();
        }
        let stderr = self.stderr.lock().map(|l| l.join("\n")).unwrap_or_default();
        let said = if stderr.trim().is_empty() { String::new() } else { format!(":\n{stderr}") };
        Error::Io(std::io::Error::other(format!("the engine ({} serve) {what}{said}", self.program.display())))
    }
}

impl Drop for EngineProcess {
    fn drop(&mut self) {
        if self.stdin.is_some() {
            let _ = self.stop();
        }
    }
}

/// Reads `from` line by line on a thread of its own: into a channel, or when `keep` is given,
/// into its last [`STDERR_LINES`] lines (the stream is read to its end either way, so that the
/// engine never blocks on a full pipe).
fn forward_lines(
    from: impl std::io::Read + Send + 'static,
    keep: Option<Arc<Mutex<Vec<String>>>>,
) -> (Receiver<String>, std::thread::JoinHandle<()>) {
    let (tx, rx) = channel();
    let reader = std::thread::spawn(move || {
        for line in BufReader::new(from).lines() {
            let Ok(line) = line else { break };
            match &keep {
                Some(kept) => {
                    if let Ok(mut kept) = kept.lock() {
                        if kept.len() == STDERR_LINES {
                            kept.remove(0);
                        }
                        kept.push(line);
                    }
                }
                None => {
                    let _ = tx.send(line);
                }
            }
        }
    });
    (rx, reader)
}
