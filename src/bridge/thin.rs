//! The minimum interval per sensor: of a series' records in each window of its sensor's
//! interval (windows aligned to the Unix epoch), only the latest is written.
//!
//! Decided by the drainer from the spool, so that nothing the bridge acknowledged depends on
//! memory: a window's latest record waits in [`Thinning`] until the window is over (a record
//! of a later window of the same series arrives, or the clock passes the window's end and a
//! grace for late gateways), and the spool's cursor stays at the earliest batch holding a
//! waiting record, so that a restart reads it again. Records read again after a restart are
//! decided again in the same way; the ones written before are written again with the same
//! values, which Timestream keeps once.
//!
//! Records without a sensor's `mac` dimension (the walkthrough's MQTT messages) are written as
//! they come, as the other sensor rules leave them alone too.
//!
//! A series is a table, the record's dimensions and its measure name, so that both layouts
//! (one MULTI record per reading, or one record per measure) keep one reading per window. A
//! record of a window already written (it arrived after the window was decided) is dropped;
//! one of a window that is over with none of its records seen before is written at once.

use std::collections::HashMap;
use std::time::Duration;

use super::spool::{Position, SpoolBatch};
use crate::records::{Record, TimeUnit};

/// Which series a record belongs to: database, table, dimensions and measure name.
type SeriesKey = (String, String, Vec<(String, String)>, String);

/// A record waiting for its window to end.
#[derive(Debug, Clone)]
struct Waiting {
    /// Its window's length (ns) and number since the epoch.
    window_ns: i64,
    window: i64,
    time_ns: i64,
    /// Where the batch that holds it starts in the spool.
    from: Position,
    received_ns: i64,
    unit: TimeUnit,
    record: Record,
}

/// The intervals, and the records waiting for their windows to end.
#[derive(Debug, Clone, Default)]
pub struct Thinning {
    /// Window length per sensor, ns, by its MAC as the records' `mac` dimension spells it.
    per_sensor: HashMap<String, i64>,
    /// Window length of every other sensor, ns (0: every reading).
    default_ns: i64,
    grace_ns: i64,
    waiting: HashMap<SeriesKey, Waiting>,
    /// The newest window written per series.
    written: HashMap<SeriesKey, i64>,
}

/// What [`Thinning::take`] leaves to write.
#[derive(Debug, Default)]
pub struct Decided {
    /// The records to write, as batches.
    pub batches: Vec<SpoolBatch>,
    /// Records dropped: an earlier record of a window, or one of a window already written.
    pub dropped: u64,
}

impl Thinning {
    /// Windows of `default` for every sensor (zero: every reading) and of `per_sensor` for
    /// those named (by MAC as records spell it); a window's latest record is written `grace`
    /// after the window's end at the earliest (and `grace` after it was received).
    pub fn new(default: Duration, per_sensor: HashMap<String, Duration>, grace: Duration) -> Self {
        let ns = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        Self {
            per_sensor: per_sensor.into_iter().map(|(mac, d)| (mac, ns(d))).collect(),
            default_ns: ns(default),
            grace_ns: ns(grace),
            ..Self::default()
        }
    }

    /// Where the spool's cursor may move: `read_to`, or the start of the earliest batch with a
    /// record still waiting.
    pub fn cursor(&self, read_to: Position) -> Position {
        self.waiting.values().map(|w| w.from).min().map_or(read_to, |from| from.min(read_to))
    }

    /// Records waiting for their windows to end.
    pub fn waiting(&self) -> usize {
        self.waiting.len()
    }

    /// The window of a record's sensor; none for a record without a sensor's MAC (the
    /// walkthrough's MQTT messages, which the sensor rules leave alone too).
    fn interval_ns(&self, record: &Record) -> i64 {
        match record.dimensions.iter().find(|(k, _)| k == "mac") {
            Some((_, mac)) => self.per_sensor.get(mac).copied().unwrap_or(self.default_ns),
            None => 0,
        }
    }

