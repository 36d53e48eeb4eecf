//! From a received message to spooled records: parse, decode, apply the sensor rules, map the
//! readings to records, and append them to the spool (synced) before the sender is answered.

use std::sync::atomic::Ordering;

use serde_json::Value;

use super::config::{Mqtt, MqttShape, Settings};
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
    /// A Ruuvi Gateway's MQTT message.
    GatewayMqtt,
    /// A message of the walkthrough's own shape, on MQTT (`d/<location>`).
    WalkthroughMqtt,
    /// Ruuvi Station's data forwarding (an HTTP POST to the same URL as a Gateway's).
    StationHttp,
    /// A Ruuvi Gateway's `/history`, polled.
    GatewayHistory,
}

impl Input {
    /// The name metrics give it.
    pub fn name(self) -> &'static str {
        match self {
            Self::GatewayHttp => "gateway_http",
            Self::GatewayMqtt => "gateway_mqtt",
            Self::WalkthroughMqtt => "walkthrough_mqtt",
            Self::StationHttp => "station_http",
            Self::GatewayHistory => "gateway_history",
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
    derived: Vec<crate::ruuvi::derived::Derived>,
    rules: SensorRules,
    mapping: Mapping,
    /// The spool the drainer writes from.
    pub spool: Spool,
    /// The minimum intervals the drainer applies.
    pub thinning: super::thin::Thinning,
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
            derived: settings.derived.clone(),
            thinning: super::thin::Thinning::new(
                settings.min_interval,
                settings.sensors.iter().filter_map(|(mac, s)| Some((mac.to_string(), s.min_interval?))).collect(),
                settings.min_interval_grace,
            ),
            rules,
            mapping,
            spool,
            metrics: Metrics::default(),
        }
    }

    /// Takes one message (a JSON document) from `input`, received at `now_ns`; returns once its
    /// records are on disk.
    /// Ruuvi Station's data forwarding, posted where a Gateway posts, counts as its own input.
    pub fn receive(&self, input: Input, body: &[u8], now_ns: i64) -> Result<Accepted, Refused> {
        let value = self.parse(body)?;
        let station = value.get("tags").is_some_and(Value::is_array);
        let input = if input == Input::GatewayHttp && station { Input::StationHttp } else { input };
        self.receive_value(input, &value, now_ns)
    }

    /// Takes one MQTT message: a Gateway's (the sensor's MAC is the topic's last level;
    /// `…/gw_status` messages are the Gateway's own and are skipped) or, with `shape`
    /// [`MqttShape::Walkthrough`], one of the walkthrough's on `d/<location>`.
    pub fn receive_mqtt(&self, mqtt: &Mqtt, topic: &str, payload: &[u8], now_ns: i64) -> Result<Accepted, Refused> {
        let mut value = self.parse(payload)?;
        match mqtt.shape {
            MqttShape::Gateway => {
                let mac = topic.rsplit('/').next().unwrap_or_default();
                if mac == "gw_status" {
                    return Ok(Accepted::default());
                }
                if let Some(o) = value.as_object_mut()
                    && !["mac", "id", "tag_mac"].iter().any(|k| o.contains_key(*k))
                {
                    o.insert("mac".into(), Value::String(mac.to_string()));
                }
                self.receive_value(Input::GatewayMqtt, &value, now_ns)
            }
            MqttShape::Walkthrough => {
                let records = walkthrough_records(topic, &value, &mqtt.site, now_ns).map_err(|why| {
                    self.metrics.refused("unreadable");
                    Refused::Unreadable(format!("{topic}: {why}"))
                })?;
                let location = records
                    .first()
                    .and_then(|r| r.dimensions.iter().find(|(k, _)| k == "location").map(|(_, v)| v.clone()));
                let n = records.len();
                self.spool_records(records, TimeUnit::Milliseconds, now_ns)?;
                self.metrics.received(Input::WalkthroughMqtt.name(), location.map(|l| (l, now_ns)));
                Ok(Accepted { readings: 1, records: n, ..Accepted::default() })
            }
        }
    }

    fn parse(&self, body: &[u8]) -> Result<Value, Refused> {
        serde_json::from_slice(body).map_err(|e| {
            self.metrics.refused("unreadable");
            Refused::Unreadable(format!("the body is not JSON: {e}"))
        })
    }

    /// Appends records to the spool (a no-op for none) and counts them.
    fn spool_records(&self, records: Vec<crate::records::Record>, unit: TimeUnit, now_ns: i64) -> Result<(), Refused> {
        if records.is_empty() {
            return Ok(());
        }
        let n = records.len() as u64;
        let batch = SpoolBatch {
            database: self.database.clone(),
            table: self.table.clone(),
            received_ns: now_ns,
            time_unit: unit,
            records,
        };
        if let Err(e) = self.spool.append(&batch) {
            self.metrics.refused(match &e {
                SpoolError::Full { .. } => "spool_full",
                SpoolError::Io(_) => "spool_failed",
            });
            return Err(e.into());
        }
        self.metrics.spooled.fetch_add(n, Ordering::Relaxed);
        Ok(())
    }

    fn receive_value(&self, input: Input, value: &Value, now_ns: i64) -> Result<Accepted, Refused> {
        let results = observations_from_value(value).map_err(|e| {
            self.metrics.refused("unreadable");
            Refused::Unreadable(e.to_string())
        })?;
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
            let batch = observations_to_batch(&kept.observations)
                .and_then(|batch| crate::ruuvi::derived::with_derived(&batch, &self.derived))
                .map_err(|e| Refused::Unreadable(e.to_string()))?;
            let mapped = self.mapping.map(&batch).map_err(|e| Refused::Unreadable(e.to_string()))?;
            let records = mapped.records.len();
            self.spool_records(mapped.records, self.mapping.time_unit, now_ns)?;
            Ok(records)
        })();
        match spooled {
            Ok(records) => {
                accepted.records = records;
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
                Err(e)
            }
        }
    }
}

