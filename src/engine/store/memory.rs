//! The in-memory store of one table.
//!
//! Rows are keyed by record identity (series, time, measure name) in time order, so that
//! identity lookups (upserts, idempotent repeats, version conflicts) and time-range scans
//! (retention, and queries) are both ordered-map operations.
//!
//! For queries, each hour of rows is also kept as a columnar chunk, built when a query first
//! needs it and dropped when a row in that hour changes (or a column appears), so that a query
//! copies nothing and steady ingestion only rebuilds the current hour.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use arrow_array::RecordBatch;

/// The type of a measure or multi-measure attribute: the same types a client writes (the
/// write-ahead log stores them by variant name).
pub use crate::records::ValueType as MeasureType;

/// The columns a table has had, with the types its measures are locked to (kept here so that
/// a restart knows them without reading the files).
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Columns {
    /// Dimension names.
    pub dimensions: BTreeSet<String>,
    /// MULTI attribute names.
    pub attributes: BTreeSet<String>,
    /// Single-measure types written.
    pub singles: BTreeSet<MeasureType>,
    /// The type of every measure and attribute name.
    pub types: BTreeMap<String, MeasureType>,
    /// Every measure name: its kind and the dimensions written with it.
    #[serde(default)]
    pub measures: BTreeMap<String, (String, BTreeSet<String>)>,
}

/// One typed value.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum ScalarValue {
    /// A DOUBLE.
    Double(f64),
    /// A BIGINT.
    Bigint(i64),
    /// A VARCHAR.
    Varchar(String),
    /// A BOOLEAN.
    Boolean(bool),
    /// A TIMESTAMP, ns since the epoch.
    Timestamp(i64),
}

impl ScalarValue {
    /// Its type.
    pub fn kind(&self) -> MeasureType {
        match self {
            Self::Double(_) => MeasureType::Double,
            Self::Bigint(_) => MeasureType::Bigint,
            Self::Varchar(_) => MeasureType::Varchar,
            Self::Boolean(_) => MeasureType::Boolean,
            Self::Timestamp(_) => MeasureType::Timestamp,
        }
    }
}

/// What a record measures: one value, or named values (MULTI).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub enum Measure {
    /// A single-measure record.
    Single(ScalarValue),
    /// A multi-measure record; attributes sorted by name.
    Multi(Vec<(String, ScalarValue)>),
}

/// A validated record, ready to apply (and the unit of the write-ahead log).
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct NewRecord {
    /// Dimensions, sorted by name.
    pub dimensions: Vec<(String, String)>,
    /// The measure name.
    pub measure_name: String,
    /// Time, ns since the epoch.
    pub time_ns: i64,
    /// The version given, if any (default 1).
    pub version: Option<i64>,
    /// The value(s).
    pub measure: Measure,
}

/// A stored row.
#[derive(Debug, Clone, PartialEq)]
pub struct StoredRecord {
    /// Its version.
    pub version: i64,
    /// Its value(s), shared (a tiering pass copies rows out of the memory store with the
    /// table locked: a copy then allocates nothing).
    pub measure: Arc<Measure>,
}

/// A row of the memory store as a tiering pass takes it: everything shared with the store,
/// so that taking it costs reference counts, not copies of strings.
#[derive(Debug, Clone)]
pub struct SharedRow {
    /// Dimensions, sorted by name.
    pub dimensions: Arc<[(String, String)]>,
    /// The measure name.
    pub measure_name: Arc<str>,
    /// Time, ns since the epoch.
    pub time_ns: i64,
    /// Its version and value(s).
    pub record: StoredRecord,
}

impl SharedRow {
    /// The row as the file layout takes rows.
    pub fn as_row(&self) -> super::layout::Row<'_> {
        (&self.dimensions, &self.measure_name, self.time_ns, &self.record)
    }

    /// The row as a record to apply again (a day loaded for writes takes it).
    pub fn to_record(&self) -> NewRecord {
        super::layout::to_record(self.as_row())
    }
}

