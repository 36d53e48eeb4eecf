//! The engine's notion of "now", injectable so that tests can age data without sleeping.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

/// Where the engine reads the time from.
#[derive(Debug, Clone, Default)]
pub enum Clock {
    /// The system clock.
    #[default]
    System,
    /// A clock that only moves when told to (shared by every clone).
    Manual(Arc<AtomicI64>),
}

impl Clock {
    /// A manual clock starting at `ns` nanoseconds since the Unix epoch.
    pub fn manual(ns: i64) -> Self {
        Self::Manual(Arc::new(AtomicI64::new(ns)))
    }

    /// Now, in nanoseconds since the Unix epoch.
    pub fn now_ns(&self) -> i64 {
        match self {
            Self::System => crate::units::now_ns(),
            Self::Manual(t) => t.load(Ordering::SeqCst),
        }
    }

    /// Sets a manual clock; returns `false` (and does nothing) for the system clock.
    pub fn set_ns(&self, ns: i64) -> bool {
        match self {
            Self::System => false,
            Self::Manual(t) => {
                t.store(ns, Ordering::SeqCst);
                true
            }
        }
    }

    /// Moves a manual clock forward; returns `false` (and does nothing) for the system clock.
    pub fn advance(&self, by: Duration) -> bool {
        match self {
            Self::System => false,
            Self::Manual(t) => {
                t.fetch_add(i64::try_from(by.as_nanos()).unwrap_or(i64::MAX), Ordering::SeqCst);
                true
            }
        }
    }
}
