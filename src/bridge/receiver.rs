//! From a received message to spooled records: parse, decode, apply the sensor rules, map the
//! readings to records, and append them to the spool (synced) before the sender is answered.

use std::sync::atomic::Ordering;

use serde_json::Value;

use super::config::Settings;
use super::metrics::Metrics;
use super::sensors::SensorRules;
use super::spool::{Spool, SpoolBatch, SpoolError};
use crate::records::{Layout, Mapping, TimeUnit};
use crate::ruuvi::gateway::observations_from_value;
use crate::ruuvi::observations_to_batch;

/// Where a message came from, as metrics name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Input {
    /// A Ruuvi Gateway's HTTP POST.
    GatewayHttp,
}

impl Input {
    /// The name metrics give it.
    pub fn name(self) -> &'static str {
        match self {
            Self::GatewayHttp => "gateway_http",
        }
    }
}

/// What became of a message.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Accepted {
    /// Readings in the message.
    pub readings: usize,
    /// Records spooled from them.
    pub records: usize,
    /// Readings dropped as duplicates, or by the allow and deny lists.
    pub dropped: usize,
    /// Advertisements that could not be decoded (each reported once in the log).
    pub undecodable: usize,
}

/// Why a message was refused as a whole.
#[derive(Debug, thiserror::Error)]
pub enum Refused {
    /// It is not JSON, or not a message the bridge knows.
    #[error("{0}")]
    Unreadable(String),
    /// The spool cannot take it (full, or its disk fails): the sender should try again later.
    #[error(transparent)]
    Spool(#[from] SpoolError),
}

/// The receiving half of the bridge: rules, mapping, spool and counters.
#[derive(Debug)]
pub struct Receiver {
    database: String,
    table: String,
    rules: SensorRules,
    mapping: Mapping,
    /// The spool the drainer writes from.
    pub spool: Spool,
    /// The counters.
    pub metrics: Metrics,
}

impl Receiver {
    /// A receiver with `settings`, spooling into `spool`.
    pub fn new(settings: &Settings, spool: Spool) -> Self {
        let rules = SensorRules::new(settings);
        let layout = if settings.single_measure { Layout::Single } else { Layout::default() };
        let mapping =
            Mapping { layout, labels: rules.labels(), time_unit: TimeUnit::Milliseconds, ..Mapping::default() };
        Self {
            database: settings.database.clone(),
            table: settings.table.clone(),
            rules,
            mapping,
            spool,
            metrics: Metrics::default(),
        }
    }

    /// Takes one message (a JSON document) from `input`, received at `now_ns`; returns once its
    /// records are on disk.
    pub fn receive(&self, input: Input, body: &[u8], now_ns: i64) -> Result<Accepted, Refused> {
        let refuse = |reason: &'static str, message: String| {
            self.metrics.refused(reason);
            Refused::Unreadable(message)
        };
        let value: Value =
            serde_json::from_slice(body).map_err(|e| refuse("unreadable", format!("the body is not JSON: {e}")))?;
        let results = observations_from_value(&value).map_err(|e| refuse("unreadable", e.to_string()))?;
        let mut accepted = Accepted { readings: results.len(), ..Accepted::default() };
        let mut observations = Vec::with_capacity(results.len());
        for result in results {
            match result {
                Ok(o) => observations.push(o),
                Err(e) => {
                    accepted.undecodable += 1;
                    if self.metrics.undecodable.fetch_add(1, Ordering::Relaxed) < 10 {
                        eprintln!("bridge: {} message: {e}", input.name());
                    }
                }
            }
        }
        let kept = self.rules.apply(observations, now_ns);
        accepted.dropped = kept.denied + kept.duplicates;
        self.metrics.denied.fetch_add(kept.denied as u64, Ordering::Relaxed);
        self.metrics.duplicates.fetch_add(kept.duplicates as u64, Ordering::Relaxed);
        if kept.observations.is_empty() {
            return Ok(accepted);
        }
        let spooled = (|| {
            let batch = observations_to_batch(&kept.observations).map_err(|e| Refused::Unreadable(e.to_string()))?;
            let mapped = self.mapping.map(&batch).map_err(|e| Refused::Unreadable(e.to_string()))?;
            let records = mapped.records.len();
            if records > 0 {
                self.spool.append(&SpoolBatch {
                    database: self.database.clone(),
                    table: self.table.clone(),
                    received_ns: now_ns,
                    time_unit: self.mapping.time_unit,
                    records: mapped.records,
                })?;
            }
            Ok(records)
        })();
        match spooled {
            Ok(records) => {
                accepted.records = records;
                self.metrics.spooled.fetch_add(records as u64, Ordering::Relaxed);
                self.metrics.received(
                    input.name(),
                    kept.observations
                        .iter()
                        .filter_map(|o| Some((o.reading.mac?.to_string(), o.time_ns.unwrap_or(now_ns)))),
                );
                Ok(accepted)
            }
            Err(e) => {
                self.rules.forget(&kept.sequences);
                self.metrics.refused(match &e {
                    Refused::Spool(SpoolError::Full { .. }) => "spool_full",
                    Refused::Spool(SpoolError::Io(_)) => "spool_failed",
                    Refused::Unreadable(_) => "unreadable",
                });
                Err(e)
            }
        }
    }
}
