//! What happens to each reading before it is spooled: allow and deny lists, duplicates
//! dropped, calibration offsets applied, a receive time for readings that came without one.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Mutex, PoisonError};

use super::config::{Sensor, Settings};
use crate::ruuvi::{Mac, Observation};

/// Sequence numbers remembered before the first sweep of those older than the window.
const SEEN_PRUNE_AT: usize = 100_000;

/// The rules of every sensor.
#[derive(Debug)]
pub struct SensorRules {
    allow: Option<Vec<Mac>>,
    deny: Vec<Mac>,
    sensors: BTreeMap<Mac, Sensor>,
    dedupe_window_ns: i64,
    seen: Mutex<Seen>,
}

/// Broadcasts received, and the size at which old ones are next swept out.
#[derive(Debug)]
struct Seen {
    /// (sensor, measurement sequence) → when it was last received.
    at: HashMap<(Mac, u32), i64>,
    /// The size at which the entries older than the window are next dropped.
    prune_at: usize,
}

/// What the rules kept and dropped of one message.
#[derive(Debug, Default)]
pub struct Kept {
    /// The observations to write, calibrated, each with a time.
    pub observations: Vec<Observation>,
    /// Dropped by the allow or deny list (or without a MAC).
    pub denied: usize,
    /// Dropped as a broadcast already received.
    pub duplicates: usize,
    /// The kept broadcasts' (sensor, sequence), for [`SensorRules::forget`] if they cannot be
    /// spooled.
    pub sequences: Vec<(Mac, u32)>,
}

impl SensorRules {
    /// The rules of `settings`.
    pub fn new(settings: &Settings) -> Self {
        Self {
            allow: settings.allow.clone(),
            deny: settings.deny.clone(),
            sensors: settings.sensors.clone(),
            dedupe_window_ns: i64::try_from(settings.dedupe_window.as_nanos()).unwrap_or(i64::MAX),
            seen: Mutex::new(Seen { at: HashMap::new(), prune_at: SEEN_PRUNE_AT }),
        }
    }

    /// Dimensions per sensor (its name and labels), keyed as the readings' `mac` column
    /// spells the MAC, for [`crate::records::Mapping::labels`].
    pub fn labels(&self) -> HashMap<String, Vec<(String, String)>> {
        self.sensors
            .iter()
            .filter(|(_, s)| !s.dimensions.is_empty())
            .map(|(mac, s)| (mac.to_string(), s.dimensions.clone()))
            .collect()
    }

    /// Applies the rules to the observations of one message received at `now_ns`. The kept
    /// broadcasts count as received at once (the same broadcast from a second gateway at the
    /// same moment is a duplicate); [`SensorRules::forget`] takes them back when the message
    /// cannot be spooled, so that it may come again.
    pub fn apply(&self, observations: Vec<Observation>, now_ns: i64) -> Kept {
        let mut kept = Kept::default();
        let mut guard = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        let Seen { at: seen, prune_at } = &mut *guard;
        if seen.len() > *prune_at {
            // Dropped in one sweep once the map has grown by half again: amortized, however
            // many broadcasts the window holds.
            let horizon = now_ns.saturating_sub(self.dedupe_window_ns);
            seen.retain(|_, &mut at| at >= horizon);
            *prune_at = (seen.len() * 3 / 2).max(SEEN_PRUNE_AT);
        }
        for mut o in observations {
            let Some(mac) = o.reading.mac else {
                kept.denied += 1;
                continue;
            };
            if self.deny.contains(&mac) || self.allow.as_ref().is_some_and(|allow| !allow.contains(&mac)) {
                kept.denied += 1;
                continue;
            }
            if self.dedupe_window_ns > 0
                && let Some(sequence) = o.reading.measurement_sequence
            {
                let before = seen.insert((mac, sequence), now_ns);
                if before.is_some_and(|at| now_ns.saturating_sub(at) <= self.dedupe_window_ns) {
                    kept.duplicates += 1;
                    continue;
                }
                kept.sequences.push((mac, sequence));
            }
            if let Some(sensor) = self.sensors.get(&mac) {
                let [t, h, p] = sensor.offsets;
                let r = &mut o.reading;
                r.temperature = r.temperature.map(|v| v + t);
                r.humidity = r.humidity.map(|v| (v + h).clamp(0.0, 100.0));
                r.pressure = r.pressure.map(|v| v + p);
            }
            o.time_ns = o.time_ns.or(Some(now_ns));
            kept.observations.push(o);
        }
        kept
    }

    /// Takes back broadcasts that could not be spooled.
    pub fn forget(&self, sequences: &[(Mac, u32)]) {
        let mut guard = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        for k in sequences {
            guard.at.remove(k);
        }
    }
}
