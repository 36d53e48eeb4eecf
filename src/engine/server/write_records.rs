//! WriteRecords on the wire: the body is read once by a [`Scanner`] into borrowed structs (no
//! JSON tree, no copies of the strings but those with escapes), checked against the API's
//! constraints, merged with CommonAttributes into the engine's typed records, and handed to
//! [`Engine::write_records`](crate::engine::Engine::write_records).

use std::borrow::Cow;

use serde_json::{Value, json};

use super::scan::{Scanned, Scanner};
use crate::engine::Engine;
use crate::engine::error::{ApiError, ApiResult};
use crate::engine::write::{MeasureInput, RecordInput, parse_epoch};

type Text<'a> = Cow<'a, str>;

/// The WriteRecords request as sent.
#[derive(Debug, Default, PartialEq)]
pub(super) struct WriteRecordsRequest<'a> {
    database_name: Option<Text<'a>>,
    table_name: Option<Text<'a>>,
    common_attributes: Option<RecordIn<'a>>,
    records: Option<Vec<RecordIn<'a>>>,
}

#[derive(Debug, Default, PartialEq)]
struct RecordIn<'a> {
    dimensions: Option<Vec<DimensionIn<'a>>>,
    measure_name: Option<Text<'a>>,
    measure_value: Option<Text<'a>>,
    measure_value_type: Option<Text<'a>>,
    time: Option<Text<'a>>,
    time_unit: Option<Text<'a>>,
    version: Option<i64>,
    measure_values: Option<Vec<MeasureValueIn<'a>>>,
}

#[derive(Debug, Default, PartialEq)]
struct DimensionIn<'a> {
    name: Option<Text<'a>>,
    value: Option<Text<'a>>,
    dimension_value_type: Option<Text<'a>>,
}

#[derive(Debug, Default, PartialEq)]
struct MeasureValueIn<'a> {
    name: Option<Text<'a>>,
    value: Option<Text<'a>>,
    r#type: Option<Text<'a>>,
}

impl WriteRecordsRequest<'_> {
    /// The database it writes into, if it names one.
    pub(super) fn database(&self) -> Option<&str> {
        self.database_name.as_deref()
    }
}

/// Parses the body; malformed JSON or a wrong JSON type anywhere is a SerializationException.
/// Members the API does not define are skipped; a member given twice is an error.
pub(super) fn parse(body: &[u8]) -> ApiResult<WriteRecordsRequest<'_>> {
    let fail =
        |e: &dyn std::fmt::Display| ApiError::serialization(format!("Cannot read the WriteRecords request: {e}"));
    let text = std::str::from_utf8(body).map_err(|e| fail(&e))?;
    let mut s = Scanner::new(text);
    request(&mut s).and_then(|r| s.finish().map(|()| r)).map_err(|e| fail(&s.describe(&e)))
}

/// Reads member `name` into `slot` (`null` leaves it empty), unless `seen` says it was read.
fn member<'a, T>(
    s: &mut Scanner<'a>,
    seen: &mut u32,
    bit: u32,
    name: &str,
    slot: &mut Option<T>,
    read: impl FnOnce(&mut Scanner<'a>) -> Scanned<T>,
) -> Scanned<()> {
    if *seen & (1 << bit) != 0 {
        return s.fail(format!("duplicate field `{name}`"));
    }
    *seen |= 1 << bit;
    *slot = if s.null()? { None } else { Some(read(s)?) };
    Ok(())
}

fn list<'a, T>(s: &mut Scanner<'a>, item: impl Fn(&mut Scanner<'a>) -> Scanned<T>) -> Scanned<Vec<T>> {
    let mut out = Vec::new();
    s.array(|s| item(s).map(|x| out.push(x)))?;
    Ok(out)
}

