//! The write API's operations: databases, tables, tags and WriteRecords.

use serde_json::{Value, json};

use super::json::Obj;
use crate::engine::Engine;
use crate::engine::catalog::{
    Catalog, Database, FUTURE_NS, MAX_DATABASES, MAX_TABLES, Retention, Table, check_create_name, reserved_column,
};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, RejectedRecord};
use crate::engine::store::{Apply, Measure, MeasureType, NewRecord, ScalarValue, TableData};

/// Epoch seconds (with milliseconds) as awsJson timestamps are written.
fn epoch_seconds(ns: i64) -> f64 {
    (ns / 1_000_000) as f64 / 1000.0
}

/// ISO-8601 UTC with milliseconds, as rejection reasons print times.
fn iso_ms(ns: i64) -> String {
    chrono::DateTime::from_timestamp_nanos(ns).format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string()
}

fn database_json(c: &Catalog, d: &Database) -> Value {
    json!({
        "Arn": c.database_arn(&d.name),
        "DatabaseName": d.name,
        "TableCount": d.tables.len(),
        "KmsKeyId": d.kms_key_id,
        "CreationTime": epoch_seconds(d.created_ns),
        "LastUpdatedTime": epoch_seconds(d.updated_ns),
    })
}

fn table_json(c: &Catalog, db: &str, t: &Table) -> Value {
    json!({
        "Arn": c.table_arn(db, &t.name),
        "TableName": t.name,
        "DatabaseName": db,
        "TableStatus": "ACTIVE",
        "RetentionProperties": {
            "MemoryStoreRetentionPeriodInHours": t.retention.memory_hours,
            "MagneticStoreRetentionPeriodInDays": t.retention.magnetic_days,
        },
        "CreationTime": epoch_seconds(t.created_ns),
        "LastUpdatedTime": epoch_seconds(t.updated_ns),
        "MagneticStoreWriteProperties": t.magnetic_properties,
        "Schema": t.schema,
    })
}

/// Tags given as `[{"Key", "Value"}]`, checked.
fn parse_tags(o: &Obj<'_>) -> ApiResult<Vec<(String, String)>> {
    let Some(list) = o.opt_list("Tags")? else { return Ok(Vec::new()) };
    if list.len() > 200 {
        return Err(ApiError::constraint(
            &format!("{} tags", list.len()),
            &o.path_of("Tags"),
            "Member must have length less than or equal to 200",
        ));
    }
    list.iter()
        .enumerate()
        .map(|(i, v)| {
            let t = o.element("Tags", i, v)?;
            let key = t.str("Key")?;
            t.check_len("Key", key, 1, 128)?;
            let value = t.str("Value")?;
            t.check_len("Value", value, 0, 256)?;
            Ok((key.to_string(), value.to_string()))
        })
        .collect()
}

/// Page size for the List operations (1–20, default 20).
fn max_results(o: &Obj<'_>) -> ApiResult<usize> {
    let n = o.opt_i64("MaxResults")?.unwrap_or(20);
    o.check_range("MaxResults", n, 1, 20)?;
    Ok(n as usize)
}

/// List tokens are the hex of the last name returned: opaque to clients, stable across writes.
fn encode_token(last: &str) -> String {
    crate::ruuvi::bytes_to_hex(last.as_bytes())
}

fn decode_token(token: Option<&str>) -> ApiResult<Option<String>> {
    let Some(t) = token else { return Ok(None) };
    crate::ruuvi::hex_to_bytes(t)
        .ok()
        .and_then(|b| String::from_utf8(b).ok())
        .map(Some)
        .ok_or_else(|| ApiError::validation("Invalid pagination token"))
}