/// The records of a walkthrough message, as its backend made them: the topic's second level
/// is the `location` dimension and `site` the site (unless the message has `d_location` or
/// `d_site`); every `d_*` field is a dimension (prefix dropped); every other number is a DOUBLE
/// record named after its field; the time is the message's `time` (milliseconds, or seconds,
/// micro- or nanoseconds by size, or RFC 3339), else `now_ns`.
fn walkthrough_records(
    topic: &str,
    value: &Value,
    site: &str,
    now_ns: i64,
) -> Result<Vec<crate::records::Record>, String> {
    use crate::records::{Measure, Record, ValueType};
    let o = value.as_object().ok_or("expected a JSON object")?;
    let mut dimensions: Vec<(String, String)> = Vec::new();
    for (k, v) in o {
        let Some(name) = k.strip_prefix("d_").filter(|n| !n.is_empty()) else { continue };
        let text = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            Value::Bool(b) => b.to_string(),
            _ => return Err(format!("the dimension {k:?} must be text or a number")),
        };
        if !text.is_empty() {
            dimensions.push((name.to_string(), text));
        }
    }
    let location = topic.split('/').nth(1).filter(|l| !l.is_empty());
    for (name, default) in [("location", location), ("site", Some(site))] {
        if let Some(value) = default
            && !dimensions.iter().any(|(k, _)| k == name)
        {
            dimensions.push((name.to_string(), value.to_string()));
        }
    }
    dimensions.sort();
    let time_ns = crate::ruuvi::gateway::time_of(o, &["time"]).map_err(|e| e.to_string())?.unwrap_or(now_ns);
    let time = TimeUnit::Milliseconds.from_ns(time_ns);
    let records: Vec<Record> = o
        .iter()
        .filter(|(k, _)| !k.starts_with("d_") && *k != "time")
        .filter_map(|(k, v)| {
            let n = v.as_number()?;
            n.as_f64().filter(|x| x.is_finite())?;
            Some(Record {
                dimensions: dimensions.clone(),
                measure_name: k.clone(),
                measure: Measure::Single { value: n.to_string(), value_type: ValueType::Double },
                time,
                version: None,
            })
        })
        .collect();
    if records.is_empty() {
        return Err("no numeric field to write".into());
    }
    Ok(records)
}
