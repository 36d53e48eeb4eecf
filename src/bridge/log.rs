//! The bridge's log: one line per problem on standard error, not one per message.

use std::time::{Duration, Instant};

/// How often the same problem is logged again while it lasts.
const REPEAT_AFTER: Duration = Duration::from_secs(60);

/// Says a problem once, and again only after a minute if it persists.
#[derive(Debug, Default)]
pub(crate) struct ProblemLog {
    last: Option<(String, Instant)>,
}

impl ProblemLog {
    /// Logs `message` unless it was the last one, less than a minute ago.
    pub fn say(&mut self, message: String) {
        let repeat = self.last.as_ref().is_some_and(|(m, at)| *m == message && at.elapsed() < REPEAT_AFTER);
        if !repeat {
            eprintln!("bridge: {message}");
            self.last = Some((message, Instant::now()));
        }
    }

    /// The problem is over: the next one is logged whatever it is.
    pub fn clear(&mut self) {
        self.last = None;
    }
}
