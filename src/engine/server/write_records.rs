//! WriteRecords on the wire: the body is deserialised straight into borrowed structs (no JSON
//! tree, no copies of the strings), checked against the API's constraints, merged with
//! CommonAttributes into the engine's typed records, and handed to
//! [`Engine::write_records`](crate::engine::Engine::write_records).

use std::borrow::Cow;

use serde::Deserialize;
use serde_json::{Value, json};

use crate::engine::Engine;
use crate::engine::error::{ApiError, ApiResult};
use crate::engine::write::{MeasureInput, RecordInput, parse_epoch};

type Text<'a> = Cow<'a, str>;

/// An optional string borrowed from the body where it has no escapes. (`#[serde(borrow)]` on an
/// `Option<Cow<str>>` field alone would copy every string: serde borrows only a field spelled
/// `Cow<str>`, not an option of one or an alias.)
fn text<'de: 'a, 'a, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Text<'a>>, D::Error> {
    #[derive(Deserialize)]
    struct Borrowed<'a>(#[serde(borrow)] Cow<'a, str>);
    Ok(Option::<Borrowed<'a>>::deserialize(d)?.map(|b| b.0))
}

/// The WriteRecords request as sent.
#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
pub(super) struct WriteRecordsRequest<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    database_name: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    table_name: Option<Text<'a>>,
    #[serde(borrow)]
    common_attributes: Option<RecordIn<'a>>,
    #[serde(borrow)]
    records: Option<Vec<RecordIn<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct RecordIn<'a> {
    #[serde(borrow)]
    dimensions: Option<Vec<DimensionIn<'a>>>,
    #[serde(default, borrow, deserialize_with = "text")]
    measure_name: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    measure_value: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    measure_value_type: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    time: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    time_unit: Option<Text<'a>>,
    version: Option<i64>,
    #[serde(borrow)]
    measure_values: Option<Vec<MeasureValueIn<'a>>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct DimensionIn<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    name: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    value: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    dimension_value_type: Option<Text<'a>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct MeasureValueIn<'a> {
    #[serde(default, borrow, deserialize_with = "text")]
    name: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    value: Option<Text<'a>>,
    #[serde(default, borrow, deserialize_with = "text")]
    r#type: Option<Text<'a>>,
}

impl WriteRecordsRequest<'_> {
    /// The database it writes into, if it names one.
    pub(super) fn database(&self) -> Option<&str> {
        self.database_name.as_deref()
    }
}

/// Parses the body; a wrong JSON type anywhere is a SerializationException. The body's UTF-8
/// is checked once, as a whole (parsing bytes checks each string again, a tenth of the cost).
pub(super) fn parse(body: &[u8]) -> ApiResult<WriteRecordsRequest<'_>> {
    let fail =
        |e: &dyn std::fmt::Display| ApiError::serialization(format!("Cannot read the WriteRecords request: {e}"));
    let text = std::str::from_utf8(body).map_err(|e| fail(&e))?;
    serde_json::from_str(text).map_err(|e| fail(&e))
}

// Paths are built only when a check fails: valid records, the hot path, allocate none.

fn check_len(v: &str, path: impl FnOnce() -> String, min: usize, max: usize) -> ApiResult<()> {
    if v.len() < min {
        return Err(ApiError::constraint(
            v,
            &path(),
            &format!("Member must have length greater than or equal to {min}"),
        ));
    }
    if v.len() > max {
        return Err(ApiError::constraint(v, &path(), &format!("Member must have length less than or equal to {max}")));
    }
    Ok(())
}

fn check_enum<'v>(v: &'v str, path: impl FnOnce() -> String, allowed: &[&str]) -> ApiResult<&'v str> {
    if allowed.contains(&v) {
        Ok(v)
    } else {
        Err(ApiError::constraint(v, &path(), &format!("Member must satisfy enum value set: [{}]", allowed.join(", "))))
    }
}

/// Where a record sits in the request, as Coral paths name it.
#[derive(Clone, Copy)]
enum At {
    Common,
    Record(usize),
}

impl std::fmt::Display for At {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Common => f.write_str("commonAttributes"),
            Self::Record(i) => write!(f, "records.{}.member", i + 1),
        }
    }
}

fn required<'b, 'a>(v: &'b Option<Text<'a>>, path: impl FnOnce() -> String) -> ApiResult<&'b str> {
    v.as_deref().ok_or_else(|| ApiError::missing(&path()))
}

/// A record's members, shape-checked.
struct RawRecord<'b> {
    dimensions: Option<Vec<(&'b str, &'b str)>>,
    measure_name: Option<&'b str>,
    measure_value: Option<&'b str>,
    value_type: Option<&'b str>,
    time: Option<&'b str>,
    time_unit: Option<&'b str>,
    version: Option<i64>,
    measure_values: Option<Vec<(&'b str, &'b str, &'b str)>>,
}