fn request<'a>(s: &mut Scanner<'a>) -> Scanned<WriteRecordsRequest<'a>> {
    let (mut r, mut seen) = (WriteRecordsRequest::default(), 0);
    s.object(|s, key| match key.as_ref() {
        "DatabaseName" => member(s, &mut seen, 0, &key, &mut r.database_name, Scanner::string),
        "TableName" => member(s, &mut seen, 1, &key, &mut r.table_name, Scanner::string),
        "CommonAttributes" => member(s, &mut seen, 2, &key, &mut r.common_attributes, record),
        "Records" => member(s, &mut seen, 3, &key, &mut r.records, |s| list(s, record)),
        _ => s.skip(),
    })?;
    Ok(r)
}

fn record<'a>(s: &mut Scanner<'a>) -> Scanned<RecordIn<'a>> {
    let (mut r, mut seen) = (RecordIn::default(), 0);
    s.object(|s, key| match key.as_ref() {
        "Dimensions" => member(s, &mut seen, 0, &key, &mut r.dimensions, |s| list(s, dimension)),
        "MeasureName" => member(s, &mut seen, 1, &key, &mut r.measure_name, Scanner::string),
        "MeasureValue" => member(s, &mut seen, 2, &key, &mut r.measure_value, Scanner::string),
        "MeasureValueType" => member(s, &mut seen, 3, &key, &mut r.measure_value_type, Scanner::string),
        "Time" => member(s, &mut seen, 4, &key, &mut r.time, Scanner::string),
        "TimeUnit" => member(s, &mut seen, 5, &key, &mut r.time_unit, Scanner::string),
        "Version" => member(s, &mut seen, 6, &key, &mut r.version, Scanner::integer),
        "MeasureValues" => member(s, &mut seen, 7, &key, &mut r.measure_values, |s| list(s, measure_value)),
        _ => s.skip(),
    })?;
    Ok(r)
}

/// An object of string members: the values of `names`, in their order.
fn strings<'a, const N: usize>(s: &mut Scanner<'a>, names: [&str; N]) -> Scanned<[Option<Text<'a>>; N]> {
    let (mut out, mut seen) = (std::array::from_fn(|_| None), 0);
    s.object(|s, key| match names.iter().position(|n| *n == key) {
        Some(i) => member(s, &mut seen, i as u32, &key, &mut out[i], Scanner::string),
        None => s.skip(),
    })?;
    Ok(out)
}

fn dimension<'a>(s: &mut Scanner<'a>) -> Scanned<DimensionIn<'a>> {
    let [name, value, dimension_value_type] = strings(s, ["Name", "Value", "DimensionValueType"])?;
    Ok(DimensionIn { name, value, dimension_value_type })
}

