//! The write-ahead log: every acknowledged write is appended here and synced to disk before
//! the response goes out. It is a [`Journal`] (checksummed entries, group commit, a crash's
//! unfinished tail told apart from damage) whose payloads are [`WalEntry`]s.
//!
//! The payload is binary (its first byte, 1, is the format's version; see
//! [`WalEntry::framed`]); logs written by earlier releases hold JSON payloads (first byte `{`),
//! which are still read.

use std::io;
use std::path::Path;

use super::memory::{Measure, NewRecord, ScalarValue};
use crate::journal::binary::{Reader, put_len, put_option_i64, put_pairs, put_str};
use crate::journal::{self, Journal};

/// One logged write: records accepted into one table.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct WalEntry {
    /// The table's id.
    pub table: u64,
    /// The records written to the memory store, in the order they were applied.
    pub records: Vec<NewRecord>,
    /// The records written to the magnetic store (tables with magnetic store writes on).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub magnetic: Vec<NewRecord>,
}

/// What reading a log found.
#[derive(Debug, Default)]
pub struct LogContents {
    /// The readable entries, in order (around the damage, if any).
    pub entries: Vec<WalEntry>,
    /// The length of the log up to the end of its last intact entry.
    pub valid_len: u64,
    /// The file's length.
    pub file_len: u64,
    /// Damage in the middle: `(start, end)` byte ranges that cannot be read and have intact
    /// entries after them.
    pub damaged: Vec<(u64, u64)>,
}

impl LogContents {
    /// Bytes after the last intact entry: an entry a crash left unfinished.
    pub fn torn_tail(&self) -> u64 {
        self.file_len - self.valid_len
    }
}

impl From<journal::Contents<WalEntry>> for LogContents {
    fn from(c: journal::Contents<WalEntry>) -> Self {
        Self {
            entries: c.entries.into_iter().map(|(e, _)| e).collect(),
            valid_len: c.valid_len,
            file_len: c.file_len,
            damaged: c.damaged,
        }
    }
}

/// An open write-ahead log.
#[derive(Debug)]
pub struct Wal(Journal);

impl Wal {
    /// Opens (or creates) the log at `path` and returns it with the entries it holds. An
    /// unfinished entry at the end (a crash mid-append) is cut off, its bytes first copied to
    /// `aside` (a file path) when given; damage in the middle refuses the open
    /// (`InvalidData`, with where).
    pub fn open(path: &Path, aside: Option<&Path>) -> io::Result<(Self, Vec<WalEntry>)> {
        let (journal, contents) = Journal::open::<WalEntry>(path, aside, "the write-ahead log", "the engine")?;
        Ok((Self(journal), LogContents::from(contents).entries))
    }

    /// Appends an entry (not yet durable) and returns the log length after it, for
    /// [`Wal::sync_to`]. Callers append in the order the writes were applied. On failure the
    /// log is as it was before the call.
    pub fn append(&self, entry: &WalEntry) -> io::Result<u64> {
        self.0.append(&entry.framed()?)
    }

    /// Returns once the log is on disk at least up to `offset`. A failed sync breaks the log:
    /// which of its pages reached the disk is unknown.
    pub fn sync_to(&self, offset: u64) -> io::Result<()> {
        self.0.sync_to(offset)
    }

    /// Bytes written to the log.
    pub fn written(&self) -> u64 {
        self.0.written()
    }
}

impl journal::Entry for WalEntry {
    // Every payload starts with its format's byte.
    fn plausible(payload: &[u8]) -> bool {
        matches!(payload.first(), Some(&BINARY_V1 | &b'{'))
    }

    fn decode(payload: &[u8]) -> Option<Self> {
        WalEntry::decode(payload)
    }
}

/// Reads every intact entry of a log ([`journal::read`]).
pub fn read_entries(bytes: &[u8]) -> LogContents {
    journal::read::<WalEntry>(bytes).into()
}

/// The first byte of a binary payload: the version of its format.
const BINARY_V1: u8 = 1;

impl WalEntry {
    /// The entry framed for the log: length, checksum, payload, in one buffer. The payload is
    /// binary format version 1: the version byte, the table id (u64), then the memory store's
    /// records and the magnetic store's, each as a count (u32) and the records. A record is its
    /// dimensions (a count, then name and value each), the measure name, the time (i64), the
    /// version (0, or 1 and an i64), and the measure (0 and a value, or 1, a count, and name and
    /// value each); a value is a tag (0 DOUBLE, 1 BIGINT, 2 VARCHAR, 3 BOOLEAN, 4 TIMESTAMP) and
    /// its bytes; text is a length (u32) and UTF-8. Integers are little-endian.
    pub(super) fn framed(&self) -> io::Result<Vec<u8>> {
        journal::frame(64 + 256 * (self.records.len() + self.magnetic.len()), |out| self.encode_into(out))
    }

