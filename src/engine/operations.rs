//! The engine's catalog operations, for Rust callers and the awsJson adapter alike: each takes
//! the catalog's lock, applies a typed request (see [`crate::engine::catalog`]), saves the
//! catalog in persistent mode, and puts it back as it was if the change could not be saved.

use super::Engine;
use super::catalog::{Catalog, CreateDatabase, CreateTable, DatabaseDescription, Page, TableDescription, UpdateTable};
use super::error::ApiResult;
use super::store::{Magnetic, NewRecord};

impl Engine {
    /// Runs `change` on the catalog at the engine's now and saves it; on any failure the
    /// catalog is as it was.
    fn change<T>(&self, change: impl FnOnce(&mut Catalog, i64) -> ApiResult<T>) -> ApiResult<T> {
        let now = self.clock.now_ns();
        let mut c = self.catalog();
        let before = c.clone();
        let saved = change(&mut c, now).and_then(|out| self.persist_catalog(&c).map(|()| out));
        if saved.is_err() {
            *c = before;
        }
        saved
    }

    /// CreateDatabase.
    pub fn create_database(&self, req: CreateDatabase) -> ApiResult<DatabaseDescription> {
        self.change(|c, now| c.create_database(req, now))
    }

    /// DescribeDatabase.
    pub fn describe_database(&self, name: &str) -> ApiResult<DatabaseDescription> {
        self.catalog().describe_database_named(name)
    }

    /// ListDatabases: up to `max` of those `readable` lets the caller see, after `after`.
    pub fn list_databases(
        &self,
        max: usize,
        after: Option<&str>,
        readable: &dyn Fn(&str) -> bool,
    ) -> Page<DatabaseDescription> {
        self.catalog().list_databases(max, after, readable)
    }

    /// UpdateDatabase: a new KMS key id.
    pub fn update_database(&self, name: &str, kms_key_id: &str) -> ApiResult<DatabaseDescription> {
        self.change(|c, now| c.update_database(name, kms_key_id, now))
    }

    /// DeleteDatabase (only an empty one).
    pub fn delete_database(&self, name: &str) -> ApiResult<()> {
        self.change(|c, _| c.delete_database(name))
    }

    /// CreateTable.
    pub fn create_table(&self, req: CreateTable) -> ApiResult<TableDescription> {
        self.change(|c, now| {
            let (db, name) = (req.database.clone(), req.name.clone());
            let described = c.create_table(req, now)?;
            if let Some(p) = &self.persistence {
                // Before any write can reach it: its rows age into its own directory.
                let table = c.table(&db, &name)?;
                table.data().magnetic = Magnetic::new(p.table_dir(table.id), p.recent());
            }
            Ok(described)
        })
    }

    /// DescribeTable.
    pub fn describe_table(&self, database: &str, name: &str) -> ApiResult<TableDescription> {
        self.catalog().describe_table_named(database, name)
    }

    /// ListTables: of `database`, or of every database `readable` lets the caller see.
    pub fn list_tables(
        &self,
        database: Option<&str>,
        max: usize,
        after: Option<&str>,
        readable: &dyn Fn(&str) -> bool,
    ) -> ApiResult<Page<TableDescription>> {
        self.catalog().list_tables(database, max, after, readable)
    }

    /// UpdateTable.
    pub fn update_table(&self, req: UpdateTable) -> ApiResult<TableDescription> {
        self.change(|c, now| c.update_table(req, now))
    }

    /// DeleteTable, with its rows.
    pub fn delete_table(&self, database: &str, name: &str) -> ApiResult<()> {
        let id = self.catalog().table(database, name)?.id;
        self.change(|c, _| c.delete_table(database, name))?;
        if let Some(p) = &self.persistence {
            // Its log entries are skipped on replay (ids are never reused); its files go now.
            let dir = p.table_dir(id);
            if dir.exists()
                && let Err(e) = std::fs::remove_dir_all(&dir)
            {
                eprintln!("ruuvistream engine: could not remove {} of a deleted table: {e}", dir.display());
            }
        }
        Ok(())
    }

    /// TagResource (at most 200 tags per resource).
    pub fn tag_resource(&self, arn: &str, tags: Vec<(String, String)>) -> ApiResult<()> {
        self.change(|c, _| c.add_tags(arn, tags))
    }

    /// UntagResource.
    pub fn untag_resource(&self, arn: &str, keys: &[String]) -> ApiResult<()> {
        self.change(|c, _| c.remove_tags(arn, keys))
    }

    /// ListTagsForResource.
    pub fn list_tags(&self, arn: &str) -> ApiResult<Vec<(String, String)>> {
        self.catalog().list_tags(arn)
    }

    /// The number of rows a table holds (both stores).
    pub fn row_count(&self, database: &str, name: &str) -> ApiResult<usize> {
        let data = self.catalog().table(database, name)?.data_handle();
        Ok(data.lock().unwrap_or_else(std::sync::PoisonError::into_inner).len())
    }

    /// Where a table's rows are: how many the memory store holds, how many the magnetic store's
    /// files hold, and in how many files over how many days.
    pub fn table_storage(&self, database: &str, name: &str) -> ApiResult<TableStorage> {
        let data = self.catalog().table(database, name)?.data_handle();
        let store = data.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let files = &store.magnetic.manifest.files;
        let days: std::collections::BTreeSet<i64> = files.iter().map(|f| f.day).collect();
        let recent = store.magnetic.recent();
        let decoded_files = files.iter().filter(|f| recent.get(&store.magnetic.path_of(f)).is_some()).count();
        Ok(TableStorage {
            memory_rows: store.memory.len(),
            magnetic_rows: store.len() - store.memory.len(),
            files: files.len(),
            days: days.len(),
            decoded_files,
        })
    }

    /// Every row of a table, from both stores (reading its files), in no particular order:
    /// for checking what a data directory holds without going through SQL.
    pub fn table_rows(&self, database: &str, name: &str) -> ApiResult<Vec<NewRecord>> {
        let data = self.catalog().table(database, name)?.data_handle();
        let rows = data.lock().unwrap_or_else(std::sync::PoisonError::into_inner).all_rows();
        rows.map_err(crate::engine::state::storage_error)
    }
}

/// Where a table's rows are (see [`Engine::table_storage`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TableStorage {
    /// Rows in the memory store.
    pub memory_rows: usize,
    /// Rows in the magnetic store (its files, and days loaded for magnetic writes).
    pub magnetic_rows: usize,
    /// The magnetic store's files.
    pub files: usize,
    /// The days those files cover.
    pub days: usize,
    /// Files whose rows are also held decoded in memory for queries (the newest days; see
    /// [`QueryLimits::recent_files`](crate::engine::QueryLimits::recent_files)).
    pub decoded_files: usize,
}