impl Engine {
    pub(super) fn create_database(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let name = o.str("DatabaseName")?;
        check_create_name(name, &o.path_of("DatabaseName"))?;
        let kms = o.opt_str("KmsKeyId")?;
        if let Some(k) = kms {
            o.check_len("KmsKeyId", k, 1, 2048)?;
        }
        let tags = parse_tags(o)?;
        let now = self.clock.now_ns();
        let mut c = self.catalog();
        if c.databases.contains_key(name) {
            return Err(ApiError::conflict(format!("The database {name} already exists.")));
        }
        if c.databases.len() >= MAX_DATABASES {
            return Err(ApiError::new(
                ApiErrorKind::ServiceQuotaExceeded,
                "The database quota of the account is reached.",
            ));
        }
        let kms_key_id =
            kms.map_or_else(|| format!("arn:aws:kms:{}:{}:key/ruuvistream-managed", c.region, c.account), String::from);
        let db = Database {
            name: name.to_string(),
            kms_key_id,
            created_ns: now,
            updated_ns: now,
            tables: Default::default(),
        };
        c.databases.insert(name.to_string(), db);
        let arn = c.database_arn(name);
        c.add_tags(&arn, tags)?;
        Ok(json!({ "Database": database_json(&c, c.database(name)?) }))
    }

    pub(super) fn describe_database(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let name = o.str("DatabaseName")?;
        let c = self.catalog();
        Ok(json!({ "Database": database_json(&c, c.database(name)?) }))
    }

    pub(super) fn list_databases(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let max = max_results(o)?;
        let after = decode_token(o.opt_str("NextToken")?)?;
        let c = self.catalog();
        let mut it = c.databases.values().filter(|d| after.as_ref().is_none_or(|a| d.name.as_str() > a.as_str()));
        let page: Vec<&Database> = it.by_ref().take(max).collect();
        let mut out = json!({ "Databases": page.iter().map(|d| database_json(&c, d)).collect::<Vec<_>>() });
        if it.next().is_some() {
            out["NextToken"] = json!(encode_token(&page.last().map(|d| d.name.clone()).unwrap_or_default()));
        }
        Ok(out)
    }

    pub(super) fn update_database(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let name = o.str("DatabaseName")?;
        let kms = o.str("KmsKeyId")?;
        o.check_len("KmsKeyId", kms, 1, 2048)?;
        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let db = c.database_mut(name)?;
        if db.kms_key_id != kms {
            db.kms_key_id = kms.to_string();
            db.updated_ns = now;
        }
        Ok(json!({ "Database": database_json(&c, c.database(name)?) }))
    }

    pub(super) fn delete_database(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let name = o.str("DatabaseName")?;
        let mut c = self.catalog();
        let db = c.database(name)?;
        if !db.tables.is_empty() {
            return Err(ApiError::validation(format!(
                "Cannot delete database {name}: it has {} tables. Delete all tables of the database first.",
                db.tables.len()
            )));
        }
        c.databases.remove(name);
        let arn = c.database_arn(name);
        c.tags.remove(&arn);
        Ok(json!({}))
    }

    pub(super) fn create_table(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db_name = o.str("DatabaseName")?;
        let name = o.str("TableName")?;
        check_create_name(name, &o.path_of("TableName"))?;
        let retention = parse_retention(o)?.unwrap_or_default();
        let (magnetic_writes, magnetic_properties) =
            parse_magnetic(o)?.unwrap_or((false, json!({ "EnableMagneticStoreWrites": false })));
        let (schema, required_dimension) =
            parse_schema(o, None)?.unwrap_or((json!({ "CompositePartitionKey": [{ "Type": "MEASURE" }] }), None));
        let tags = parse_tags(o)?;
        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let total = c.table_count();
        let db = c.database_mut(db_name)?;
        if db.tables.contains_key(name) {
            return Err(ApiError::conflict(format!("The table {name} already exists.")));
        }
        if total >= MAX_TABLES {
            return Err(ApiError::new(
                ApiErrorKind::ServiceQuotaExceeded,
                "The table quota of the account is reached.",
            ));
        }
        db.tables.insert(
            name.to_string(),
            Table {
                name: name.to_string(),
                retention,
                magnetic_writes,
                magnetic_properties,
                schema,
                required_dimension,
                created_ns: now,
                updated_ns: now,
                memory_floor_ns: None,
                data: TableData::default(),
            },
        );
        db.updated_ns = now;
        let arn = c.table_arn(db_name, name);
        c.add_tags(&arn, tags)?;
        Ok(json!({ "Table": table_json(&c, db_name, c.table(db_name, name)?) }))
    }

