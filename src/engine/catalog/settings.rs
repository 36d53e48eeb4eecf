//! A table's settings as typed values: retention, magnetic store writes and the partition key.
//! Their serde form is the service's JSON shape (PascalCase members, upper-case enums), which is
//! both what DescribeTable echoes and what `catalog.json` stores.

use serde::{Deserialize, Serialize};

/// Nanoseconds in an hour.
pub const HOUR_NS: i64 = 3_600_000_000_000;
/// Nanoseconds in a day.
pub const DAY_NS: i64 = 24 * HOUR_NS;

/// A table's two retention dials.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Retention {
    /// Memory store retention, hours (1–8766; default 6).
    pub memory_hours: i64,
    /// Magnetic store retention, days (1–73000; default 73000).
    pub magnetic_days: i64,
}

impl Default for Retention {
    fn default() -> Self {
        Self { memory_hours: 6, magnetic_days: 73_000 }
    }
}

impl Retention {
    /// The memory retention, ns.
    pub fn memory_ns(&self) -> i64 {
        self.memory_hours.saturating_mul(HOUR_NS)
    }

    /// Memory + magnetic retention, ns: rows older than this are deleted.
    pub fn total_ns(&self) -> i64 {
        self.memory_ns().saturating_add(self.magnetic_days.saturating_mul(DAY_NS))
    }
}

/// `MagneticStoreWriteProperties`: whether records older than the memory window are accepted,
/// and where the service would report rejected ones (kept to be echoed: the engine rejects
/// them synchronously).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MagneticStoreWriteProperties {
    /// Whether magnetic store writes are on.
    pub enable_magnetic_store_writes: bool,
    /// The S3 location for rejected records, as given.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub magnetic_store_rejected_data_location: Option<RejectedDataLocation>,
}

/// `MagneticStoreRejectedDataLocation`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RejectedDataLocation {
    /// `S3Configuration`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3_configuration: Option<S3Configuration>,
}

/// `S3Configuration` of a rejected-data location.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct S3Configuration {
    /// The bucket (3–63 characters).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bucket_name: Option<String>,
    /// The key prefix.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub object_key_prefix: Option<String>,
    /// `SSE_S3` or `SSE_KMS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption_option: Option<String>,
    /// The KMS key for `SSE_KMS`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms_key_id: Option<String>,
}

/// What a partition key partitions by.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum PartitionKeyType {
    /// A dimension (named).
    Dimension,
    /// The measure name.
    Measure,
}

/// Whether records must carry a dimension partition key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Enforcement {
    /// Records without the dimension are rejected.
    Required,
    /// Records may lack it.
    Optional,
}

/// One partition key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PartitionKey {
    /// Dimension or measure name.
    #[serde(rename = "Type")]
    pub kind: PartitionKeyType,
    /// The dimension's name (for `DIMENSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    /// Whether records must carry it (for `DIMENSION`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enforcement_in_record: Option<Enforcement>,
}

/// `Schema`: the table's composite partition key (the service allows one key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TableSchema {
    /// The keys.
    pub composite_partition_key: Vec<PartitionKey>,
}

impl Default for TableSchema {
    /// The measure name as the partition key, as a table created without a schema has.
    fn default() -> Self {
        Self {
            composite_partition_key: vec![PartitionKey {
                kind: PartitionKeyType::Measure,
                name: None,
                enforcement_in_record: None,
            }],
        }
    }
}

impl TableSchema {
    /// The dimension every record must carry, if the key makes one required.
    pub fn required_dimension(&self) -> Option<&str> {
        self.composite_partition_key.iter().find_map(|k| match (k.kind, k.enforcement_in_record) {
            (PartitionKeyType::Dimension, Some(Enforcement::Required)) => k.name.as_deref(),
            _ => None,
        })
    }
}
