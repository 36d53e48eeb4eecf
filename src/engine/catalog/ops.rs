//! The catalog's operations as typed requests and results: databases, tables and tags. The
//! rules the service applies (names, quotas, partition keys, tag limits) are checked here; the
//! wire shape (members, constraint messages, page tokens) is the server's.

use std::collections::BTreeMap;

use super::{Catalog, Database, MagneticStoreWriteProperties, PartitionKeyType, Retention, Table, TableSchema};
use super::{check_create_name, shown};
use crate::engine::error::{ApiError, ApiErrorKind, ApiResult};

/// The quota of databases per account.
pub const MAX_DATABASES: usize = 500;
/// The quota of tables per account.
pub const MAX_TABLES: usize = 50_000;
/// The most items a List operation returns at once.
pub const MAX_PAGE: usize = 20;
/// The most tags a resource can have.
pub const MAX_TAGS: usize = 200;

/// CreateDatabase.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateDatabase {
    /// The name (3–256 of `[a-zA-Z0-9_.-]`).
    pub name: String,
    /// The KMS key to report (default: an engine-managed key).
    pub kms_key_id: Option<String>,
    /// Tags, (key, value).
    pub tags: Vec<(String, String)>,
}

/// CreateTable.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateTable {
    /// The database.
    pub database: String,
    /// The name (3–256 of `[a-zA-Z0-9_.-]`).
    pub name: String,
    /// Retention (default 6 h memory, 73,000 days magnetic).
    pub retention: Option<Retention>,
    /// Magnetic store writes (default off).
    pub magnetic: Option<MagneticStoreWriteProperties>,
    /// The partition key (default the measure name).
    pub schema: Option<TableSchema>,
    /// Tags, (key, value).
    pub tags: Vec<(String, String)>,
}

/// UpdateTable: each setting given replaces the table's.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateTable {
    /// The database.
    pub database: String,
    /// The table.
    pub name: String,
    /// New retention.
    pub retention: Option<Retention>,
    /// New magnetic store write settings.
    pub magnetic: Option<MagneticStoreWriteProperties>,
    /// New schema: only the enforcement of the partition key may change.
    pub schema: Option<TableSchema>,
}

/// A database as DescribeDatabase answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DatabaseDescription {
    /// Its ARN.
    pub arn: String,
    /// Its name.
    pub name: String,
    /// How many tables it has.
    pub table_count: usize,
    /// The KMS key it reports.
    pub kms_key_id: String,
    /// Creation, ns since the epoch.
    pub created_ns: i64,
    /// Last update, ns since the epoch.
    pub updated_ns: i64,
}

/// A table as DescribeTable answers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableDescription {
    /// Its ARN.
    pub arn: String,
    /// Its database.
    pub database: String,
    /// Its name.
    pub name: String,
    /// Retention.
    pub retention: Retention,
    /// Magnetic store write settings.
    pub magnetic: MagneticStoreWriteProperties,
    /// The partition key.
    pub schema: TableSchema,
    /// Creation, ns since the epoch.
    pub created_ns: i64,
    /// Last update, ns since the epoch.
    pub updated_ns: i64,
}

/// One page of a listing, and the key to list after for the next one (if there is more).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Page<T> {
    /// The items.
    pub items: Vec<T>,
    /// Where the next page starts after, when there is one.
    pub next_after: Option<String>,
}

fn check_schema(schema: &TableSchema, current: Option<&TableSchema>) -> ApiResult<()> {
    let keys = &schema.composite_partition_key;
    if keys.len() > 1 {
        return Err(ApiError::validation(
            "You have specified too many partition keys to be used in your composite partition key. Only 1 partition keys can be specified.",
        ));
    }
    let Some(key) = keys.first() else {
        return Err(ApiError::validation("The composite partition key needs one partition key."));
    };
    if key.kind == PartitionKeyType::Dimension && key.name.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::validation("A partition key of type DIMENSION needs a Name."));
    }
    if let Some(old) = current.and_then(|c| c.composite_partition_key.first())
        && (old.kind != key.kind || old.name != key.name)
    {
        return Err(ApiError::validation(
            "The partition key name and type cannot be changed; only EnforcementInRecord can be updated.",
        ));
    }
    Ok(())
}