    pub(super) fn describe_table(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db = o.str("DatabaseName")?;
        let name = o.str("TableName")?;
        let c = self.catalog();
        Ok(json!({ "Table": table_json(&c, db, c.table(db, name)?) }))
    }

    pub(super) fn list_tables(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let max = max_results(o)?;
        let after = decode_token(o.opt_str("NextToken")?)?;
        let c = self.catalog();
        let dbs: Vec<&Database> = match o.opt_str("DatabaseName")? {
            Some(db) => vec![c.database(db)?],
            None => c.databases.values().collect(),
        };
        // Tokens name "<db>/<table>", the listing order across databases.
        let mut it = dbs
            .iter()
            .flat_map(|d| d.tables.values().map(move |t| (d.name.as_str(), t)))
            .filter(|(d, t)| after.as_ref().is_none_or(|a| format!("{d}/{}", t.name).as_str() > a.as_str()));
        let page: Vec<(&str, &Table)> = it.by_ref().take(max).collect();
        let mut out = json!({ "Tables": page.iter().map(|(d, t)| table_json(&c, d, t)).collect::<Vec<_>>() });
        if it.next().is_some()
            && let Some((d, t)) = page.last()
        {
            out["NextToken"] = json!(encode_token(&format!("{d}/{}", t.name)));
        }
        Ok(out)
    }

    pub(super) fn update_table(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db = o.str("DatabaseName")?;
        let name = o.str("TableName")?;
        let retention = parse_retention(o)?;
        let magnetic = parse_magnetic(o)?;
        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let table = c.table_mut(db, name)?;
        let schema = parse_schema(o, Some(&table.schema))?;
        if let Some(r) = retention {
            table.set_retention(r, now);
        }
        if let Some((enabled, props)) = magnetic {
            table.magnetic_writes = enabled;
            table.magnetic_properties = props;
        }
        if let Some((schema, required)) = schema {
            table.schema = schema;
            table.required_dimension = required;
        }
        table.updated_ns = now;
        Ok(json!({ "Table": table_json(&c, db, c.table(db, name)?) }))
    }

    pub(super) fn delete_table(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db = o.str("DatabaseName")?;
        let name = o.str("TableName")?;
        let mut c = self.catalog();
        c.table(db, name)?;
        c.database_mut(db)?.tables.remove(name);
        let arn = c.table_arn(db, name);
        c.tags.remove(&arn);
        Ok(json!({}))
    }

    pub(super) fn tag_resource(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let arn = o.str("ResourceARN")?;
        let tags = parse_tags(o)?;
        if o.opt_list("Tags")?.is_none() {
            return Err(ApiError::missing(&o.path_of("Tags")));
        }
        let mut c = self.catalog();
        c.add_tags(arn, tags)?;
        Ok(json!({}))
    }

    pub(super) fn untag_resource(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let arn = o.str("ResourceARN")?;
        let keys = o.str_list("TagKeys")?.ok_or_else(|| ApiError::missing(&o.path_of("TagKeys")))?;
        let mut c = self.catalog();
        let tags = c.tags_mut(arn)?;
        for k in keys {
            tags.remove(k);
        }
        Ok(json!({}))
    }

