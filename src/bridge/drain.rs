//! Writing the spool to Timestream, in order: batches of the client's WriteRecords requests;
//! while Timestream is unreachable or throttles, the spool holds everything and the drainer
//! retries with backoff; records Timestream refuses for good go to the dead-letter file with
//! the reason. Sensors with a minimum interval have their records thinned here
//! ([`super::thin`]), the spool's cursor staying at the earliest record still waiting.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;
use tokio::sync::{Notify, watch};

use super::log::ProblemLog;
use super::receiver::Receiver;
use super::sink::{Sink, is_missing};
use super::spool::{Position, SpoolBatch};
use crate::records::{Record, TimeUnit};

/// The first and the longest wait between two failed attempts.
const FIRST_BACKOFF: Duration = Duration::from_millis(200);
const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// Where and how the drainer writes.
#[derive(Debug, Clone)]
pub struct DrainTarget {
    /// Create the database and table when they are missing.
    pub create: bool,
    /// The dead-letter file (JSON lines): records Timestream refused, with the reason.
    pub dead_letters: PathBuf,
}

/// Writes the spool to Timestream until `stop` turns true (then finishes the step it is in).
/// `wake` is notified when new batches are spooled.
pub async fn drain(
    receiver: Arc<Receiver>,
    sink: Sink,
    target: DrainTarget,
    wake: Arc<Notify>,
    mut stop: watch::Receiver<bool>,
) {
    let mut backoff = FIRST_BACKOFF;
    let mut log = ProblemLog::default();
    // Where the next read starts: the cursor, unless records of a window still open wait
    // before it (kept in `thinning`, decided again after a restart).
    let mut read_at = receiver.spool.cursor();
    let mut thinning = receiver.thinning.clone();
    while !*stop.borrow() {
        let spool_receiver = receiver.clone();
        let at = read_at;
        let read = match tokio::task::spawn_blocking(move || spool_receiver.spool.read(at)).await {
            Ok(Ok(read)) => read,
            Ok(Err(e)) => {
                log.say(format!("cannot read the spool: {e}"));
                back_off(&mut stop, MAX_BACKOFF).await;
                continue;
            }
            Err(e) => {
                log.say(format!("reading the spool failed: {e}"));
                back_off(&mut stop, MAX_BACKOFF).await;
                continue;
            }
        };
        if read.lost_bytes > 0 {
            receiver.metrics.spool_lost_bytes.fetch_add(read.lost_bytes, Ordering::Relaxed);
            log.say(format!(
                "{} bytes of the spool could not be read back; they are kept in {}",
                read.lost_bytes,
                receiver.spool.dir().join("damaged").display()
            ));
        }
        let oldest = read.batches.first().map_or(0, |(b, _)| b.received_ns);
        receiver.metrics.oldest_waiting_ns.store(oldest, Ordering::Relaxed);
        // Each batch with where it starts, for the thinning's cursor.
        let mut starts = at;
        let located: Vec<(SpoolBatch, Position)> =
            read.batches.into_iter().map(|(b, after)| (b, std::mem::replace(&mut starts, after))).collect();
        let decided = thinning.take(located, crate::units::now_ns());
        if !decided.batches.is_empty() {
            let failed = match write(&sink, &target, decided.batches).await {
                Ok(outcome) => {
                    let (refused, first) = (outcome.refused.len(), outcome.refused.first().map(|r| r.reason.clone()));
                    let failed = match dead_letter(&target.dead_letters, outcome.refused).await {
                        Err(e) => {
                            Some(format!("cannot write the dead-letter file {}: {e}", target.dead_letters.display()))
                        }
                        Ok(()) => {
                            if let Some(first) = first {
                                log.say(format!(
                                    "Timestream refused {refused} record(s); they are in {} with the reason (first: \
                                     {first})",
                                    target.dead_letters.display()
                                ));
                            }
                            None
                        }
                    };
                    // Counted once the step is done: a failed one is tried again whole.
                    if failed.is_none() {
                        receiver.metrics.written.fetch_add(outcome.written as u64, Ordering::Relaxed);
                        receiver.metrics.dead_lettered.fetch_add(refused as u64, Ordering::Relaxed);
                    }
                    failed
                }
                Err(why) => {
                    Some(format!("cannot write to Timestream, will retry (the spool keeps the readings): {why}"))
                }
            };
            if let Some(why) = failed {
                receiver.metrics.write_failures.fetch_add(1, Ordering::Relaxed);
                log.say(why);
                // Start again from the cursor, as a restart would: what was decided since is
                // decided again, and what was written is written again with the same values.
                (read_at, thinning) = (receiver.spool.cursor(), receiver.thinning.clone());
                back_off(&mut stop, backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
                continue;
            }
            backoff = FIRST_BACKOFF;
            log.clear();
        }
        receiver.metrics.thinned.fetch_add(decided.dropped, Ordering::Relaxed);
        receiver.metrics.waiting_for_window.store(thinning.waiting() as u64, Ordering::Relaxed);
        let cursor = thinning.cursor(read.next);
        if cursor != receiver.spool.cursor()
            && let Err(e) = advance(&receiver, cursor).await
        {
            log.say(format!("cannot record progress in the spool: {e}"));
        }
        if receiver.spool.cursor() == cursor {
            receiver.metrics.oldest_waiting_ns.store(0, Ordering::Relaxed);
        }
        if read.next == at {
            // Nothing new: wait for a message, or a second for open windows to end.
            wait(&mut stop, &wake, Duration::from_secs(1)).await;
        }
        read_at = read.next;
    }
}

/// Moves the spool's cursor to `to` (a synced file write), off the async threads.
async fn advance(receiver: &Arc<Receiver>, to: Position) -> std::io::Result<()> {
    let receiver = receiver.clone();
    tokio::task::spawn_blocking(move || receiver.spool.advance(to)).await.map_err(std::io::Error::other)?
}

/// Waits `timeout` after a failure, or until `stop`: new messages do not cut it short, so that
/// a busy bridge does not call an absent Timestream once per message.
async fn back_off(stop: &mut watch::Receiver<bool>, timeout: Duration) {
    tokio::select! {
        _ = stop.changed() => {}
        () = tokio::time::sleep(timeout) => {}
    }
}

/// Waits for `wake`, `stop` or `timeout`, whichever comes first.
async fn wait(stop: &mut watch::Receiver<bool>, wake: &Notify, timeout: Duration) {
    tokio::select! {
        _ = stop.changed() => {}
        () = wake.notified() => {}
        () = tokio::time::sleep(timeout) => {}
    }
}

/// A record Timestream refused for good.
struct Refusal {
    database: String,
    table: String,
    time_unit: TimeUnit,
    received_ns: i64,
    record: Record,
    reason: String,
}

/// The records of one table (and time unit), and when each was received.
type Group = (Vec<Record>, Vec<i64>);

/// What writing some batches did.
struct Outcome {
    written: usize,
    refused: Vec<Refusal>,
}

/// Writes the batches; an error (to retry the whole step) when anything failed that may work
/// later. Records written before the failure are written again then: Timestream keeps one copy
/// of a record written twice with the same value.
async fn write(sink: &Sink, target: &DrainTarget, spooled: Vec<SpoolBatch>) -> Result<Outcome, String> {
    // Per table and time unit, in order; each record remembers when its batch was received.
    let mut groups: BTreeMap<(String, String, TimeUnit), Group> = BTreeMap::new();
    for b in spooled {
        let group = groups.entry((b.database, b.table, b.time_unit)).or_default();
        group.1.extend(std::iter::repeat_n(b.received_ns, b.records.len()));
        group.0.extend(b.records);
    }
    let mut outcome = Outcome { written: 0, refused: Vec::new() };
    for ((database, table, unit), (records, received)) in groups {
        let records: Arc<[Record]> = records.into();
        let written = match sink.write(&database, &table, unit, &records).await {
            Ok(written) => written,
            // Not there (deleted since, or never made): create it and write again.
            Err(e) if target.create && is_missing(&e) => {
                sink.create(&database, &table).await.map_err(|e| e.to_string())?;
                eprintln!("bridge: created {database}.{table}");
                sink.write(&database, &table, unit, &records).await.map_err(|e| e.to_string())?
            }
            Err(e) => return Err(e.to_string()),
        };
        outcome.written += written.written;
        for r in written.refused {
            outcome.refused.push(Refusal {
                database: database.clone(),
                table: table.clone(),
                time_unit: unit,
                received_ns: received[r.index],
                record: records[r.index].clone(),
                reason: r.reason,
            });
        }
    }
    Ok(outcome)
}

/// Appends refused records to the dead-letter file (JSON lines, synced) on a blocking thread;
/// none is nothing to do.
async fn dead_letter(path: &std::path::Path, refused: Vec<Refusal>) -> std::io::Result<()> {
    if refused.is_empty() {
        return Ok(());
    }
    let path = path.to_path_buf();
    tokio::task::spawn_blocking(move || append_dead_letters(&path, &refused))
        .await
        .unwrap_or_else(|e| Err(std::io::Error::other(e)))
}

fn append_dead_letters(path: &std::path::Path, refused: &[Refusal]) -> std::io::Result<()> {
    let mut text = String::new();
    for r in refused {
        let line = json!({
            "database": r.database,
            "table": r.table,
            "received": crate::units::format_time_ms(r.received_ns),
            "time_unit": r.time_unit.name(),
            "record": r.record.to_json(),
            "reason": r.reason,
        });
        text.push_str(&line.to_string());
        text.push('\n');
    }
    let mut f = std::fs::OpenOptions::new().create(true).append(true).open(path)?;
    f.write_all(text.as_bytes())?;
    f.sync_data()
}