impl Catalog {
    fn describe_database(&self, d: &Database) -> DatabaseDescription {
        DatabaseDescription {
            arn: self.database_arn(&d.name),
            name: d.name.clone(),
            table_count: d.tables.len(),
            kms_key_id: d.kms_key_id.clone(),
            created_ns: d.created_ns,
            updated_ns: d.updated_ns,
        }
    }

    fn describe_table(&self, db: &str, t: &Table) -> TableDescription {
        TableDescription {
            arn: self.table_arn(db, &t.name),
            database: db.to_string(),
            name: t.name.clone(),
            retention: t.retention,
            magnetic: t.magnetic.clone(),
            schema: t.schema.clone(),
            created_ns: t.created_ns,
            updated_ns: t.updated_ns,
        }
    }

    /// CreateDatabase at `now`.
    pub fn create_database(&mut self, req: CreateDatabase, now: i64) -> ApiResult<DatabaseDescription> {
        check_create_name(&req.name, "databaseName")?;
        if self.databases.contains_key(&req.name) {
            return Err(ApiError::conflict(format!("The database {} already exists.", shown(&req.name))));
        }
        if self.databases.len() >= MAX_DATABASES {
            return Err(ApiError::new(
                ApiErrorKind::ServiceQuotaExceeded,
                "The database quota of the account is reached.",
            ));
        }
        let kms_key_id = req.kms_key_id.unwrap_or_else(|| self.default_kms_key());
        let db =
            Database { name: req.name.clone(), kms_key_id, created_ns: now, updated_ns: now, tables: BTreeMap::new() };
        self.databases.insert(req.name.clone(), db);
        let arn = self.database_arn(&req.name);
        if !req.tags.is_empty() {
            self.add_tags(&arn, req.tags)?;
        }
        self.describe_database_named(&req.name)
    }

    /// DescribeDatabase.
    pub fn describe_database_named(&self, name: &str) -> ApiResult<DatabaseDescription> {
        Ok(self.describe_database(self.database(name)?))
    }

    /// ListDatabases: up to `max` of those `readable` lets the caller see, after `after`.
    pub fn list_databases(
        &self,
        max: usize,
        after: Option<&str>,
        readable: &dyn Fn(&str) -> bool,
    ) -> Page<DatabaseDescription> {
        let mut it =
            self.databases.values().filter(|d| readable(&d.name)).filter(|d| after.is_none_or(|a| d.name.as_str() > a));
        let items: Vec<DatabaseDescription> = it.by_ref().take(max).map(|d| self.describe_database(d)).collect();
        let next_after = if it.next().is_some() { items.last().map(|d| d.name.clone()) } else { None };
        Page { items, next_after }
    }

    /// UpdateDatabase: a new KMS key.
    pub fn update_database(&mut self, name: &str, kms_key_id: &str, now: i64) -> ApiResult<DatabaseDescription> {
        let db = self.database_mut(name)?;
        if db.kms_key_id != kms_key_id {
            db.kms_key_id = kms_key_id.to_string();
            db.updated_ns = now;
        }
        self.describe_database_named(name)
    }

    /// DeleteDatabase: only an empty one.
    pub fn delete_database(&mut self, name: &str) -> ApiResult<()> {
        let db = self.database(name)?;
        if !db.tables.is_empty() {
            return Err(ApiError::validation(format!(
                "Cannot delete database {name}: it has {} tables. Delete all tables of the database first.",
                db.tables.len()
            )));
        }
        self.databases.remove(name);
        let arn = self.database_arn(name);
        self.tags.remove(&arn);
        Ok(())
    }