    pub(super) fn list_tags(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let arn = o.str("ResourceARN")?;
        let mut c = self.catalog();
        let tags = c.tags_mut(arn)?;
        Ok(json!({ "Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>() }))
    }

    pub(super) fn write_records(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db = o.str("DatabaseName")?;
        let table_name = o.str("TableName")?;
        let records = o.opt_list("Records")?.ok_or_else(|| ApiError::missing(&o.path_of("Records")))?;
        if records.is_empty() || records.len() > 100 {
            let constraint = if records.is_empty() {
                "Member must have length greater than or equal to 1"
            } else {
                "Member must have length less than or equal to 100"
            };
            return Err(ApiError::constraint(&format!("{} records", records.len()), &o.path_of("Records"), constraint));
        }
        let common = match o.opt_obj("CommonAttributes")? {
            Some(c) => Some(RawRecord::parse(&c)?),
            None => None,
        };
        let parsed: Vec<RawRecord<'_>> = records
            .iter()
            .enumerate()
            .map(|(i, v)| RawRecord::parse(&o.element("Records", i, v)?))
            .collect::<ApiResult<_>>()?;
        let merged: Vec<Merged<'_>> =
            parsed.iter().map(|r| Merged::new(r, common.as_ref())).collect::<ApiResult<_>>()?;

        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let table = c.table_mut(db, table_name)?;
        table.data.expire_before(table.oldest_kept(now));
        let memory_floor = table.memory_floor(now);
        let oldest = table.oldest_writable(now);
        let newest = now.saturating_add(FUTURE_NS);
        let window = if table.magnetic_writes { "data ingestion window" } else { "memory store" };

        let (mut memory, mut magnetic) = (0u64, 0u64);
        let mut rejected = Vec::new();
        for (index, m) in merged.into_iter().enumerate() {
            let outcome = m.finish(table.required_dimension.as_deref()).and_then(|r| {
                if r.time_ns < oldest || r.time_ns >= newest {
                    return Err(format!(
                        "The record timestamp is outside the time range [{}, {}) of the {window}.",
                        iso_ms(oldest),
                        iso_ms(newest)
                    ));
                }
                Ok(r)
            });
            let record = match outcome {
                Ok(r) => r,
                Err(reason) => {
                    rejected.push(RejectedRecord { index, reason, existing_version: None });
                    continue;
                }
            };
            let to_memory = record.time_ns >= memory_floor;
            debug_assert!(record.time_ns >= oldest);
            match table.data.apply(record) {
                Apply::Written => {
                    if to_memory {
                        memory += 1;
                    } else {
                        magnetic += 1;
                    }
                }
                Apply::Conflict { reason, existing_version } => {
                    rejected.push(RejectedRecord { index, reason, existing_version: Some(existing_version) })
                }
                Apply::Invalid(reason) => rejected.push(RejectedRecord { index, reason, existing_version: None }),
            }
        }
        drop(c);
        if !rejected.is_empty() {
            return Err(ApiError {
                kind: ApiErrorKind::RejectedRecords,
                message: "One or more records have been rejected. See RejectedRecords for details.".into(),
                rejected,
            });
        }
        Ok(
            json!({ "RecordsIngested": { "Total": memory + magnetic, "MemoryStore": memory, "MagneticStore": magnetic } }),
        )
    }
}

fn parse_retention(o: &Obj<'_>) -> ApiResult<Option<Retention>> {
    let Some(r) = o.opt_obj("RetentionProperties")? else { return Ok(None) };
    let memory = r
        .opt_i64("MemoryStoreRetentionPeriodInHours")?
        .ok_or_else(|| ApiError::missing(&r.path_of("MemoryStoreRetentionPeriodInHours")))?;
    r.check_range("MemoryStoreRetentionPeriodInHours", memory, 1, 8766)?;
    let magnetic = r
        .opt_i64("MagneticStoreRetentionPeriodInDays")?
        .ok_or_else(|| ApiError::missing(&r.path_of("MagneticStoreRetentionPeriodInDays")))?;
    r.check_range("MagneticStoreRetentionPeriodInDays", magnetic, 1, 73_000)?;
    Ok(Some(Retention { memory_hours: memory, magnetic_days: magnetic }))
}

fn parse_magnetic(o: &Obj<'_>) -> ApiResult<Option<(bool, Value)>> {
    let Some(m) = o.opt_obj("MagneticStoreWriteProperties")? else { return Ok(None) };
    let enabled = m
        .opt_bool("EnableMagneticStoreWrites")?
        .ok_or_else(|| ApiError::missing(&m.path_of("EnableMagneticStoreWrites")))?;
    let mut echo = json!({ "EnableMagneticStoreWrites": enabled });
    if let Some(loc) = m.opt_obj("MagneticStoreRejectedDataLocation")? {
        if let Some(s3) = loc.opt_obj("S3Configuration")? {
            if let Some(b) = s3.opt_str("BucketName")? {
                s3.check_len("BucketName", b, 3, 63)?;
            }
            if let Some(e) = s3.opt_str("EncryptionOption")? {
                s3.check_enum("EncryptionOption", e, &["SSE_S3", "SSE_KMS"])?;
            }
        }
        // Rejected magnetic writes are reported synchronously here, so the location is only kept
        // to be echoed back.
        echo["MagneticStoreRejectedDataLocation"] =
            m.raw("MagneticStoreRejectedDataLocation").cloned().unwrap_or_default();
    }
    Ok(Some((enabled, echo)))
}

/// The table schema (one partition key, as the service allows) and the dimension it makes
/// required, if any. On update only `EnforcementInRecord` may change.
fn parse_schema(o: &Obj<'_>, current: Option<&Value>) -> ApiResult<Option<(Value, Option<String>)>> {
    let Some(s) = o.opt_obj("Schema")? else { return Ok(None) };
    let keys =
        s.opt_list("CompositePartitionKey")?.ok_or_else(|| ApiError::missing(&s.path_of("CompositePartitionKey")))?;
    if keys.is_empty() {
        return Err(ApiError::constraint(
            "[]",
            &s.path_of("CompositePartitionKey"),
            "Member must have length greater than or equal to 1",
        ));
    }
    if keys.len() > 1 {
        return Err(ApiError::validation(
            "You have specified too many partition keys to be used in your composite partition key. Only 1 partition keys can be specified.",
        ));
    }
    let k = s.element("CompositePartitionKey", 0, &keys[0])?;
    let kind = k.str("Type")?;
    k.check_enum("Type", kind, &["DIMENSION", "MEASURE"])?;
    let name = k.opt_str("Name")?;
    let enforcement = k.opt_str("EnforcementInRecord")?;
    if let Some(e) = enforcement {
        k.check_enum("EnforcementInRecord", e, &["REQUIRED", "OPTIONAL"])?;
    }
    if kind == "DIMENSION" && name.is_none_or(str::is_empty) {
        return Err(ApiError::validation("A partition key of type DIMENSION needs a Name."));
    }
    if let Some(cur) = current {
        let old = &cur["CompositePartitionKey"][0];
        if old["Type"].as_str() != Some(kind) || old["Name"].as_str() != name {
            return Err(ApiError::validation(
                "The partition key name and type cannot be changed; only EnforcementInRecord can be updated.",
            ));
        }
    }
    let mut key = json!({ "Type": kind });
    if let Some(n) = name {
        key["Name"] = json!(n);
    }
    if let Some(e) = enforcement {
        key["EnforcementInRecord"] = json!(e);
    }
    let required =
        (kind == "DIMENSION" && enforcement == Some("REQUIRED")).then(|| name.unwrap_or_default().to_string());
    Ok(Some((json!({ "CompositePartitionKey": [key] }), required)))
}

/// A record's members as sent, shape-checked.
struct RawRecord<'a> {
    dimensions: Option<Vec<(&'a str, &'a str)>>,
    measure_name: Option<&'a str>,
    measure_value: Option<&'a str>,
    value_type: Option<&'a str>,
    time: Option<&'a str>,
    time_unit: Option<&'a str>,
    version: Option<i64>,
    measure_values: Option<Vec<(&'a str, &'a str, &'a str)>>,
}

const VALUE_TYPES: &[&str] = &["DOUBLE", "BIGINT", "VARCHAR", "BOOLEAN", "TIMESTAMP", "MULTI"];
const TIME_UNITS: &[&str] = &["MILLISECONDS", "SECONDS", "MICROSECONDS", "NANOSECONDS"];

impl<'a> RawRecord<'a> {
    fn parse(r: &Obj<'a>) -> ApiResult<Self> {
        let dimensions = match r.opt_list("Dimensions")? {
            None => None,
            Some(list) => {
                if list.len() > 128 {
                    return Err(ApiError::constraint(
                        &format!("{} dimensions", list.len()),
                        &r.path_of("Dimensions"),
                        "Member must have length less than or equal to 128",
                    ));
                }
                let mut dims = Vec::with_capacity(list.len());
                for (i, v) in list.iter().enumerate() {
                    let d = r.element("Dimensions", i, v)?;
                    let name = d.str("Name")?;
                    d.check_len("Name", name, 1, usize::MAX)?;
                    let value = d.str("Value")?;
                    if let Some(t) = d.opt_str("DimensionValueType")? {
                        d.check_enum("DimensionValueType", t, &["VARCHAR"])?;
                    }
                    dims.push((name, value));
                }
                Some(dims)
            }
        };
        let measure_name = r.opt_str("MeasureName")?;
        if let Some(n) = measure_name {
            r.check_len("MeasureName", n, 1, usize::MAX)?;
        }
        let measure_value = r.opt_str("MeasureValue")?;
        if let Some(v) = measure_value {
            r.check_len("MeasureValue", v, 1, 2048)?;
        }
        let value_type =
            r.opt_str("MeasureValueType")?.map(|t| r.check_enum("MeasureValueType", t, VALUE_TYPES)).transpose()?;
        let time = r.opt_str("Time")?;
        if let Some(t) = time {
            r.check_len("Time", t, 1, 256)?;
        }
        let time_unit = r.opt_str("TimeUnit")?.map(|t| r.check_enum("TimeUnit", t, TIME_UNITS)).transpose()?;
        let version = r.opt_i64("Version")?;
        if let Some(v) = version {
            r.check_range("Version", v, 1, i64::MAX)?;
        }
        let measure_values = match r.opt_list("MeasureValues")? {
            None => None,
            Some(list) => {
                let mut out = Vec::with_capacity(list.len());
                for (i, v) in list.iter().enumerate() {
                    let m = r.element("MeasureValues", i, v)?;
                    let name = m.str("Name")?;
                    m.check_len("Name", name, 1, usize::MAX)?;
                    let value = m.str("Value")?;
                    m.check_len("Value", value, 1, 2048)?;
                    let ty = m.str("Type")?;
                    m.check_enum("Type", ty, VALUE_TYPES)?;
                    out.push((name, value, ty));
                }
                Some(out)
            }
        };
        Ok(Self { dimensions, measure_name, measure_value, value_type, time, time_unit, version, measure_values })
    }
}

/// A record merged with CommonAttributes; request-level rules checked.
struct Merged<'a> {
    dimensions: Vec<(&'a str, &'a str)>,
    measure_name: &'a str,
    value: Value2<'a>,
    time_ns: i64,
    time_unit_ns: i64,
    version: Option<i64>,
}

enum Value2<'a> {
    Single(&'a str, &'a str),
    Multi(&'a [(&'a str, &'a str, &'a str)]),
}

