//! Databases and tables: their settings, ARNs, tags and listing order. Data lives in
//! [`crate::engine::store`]; the catalog owns each table's store.

mod names;
mod ops;
mod settings;

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

pub use names::{check_create_name, reserved_column};
pub use ops::{
    CreateDatabase, CreateTable, DatabaseDescription, MAX_DATABASES, MAX_PAGE, MAX_TABLES, MAX_TAGS, Page,
    TableDescription, UpdateTable,
};
pub use settings::{
    DAY_NS, Enforcement, HOUR_NS, MagneticStoreWriteProperties, PartitionKey, PartitionKeyType, RejectedDataLocation,
    Retention, S3Configuration, TableSchema,
};

use crate::engine::error::{ApiError, ApiErrorKind, ApiResult, shown};
use crate::engine::store::TableStore;

/// How far in the future a record may be.
pub const FUTURE_NS: i64 = 15 * 60 * 1_000_000_000;

/// A table: its settings, and its rows behind a lock of their own, so that writing to or
/// querying one table never waits for another (the catalog's lock is held only to find a table
/// and copy its settings).
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Table {
    /// Its id: names are data, never paths, and the write-ahead log names tables by id.
    pub id: u64,
    /// Its name.
    pub name: String,
    /// Retention dials.
    pub retention: Retention,
    /// `MagneticStoreWriteProperties`.
    #[serde(rename = "magnetic_properties")]
    pub magnetic: MagneticStoreWriteProperties,
    /// `Schema` (the partition key).
    pub schema: TableSchema,
    /// Creation and last update, ns since the epoch.
    pub created_ns: i64,
    /// Last update, ns since the epoch.
    pub updated_ns: i64,
    /// After a memory retention increase, the oldest time the memory store can take stays at
    /// this floor until `now − retention` passes it (data never moves back from magnetic).
    pub memory_floor_ns: Option<i64>,
    /// The rows (kept by the write-ahead log and snapshots, not in the catalog file).
    #[serde(skip)]
    data: Arc<Mutex<TableStore>>,
}

/// What a write needs of a table, copied out of the catalog so that its lock is not held.
#[derive(Debug, Clone)]
pub struct WriteTarget {
    /// The table's id.
    pub id: u64,
    /// The oldest time the memory store accepts.
    pub memory_floor: i64,
    /// The oldest time any write is accepted.
    pub oldest_writable: i64,
    /// Rows older than this are past retention.
    pub oldest_kept: i64,
    /// Whether magnetic store writes are on.
    pub magnetic_writes: bool,
    /// The dimension every record must carry.
    pub required_dimension: Option<String>,
    /// The rows.
    pub data: Arc<Mutex<TableStore>>,
}

impl Table {
    /// A table with every setting at its default, created at `now`.
    pub fn new(id: u64, name: &str, now: i64) -> Self {
        Self {
            id,
            name: name.into(),
            retention: Retention::default(),
            magnetic: MagneticStoreWriteProperties::default(),
            schema: TableSchema::default(),
            created_ns: now,
            updated_ns: now,
            memory_floor_ns: None,
            data: Arc::default(),
        }
    }

    /// The rows, locked. A panic while they were held cannot leave a row half-written (every
    /// change is checked first), so a poisoned lock is taken over.
    pub fn data(&self) -> MutexGuard<'_, TableStore> {
        self.data.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The rows' lock itself, to hold after the catalog's lock is released.
    pub fn data_handle(&self) -> Arc<Mutex<TableStore>> {
        self.data.clone()
    }

    /// Whether records older than the memory window may go to the magnetic store.
    pub fn magnetic_writes(&self) -> bool {
        self.magnetic.enable_magnetic_store_writes
    }

    /// What a write at `now` needs of this table.
    pub fn write_target(&self, now: i64) -> WriteTarget {
        WriteTarget {
            id: self.id,
            memory_floor: self.memory_floor(now),
            oldest_writable: self.oldest_writable(now),
            oldest_kept: self.oldest_kept(now),
            magnetic_writes: self.magnetic_writes(),
            required_dimension: self.schema.required_dimension().map(String::from),
            data: self.data.clone(),
        }
    }

    /// The oldest time the memory store accepts at `now`.
    pub fn memory_floor(&self, now: i64) -> i64 {
        let by_retention = now.saturating_sub(self.retention.memory_ns());
        self.memory_floor_ns.map_or(by_retention, |f| f.max(by_retention))
    }

    /// The oldest time any write is accepted at `now` (the magnetic window when magnetic
    /// writes are on, else the memory window).
    pub fn oldest_writable(&self, now: i64) -> i64 {
        if self.magnetic_writes() { self.oldest_kept(now) } else { self.memory_floor(now) }
    }

    /// Rows older than this are past memory + magnetic retention and deleted.
    pub fn oldest_kept(&self, now: i64) -> i64 {
        now.saturating_sub(self.retention.total_ns())
    }

    /// Applies new retention at `now`, keeping the memory floor where an increase would
    /// otherwise widen the writable window at once.
    pub fn set_retention(&mut self, retention: Retention, now: i64) {
        if retention.memory_hours > self.retention.memory_hours {
            self.memory_floor_ns = Some(self.memory_floor(now));
        } else {
            self.memory_floor_ns = None;
        }
        self.retention = retention;
    }
}

/// A database.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Database {
    /// Its name.
    pub name: String,
    /// The KMS key id it reports.
    pub kms_key_id: String,
    /// Creation, ns since the epoch.
    pub created_ns: i64,
    /// Last update, ns since the epoch.
    pub updated_ns: i64,
    /// Its tables, by name.
    pub tables: BTreeMap<String, Table>,
}

