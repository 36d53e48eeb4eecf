//! The write API's catalog operations: databases, tables and tags.

use serde_json::{Value, json};

use super::json::Obj;
use crate::engine::Engine;
use crate::engine::catalog::{
    Catalog, Database, MAX_DATABASES, MAX_TABLES, Retention, Table, check_create_name, default_magnetic_properties,
    default_schema,
};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, shown};
use crate::engine::store::TableData;

/// Epoch seconds (with milliseconds) as awsJson timestamps are written.
fn epoch_seconds(ns: i64) -> f64 {
    (ns / 1_000_000) as f64 / 1000.0
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
            return Err(ApiError::conflict(format!("The database {} already exists.", shown(name))));
        }
        if c.databases.len() >= MAX_DATABASES {
            return Err(ApiError::new(
                ApiErrorKind::ServiceQuotaExceeded,
                "The database quota of the account is reached.",
            ));
        }
        let kms_key_id = kms.map_or_else(|| c.default_kms_key(), String::from);
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
        self.persist_catalog(&c)?;
        Ok(json!({ "Database": database_json(&c, c.database(name)?) }))
    }

    pub(super) fn describe_database(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let name = o.str("DatabaseName")?;
        let c = self.catalog();
        Ok(json!({ "Database": database_json(&c, c.database(name)?) }))
    }

    /// ListDatabases, of the databases `readable` lets the caller see.
    pub(super) fn list_databases(&self, o: &Obj<'_>, readable: &dyn Fn(&str) -> bool) -> ApiResult<Value> {
        let max = max_results(o)?;
        let after = decode_token(o.opt_str("NextToken")?)?;
        let c = self.catalog();
        let mut it = c
            .databases
            .values()
            .filter(|d| readable(&d.name))
            .filter(|d| after.as_ref().is_none_or(|a| d.name.as_str() > a.as_str()));
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
            self.persist_catalog(&c)?;
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
        self.persist_catalog(&c)?;
        Ok(json!({}))
    }

    pub(super) fn create_table(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db_name = o.str("DatabaseName")?;
        let name = o.str("TableName")?;
        check_create_name(name, &o.path_of("TableName"))?;
        let retention = parse_retention(o)?.unwrap_or_default();
        let (magnetic_writes, magnetic_properties) =
            parse_magnetic(o)?.unwrap_or_else(|| (false, default_magnetic_properties()));
        let (schema, required_dimension) = parse_schema(o, None)?.unwrap_or_else(|| (default_schema(), None));
        let tags = parse_tags(o)?;
        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let total = c.table_count();
        let id = c.next_table_id;
        let db = c.database_mut(db_name)?;
        if db.tables.contains_key(name) {
            return Err(ApiError::conflict(format!("The table {} already exists.", shown(name))));
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
                id,
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
        c.next_table_id += 1;
        let arn = c.table_arn(db_name, name);
        c.add_tags(&arn, tags)?;
        self.persist_catalog(&c)?;
        Ok(json!({ "Table": table_json(&c, db_name, c.table(db_name, name)?) }))
    }

    pub(super) fn describe_table(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let db = o.str("DatabaseName")?;
        let name = o.str("TableName")?;
        let c = self.catalog();
        Ok(json!({ "Table": table_json(&c, db, c.table(db, name)?) }))
    }

    /// ListTables, of the databases `readable` lets the caller see.
    pub(super) fn list_tables(&self, o: &Obj<'_>, readable: &dyn Fn(&str) -> bool) -> ApiResult<Value> {
        let max = max_results(o)?;
        let after = decode_token(o.opt_str("NextToken")?)?;
        let c = self.catalog();
        let dbs: Vec<&Database> = match o.opt_str("DatabaseName")? {
            Some(db) => vec![c.database(db)?],
            None => c.databases.values().filter(|d| readable(&d.name)).collect(),
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
        self.persist_catalog(&c)?;
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
        self.persist_catalog(&c)?;
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
        self.persist_catalog(&c)?;
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
        self.persist_catalog(&c)?;
        Ok(json!({}))
    }

    pub(super) fn list_tags(&self, o: &Obj<'_>) -> ApiResult<Value> {
        let arn = o.str("ResourceARN")?;
        let mut c = self.catalog();
        let tags = c.tags_mut(arn)?;
        Ok(json!({ "Tags": tags.iter().map(|(k, v)| json!({"Key": k, "Value": v})).collect::<Vec<_>>() }))
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