fn unit_ns(unit: &str) -> i64 {
    match unit {
        "SECONDS" => 1_000_000_000,
        "MICROSECONDS" => 1_000,
        "NANOSECONDS" => 1,
        _ => 1_000_000,
    }
}

/// An epoch count in `unit_ns` nanoseconds, as ns; `None` if it is not a non-negative integer
/// or lies past 2262-04-11.
fn parse_epoch(text: &str, unit_ns: i64) -> Option<i64> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse::<i64>().ok()?.checked_mul(unit_ns)
}

impl<'a> Merged<'a> {
    fn new(r: &'a RawRecord<'a>, common: Option<&'a RawRecord<'a>>) -> ApiResult<Self> {
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
        let measure_name = pick(|x| x.measure_name).ok_or_else(|| {
            ApiError::validation("MeasureName must be specified on the record or in CommonAttributes.")
        })?;
        let value_type = pick(|x| x.value_type).unwrap_or("DOUBLE");
        let measure_values = r.measure_values.as_deref().or_else(|| common.and_then(|c| c.measure_values.as_deref()));
        let value = match (value_type, measure_values, pick(|x| x.measure_value)) {
            ("MULTI", Some(values), None) if !values.is_empty() => Value2::Multi(values),
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
            (t, None, Some(v)) => Value2::Single(t, v),
            (t, None, None) => {
                return Err(ApiError::validation(format!("A {t} record must have a MeasureValue.")));
            }
        };
        let unit = unit_ns(pick(|x| x.time_unit).unwrap_or("MILLISECONDS"));
        let time = pick(|x| x.time).ok_or_else(|| ApiError::validation("Invalid time for record."))?;
        let time_ns = parse_epoch(time, unit).ok_or_else(|| ApiError::validation("Invalid time for record."))?;
        let version = r.version.or_else(|| common.and_then(|c| c.version));
        Ok(Self { dimensions, measure_name, value, time_ns, time_unit_ns: unit, version })
    }