const VALUE_TYPES: &[&str] = &["DOUBLE", "BIGINT", "VARCHAR", "BOOLEAN", "TIMESTAMP", "MULTI"];
const TIME_UNITS: &[&str] = &["MILLISECONDS", "SECONDS", "MICROSECONDS", "NANOSECONDS"];

impl<'b> RawRecord<'b> {
    /// Checks one record; `at` says where it is, for error paths.
    fn check(r: &'b RecordIn<'_>, at: At) -> ApiResult<Self> {
        let dimensions = match &r.dimensions {
            None => None,
            Some(list) => {
                if list.len() > 128 {
                    return Err(ApiError::constraint(
                        &format!("{} dimensions", list.len()),
                        &format!("{at}.dimensions"),
                        "Member must have length less than or equal to 128",
                    ));
                }
                let mut dims = Vec::with_capacity(list.len());
                for (i, d) in list.iter().enumerate() {
                    let path = || format!("{at}.dimensions.{}.member", i + 1);
                    let name = required(&d.name, || format!("{}.name", path()))?;
                    check_len(name, || format!("{}.name", path()), 1, usize::MAX)?;
                    let value = required(&d.value, || format!("{}.value", path()))?;
                    if let Some(t) = &d.dimension_value_type {
                        check_enum(t, || format!("{}.dimensionValueType", path()), &["VARCHAR"])?;
                    }
                    dims.push((name, value));
                }
                Some(dims)
            }
        };
        let measure_name = r.measure_name.as_deref();
        if let Some(n) = measure_name {
            check_len(n, || format!("{at}.measureName"), 1, usize::MAX)?;
        }
        let measure_value = r.measure_value.as_deref();
        if let Some(v) = measure_value {
            check_len(v, || format!("{at}.measureValue"), 1, 2048)?;
        }
        let value_type = r
            .measure_value_type
            .as_deref()
            .map(|t| check_enum(t, || format!("{at}.measureValueType"), VALUE_TYPES))
            .transpose()?;
        let time = r.time.as_deref();
        if let Some(t) = time {
            check_len(t, || format!("{at}.time"), 1, 256)?;
        }
        let time_unit =
            r.time_unit.as_deref().map(|t| check_enum(t, || format!("{at}.timeUnit"), TIME_UNITS)).transpose()?;
        if let Some(v) = r.version
            && v < 1
        {
            return Err(ApiError::constraint(
                &v.to_string(),
                &format!("{at}.version"),
                "Member must have value greater than or equal to 1",
            ));
        }
        let measure_values = match &r.measure_values {
            None => None,
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for (i, m) in list.iter().enumerate() {
                    let path = || format!("{at}.measureValues.{}.member", i + 1);
                    let name = required(&m.name, || format!("{}.name", path()))?;
                    check_len(name, || format!("{}.name", path()), 1, usize::MAX)?;
                    let value = required(&m.value, || format!("{}.value", path()))?;
                    check_len(value, || format!("{}.value", path()), 1, 2048)?;
                    let ty = required(&m.r#type, || format!("{}.type", path()))?;
                    check_enum(ty, || format!("{}.type", path()), VALUE_TYPES)?;
                    out.push((name, value, ty));
                }
                Some(out)
            }
        };
        Ok(Self {
            dimensions,
            measure_name,
            measure_value,
            value_type,
            time,
            time_unit,
            version: r.version,
            measure_values,
        })
    }
}

/// Runs a parsed WriteRecords request.
pub(super) fn write_records(engine: &Engine, req: &WriteRecordsRequest<'_>) -> ApiResult<Value> {
    let db = required(&req.database_name, || "databaseName".into())?;
    let table_name = required(&req.table_name, || "tableName".into())?;
    let records = req.records.as_ref().ok_or_else(|| ApiError::missing("records"))?;
    if records.is_empty() || records.len() > 100 {
        let constraint = if records.is_empty() {
            "Member must have length greater than or equal to 1"
        } else {
            "Member must have length less than or equal to 100"
        };
        return Err(ApiError::constraint(&format!("{} records", records.len()), "records", constraint));
    }
    let common = req.common_attributes.as_ref().map(|c| RawRecord::check(c, At::Common)).transpose()?;
    let parsed: Vec<RawRecord<'_>> =
        records.iter().enumerate().map(|(i, r)| RawRecord::check(r, At::Record(i))).collect::<ApiResult<_>>()?;
    let merged: Vec<RecordInput<'_>> = parsed.iter().map(|r| merge(r, common.as_ref())).collect::<ApiResult<_>>()?;
    let n = engine.write_records(db, table_name, &merged)?;
    Ok(
        json!({ "RecordsIngested": { "Total": n.memory + n.magnetic, "MemoryStore": n.memory, "MagneticStore": n.magnetic } }),
    )
}