/// What applying a record did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Apply {
    /// Stored (new, replaced, version bumped, or an identical repeat).
    Written,
    /// Refused: the reason and the version already stored.
    Conflict {
        /// The rejection reason.
        reason: String,
        /// The stored version.
        existing_version: i64,
    },
    /// Refused for another reason (a type change, a column clash).
    Invalid(String),
}

/// Row key: time first for range scans, then series and measure name for identity.
type Key = (i64, u32, Arc<str>);

/// What [`TableData::apply_undoable`] changed, so that a write whose log entry could not be
/// written leaves no trace: the rows it replaced (or `None` for new ones) and the columns it
/// added.
#[derive(Debug, Default)]
pub struct Undo {
    rows: Vec<(Key, Option<StoredRecord>)>,
    types: Vec<String>,
    dimensions: Vec<String>,
    attributes: Vec<String>,
    single_types: Vec<MeasureType>,
    measures: Vec<String>,
    measure_dimensions: Vec<(String, String)>,
}

/// The rows of one table, and what the table's columns are.
#[derive(Debug, Default)]
pub struct TableData {
    series: HashMap<Arc<[(String, String)]>, u32>,
    series_dimensions: Vec<Arc<[(String, String)]>>,
    measure_names: HashMap<String, Arc<str>>,
    rows: BTreeMap<Key, StoredRecord>,
    /// Single-measure names and multi-measure attribute names, with the type they were first
    /// written with.
    types: HashMap<String, MeasureType>,
    /// Every dimension name seen.
    dimension_names: BTreeSet<String>,
    /// Multi-measure attribute names seen (they are columns too).
    attribute_names: BTreeSet<String>,
    /// The types single-measure records were written with (a `measure_value::<type>` column each).
    single_types: BTreeSet<MeasureType>,
    /// Every measure name written, with its kind (a type's name in lower case, or `multi`) and
    /// the dimensions it was written with (what SHOW MEASURES lists).
    measures: BTreeMap<String, (String, BTreeSet<String>)>,
    /// Columnar chunks by hour (the start of the hour, ns), all in the current column layout.
    chunks: BTreeMap<i64, Arc<RecordBatch>>,
    /// The shape of the last record whose columns were checked and remembered: a record of the
    /// same shape passes the checks and brings no new column (columns are only added, except by
    /// [`TableData::undo`], which forgets it). Sensors send records of one shape, so this
    /// spares most writes a lookup per name.
    last_shape: Option<Shape>,
}

/// What decides a record's columns: its measure name, the types of its measure or attributes,
/// and its dimension names.
#[derive(Debug, Clone, PartialEq)]
struct Shape {
    measure_name: String,
    single: Option<MeasureType>,
    attributes: Vec<(String, MeasureType)>,
    dimensions: Vec<String>,
}

impl Shape {
    fn of(r: &NewRecord) -> Self {
        let (single, attributes) = match &r.measure {
            Measure::Single(v) => (Some(v.kind()), Vec::new()),
            Measure::Multi(attrs) => (None, attrs.iter().map(|(n, v)| (n.clone(), v.kind())).collect()),
        };
        let dimensions = r.dimensions.iter().map(|(n, _)| n.clone()).collect();
        Shape { measure_name: r.measure_name.clone(), single, attributes, dimensions }
    }

    /// Whether `r` has this shape (compared without allocating).
    fn fits(&self, r: &NewRecord) -> bool {
        let typed = match &r.measure {
            Measure::Single(v) => self.single == Some(v.kind()) && self.attributes.is_empty(),
            Measure::Multi(attrs) => {
                self.single.is_none()
                    && attrs.len() == self.attributes.len()
                    && attrs.iter().zip(&self.attributes).all(|((n, v), (m, t))| v.kind() == *t && n == m)
            }
        };
        typed
            && self.measure_name == r.measure_name
            && r.dimensions.len() == self.dimensions.len()
            && r.dimensions.iter().zip(&self.dimensions).all(|((n, _), m)| n == m)
    }
}

/// The span of one columnar chunk: an hour.
pub const CHUNK_NS: i64 = 3_600_000_000_000;

fn chunk_of(time_ns: i64) -> i64 {
    time_ns.div_euclid(CHUNK_NS) * CHUNK_NS
}