    /// Per-record checks (a failure rejects this record only) and the record to store.
    fn finish(self, required_dimension: Option<&str>) -> Result<NewRecord, String> {
        let mut size = self.measure_name.len() + 16;
        for (name, value) in &self.dimensions {
            if let Some(why) = reserved_column(name) {
                return Err(format!("Dimension name {name} {why}."));
            }
            if name.len() > 60 {
                return Err(format!("Dimension name {name} is longer than 60 bytes."));
            }
            size += name.len() + value.len();
        }
        if self.dimensions.len() > 128 {
            return Err("A record can have at most 128 dimensions.".into());
        }
        if let Some(required) = required_dimension
            && !self.dimensions.iter().any(|(n, _)| *n == required)
        {
            return Err(format!(
                "The record is missing the dimension {required}, which the table's partition key requires."
            ));
        }
        if let Some(why) = reserved_column(self.measure_name) {
            return Err(format!("Measure name {} {why}.", self.measure_name));
        }
        if self.measure_name.len() > 256 {
            return Err("Measure name is longer than 256 bytes.".into());
        }
        let measure = match self.value {
            Value2::Single(ty, v) => {
                size += v.len();
                Measure::Single(parse_value(ty, v, self.time_unit_ns)?)
            }
            Value2::Multi(values) => {
                if values.len() > 256 {
                    return Err("A MULTI record can have at most 256 measures.".into());
                }
                let mut attrs = Vec::with_capacity(values.len());
                for (name, v, ty) in values {
                    if let Some(why) = reserved_column(name) {
                        return Err(format!("Measure name {name} {why}."));
                    }
                    if *ty == "MULTI" {
                        return Err(format!("Measure {name} cannot be of type MULTI."));
                    }
                    if self.dimensions.iter().any(|(d, _)| d == name) {
                        return Err(format!("Measure {name} has the name of one of the record's dimensions."));
                    }
                    size += name.len() + v.len();
                    attrs.push((name.to_string(), parse_value(ty, v, self.time_unit_ns)?));
                }
                attrs.sort_by(|a, b| a.0.cmp(&b.0));
                if attrs.windows(2).any(|w| w[0].0 == w[1].0) {
                    return Err("The measure names of a MULTI record must be unique.".into());
                }
                Measure::Multi(attrs)
            }
        };
        if size > 2048 {
            return Err(format!("The record is {size} bytes; records are limited to 2048 bytes."));
        }
        let mut dimensions: Vec<(String, String)> =
            self.dimensions.iter().map(|(n, v)| (n.to_string(), v.to_string())).collect();
        dimensions.sort();
        Ok(NewRecord {
            dimensions,
            measure_name: self.measure_name.to_string(),
            time_ns: self.time_ns,
            version: self.version,
            measure,
        })
    }
}