fn unit_ns(unit: &str) -> i64 {
    match unit {
        "SECONDS" => 1_000_000_000,
        "MICROSECONDS" => 1_000,
        "NANOSECONDS" => 1,
        _ => 1_000_000,
    }
}

/// A record merged with CommonAttributes; request-wide mistakes fail the whole request.
fn merge<'a>(r: &'a RawRecord<'a>, common: Option<&'a RawRecord<'a>>) -> ApiResult<RecordInput<'a>> {
    let pick = |f: fn(&RawRecord<'a>) -> Option<&'a str>| f(r).or_else(|| common.and_then(f));
    let mut dimensions: Vec<(&str, &str)> = Vec::new();
    if let Some(c) = common.and_then(|c| c.dimensions.as_ref()) {
        dimensions.extend(c.iter().copied());
    }
    if let Some(own) = &r.dimensions {
        for (name, value) in own {
            if dimensions.iter().any(|(n, _)| n == name) {
                return Err(ApiError::validation(format!(
                    "Dimensions may not overlap between the record and CommonAttributes, and a record must contain dimensions with unique names: {name} appears twice."
                )));
            }
            dimensions.push((name, value));
        }
    }
    let measure_name = pick(|x| x.measure_name)
        .ok_or_else(|| ApiError::validation("MeasureName must be specified on the record or in CommonAttributes."))?;
    let value_type = pick(|x| x.value_type).unwrap_or("DOUBLE");
    let measure_values = r.measure_values.as_deref().or_else(|| common.and_then(|c| c.measure_values.as_deref()));
    let value = match (value_type, measure_values, pick(|x| x.measure_value)) {
        ("MULTI", Some(values), None) if !values.is_empty() => MeasureInput::Multi(values),
        ("MULTI", _, Some(_)) => {
            return Err(ApiError::validation("A MULTI record carries MeasureValues, not MeasureValue."));
        }
        ("MULTI", _, None) => return Err(ApiError::validation("A MULTI record must have MeasureValues.")),
        (_, Some(_), _) => {
            return Err(ApiError::validation("MeasureValues may only be given with MeasureValueType MULTI."));
        }
        ("TIMESTAMP", None, _) => {
            return Err(ApiError::validation(
                "MeasureValueType TIMESTAMP is only supported for measures of MULTI records.",
            ));
        }
        (t, None, Some(v)) => MeasureInput::Single(t, v),
        (t, None, None) => {
            return Err(ApiError::validation(format!("A {t} record must have a MeasureValue.")));
        }
    };
    let unit = unit_ns(pick(|x| x.time_unit).unwrap_or("MILLISECONDS"));
    let time = pick(|x| x.time).ok_or_else(|| ApiError::validation("Invalid time for record."))?;
    let time_ns = parse_epoch(time, unit).ok_or_else(|| ApiError::validation("Invalid time for record."))?;
    let version = r.version.or_else(|| common.and_then(|c| c.version));
    Ok(RecordInput { dimensions, measure_name, value, time_ns, time_unit_ns: unit, version })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strings_are_borrowed_from_the_body_unless_they_hold_escapes() {
        let body = br#"{"DatabaseName":"ruuvi","TableName":null,"Records":[{"MeasureName":"t\u00e9mp",
            "Dimensions":[{"Name":"mac","Value":"C2:4A"}],"MeasureValues":[{"Name":"a","Value":"1.5","Type":"DOUBLE"}]}]}"#;
        let request = parse(body).unwrap();
        assert!(matches!(request.database_name, Some(Cow::Borrowed("ruuvi"))));
        assert!(request.table_name.is_none());
        let record = &request.records.as_ref().unwrap()[0];
        // An escape needs a copy, with the escape decoded.
        assert!(matches!(&record.measure_name, Some(Cow::Owned(n)) if n == "témp"));
        let dimension = &record.dimensions.as_ref().unwrap()[0];
        assert!(matches!(dimension.value, Some(Cow::Borrowed("C2:4A"))));
        let value = &record.measure_values.as_ref().unwrap()[0];
        assert!(matches!(value.r#type, Some(Cow::Borrowed("DOUBLE"))));
        assert!(record.time.is_none());
        // A wrong JSON type is still an error.
        assert!(parse(br#"{"DatabaseName":5}"#).is_err());
    }
}
