//! The write API's catalog operations on the wire: awsJson members to the catalog's typed
//! requests (with the service's constraint messages), and their results back to awsJson.

use serde_json::{Value, json};

use super::json::Obj;
use crate::engine::Engine;
use crate::engine::catalog::{
    CreateDatabase, CreateTable, DatabaseDescription, Enforcement, MAX_PAGE, MagneticStoreWriteProperties, Page,
    PartitionKey, PartitionKeyType, RejectedDataLocation, Retention, S3Configuration, TableDescription, TableSchema,
    UpdateTable,
};
use crate::engine::error::{ApiError, ApiResult};

/// Epoch seconds (with milliseconds) as awsJson timestamps are written.
fn epoch_seconds(ns: i64) -> f64 {
    (ns / 1_000_000) as f64 / 1000.0
}

fn database_json(d: &DatabaseDescription) -> Value {
    json!({
        "Arn": d.arn,
        "DatabaseName": d.name,
        "TableCount": d.table_count,
        "KmsKeyId": d.kms_key_id,
        "CreationTime": epoch_seconds(d.created_ns),
        "LastUpdatedTime": epoch_seconds(d.updated_ns),
    })
}

fn table_json(t: &TableDescription) -> Value {
    json!({
        "Arn": t.arn,
        "TableName": t.name,
        "DatabaseName": t.database,
        "TableStatus": "ACTIVE",
        "RetentionProperties": {
            "MemoryStoreRetentionPeriodInHours": t.retention.memory_hours,
            "MagneticStoreRetentionPeriodInDays": t.retention.magnetic_days,
        },
        "CreationTime": epoch_seconds(t.created_ns),
        "LastUpdatedTime": epoch_seconds(t.updated_ns),
        "MagneticStoreWriteProperties": t.magnetic,
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
    let n = o.opt_i64("MaxResults")?.unwrap_or(MAX_PAGE as i64);
    o.check_range("MaxResults", n, 1, MAX_PAGE as i64)?;
    Ok(n as usize)
}

/// A page as a List operation answers it, under `member`.
fn page_json<T>(page: &Page<T>, member: &str, render: fn(&T) -> Value) -> Value {
    let mut out = json!({ member: page.items.iter().map(render).collect::<Vec<_>>() });
    if let Some(last) = &page.next_after {
        out["NextToken"] = json!(encode_token(last));
    }
    out
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

pub(super) fn create_database(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let name = o.str("DatabaseName")?;
    let kms = o.opt_str("KmsKeyId")?;
    if let Some(k) = kms {
        o.check_len("KmsKeyId", k, 1, 2048)?;
    }
    let req = CreateDatabase { name: name.into(), kms_key_id: kms.map(String::from), tags: parse_tags(o)? };
    Ok(json!({ "Database": database_json(&engine.create_database(req)?) }))
}

pub(super) fn describe_database(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    Ok(json!({ "Database": database_json(&engine.describe_database(o.str("DatabaseName")?)?) }))
}

/// ListDatabases, of the databases `readable` lets the caller see.
pub(super) fn list_databases(engine: &Engine, o: &Obj<'_>, readable: &dyn Fn(&str) -> bool) -> ApiResult<Value> {
    let max = max_results(o)?;
    let after = decode_token(o.opt_str("NextToken")?)?;
    Ok(page_json(&engine.list_databases(max, after.as_deref(), readable), "Databases", database_json))
}

pub(super) fn update_database(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let name = o.str("DatabaseName")?;
    let kms = o.str("KmsKeyId")?;
    o.check_len("KmsKeyId", kms, 1, 2048)?;
    Ok(json!({ "Database": database_json(&engine.update_database(name, kms)?) }))
}

pub(super) fn delete_database(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    engine.delete_database(o.str("DatabaseName")?)?;
    Ok(json!({}))
}

pub(super) fn create_table(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let req = CreateTable {
        database: o.str("DatabaseName")?.into(),
        name: o.str("TableName")?.into(),
        retention: parse_retention(o)?,
        magnetic: parse_magnetic(o)?,
        schema: parse_schema(o)?,
        tags: parse_tags(o)?,
    };
    Ok(json!({ "Table": table_json(&engine.create_table(req)?) }))
}

pub(super) fn describe_table(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    Ok(json!({ "Table": table_json(&engine.describe_table(o.str("DatabaseName")?, o.str("TableName")?)?) }))
}

/// ListTables, of the databases `readable` lets the caller see.
pub(super) fn list_tables(engine: &Engine, o: &Obj<'_>, readable: &dyn Fn(&str) -> bool) -> ApiResult<Value> {
    let max = max_results(o)?;
    let after = decode_token(o.opt_str("NextToken")?)?;
    let page = engine.list_tables(o.opt_str("DatabaseName")?, max, after.as_deref(), readable)?;
    Ok(page_json(&page, "Tables", table_json))
}

pub(super) fn update_table(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let req = UpdateTable {
        database: o.str("DatabaseName")?.into(),
        name: o.str("TableName")?.into(),
        retention: parse_retention(o)?,
        magnetic: parse_magnetic(o)?,
        schema: parse_schema(o)?,
    };
    Ok(json!({ "Table": table_json(&engine.update_table(req)?) }))
}

pub(super) fn delete_table(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    engine.delete_table(o.str("DatabaseName")?, o.str("TableName")?)?;
    Ok(json!({}))
}

pub(super) fn tag_resource(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let arn = o.str("ResourceARN")?;
    let tags = parse_tags(o)?;
    if o.opt_list("Tags")?.is_none() {
        return Err(ApiError::missing(&o.path_of("Tags")));
    }
    engine.tag_resource(arn, tags)?;
    Ok(json!({}))
}

pub(super) fn untag_resource(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let arn = o.str("ResourceARN")?;
    let keys = o.str_list("TagKeys")?.ok_or_else(|| ApiError::missing(&o.path_of("TagKeys")))?;
    let keys: Vec<String> = keys.into_iter().map(String::from).collect();
    engine.untag_resource(arn, &keys)?;
    Ok(json!({}))
}

pub(super) fn list_tags(engine: &Engine, o: &Obj<'_>) -> ApiResult<Value> {
    let tags = engine.list_tags(o.str("ResourceARN")?)?;
    Ok(json!({ "Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>() }))
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

fn parse_magnetic(o: &Obj<'_>) -> ApiResult<Option<MagneticStoreWriteProperties>> {
    let Some(m) = o.opt_obj("MagneticStoreWriteProperties")? else { return Ok(None) };
    let enabled = m
        .opt_bool("EnableMagneticStoreWrites")?
        .ok_or_else(|| ApiError::missing(&m.path_of("EnableMagneticStoreWrites")))?;
    let mut location = None;
    if let Some(loc) = m.opt_obj("MagneticStoreRejectedDataLocation")? {
        let mut s3_configuration = None;
        if let Some(s3) = loc.opt_obj("S3Configuration")? {
            let bucket_name = s3.opt_str("BucketName")?;
            if let Some(b) = bucket_name {
                s3.check_len("BucketName", b, 3, 63)?;
            }
            let encryption_option = s3.opt_str("EncryptionOption")?;
            if let Some(e) = encryption_option {
                s3.check_enum("EncryptionOption", e, &["SSE_S3", "SSE_KMS"])?;
            }
            s3_configuration = Some(S3Configuration {
                bucket_name: bucket_name.map(String::from),
                object_key_prefix: s3.opt_str("ObjectKeyPrefix")?.map(String::from),
                encryption_option: encryption_option.map(String::from),
                kms_key_id: s3.opt_str("KmsKeyId")?.map(String::from),
            });
        }
        // Rejected magnetic writes are reported synchronously here, so the location is only kept
        // to be echoed back.
        location = Some(RejectedDataLocation { s3_configuration });
    }
    Ok(Some(MagneticStoreWriteProperties {
        enable_magnetic_store_writes: enabled,
        magnetic_store_rejected_data_location: location,
    }))
}

/// The table schema as given; the engine checks its rules (one key, a named dimension, and on
/// update only `EnforcementInRecord` changing).
fn parse_schema(o: &Obj<'_>) -> ApiResult<Option<TableSchema>> {
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
    let mut composite_partition_key = Vec::with_capacity(keys.len());
    for (i, key) in keys.iter().enumerate() {
        let k = s.element("CompositePartitionKey", i, key)?;
        let kind = match k.check_enum("Type", k.str("Type")?, &["DIMENSION", "MEASURE"])? {
            "DIMENSION" => PartitionKeyType::Dimension,
            _ => PartitionKeyType::Measure,
        };
        let enforcement = match k.opt_str("EnforcementInRecord")? {
            Some(e) => match k.check_enum("EnforcementInRecord", e, &["REQUIRED", "OPTIONAL"])? {
                "REQUIRED" => Some(Enforcement::Required),
                _ => Some(Enforcement::Optional),
            },
            None => None,
        };
        composite_partition_key.push(PartitionKey {
            kind,
            name: k.opt_str("Name")?.map(String::from),
            enforcement_in_record: enforcement,
        });
    }
    Ok(Some(TableSchema { composite_partition_key }))
}