/// A measure value in its declared type. TIMESTAMP values are epoch counts in the record's
/// time unit.
fn parse_value(ty: &str, v: &str, unit_ns: i64) -> Result<ScalarValue, String> {
    let bad = |t: MeasureType| format!("Measure value {v} is not a valid {}.", t.name());
    Ok(match ty {
        "BIGINT" => ScalarValue::Bigint(v.trim().parse().map_err(|_| bad(MeasureType::Bigint))?),
        "VARCHAR" => ScalarValue::Varchar(v.to_string()),
        "BOOLEAN" => match v.to_ascii_lowercase().as_str() {
            "true" => ScalarValue::Boolean(true),
            "false" => ScalarValue::Boolean(false),
            _ => return Err(bad(MeasureType::Boolean)),
        },
        "TIMESTAMP" => {
            ScalarValue::Timestamp(parse_epoch(v.trim(), unit_ns).ok_or_else(|| bad(MeasureType::Timestamp))?)
        }
        _ => {
            let x: f64 = v.trim().parse().map_err(|_| bad(MeasureType::Double))?;
            if !x.is_finite() {
                return Err(format!("Measure value {v} is not a finite DOUBLE: NaN and Infinity cannot be written."));
            }
            ScalarValue::Double(x)
        }
    })
}