    /// CreateTable at `now`.
    pub fn create_table(&mut self, req: CreateTable, now: i64) -> ApiResult<TableDescription> {
        check_create_name(&req.name, "tableName")?;
        if let Some(schema) = &req.schema {
            check_schema(schema, None)?;
        }
        let total = self.table_count();
        let id = self.next_table_id;
        let db = self.database_mut(&req.database)?;
        if db.tables.contains_key(&req.name) {
            return Err(ApiError::conflict(format!("The table {} already exists.", shown(&req.name))));
        }
        if total >= MAX_TABLES {
            return Err(ApiError::new(
                ApiErrorKind::ServiceQuotaExceeded,
                "The table quota of the account is reached.",
            ));
        }
        let mut table = Table::new(id, &req.name, now);
        table.retention = req.retention.unwrap_or_default();
        table.magnetic = req.magnetic.unwrap_or_default();
        table.schema = req.schema.unwrap_or_default();
        db.tables.insert(req.name.clone(), table);
        db.updated_ns = now;
        self.next_table_id += 1;
        let arn = self.table_arn(&req.database, &req.name);
        if !req.tags.is_empty() {
            self.add_tags(&arn, req.tags)?;
        }
        self.describe_table_named(&req.database, &req.name)
    }

    /// DescribeTable.
    pub fn describe_table_named(&self, db: &str, name: &str) -> ApiResult<TableDescription> {
        Ok(self.describe_table(db, self.table(db, name)?))
    }

    /// ListTables: of `database`, or of every database `readable` lets the caller see (the
    /// listing order, and `after`, are `<db>/<table>`).
    pub fn list_tables(
        &self,
        database: Option<&str>,
        max: usize,
        after: Option<&str>,
        readable: &dyn Fn(&str) -> bool,
    ) -> ApiResult<Page<TableDescription>> {
        let dbs: Vec<&Database> = match database {
            Some(db) => vec![self.database(db)?],
            None => self.databases.values().filter(|d| readable(&d.name)).collect(),
        };
        let key = |d: &str, t: &Table| format!("{d}/{}", t.name);
        let mut it = dbs
            .iter()
            .flat_map(|d| d.tables.values().map(move |t| (d.name.as_str(), t)))
            .filter(|(d, t)| after.is_none_or(|a| key(d, t).as_str() > a));
        let page: Vec<(&str, &Table)> = it.by_ref().take(max).collect();
        let next_after = if it.next().is_some() { page.last().map(|(d, t)| key(d, t)) } else { None };
        Ok(Page { items: page.iter().map(|(d, t)| self.describe_table(d, t)).collect(), next_after })
    }

    /// UpdateTable at `now`.
    pub fn update_table(&mut self, req: UpdateTable, now: i64) -> ApiResult<TableDescription> {
        let table = self.table_mut(&req.database, &req.name)?;
        if let Some(schema) = &req.schema {
            check_schema(schema, Some(&table.schema))?;
        }
        if let Some(r) = req.retention {
            table.set_retention(r, now);
        }
        if let Some(m) = req.magnetic {
            table.magnetic = m;
        }
        if let Some(s) = req.schema {
            table.schema = s;
        }
        table.updated_ns = now;
        self.describe_table_named(&req.database, &req.name)
    }

    /// DeleteTable (its rows go with it).
    pub fn delete_table(&mut self, db: &str, name: &str) -> ApiResult<()> {
        self.table(db, name)?;
        self.database_mut(db)?.tables.remove(name);
        let arn = self.table_arn(db, name);
        self.tags.remove(&arn);
        Ok(())
    }

    /// UntagResource.
    pub fn remove_tags(&mut self, arn: &str, keys: &[String]) -> ApiResult<()> {
        let tags = self.tags_mut(arn)?;
        for k in keys {
            tags.remove(k);
        }
        Ok(())
    }

    /// ListTagsForResource.
    pub fn list_tags(&self, arn: &str) -> ApiResult<Vec<(String, String)>> {
        if !self.resource_exists(arn) {
            return Err(ApiError::not_found(format!("The resource {} does not exist.", shown(arn))));
        }
        Ok(self.tags.get(arn).map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect()).unwrap_or_default())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::catalog::{Enforcement, PartitionKey};