    fn encode_into(&self, out: &mut Vec<u8>) {
        out.push(BINARY_V1);
        out.extend_from_slice(&self.table.to_le_bytes());
        for records in [&self.records, &self.magnetic] {
            put_len(out, records.len());
            for r in records {
                put_pairs(out, &r.dimensions);
                put_str(out, &r.measure_name);
                out.extend_from_slice(&r.time_ns.to_le_bytes());
                put_option_i64(out, r.version);
                match &r.measure {
                    Measure::Single(v) => {
                        out.push(0);
                        put_value(out, v);
                    }
                    Measure::Multi(values) => {
                        out.push(1);
                        put_len(out, values.len());
                        for (name, v) in values {
                            put_str(out, name);
                            put_value(out, v);
                        }
                    }
                }
            }
        }
    }

    /// Reads a payload: binary (version 1) or the JSON of earlier releases. `None` when it is
    /// neither (the caller has checked its checksum, so that means damage or a newer format).
    pub fn decode(payload: &[u8]) -> Option<Self> {
        match payload.first()? {
            b'{' => serde_json::from_slice(payload).ok(),
            &BINARY_V1 => {
                let mut r = Reader(&payload[1..]);
                let table = r.u64()?;
                let records = r.records()?;
                let magnetic = r.records()?;
                r.is_done().then_some(Self { table, records, magnetic })
            }
            _ => None,
        }
    }
}

fn put_value(out: &mut Vec<u8>, v: &ScalarValue) {
    match v {
        ScalarValue::Double(x) => {
            out.push(0);
            out.extend_from_slice(&x.to_le_bytes());
        }
        ScalarValue::Bigint(x) => {
            out.push(1);
            out.extend_from_slice(&x.to_le_bytes());
        }
        ScalarValue::Varchar(x) => {
            out.push(2);
            put_str(out, x);
        }
        ScalarValue::Boolean(x) => out.extend_from_slice(&[3, u8::from(*x)]),
        ScalarValue::Timestamp(x) => {
            out.push(4);
            out.extend_from_slice(&x.to_le_bytes());
        }
    }
}

/// The WAL's values and records, read from a binary payload.
trait ReadRecords {
    fn value(&mut self) -> Option<ScalarValue>;
    fn records(&mut self) -> Option<Vec<NewRecord>>;
}