/// Every database, table and tag. The whole catalog (without table data) is what persistent mode
/// writes to `catalog.json`. A clone shares the tables' rows: it is how an operation whose
/// change could not be saved puts the catalog back as it was.
#[derive(Debug, Clone, serde::Serialize, serde::Deserialize)]
pub struct Catalog {
    /// The region ARNs name.
    pub region: String,
    /// The account ARNs name.
    pub account: String,
    /// Databases by name (listing order is by name, as bytes).
    pub databases: BTreeMap<String, Database>,
    /// Tags by resource ARN.
    pub tags: HashMap<String, BTreeMap<String, String>>,
    /// The id the next table gets (ids are never reused).
    pub next_table_id: u64,
    /// Persistent mode: the last completed checkpoint (0: none yet).
    #[serde(default)]
    pub checkpoint: u64,
    /// Persistent mode: the write-ahead log generation being written.
    #[serde(default)]
    pub wal_generation: u64,
    /// Persistent mode: the oldest log generation that holds rows not yet in the data files.
    #[serde(default)]
    pub first_wal_generation: u64,
    /// Persistent mode: the data directory's format (absent in earlier releases' catalogs).
    #[serde(default)]
    pub format: u32,
    /// Persistent mode: whether the checkpoint lists its files' checksums in a manifest (false
    /// only for directories written before manifests existed, until their next checkpoint).
    #[serde(default)]
    pub manifests: bool,
}

impl Catalog {
    /// An empty catalog for `region` and `account`.
    pub fn new(region: &str, account: &str) -> Self {
        Self {
            region: region.into(),
            account: account.into(),
            databases: BTreeMap::new(),
            tags: HashMap::new(),
            next_table_id: 1,
            checkpoint: 0,
            wal_generation: 0,
            first_wal_generation: 0,
            format: crate::engine::store::CURRENT_FORMAT,
            manifests: true,
        }
    }

    /// The KMS key a database reports when created without one.
    pub fn default_kms_key(&self) -> String {
        format!("arn:aws:kms:{}:{}:key/ruuvistream-managed", self.region, self.account)
    }

    /// The ARN of a database.
    pub fn database_arn(&self, db: &str) -> String {
        format!("arn:aws:timestream:{}:{}:database/{db}", self.region, self.account)
    }

    /// The ARN of a table.
    pub fn table_arn(&self, db: &str, table: &str) -> String {
        format!("{}/table/{table}", self.database_arn(db))
    }

    /// A database, or ResourceNotFound.
    pub fn database(&self, name: &str) -> ApiResult<&Database> {
        self.databases
            .get(name)
            .ok_or_else(|| ApiError::not_found(format!("The database {} does not exist.", shown(name))))
    }

    /// A database for changing, or ResourceNotFound.
    pub fn database_mut(&mut self, name: &str) -> ApiResult<&mut Database> {
        self.databases
            .get_mut(name)
            .ok_or_else(|| ApiError::not_found(format!("The database {} does not exist.", shown(name))))
    }

    /// A table, or ResourceNotFound for the database or the table.
    pub fn table(&self, db: &str, table: &str) -> ApiResult<&Table> {
        self.database(db)?
            .tables
            .get(table)
            .ok_or_else(|| ApiError::not_found(format!("The table {} does not exist.", shown(table))))
    }

    /// A table for changing, or ResourceNotFound.
    pub fn table_mut(&mut self, db: &str, table: &str) -> ApiResult<&mut Table> {
        self.database_mut(db)?
            .tables
            .get_mut(table)
            .ok_or_else(|| ApiError::not_found(format!("The table {} does not exist.", shown(table))))
    }

    /// Finds a table by id.
    pub fn table_by_id(&self, id: u64) -> Option<&Table> {
        self.databases.values().flat_map(|d| d.tables.values()).find(|t| t.id == id)
    }

    /// Finds a table by id (for replaying the write-ahead log).
    pub fn table_by_id_mut(&mut self, id: u64) -> Option<&mut Table> {
        self.databases.values_mut().flat_map(|d| d.tables.values_mut()).find(|t| t.id == id)
    }

    /// The number of tables in every database.
    pub fn table_count(&self) -> usize {
        self.databases.values().map(|d| d.tables.len()).sum()
    }

    /// Whether `arn` names an existing database or table.
    pub fn resource_exists(&self, arn: &str) -> bool {
        let prefix = format!("arn:aws:timestream:{}:{}:database/", self.region, self.account);
        let Some(rest) = arn.strip_prefix(&prefix) else { return false };
        match rest.split_once("/table/") {
            Some((db, table)) => self.table(db, table).is_ok(),
            None => self.databases.contains_key(rest),
        }
    }

    /// The tags of an existing resource, or ResourceNotFound.
    pub fn tags_mut(&mut self, arn: &str) -> ApiResult<&mut BTreeMap<String, String>> {
        if !self.resource_exists(arn) {
            return Err(ApiError::not_found(format!("The resource {} does not exist.", shown(arn))));
        }
        Ok(self.tags.entry(arn.to_string()).or_default())
    }

    /// Adds tags to a resource, enforcing the limit of 200 per resource.
    pub fn add_tags(&mut self, arn: &str, tags: Vec<(String, String)>) -> ApiResult<()> {
        let existing = self.tags_mut(arn)?;
        let mut merged = existing.clone();
        merged.extend(tags);
        if merged.len() > MAX_TAGS {
            return Err(ApiError::new(ApiErrorKind::ServiceQuotaExceeded, "A resource can have at most 200 tags."));
        }
        *existing = merged;
        Ok(())
    }
}