    /// Takes batches read from the spool, each with where it starts, at `now_ns`, and returns
    /// what to write now: the records of sensors without an interval, and the latest record of
    /// each window that has ended. When they cannot be written, start again from a new
    /// [`Thinning`] and the spool's cursor, as a restart does.
    pub fn take(&mut self, batches: Vec<(SpoolBatch, Position)>, now_ns: i64) -> Decided {
        let mut decided = Decided::default();
        for (batch, from) in batches {
            let mut passed = Vec::new();
            for record in batch.records {
                let window_ns = self.interval_ns(&record);
                if window_ns <= 0 {
                    passed.push(record);
                    continue;
                }
                let time_ns = record.time.saturating_mul(batch.time_unit.ns());
                let window = time_ns.div_euclid(window_ns);
                let key = (
                    batch.database.clone(),
                    batch.table.clone(),
                    record.dimensions.clone(),
                    record.measure_name.clone(),
                );
                if self.written.get(&key).is_some_and(|&w| window <= w) {
                    decided.dropped += 1;
                    continue;
                }
                let new = Waiting {
                    window_ns,
                    window,
                    time_ns,
                    from,
                    received_ns: batch.received_ns,
                    unit: batch.time_unit,
                    record,
                };
                match self.waiting.get_mut(&key) {
                    None => {
                        self.waiting.insert(key, new);
                    }
                    Some(w) if window == w.window => {
                        decided.dropped += 1;
                        if time_ns >= w.time_ns {
                            // The batch of the one it replaces may go: it is in order after it.
                            *w = new;
                        }
                    }
                    Some(w) if window > w.window => {
                        let done = std::mem::replace(w, new);
                        self.write(&mut decided, key, done);
                    }
                    // An earlier window than the one waiting, and none of its readings came
                    // before: the window is over (a later one began) and this is its only one.
                    Some(_) => self.write(&mut decided, key, new),
                }
            }
            if !passed.is_empty() {
                decided.batches.push(SpoolBatch { records: passed, ..batch });
            }
        }
        let grace_ns = self.grace_ns;
        let over: Vec<(SeriesKey, Waiting)> = self
            .waiting
            .extract_if(|_, w| {
                let end = w.window.saturating_add(1).saturating_mul(w.window_ns);
                now_ns >= end.max(w.received_ns).saturating_add(grace_ns)
            })
            .collect();
        for (key, done) in over {
            self.write(&mut decided, key, done);
        }
        decided
    }

