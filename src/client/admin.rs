//! Databases and tables.

use std::time::Duration;

use aws_sdk_timestreamwrite::types::{MagneticStoreWriteProperties, RetentionProperties};

use super::Timestream;
use crate::error::{Error, Result};

/// A table's retention: how long records stay in the memory store (whole hours, 1 h to 1 year)
/// and in the magnetic store (whole days, 1 day to 200 years), and whether records older than
/// the memory window may still be written (straight to the magnetic store).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Retention {
    /// Memory store retention (rounded up to hours).
    pub memory: Duration,
    /// Magnetic store retention (rounded up to days).
    pub magnetic: Duration,
    /// Accept writes older than the memory window into the magnetic store.
    pub magnetic_writes: bool,
}

impl Default for Retention {
    /// The service's defaults: 6 hours in memory, 73,000 days (200 years) on magnetic storage.
    fn default() -> Self {
        Self {
            memory: Duration::from_secs(6 * 3600),
            magnetic: Duration::from_secs(73_000 * 86_400),
            magnetic_writes: false,
        }
    }
}

impl Retention {
    /// Retention from friendly texts such as `"24h"` and `"7d"` (see
    /// [`parse_duration`](crate::units::parse_duration)).
    pub fn parse(memory: &str, magnetic: &str) -> Result<Self> {
        Ok(Self {
            memory: crate::units::parse_duration(memory)?,
            magnetic: crate::units::parse_duration(magnetic)?,
            magnetic_writes: false,
        })
    }

    fn hours(&self) -> i64 {
        self.memory.as_secs().div_ceil(3600) as i64
    }

    fn days(&self) -> i64 {
        self.magnetic.as_secs().div_ceil(86_400) as i64
    }

    fn properties(&self) -> Result<RetentionProperties> {
        RetentionProperties::builder()
            .memory_store_retention_period_in_hours(self.hours())
            .magnetic_store_retention_period_in_days(self.days())
            .build()
            .map_err(|e| Error::InvalidArgument(e.to_string()))
    }

    fn magnetic_properties(&self) -> Result<MagneticStoreWriteProperties> {
        MagneticStoreWriteProperties::builder()
            .enable_magnetic_store_writes(self.magnetic_writes)
            .build()
            .map_err(|e| Error::InvalidArgument(e.to_string()))
    }
}

/// What DescribeTable says about a table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableInfo {
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
    /// `ACTIVE`, `DELETING` or `RESTORING`.
    pub status: String,
    /// Its retention.
    pub retention: Retention,
}

impl Timestream {
    /// Creates a database; with `if_not_exists`, an existing one is not an error.
    pub async fn create_database(&self, database: &str, if_not_exists: bool) -> Result<()> {
        match self.write.create_database().database_name(database).send().await {
            Ok(_) => Ok(()),
            Err(e) => match self.sdk_error("CreateDatabase", e) {
                Error::Service { code, .. } if if_not_exists && code == "ConflictException" => Ok(()),
                other => Err(other),
            },
        }
    }

    /// The names of all databases.
    pub async fn list_databases(&self) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self.write.list_databases().into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.sdk_error("ListDatabases", e))?;
            names.extend(page.databases().iter().filter_map(|d| d.database_name().map(str::to_string)));
        }
        Ok(names)
    }

    /// Deletes a database (it must have no tables).
    pub async fn delete_database(&self, database: &str) -> Result<()> {
        self.write
            .delete_database()
            .database_name(database)
            .send()
            .await
            .map_err(|e| self.sdk_error("DeleteDatabase", e))?;
        Ok(())
    }

    /// Creates a table; with `if_not_exists`, an existing one is not an error (and keeps its
    /// retention).
    pub async fn create_table(
        &self,
        database: &str,
        table: &str,
        retention: &Retention,
        if_not_exists: bool,
    ) -> Result<()> {
        let sent = self
            .write
            .create_table()
            .database_name(database)
            .table_name(table)
            .retention_properties(retention.properties()?)
            .magnetic_store_write_properties(retention.magnetic_properties()?)
            .send()
            .await;
        match sent {
            Ok(_) => Ok(()),
            Err(e) => match self.sdk_error("CreateTable", e) {
                Error::Service { code, .. } if if_not_exists && code == "ConflictException" => Ok(()),
                other => Err(other),
            },
        }
    }

    /// Describes a table.
    pub async fn describe_table(&self, database: &str, table: &str) -> Result<TableInfo> {
        let out = self
            .write
            .describe_table()
            .database_name(database)
            .table_name(table)
            .send()
            .await
            .map_err(|e| self.sdk_error("DescribeTable", e))?;
        let t = out.table().ok_or_else(|| Error::Connection {
            operation: "DescribeTable",
            message: "the answer has no table".into(),
        })?;
        let r = t.retention_properties();
        Ok(TableInfo {
            database: t.database_name().unwrap_or(database).to_string(),
            table: t.table_name().unwrap_or(table).to_string(),
            status: t.table_status().map(|s| s.as_str().to_string()).unwrap_or_default(),
            retention: Retention {
                memory: Duration::from_secs(r.map_or(0, |r| r.memory_store_retention_period_in_hours()) as u64 * 3600),
                magnetic: Duration::from_secs(
                    r.map_or(0, |r| r.magnetic_store_retention_period_in_days()) as u64 * 86_400,
                ),
                magnetic_writes: t.magnetic_store_write_properties().is_some_and(|m| m.enable_magnetic_store_writes()),
            },
        })
    }

    /// The names of the tables of a database.
    pub async fn list_tables(&self, database: &str) -> Result<Vec<String>> {
        let mut names = Vec::new();
        let mut pages = self.write.list_tables().database_name(database).into_paginator().send();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| self.sdk_error("ListTables", e))?;
            names.extend(page.tables().iter().filter_map(|t| t.table_name().map(str::to_string)));
        }
        Ok(names)
    }

    /// Changes a table's retention.
    pub async fn update_table(&self, database: &str, table: &str, retention: &Retention) -> Result<()> {
        self.write
            .update_table()
            .database_name(database)
            .table_name(table)
            .retention_properties(retention.properties()?)
            .magnetic_store_write_properties(retention.magnetic_properties()?)
            .send()
            .await
            .map_err(|e| self.sdk_error("UpdateTable", e))?;
        Ok(())
    }

    /// Deletes a table and its data.
    pub async fn delete_table(&self, database: &str, table: &str) -> Result<()> {
        self.write
            .delete_table()
            .database_name(database)
            .table_name(table)
            .send()
            .await
            .map_err(|e| self.sdk_error("DeleteTable", e))?;
        Ok(())
    }
}
