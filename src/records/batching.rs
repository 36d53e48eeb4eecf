//! Records → WriteRecords requests.

use std::collections::HashMap;

use serde_json::{Value, json};

use super::{Measure, Record, TimeUnit, ValueType, dimensions_json};

/// A series' dimensions and its records with their input rows.
type Series = (Vec<(String, String)>, Vec<(Record, usize)>);

/// The most records one WriteRecords request may carry.
pub const MAX_RECORDS_PER_REQUEST: usize = 100;

/// One WriteRecords request: common attributes, and records with the common parts left out.
#[derive(Debug, Clone, PartialEq)]
pub struct WriteBatch {
    /// Dimensions every record of the request has (CommonAttributes.Dimensions).
    pub common_dimensions: Vec<(String, String)>,
    /// The measure name, when every record has the same one.
    pub common_measure_name: Option<String>,
    /// The single-measure value type, when every record has the same one.
    pub common_value_type: Option<ValueType>,
    /// The unit of the records' times.
    pub time_unit: TimeUnit,
    /// The records (at most 100).
    pub records: Vec<Record>,
    /// The input row of each record.
    pub rows: Vec<usize>,
}

impl WriteBatch {
    /// The request body (as the API's JSON, and as boto3's `write_records(**body)` takes it).
    pub fn to_request(&self, database: &str, table: &str) -> Value {
        let mut common = serde_json::Map::new();
        if !self.common_dimensions.is_empty() {
            common.insert("Dimensions".into(), dimensions_json(&self.common_dimensions));
        }
        if let Some(n) = &self.common_measure_name {
            common.insert("MeasureName".into(), json!(n));
        }
        if let Some(t) = self.common_value_type {
            common.insert("MeasureValueType".into(), json!(t.name()));
        }
        common.insert("TimeUnit".into(), json!(self.time_unit.name()));
        let records: Vec<Value> = self
            .records
            .iter()
            .map(|r| {
                let mut v = r.to_json();
                if self.common_value_type.is_some()
                    && let Some(o) = v.as_object_mut()
                {
                    o.remove("MeasureValueType");
                }
                v
            })
            .collect();
        json!({"DatabaseName": database, "TableName": table, "CommonAttributes": common, "Records": records})
    }
}

/// Groups records into requests of at most `max_per_request` (capped at 100): the records of
/// one series (same dimensions) go together, in input order, so that a full request names its
/// dimensions once in CommonAttributes; what is left of each series after its full requests is
/// packed with other series' into shared requests (the dimensions they all have in
/// CommonAttributes, the rest on each record), so that many sensors with a few records each
/// take few requests. A measure name or value type shared by a whole request moves to
/// CommonAttributes too. `rows[i]` is the input row of `records[i]`.
pub fn batches(records: Vec<Record>, rows: Vec<usize>, time_unit: TimeUnit, max_per_request: usize) -> Vec<WriteBatch> {
    let max = max_per_request.clamp(1, MAX_RECORDS_PER_REQUEST);
    // Series in first-seen order, each with its records in input order.
    let mut index: HashMap<Vec<(String, String)>, usize> = HashMap::new();
    let mut series: Vec<Series> = Vec::new();
    for (mut record, row) in records.into_iter().zip(rows) {
        let dims = std::mem::take(&mut record.dimensions);
        let k = *index.entry(dims.clone()).or_insert_with(|| {
            series.push((dims, Vec::new()));
            series.len() - 1
        });
        series[k].1.push((record, row));
    }
    let mut out = Vec::new();
    // What is left of each series after its full requests: packed together, many series to a
    // request, so that sensors with a few records each do not cost a request each.
    let mut rest: Vec<(Record, usize)> = Vec::new();
    for (dims, members) in series {
        let full_requests = members.len() / max;
        let mut members = members.into_iter();
        for _ in 0..full_requests {
            let (records, rows): (Vec<Record>, Vec<usize>) = members.by_ref().take(max).unzip();
            out.push(request(dims.clone(), records, rows, time_unit));
        }
        rest.extend(members.map(|(mut record, row)| {
            record.dimensions = dims.clone();
            (record, row)
        }));
    }
    let mut rest = rest.into_iter().peekable();
    while rest.peek().is_some() {
        let (mut records, rows): (Vec<Record>, Vec<usize>) = rest.by_ref().take(max).unzip();
        // The dimensions every record of the request has go to CommonAttributes.
        let mut common = records[0].dimensions.clone();
        common.retain(|d| records.iter().all(|r| r.dimensions.contains(d)));
        for r in &mut records {
            r.dimensions.retain(|d| !common.contains(d));
        }
        out.push(request(common, records, rows, time_unit));
    }
    out
}

/// One request: `dimensions` in common, the measure name and value type moved there too when
/// every record has the same.
fn request(
    dimensions: Vec<(String, String)>,
    mut records: Vec<Record>,
    rows: Vec<usize>,
    time_unit: TimeUnit,
) -> WriteBatch {
    let common_measure_name = shared(&records, |r| Some(r.measure_name.as_str())).map(str::to_string);
    if common_measure_name.is_some() {
        records.iter_mut().for_each(|r| r.measure_name.clear());
    }
    let common_value_type = shared(&records, |r| match &r.measure {
        Measure::Single { value_type, .. } => Some(*value_type),
        Measure::Multi(_) => None,
    });
    WriteBatch { common_dimensions: dimensions, common_measure_name, common_value_type, time_unit, records, rows }
}