    fn write(&mut self, decided: &mut Decided, key: SeriesKey, done: Waiting) {
        let (database, table) = (key.0.clone(), key.1.clone());
        self.written.insert(key, done.window);
        decided.batches.push(SpoolBatch {
            database,
            table,
            received_ns: done.received_ns,
            time_unit: done.unit,
            records: vec![done.record],
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::{Measure, ValueType};

    /// A time on a minute's start (2025-12-06 05:47 UTC).
    const T0_MS: i64 = 1_765_000_020_000;

    /// One reading of `mac` at `T0 + seconds`, received at `received_ns`.
    fn reading(mac: &str, seconds: i64, received_ns: i64) -> SpoolBatch {
        SpoolBatch {
            database: "ruuvi".into(),
            table: "sensors".into(),
            received_ns,
            time_unit: TimeUnit::Milliseconds,
            records: vec![Record {
                dimensions: vec![("mac".into(), mac.into())],
                measure_name: "ruuvi".into(),
                measure: Measure::Single { value: format!("{seconds}"), value_type: ValueType::Double },
                time: T0_MS + seconds * 1000,
                version: None,
            }],
        }
    }

    fn at(offset: u64) -> Position {
        Position { segment: 0, offset }
    }

    /// The seconds (after `T0`) of the records to write.
    fn seconds(decided: &Decided) -> Vec<i64> {
        decided.batches.iter().flat_map(|b| &b.records).map(|r| (r.time - T0_MS) / 1000).collect()
    }

    fn thinning(default_s: u64, per_sensor: &[(&str, u64)]) -> Thinning {
        Thinning::new(
            Duration::from_secs(default_s),
            per_sensor.iter().map(|&(m, s)| (m.to_string(), Duration::from_secs(s))).collect(),
            Duration::from_secs(30),
        )
    }

    #[test]
    fn the_latest_reading_of_each_window_is_written_once_the_window_is_over() {
        let mut t = thinning(60, &[]);
        let now = T0_MS * 1_000_000 + 55 * 1_000_000_000;
        let first: Vec<_> = (0..6).map(|i| (reading("A", i * 10, now), at(i as u64 * 100))).collect();
        let d = t.take(first, now);
        assert_eq!(seconds(&d), Vec::<i64>::new(), "the window is still open");
        assert_eq!((d.dropped, t.waiting()), (5, 1));
        assert_eq!(t.cursor(at(600)), at(500), "the cursor waits at the batch of the waiting reading");
        // A reading of the next window ends the first: its latest (second 50) is written.
        let d = t.take(vec![(reading("A", 61, now), at(600))], now);
        assert_eq!(seconds(&d), vec![50]);
        assert_eq!(t.cursor(at(700)), at(600));
        // The clock ends the second window: its end (second 120) and the grace (30 s) past.
        let d = t.take(Vec::new(), T0_MS * 1_000_000 + 149 * 1_000_000_000);
        assert_eq!(seconds(&d), Vec::<i64>::new());
        let d = t.take(Vec::new(), T0_MS * 1_000_000 + 150 * 1_000_000_000);
        assert_eq!(seconds(&d), vec![61]);
        assert_eq!((t.waiting(), t.cursor(at(700))), (0, at(700)));
        // A late reading of a window already written is left out.
        let d = t.take(vec![(reading("A", 59, now), at(700))], now);
        assert_eq!((seconds(&d), d.dropped), (vec![], 1));
    }

    #[test]
    fn a_late_reading_is_written_when_its_window_had_none_and_dropped_when_it_had() {
        let mut t = thinning(60, &[]);
        let now = T0_MS * 1_000_000;
        let d = t.take(vec![(reading("A", 70, now), at(0)), (reading("A", 10, now), at(10))], now);
        assert_eq!((seconds(&d), d.dropped), (vec![10], 0), "the first minute's only reading");
        let d = t.take(vec![(reading("A", 20, now), at(20))], now);
        assert_eq!((seconds(&d), d.dropped), (vec![], 1), "the first minute was written");
        assert_eq!((t.waiting(), t.cursor(at(30))), (1, at(0)));
    }

    #[test]
    fn sensors_without_an_interval_pass_and_a_sensors_own_interval_wins() {
        let mut t = thinning(0, &[("A", 60)]);
        let now = T0_MS * 1_000_000;
        let batches = vec![
            (reading("A", 1, now), at(0)),
            (reading("B", 1, now), at(10)),
            (reading("A", 2, now), at(20)),
            (reading("B", 2, now), at(30)),
        ];
        let d = t.take(batches, now);
        assert_eq!(seconds(&d), vec![1, 2], "B has no interval");
        assert_eq!(t.cursor(at(40)), at(20));
        let mut t = thinning(60, &[("A", 0)]);
        let d = t.take(vec![(reading("A", 1, now), at(0)), (reading("A", 2, now), at(10))], now);
        assert_eq!(seconds(&d), vec![1, 2], "0s: every reading of A");
        let mut no_mac = reading("B", 3, now);
        no_mac.records[0].dimensions = vec![("location".into(), "bedroom".into())];
        let d = t.take(vec![(no_mac, at(20)), (reading("B", 4, now), at(30))], now);
        assert_eq!((seconds(&d), t.waiting()), (vec![3], 1), "no sensor MAC: as it comes");
    }

    #[test]
    fn interleaved_sensors_are_decided_apart_and_a_read_from_the_cursor_finds_what_waited() {
        let now = T0_MS * 1_000_000;
        let input: Vec<_> = [("A", 5), ("B", 7), ("A", 30), ("A", 65), ("B", 70), ("A", 66), ("B", 200)]
            .iter()
            .enumerate()
            .map(|(i, &(mac, s))| (reading(mac, s, now), at(i as u64 * 10)))
            .collect();
        let mut t = thinning(60, &[]);
        let d = t.take(input.clone(), now);
        assert_eq!(seconds(&d), vec![30, 7, 70]);
        let cursor = t.cursor(at(70));
        assert_eq!((t.waiting(), cursor), (2, at(50)));
        // A restart reads from the cursor with nothing waiting: the same readings wait again,
        // and nothing already written is written again.
        let mut restarted = thinning(60, &[]);
        let d = restarted.take(input.into_iter().filter(|(_, from)| *from >= cursor).collect(), now);
        assert_eq!(seconds(&d), Vec::<i64>::new());
        assert_eq!((restarted.waiting(), restarted.cursor(at(70))), (2, cursor));
    }
}
