//! The bridge's counters, rendered in Prometheus' text format for `GET /metrics`.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

/// Counters of everything the bridge did since it started.
#[derive(Debug, Default)]
pub struct Metrics {
    /// Readings received, by (input, sensor MAC).
    received: Mutex<BTreeMap<(&'static str, String), u64>>,
    /// The time of each sensor's latest reading, ns since the epoch.
    last_reading: Mutex<BTreeMap<String, i64>>,
    /// Messages refused as a whole (unreadable, unauthorized, spool full), by reason.
    refused: Mutex<BTreeMap<&'static str, u64>>,
    /// Advertisements in a message that could not be decoded.
    pub undecodable: AtomicU64,
    /// Readings dropped by the allow or deny list.
    pub denied: AtomicU64,
    /// Readings dropped as duplicates.
    pub duplicates: AtomicU64,
    /// Records dropped by a sensor's minimum interval.
    pub thinned: AtomicU64,
    /// Records held back until their window of a minimum interval is over.
    pub waiting_for_window: AtomicU64,
    /// Records spooled.
    pub spooled: AtomicU64,
    /// Records Timestream took.
    pub written: AtomicU64,
    /// Records Timestream refused for good (in the dead-letter file).
    pub dead_lettered: AtomicU64,
    /// Write attempts that failed for a while (Timestream unreachable, throttling).
    pub write_failures: AtomicU64,
    /// Spool bytes that could not be read back (kept in `damaged/`).
    pub spool_lost_bytes: AtomicU64,
    /// When the oldest batch not yet written was received (ns; 0 when none waits).
    pub oldest_waiting_ns: AtomicI64,
}

impl Metrics {
    /// Counts the readings of one message from `input`.
    pub fn received(&self, input: &'static str, readings: impl IntoIterator<Item = (String, i64)>) {
        let mut received = self.received.lock().unwrap_or_else(PoisonError::into_inner);
        let mut last = self.last_reading.lock().unwrap_or_else(PoisonError::into_inner);
        for (mac, time_ns) in readings {
            let at = last.entry(mac.clone()).or_insert(time_ns);
            *at = (*at).max(time_ns);
            *received.entry((input, mac)).or_default() += 1;
        }
    }

    /// Counts a message refused as a whole.
    pub fn refused(&self, reason: &'static str) {
        *self.refused.lock().unwrap_or_else(PoisonError::into_inner).entry(reason).or_default() += 1;
    }

    /// The metrics in Prometheus' text format; `spool_bytes` is what the spool holds.
    pub fn render(&self, spool_bytes: u64, now_ns: i64) -> String {
        let mut out = String::new();
        let family = |out: &mut String, name: &'static str, kind: &str, help: &str| {
            let _ = writeln!(out, "# HELP ruuvistream_bridge_{name} {help}\n# TYPE ruuvistream_bridge_{name} {kind}");
            name
        };
        let name = family(&mut out, "readings_received_total", "counter", "Readings received, by input and sensor.");
        for ((input, mac), n) in self.received.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = writeln!(out, "ruuvistream_bridge_{name}{{input=\"{input}\",sensor=\"{mac}\"}} {n}");
        }
        let name =
            family(&mut out, "last_reading_timestamp_seconds", "gauge", "The time of each sensor's latest reading.");
        for (mac, ns) in self.last_reading.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = writeln!(out, "ruuvistream_bridge_{name}{{sensor=\"{mac}\"}} {:.3}", *ns as f64 / 1e9);
        }
        let name = family(&mut out, "messages_refused_total", "counter", "Messages refused as a whole, by reason.");
        for (reason, n) in self.refused.lock().unwrap_or_else(PoisonError::into_inner).iter() {
            let _ = writeln!(out, "ruuvistream_bridge_{name}{{reason=\"{reason}\"}} {n}");
        }
        let counters: [(&'static str, &str, &AtomicU64); 9] = [
            ("undecodable_total", "Advertisements that could not be decoded.", &self.undecodable),
            ("readings_denied_total", "Readings dropped by the allow or deny list.", &self.denied),
            ("readings_duplicate_total", "Readings dropped as broadcasts already received.", &self.duplicates),
            ("records_spooled_total", "Records written to the spool.", &self.spooled),
            (
                "records_thinned_total",
                "Records left out by a sensor's minimum interval (not the latest of their window).",
                &self.thinned,
            ),
            ("records_written_total", "Records Timestream took.", &self.written),
            (
                "records_dead_lettered_total",
                "Records Timestream refused for good (dead-letter file).",
                &self.dead_lettered,
            ),
            ("write_failures_total", "Write attempts that failed and will be retried.", &self.write_failures),
            (
                "spool_lost_bytes_total",
                "Spool bytes that could not be read back (kept in damaged/).",
                &self.spool_lost_bytes,
            ),
        ];
        for (name, help, value) in counters {
            let name = family(&mut out, name, "counter", help);
            let _ = writeln!(out, "ruuvistream_bridge_{name} {}", value.load(Ordering::Relaxed));
        }
        let name = family(
            &mut out,
            "records_waiting_for_window",
            "gauge",
            "Records held back until their window of a minimum interval is over.",
        );
        let _ = writeln!(out, "ruuvistream_bridge_{name} {}", self.waiting_for_window.load(Ordering::Relaxed));
        let name = family(&mut out, "spool_bytes", "gauge", "Bytes in the spool not yet written to Timestream.");
        let _ = writeln!(out, "ruuvistream_bridge_{name} {spool_bytes}");
        let oldest = self.oldest_waiting_ns.load(Ordering::Relaxed);
        let age = if oldest == 0 { 0.0 } else { (now_ns - oldest).max(0) as f64 / 1e9 };
        let name = family(&mut out, "spool_age_seconds", "gauge", "How long the oldest batch in the spool has waited.");
        let _ = writeln!(out, "ruuvistream_bridge_{name} {age:.3}");
        out
    }
}