/// The value of `f` when every record gives the same one.
fn shared<'a, T: PartialEq>(records: &'a [Record], f: impl Fn(&'a Record) -> Option<T>) -> Option<T> {
    let first = f(records.first()?)?;
    records[1..].iter().all(|r| f(r).as_ref() == Some(&first)).then_some(first)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::records::MeasureValue;

    fn record(mac: &str, name: &str, time: i64, multi: bool) -> Record {
        let measure = if multi {
            Measure::Multi(vec![MeasureValue { name: "t".into(), value: "1.5".into(), value_type: ValueType::Double }])
        } else {
            Measure::Single { value: "1.5".into(), value_type: ValueType::Double }
        };
        Record { dimensions: vec![("mac".into(), mac.into())], measure_name: name.into(), measure, time, version: None }
    }

    #[test]
    fn series_share_requests_and_rows_follow_their_records() {
        let mut records = Vec::new();
        for t in 0..150 {
            records.push(record("A", "temperature", t, false));
            records.push(record("B", if t % 2 == 0 { "humidity" } else { "pressure" }, t, false));
        }
        let rows: Vec<usize> = (0..records.len()).collect();
        let out = batches(records, rows, TimeUnit::Milliseconds, 100);
        let shape: Vec<(String, usize, Option<&str>)> = out
            .iter()
            .map(|b| {
                let macs: Vec<&str> = b.common_dimensions.iter().map(|(_, v)| v.as_str()).collect();
                (macs.join(","), b.records.len(), b.common_measure_name.as_deref())
            })
            .collect();
        let mac = |m: &str| vec![("mac".to_string(), m.to_string())];
        // A full request per series, then what is left of both in one shared request.
        assert_eq!(
            shape,
            [("A".into(), 100, Some("temperature")), ("B".into(), 100, None), (String::new(), 100, None)]
        );
        // Rows of A are the even inputs, in order; B's the odd ones.
        assert_eq!(out[0].rows[..3], [0, 2, 4]);
        assert_eq!(out[2].rows[..2], [200, 202], "A's last 50, then B's");
        assert_eq!(out[2].rows.last(), Some(&299));
        assert!(out.iter().all(|b| b.common_value_type == Some(ValueType::Double)));
        assert!(out[1].records.iter().all(|r| !r.measure_name.is_empty() && r.dimensions.is_empty()));
        assert_eq!(out[2].records[0].dimensions, mac("A"));
        assert_eq!(out[2].records[99].dimensions, mac("B"));
    }

    #[test]
    fn many_small_series_take_few_requests_and_keep_every_dimension() {
        // 250 sensors with 2 readings each, a shared `site` dimension.
        let mut records = Vec::new();
        for t in 0..2 {
            for sensor in 0..250 {
                let mut r = record(&format!("S{sensor:03}"), "ruuvi", t, true);
                r.dimensions.push(("site".into(), "home".into()));
                records.push(r);
            }
        }
        let original = records.clone();
        let rows: Vec<usize> = (0..records.len()).collect();
        let out = batches(records, rows, TimeUnit::Milliseconds, 100);
        assert_eq!(out.iter().map(|b| b.records.len()).collect::<Vec<_>>(), [100, 100, 100, 100, 100]);
        for b in &out {
            assert_eq!(b.common_dimensions, [("site".to_string(), "home".to_string())]);
            assert_eq!(b.common_measure_name.as_deref(), Some("ruuvi"));
            for (r, &row) in b.records.iter().zip(&b.rows) {
                let mut dims = b.common_dimensions.clone();
                dims.extend(r.dimensions.iter().cloned());
                dims.sort();
                let mut want = original[row].dimensions.clone();
                want.sort();
                assert_eq!(dims, want, "row {row}");
                assert_eq!(r.time, original[row].time);
            }
        }
        let mut all_rows: Vec<usize> = out.iter().flat_map(|b| b.rows.iter().copied()).collect();
        all_rows.sort_unstable();
        assert_eq!(all_rows, (0..500).collect::<Vec<_>>());
    }

    #[test]
    fn request_json_has_the_api_shape() {
        let out = batches(vec![record("A", "ruuvi", 7, true)], vec![0], TimeUnit::Nanoseconds, 100);
        let body = out[0].to_request("db", "t");
        assert_eq!(
            body,
            json!({
                "DatabaseName": "db", "TableName": "t",
                "CommonAttributes": {
                    "Dimensions": [{"Name": "mac", "Value": "A", "DimensionValueType": "VARCHAR"}],
                    "MeasureName": "ruuvi", "TimeUnit": "NANOSECONDS"
                },
                "Records": [{
                    "MeasureValues": [{"Name": "t", "Value": "1.5", "Type": "DOUBLE"}],
                    "MeasureValueType": "MULTI", "Time": "7"
                }]
            })
        );
    }
}