impl ReadRecords for Reader<'_> {
    fn value(&mut self) -> Option<ScalarValue> {
        Some(match self.u8()? {
            0 => ScalarValue::Double(f64::from_le_bytes(self.take()?)),
            1 => ScalarValue::Bigint(self.i64()?),
            2 => ScalarValue::Varchar(self.str()?),
            3 => ScalarValue::Boolean(match self.u8()? {
                0 => false,
                1 => true,
                _ => return None,
            }),
            4 => ScalarValue::Timestamp(self.i64()?),
            _ => return None,
        })
    }

    fn records(&mut self) -> Option<Vec<NewRecord>> {
        // The smallest record: no dimensions (4), an empty name (4), time (8), no version (1),
        // a BOOLEAN (3).
        let n = self.len(20)?;
        let mut records = Vec::with_capacity(n);
        for _ in 0..n {
            let dimensions = self.pairs()?;
            let measure_name = self.str()?;
            let time_ns = self.i64()?;
            let version = self.option_i64()?;
            let measure = match self.u8()? {
                0 => Measure::Single(self.value()?),
                1 => {
                    let n = self.len(6)?;
                    Measure::Multi((0..n).map(|_| Some((self.str()?, self.value()?))).collect::<Option<Vec<_>>>()?)
                }
                _ => return None,
            };
            records.push(NewRecord { dimensions, measure_name, time_ns, version, measure });
        }
        Some(records)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::store::{Measure, ScalarValue};

    fn record(i: i64) -> NewRecord {
        NewRecord {
            dimensions: vec![("d".into(), "x".into())],
            measure_name: "m".into(),
            time_ns: i,
            version: None,
            measure: Measure::Single(ScalarValue::Bigint(i)),
        }
    }

    fn entry(i: i64) -> Vec<u8> {
        WalEntry { table: 1, records: vec![record(i)], magnetic: Vec::new() }.framed().unwrap()
    }

    /// An entry as earlier releases wrote it: a JSON payload.
    fn json_entry(i: i64) -> Vec<u8> {
        let payload =
            serde_json::to_vec(&WalEntry { table: 1, records: vec![record(i)], magnetic: Vec::new() }).unwrap();
        let mut out = (payload.len() as u32).to_le_bytes().to_vec();
        out.extend_from_slice(&crc32fast::hash(&payload).to_le_bytes());
        out.extend_from_slice(&payload);
        out
    }

    #[test]
    fn a_log_of_an_earlier_release_is_read_and_continued_in_the_binary_format() {
        let mut log: Vec<u8> = (0..3).flat_map(json_entry).collect();
        log.extend((3..6).flat_map(entry));
        let read = read_entries(&log);
        assert_eq!((read.torn_tail(), read.damaged.len()), (0, 0));
        let expected: Vec<WalEntry> =
            (0..6).map(|i| WalEntry { table: 1, records: vec![record(i)], magnetic: Vec::new() }).collect();
        assert_eq!(read.entries, expected);
    }

    fn value() -> impl Strategy<Value = ScalarValue> {
        prop_oneof![
            any::<f64>().prop_map(ScalarValue::Double),
            any::<i64>().prop_map(ScalarValue::Bigint),
            ".{0,12}".prop_map(ScalarValue::Varchar),
            any::<bool>().prop_map(ScalarValue::Boolean),
            any::<i64>().prop_map(ScalarValue::Timestamp),
        ]
    }

    fn new_record() -> impl Strategy<Value = NewRecord> {
        let measure = prop_oneof![
            value().prop_map(Measure::Single),
            proptest::collection::vec((".{0,6}", value()), 0..4).prop_map(Measure::Multi),
        ];
        (proptest::collection::vec((".{0,6}", ".{0,6}"), 0..4), ".{0,8}", any::<i64>(), any::<Option<i64>>(), measure)
            .prop_map(|(dimensions, measure_name, time_ns, version, measure)| NewRecord {
                dimensions,
                measure_name,
                time_ns,
                version,
                measure,
            })
    }

    use proptest::prelude::*;

    proptest! {
        /// Every entry reads back as written (compared by their Debug text, so that NaN
        /// equals NaN), a cut payload is refused, and no changed byte makes decoding panic.
        #[test]
        fn binary_entries_read_back_exactly_and_bad_bytes_never_panic(
            table in any::<u64>(),
            records in proptest::collection::vec(new_record(), 0..5),
            magnetic in proptest::collection::vec(new_record(), 0..3),
            cut in any::<prop::sample::Index>(),
            flip in any::<(prop::sample::Index, u8)>(),
        ) {
            let entry = WalEntry { table, records, magnetic };
            let payload = entry.framed().unwrap()[8..].to_vec();
            let back = WalEntry::decode(&payload).expect("decodes");
            prop_assert_eq!(format!("{back:?}"), format!("{entry:?}"));
            prop_assert!(WalEntry::decode(&payload[..cut.index(payload.len())]).is_none());
            let mut changed = payload.clone();
            let at = flip.0.index(changed.len());
            changed[at] ^= flip.1 | 1;
            let _ = WalEntry::decode(&changed);
        }
    }

    #[test]
    fn a_flipped_bit_in_the_middle_is_damage_and_an_unfinished_tail_is_not() {
        let log: Vec<u8> = (0..10).flat_map(entry).collect();
        let whole = read_entries(&log);
        assert_eq!((whole.entries.len(), whole.torn_tail(), whole.damaged.len()), (10, 0, 0));

        let mut flipped = log.clone();
        flipped[log.len() / 2] ^= 0x10;
        let read = read_entries(&flipped);
        assert_eq!(read.damaged.len(), 1, "{:?}", read.damaged);
        assert_eq!(read.entries.len(), 9, "every entry but the damaged one is readable");

        let mut torn = log.clone();
        torn.extend_from_slice(&entry(10)[..20]);
        let read = read_entries(&torn);
        assert_eq!((read.entries.len(), read.damaged.len()), (10, 0));
        assert_eq!(read.torn_tail(), 20);

        // A damaged length field: the search still finds the entries after it.
        let mut bad_len = log.clone();
        let second = entry(0).len();
        bad_len[second + 3] = 0x7f;
        let read = read_entries(&bad_len);
        assert_eq!((read.entries.len(), read.damaged.len()), (9, 1));
    }
}