fn measure_value<'a>(s: &mut Scanner<'a>) -> Scanned<MeasureValueIn<'a>> {
    let [name, value, r#type] = strings(s, ["Name", "Value", "Type"])?;
    Ok(MeasureValueIn { name, value, r#type })
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
    use proptest::prelude::*;
    use serde_json::Map;

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
    }

    #[test]
    fn malformed_bodies_are_serialization_errors_that_say_where() {
        let message = |body: &str| parse(body.as_bytes()).map(drop).unwrap_err().message;
        assert_eq!(
            message(r#"{"DatabaseName":5}"#),
            "Cannot read the WriteRecords request: invalid type: a number, expected a string at line 1 column 17"
        );
        assert!(
            message("{\"Records\":[{},\n {\"Version\": 1.5}]}")
                .contains("floating point `1.5`, expected i64 at line 2 column 14")
        );
        assert!(message(r#"{"TableName":"a","TableName":"b"}"#).contains("duplicate field `TableName`"));
        assert!(message(r#"{"Records":[null]}"#).contains("expected an object"));
        assert!(message(r#"{} {}"#).contains("trailing characters"));
        assert!(message(r#"{"DatabaseName":"\ud800"}"#).contains("lone leading surrogate"));
        assert!(message(&format!("{{\"x\":{}{}}}", "[".repeat(200), "]".repeat(200))).contains("recursion limit"));
        assert!(message("{\"DatabaseName\":\"a\tb\"}").contains("control character"));
        assert!(parse(&[b'{', 0xff, b'}']).is_err());
    }

    #[test]
    fn numbers_literals_and_escapes_follow_the_json_grammar() {
        let numbers = [
            "0",
            "-0",
            "01",
            "1e309",
            "-1e0000309",
            "1e-400",
            "123456789012345678901234567890",
            "-01",
            "1.",
            ".5",
            "1e",
            "1e+",
            "1E5",
            "-",
            "--1",
            "1.5e-3",
            "00",
            "2.0",
            "+1",
        ];
        let literals = ["true", "tru", "nul", "falsey", "null", "[]", "[1,]", "{,}", "{\"a\":1,}", "[1 2]"];
        let strings = [r#""\/""#, r#""\x""#, r#""\u12""#, r#""\ud83d\ude00""#, r#""\udc00""#, r#""\u00E9""#];
        for value in numbers.iter().chain(&literals).chain(&strings) {
            for body in [format!(r#"{{"Other":{value}}}"#), format!(r#"{{"Records":[{{"Version":{value}}}]}}"#)] {
                assert_eq!(parse(body.as_bytes()).ok(), oracle(&body), "{body}");
            }
        }
        for value in strings {
            let body = format!(r#"{{"DatabaseName":{value}}}"#);
            assert_eq!(parse(body.as_bytes()).ok(), oracle(&body), "{body}");
        }
    }

    /// What serde_json makes of a body, in the request's structs: the reference the scanner is
    /// checked against (`None` where serde_json refuses the JSON or a member has the wrong type).
    fn oracle(body: &str) -> Option<WriteRecordsRequest<'static>> {
        fn text(v: &Value) -> Option<Option<Text<'static>>> {
            match v {
                Value::Null => Some(None),
                Value::String(s) => Some(Some(Cow::Owned(s.clone()))),
                _ => None,
            }
        }
        fn opt<T>(v: Option<&Value>, f: impl Fn(&Value) -> Option<T>) -> Option<Option<T>> {
            match v {
                None | Some(Value::Null) => Some(None),
                Some(v) => f(v).map(Some),
            }
        }
        fn list<T>(v: &Value, f: impl Fn(&Value) -> Option<T>) -> Option<Vec<T>> {
            v.as_array()?.iter().map(f).collect()
        }
        fn field(m: &Map<String, Value>, k: &str) -> Option<Option<Text<'static>>> {
            m.get(k).map_or(Some(None), text)
        }
        /// An object's string members `names`, as the scanner's `strings` reads them.
        fn strings<const N: usize>(v: &Value, names: [&str; N]) -> Option<[Option<Text<'static>>; N]> {
            let m = v.as_object()?;
            let mut out = std::array::from_fn(|_| None);
            for (slot, name) in out.iter_mut().zip(names) {
                *slot = field(m, name)?;
            }
            Some(out)
        }
        fn record(v: &Value) -> Option<RecordIn<'static>> {
            let m = v.as_object()?;
            Some(RecordIn {
                dimensions: opt(m.get("Dimensions"), |v| {
                    list(v, |d| {
                        let [name, value, dimension_value_type] = strings(d, ["Name", "Value", "DimensionValueType"])?;
                        Some(DimensionIn { name, value, dimension_value_type })
                    })
                })?,
                measure_name: field(m, "MeasureName")?,
                measure_value: field(m, "MeasureValue")?,
                measure_value_type: field(m, "MeasureValueType")?,
                time: field(m, "Time")?,
                time_unit: field(m, "TimeUnit")?,
                version: opt(m.get("Version"), Value::as_i64)?,
                measure_values: opt(m.get("MeasureValues"), |v| {
                    list(v, |x| {
                        let [name, value, r#type] = strings(x, ["Name", "Value", "Type"])?;
                        Some(MeasureValueIn { name, value, r#type })
                    })
                })?,
            })
        }
        let v: Value = serde_json::from_str(body).ok()?;
        let m = v.as_object()?;
        Some(WriteRecordsRequest {
            database_name: field(m, "DatabaseName")?,
            table_name: field(m, "TableName")?,
            common_attributes: opt(m.get("CommonAttributes"), record)?,
            records: opt(m.get("Records"), |v| list(v, record))?,
        })
    }

    /// Values a member may hold: mostly strings (with escapes and characters of every width),
    /// and every other JSON type, nested.
    fn value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            4 => "[a-zA-Z0-9:. \"\\\\/\u{e9}\u{1F321}\u{1}\n]{0,8}".prop_map(Value::from),
            1 => Just(Value::Null),
            1 => any::<bool>().prop_map(Value::from),
            1 => any::<i64>().prop_map(Value::from),
            1 => (-1e6f64..1e6).prop_map(Value::from),
        ];
        leaf.prop_recursive(3, 16, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::from),
                prop::collection::btree_map("[A-Z][a-z]{0,3}", inner, 0..3)
                    .prop_map(|m| Value::Object(m.into_iter().collect())),
            ]
        })
    }

    /// An object with some of `keys` (plus an unknown one), each holding `member` or any value.
    fn object_of(keys: &'static [&'static str], member: BoxedStrategy<Value>) -> BoxedStrategy<Value> {
        prop::collection::vec((prop::sample::select(keys), prop_oneof![3 => member, 1 => value()]), 0..6)
            .prop_map(|pairs| Value::Object(pairs.into_iter().map(|(k, v)| (k.to_string(), v)).collect()))
            .boxed()
    }

    fn body() -> impl Strategy<Value = String> {
        let text = "[a-zA-Z0-9_:.\u{e9}\"\\\\]{0,6}".prop_map(Value::from).boxed();
        let dimension = object_of(&["Name", "Value", "DimensionValueType", "Other"], text.clone());
        let measure = object_of(&["Name", "Value", "Type", "Other"], text.clone());
        let record = object_of(
            &[
                "Dimensions",
                "MeasureName",
                "MeasureValue",
                "MeasureValueType",
                "Time",
                "TimeUnit",
                "Version",
                "MeasureValues",
                "Other",
            ],
            prop_oneof![
                text.clone(),
                prop::collection::vec(dimension, 0..3).prop_map(Value::from),
                prop::collection::vec(measure, 0..3).prop_map(Value::from),
                (1i64..1 << 40).prop_map(Value::from),
            ]
            .boxed(),
        );
        let request = object_of(
            &["DatabaseName", "TableName", "CommonAttributes", "Records", "Other"],
            prop_oneof![text, record.clone(), prop::collection::vec(record, 0..4).prop_map(Value::from)].boxed(),
        );
        // Pretty or compact, then up to three bytes replaced by or inserted before a byte JSON
        // cares about, and perhaps cut short.
        let edit = (any::<prop::sample::Index>(), any::<bool>(), prop::sample::select(&b"{}[]\",:\\0-.e 1"[..]));
        (
            request,
            any::<bool>(),
            prop::collection::vec(edit, 0..4),
            prop::option::weighted(0.1, any::<prop::sample::Index>()),
        )
            .prop_map(|(v, pretty, edits, cut)| {
                let mut text =
                    if pretty { serde_json::to_string_pretty(&v) } else { serde_json::to_string(&v) }.unwrap();
                for (at, replace, byte) in edits {
                    let i = at.index(text.len().max(1));
                    let byte = char::from(byte).to_string();
                    if !text.is_char_boundary(i) {
                        continue;
                    }
                    match text[i..].chars().next() {
                        Some(c) if replace && c.is_ascii() => text.replace_range(i..i + 1, &byte),
                        _ => text.insert_str(i, &byte),
                    }
                }
                if let Some(at) = cut {
                    let i = at.index(text.len().max(1));
                    if text.is_char_boundary(i) {
                        text.truncate(i);
                    }
                }
                text
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]
        #[test]
        fn the_scanner_reads_what_serde_json_reads(body in body()) {
            let scanned = parse(body.as_bytes()).ok();
            prop_assert_eq!(scanned, oracle(&body), "{}", body);
        }
    }
}