fn key_at(time_ns: i64) -> Key {
    (time_ns, 0, Arc::from(""))
}

impl TableData {
    /// The number of rows.
    pub fn len(&self) -> usize {
        self.rows.len()
    }

    /// Whether the table has no rows.
    pub fn is_empty(&self) -> bool {
        self.rows.is_empty()
    }

    /// Dimension names seen, sorted.
    pub fn dimension_names(&self) -> impl Iterator<Item = &str> {
        self.dimension_names.iter().map(String::as_str)
    }

    /// Rows in time order: (dimensions, measure name, time, stored record).
    pub fn rows(&self) -> impl Iterator<Item = (&[(String, String)], &str, i64, &StoredRecord)> {
        self.rows.iter().map(|((t, s, m), r)| (&*self.series_dimensions[*s as usize], &**m, *t, r))
    }

    /// Rows with `from <= time < to`, in time order, as [`TableData::rows`] gives them.
    pub fn rows_between(
        &self,
        from: i64,
        to: i64,
    ) -> impl Iterator<Item = (&[(String, String)], &str, i64, &StoredRecord)> {
        self.rows
            .range(key_at(from)..key_at(to))
            .map(|((t, s, m), r)| (&*self.series_dimensions[*s as usize], &**m, *t, r))
    }

    /// [`TableData::rows_between`] as rows that share their strings and values with the store.
    pub fn shared_rows_between(&self, from: i64, to: i64) -> impl Iterator<Item = SharedRow> + '_ {
        self.rows.range(key_at(from)..key_at(to)).map(|((t, s, m), r)| SharedRow {
            dimensions: self.series_dimensions[*s as usize].clone(),
            measure_name: m.clone(),
            time_ns: *t,
            record: r.clone(),
        })
    }

    /// The hours (their start, ns) that have rows, in order.
    pub fn chunk_starts(&self) -> Vec<i64> {
        let mut out = Vec::new();
        let mut from = i64::MIN;
        while let Some(((t, _, _), _)) = self.rows.range(key_at(from)..).next() {
            let start = chunk_of(*t);
            out.push(start);
            match start.checked_add(CHUNK_NS) {
                Some(next) => from = next,
                None => break,
            }
        }
        out
    }

    /// Every hour's columnar chunk, in time order: cached ones as they are, the others made by
    /// `build(self, start, end)` and cached.
    pub fn chunks<E>(
        &mut self,
        build: impl Fn(&TableData, i64, i64) -> Result<RecordBatch, E>,
    ) -> Result<Vec<(i64, Arc<RecordBatch>)>, E> {
        let starts = self.chunk_starts();
        let mut built = Vec::new();
        for &start in &starts {
            if !self.chunks.contains_key(&start) {
                built.push((start, Arc::new(build(self, start, start.saturating_add(CHUNK_NS))?)));
            }
        }
        self.chunks.extend(built);
        self.chunks.retain(|k, _| starts.binary_search(k).is_ok());
        Ok(starts.iter().filter_map(|k| Some((*k, self.chunks.get(k)?.clone()))).collect())
    }

    /// The types of single-measure values written, in column order.
    pub fn single_types(&self) -> impl Iterator<Item = MeasureType> + '_ {
        self.single_types.iter().copied()
    }

    /// Multi-measure attribute names with their types, sorted by name.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, MeasureType)> + '_ {
        self.attribute_names.iter().filter_map(|n| Some((n.as_str(), *self.types.get(n)?)))
    }

    /// The type a measure or attribute name is locked to, if written before.
    pub fn type_of(&self, name: &str) -> Option<MeasureType> {
        self.types.get(name).copied()
    }

    /// The columns and types written so far.
    pub fn columns(&self) -> Columns {
        Columns {
            dimensions: self.dimension_names.clone(),
            attributes: self.attribute_names.clone(),
            singles: self.single_types.clone(),
            types: self.types.iter().map(|(k, v)| (k.clone(), *v)).collect(),
            measures: self.measures.clone(),
        }
    }

    /// Every measure name written: its kind (`double`, …, or `multi`) and its dimensions.
    pub fn measures(&self) -> &BTreeMap<String, (String, BTreeSet<String>)> {
        &self.measures
    }

    /// Starts from the columns and types a table had (after a restart, or for a day loaded
    /// from the magnetic store).
    pub fn seed_columns(&mut self, columns: &Columns) {
        self.dimension_names.extend(columns.dimensions.iter().cloned());
        self.attribute_names.extend(columns.attributes.iter().cloned());
        self.single_types.extend(columns.singles.iter().copied());
        for (k, v) in &columns.types {
            self.types.entry(k.clone()).or_insert(*v);
        }
        for (name, (kind, dims)) in &columns.measures {
            let entry = self.measures.entry(name.clone()).or_insert_with(|| (kind.clone(), BTreeSet::new()));
            entry.1.extend(dims.iter().cloned());
        }
        self.chunks.clear();
    }

    /// Checks `r` against the table's columns and types without changing anything.
    pub fn check_columns(&self, r: &NewRecord) -> Result<(), String> {
        let check_type = |name: &str, t: MeasureType| match self.types.get(name) {
            Some(&existing) if existing != t => {
                Err(format!("Measure {name} was written as {}; it cannot be written as {}.", existing.name(), t.name()))
            }
            _ => Ok(()),
        };
        match &r.measure {
            Measure::Single(v) => check_type(&r.measure_name, v.kind())?,
            Measure::Multi(attrs) => {
                for (name, v) in attrs {
                    check_type(name, v.kind())?;
                    if self.dimension_names.contains(name) {
                        return Err(format!("Measure {name} has the name of a dimension of this table."));
                    }
                }
            }
        }
        for (name, _) in &r.dimensions {
            if self.attribute_names.contains(name) {
                return Err(format!("Dimension {name} has the name of a measure of this table."));
            }
        }
        Ok(())
    }

    /// Applies a record with the service's identity rules: a new identity is stored; an equal
    /// value is an idempotent repeat (a higher version bumps the stored one); a different value
    /// needs a strictly higher version.
    pub fn apply(&mut self, r: &NewRecord) -> Apply {
        self.apply_undoable(r, &mut Undo::default())
    }

    /// [`TableData::apply`], noting in `undo` how to take the change back with
    /// [`TableData::undo`].
    pub fn apply_undoable(&mut self, r: &NewRecord, undo: &mut Undo) -> Apply {
        let known = self.last_shape.as_ref().is_some_and(|s| s.fits(r));
        if !known && let Err(reason) = self.check_columns(r) {
            return Apply::Invalid(reason);
        }
        let version = r.version.unwrap_or(1);
        let series = self.series_id(&r.dimensions);
        let key = (r.time_ns, series, self.intern(&r.measure_name));
        if let Some(existing) = self.rows.get_mut(&key) {
            if *existing.measure == r.measure {
                // Versions are not columns: the chunk stays valid.
                if version > existing.version {
                    undo.rows.push((key, Some(existing.clone())));
                    existing.version = version;
                }
                return Apply::Written;
            }
            if version > existing.version {
                undo.rows.push((key.clone(), Some(existing.clone())));
                existing.version = version;
                existing.measure = Arc::new(r.measure.clone());
            } else if version < existing.version {
                return Apply::Conflict {
                    reason: format!(
                        "The record version {version} is lower than the existing version {}. A higher version is required to update the measure value.",
                        existing.version
                    ),
                    existing_version: existing.version,
                };
            } else {
                return Apply::Conflict {
                    reason: "A record already exists with the same time, dimensions, measure name, and record version. A higher record version must be specified in order to update the measure value. Specifying record version is supported by the latest SDKs.".into(),
                    existing_version: existing.version,
                };
            }
        } else {
            undo.rows.push((key.clone(), None));
            self.rows.insert(key, StoredRecord { version, measure: Arc::new(r.measure.clone()) });
        }
        self.chunks.remove(&chunk_of(r.time_ns));
        if !known {
            self.remember_columns(r, Some(undo));
            self.last_shape = Some(Shape::of(r));
        }
        Apply::Written
    }

    /// Takes back what [`TableData::apply_undoable`] calls noted in `undo` did, newest first.
    pub fn undo(&mut self, undo: Undo) {
        self.last_shape = None;
        for (key, previous) in undo.rows.into_iter().rev() {
            self.chunks.remove(&chunk_of(key.0));
            match previous {
                Some(p) => {
                    self.rows.insert(key, p);
                }
                None => {
                    self.rows.remove(&key);
                }
            }
        }
        let columns = undo.dimensions.len() + undo.attributes.len() + undo.single_types.len();
        for n in &undo.types {
            self.types.remove(n);
        }
        for n in &undo.dimensions {
            self.dimension_names.remove(n);
        }
        for n in &undo.attributes {
            self.attribute_names.remove(n);
        }
        for t in &undo.single_types {
            self.single_types.remove(t);
        }
        for (m, d) in &undo.measure_dimensions {
            if let Some(entry) = self.measures.get_mut(m) {
                entry.1.remove(d);
            }
        }
        for m in &undo.measures {
            self.measures.remove(m);
        }
        if columns > 0 {
            self.chunks.clear();
        }
    }

    /// Re-applies a record that was accepted before (replaying the write-ahead log): it takes
    /// the identity whatever is stored, since its acceptance was decided then (an identity may
    /// have expired in between, which replay does not re-enact), except that an identical
    /// value keeps the higher version, as an idempotent repeat did.
    pub fn restore(&mut self, r: NewRecord) {
        if !self.last_shape.as_ref().is_some_and(|s| s.fits(&r)) {
            self.remember_columns(&r, None);
            self.last_shape = Some(Shape::of(&r));
        }
        let (version, time_ns) = (r.version.unwrap_or(1), r.time_ns);
        let series = self.series_id(&r.dimensions);
        let key = (time_ns, series, self.intern(&r.measure_name));
        match self.rows.get_mut(&key) {
            Some(existing) if *existing.measure == r.measure => existing.version = existing.version.max(version),
            Some(existing) => *existing = StoredRecord { version, measure: Arc::new(r.measure) },
            None => {
                self.rows.insert(key, StoredRecord { version, measure: Arc::new(r.measure) });
            }
        }
        self.chunks.remove(&chunk_of(time_ns));
    }

    fn series_id(&mut self, dimensions: &[(String, String)]) -> u32 {
        if let Some(&id) = self.series.get(dimensions) {
            return id;
        }
        let id = self.series_dimensions.len() as u32;
        let shared: Arc<[(String, String)]> = Arc::from(dimensions);
        self.series.insert(shared.clone(), id);
        self.series_dimensions.push(shared);
        id
    }

    fn intern(&mut self, name: &str) -> Arc<str> {
        if let Some(n) = self.measure_names.get(name) {
            return n.clone();
        }
        let n: Arc<str> = Arc::from(name);
        self.measure_names.insert(name.to_string(), n.clone());
        n
    }

    /// Adds the columns `r` brings (noted in `undo` to take back).
    pub fn remember_columns(&mut self, r: &NewRecord, mut undo: Option<&mut Undo>) {
        let mut new_column = false;
        if !self.measures.contains_key(&r.measure_name) {
            let kind = match &r.measure {
                Measure::Single(v) => v.kind().name().to_lowercase(),
                Measure::Multi(_) => "multi".to_string(),
            };
            self.measures.insert(r.measure_name.clone(), (kind, BTreeSet::new()));
            if let Some(u) = undo.as_mut() {
                u.measures.push(r.measure_name.clone());
            }
        }
        if let Some((_, dims)) = self.measures.get_mut(&r.measure_name) {
            for (name, _) in &r.dimensions {
                if !dims.contains(name) {
                    dims.insert(name.clone());
                    if let Some(u) = undo.as_mut() {
                        u.measure_dimensions.push((r.measure_name.clone(), name.clone()));
                    }
                }
            }
        }
        for (name, _) in &r.dimensions {
            if !self.dimension_names.contains(name) {
                self.dimension_names.insert(name.clone());
                if let Some(u) = undo.as_mut() {
                    u.dimensions.push(name.clone());
                }
                new_column = true;
            }
        }
        // The names this record types (its measure, or its MULTI attributes), without
        // allocating: this runs for every record written and replayed.
        let (single, attrs): (Option<MeasureType>, &[(String, ScalarValue)]) = match &r.measure {
            Measure::Single(v) => (Some(v.kind()), &[]),
            Measure::Multi(attrs) => (None, attrs),
        };
        let typed = single
            .map(|t| (r.measure_name.as_str(), t))
            .into_iter()
            .chain(attrs.iter().map(|(n, v)| (n.as_str(), v.kind())));
        for (name, t) in typed {
            if !self.types.contains_key(name) {
                self.types.insert(name.to_string(), t);
                if let Some(u) = undo.as_mut() {
                    u.types.push(name.to_string());
                }
            }
        }
        if let Some(t) = single
            && self.single_types.insert(t)
        {
            if let Some(u) = undo.as_mut() {
                u.single_types.push(t);
            }
            new_column = true;
        }
        for (name, _) in attrs {
            if !self.attribute_names.contains(name) {
                self.attribute_names.insert(name.clone());
                if let Some(u) = undo.as_mut() {
                    u.attributes.push(name.clone());
                }
                new_column = true;
            }
        }
        if new_column {
            // Every chunk has the old columns.
            self.chunks.clear();
        }
    }

    /// Deletes rows older than `cutoff_ns`, returning how many went.
    pub fn expire_before(&mut self, cutoff_ns: i64) -> usize {
        let keep = self.rows.split_off(&key_at(cutoff_ns));
        let dropped = self.rows.len();
        self.rows = keep;
        if dropped > 0 {
            self.chunks = self.chunks.split_off(&chunk_of(cutoff_ns));
            self.chunks.remove(&chunk_of(cutoff_ns));
        }
        dropped
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn multi(time_ns: i64, attrs: &[(&str, ScalarValue)], dims: &[(&str, &str)]) -> NewRecord {
        NewRecord {
            dimensions: dims.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect(),
            measure_name: "ruuvi".into(),
            time_ns,
            version: None,
            measure: Measure::Multi(attrs.iter().map(|(n, v)| (n.to_string(), v.clone())).collect()),
        }
    }

    #[test]
    fn records_of_a_known_shape_still_meet_every_column_rule() {
        let mut data = TableData::default();
        let mac = [("mac", "A")];
        let t = ScalarValue::Double(20.5);
        assert_eq!(data.apply(&multi(1, &[("temperature", t.clone())], &mac)), Apply::Written);
        // The same shape again, then the same names with another type: refused.
        assert_eq!(data.apply(&multi(2, &[("temperature", t.clone())], &mac)), Apply::Written);
        let as_bigint = multi(3, &[("temperature", ScalarValue::Bigint(20))], &mac);
        assert!(matches!(data.apply(&as_bigint), Apply::Invalid(r) if r.contains("was written as DOUBLE")));
        // A new shape brings its columns; a dimension named like an attribute is refused.
        let wider = multi(4, &[("humidity", ScalarValue::Double(40.0)), ("temperature", t.clone())], &mac);
        assert_eq!(data.apply(&wider), Apply::Written);
        assert_eq!(data.attributes().map(|(n, _)| n).collect::<Vec<_>>(), ["humidity", "temperature"]);
        let clash = multi(5, &[("temperature", t.clone())], &[("humidity", "x")]);
        assert!(matches!(data.apply(&clash), Apply::Invalid(r) if r.contains("name of a measure")));

        // Undone columns are forgotten: the shape that brought them is checked again.
        let mut undo = Undo::default();
        let pressure = multi(6, &[("pressure", ScalarValue::Double(1000.0))], &mac);
        assert_eq!(data.apply_undoable(&pressure, &mut undo), Apply::Written);
        data.undo(undo);
        assert_eq!(data.type_of("pressure"), None);
        let pressure_as_text = multi(7, &[("pressure", ScalarValue::Varchar("high".into()))], &mac);
        assert_eq!(data.apply(&pressure_as_text), Apply::Written);
        assert_eq!(data.type_of("pressure"), Some(MeasureType::Varchar));
        assert_eq!(data.len(), 4);
    }
}