    fn catalog() -> Catalog {
        let mut c = Catalog::new("us-east-1", "000000000000");
        c.create_database(CreateDatabase { name: "ruuvi".into(), ..Default::default() }, 1).unwrap();
        c
    }

    #[test]
    fn tables_are_created_described_listed_updated_and_deleted() {
        let mut c = catalog();
        for name in ["sensors", "gateways", "aaa"] {
            let req = CreateTable { database: "ruuvi".into(), name: name.into(), ..Default::default() };
            c.create_table(req, 2).unwrap();
        }
        let again = CreateTable { database: "ruuvi".into(), name: "sensors".into(), ..Default::default() };
        assert_eq!(c.create_table(again, 3).unwrap_err().kind, ApiErrorKind::Conflict);
        let page = c.list_tables(Some("ruuvi"), 2, None, &|_| true).unwrap();
        let names: Vec<_> = page.items.iter().map(|t| t.name.as_str()).collect();
        assert_eq!((names, page.next_after.as_deref()), (vec!["aaa", "gateways"], Some("ruuvi/gateways")));
        let rest = c.list_tables(None, 2, page.next_after.as_deref(), &|_| true).unwrap();
        assert_eq!(rest.items.len(), 1);
        assert_eq!(rest.next_after, None);

        let key = |kind, name: &str, e| TableSchema {
            composite_partition_key: vec![PartitionKey {
                kind,
                name: Some(name.into()),
                enforcement_in_record: Some(e),
            }],
        };
        let update = |schema| UpdateTable {
            database: "ruuvi".into(),
            name: "sensors".into(),
            schema: Some(schema),
            ..Default::default()
        };
        // The key of a table created without one cannot become another.
        let err = c.update_table(update(key(PartitionKeyType::Dimension, "mac", Enforcement::Required)), 4);
        assert_eq!(err.unwrap_err().kind, ApiErrorKind::Validation);
        let req = CreateTable {
            database: "ruuvi".into(),
            name: "keyed".into(),
            schema: Some(key(PartitionKeyType::Dimension, "mac", Enforcement::Optional)),
            ..Default::default()
        };
        c.create_table(req, 5).unwrap();
        assert_eq!(c.table("ruuvi", "keyed").unwrap().schema.required_dimension(), None);
        let mut u = update(key(PartitionKeyType::Dimension, "mac", Enforcement::Required));
        u.name = "keyed".into();
        let described = c.update_table(u, 6).unwrap();
        assert_eq!(described.updated_ns, 6);
        assert_eq!(c.table("ruuvi", "keyed").unwrap().schema.required_dimension(), Some("mac"));

        assert_eq!(c.delete_database("ruuvi").unwrap_err().kind, ApiErrorKind::Validation);
        for name in ["sensors", "gateways", "aaa", "keyed"] {
            c.delete_table("ruuvi", name).unwrap();
        }
        c.delete_database("ruuvi").unwrap();
        assert_eq!(c.describe_database_named("ruuvi").unwrap_err().kind, ApiErrorKind::ResourceNotFound);
    }

    #[test]
    fn tags_are_limited_and_go_with_their_resource() {
        let mut c = catalog();
        let arn = c.database_arn("ruuvi");
        c.add_tags(&arn, (0..150).map(|i| (format!("k{i}"), "v".into())).collect()).unwrap();
        let err = c.add_tags(&arn, (150..250).map(|i| (format!("k{i}"), "v".into())).collect()).unwrap_err();
        assert_eq!(err.kind, ApiErrorKind::ServiceQuotaExceeded);
        assert_eq!(c.list_tags(&arn).unwrap().len(), 150, "a refused TagResource changes nothing");
        c.remove_tags(&arn, &["k0".into()]).unwrap();
        assert_eq!(c.list_tags(&arn).unwrap().len(), 149);
        c.delete_database("ruuvi").unwrap();
        assert_eq!(c.list_tags(&arn).unwrap_err().kind, ApiErrorKind::ResourceNotFound);
    }
}
