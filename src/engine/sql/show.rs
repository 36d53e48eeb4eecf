//! The metadata statements: `SHOW DATABASES`, `SHOW TABLES [FROM db] [LIKE 'p']`,
//! `SHOW MEASURES FROM db.t [LIKE 'p']` and `DESCRIBE db.t`, answered from the catalog.

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex, PoisonError};

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::engine::catalog::{Catalog, Table};
use crate::engine::error::{ApiError, ApiResult, shown};
use crate::engine::store::{TableData, TableStore};

/// A metadata statement, read from the query text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Show {
    /// `SHOW DATABASES [LIKE 'p']`
    Databases {
        /// The LIKE pattern.
        like: Option<String>,
    },
    /// `SHOW TABLES [FROM db] [LIKE 'p']`
    Tables {
        /// The database named by FROM (or IN).
        from: Option<String>,
        /// The LIKE pattern.
        like: Option<String>,
    },
    /// `SHOW MEASURES FROM db.t [LIKE 'p']`
    Measures {
        /// `db.t` as written.
        table: Option<String>,
        /// The LIKE pattern.
        like: Option<String>,
    },
    /// `DESCRIBE db.t`
    Describe {
        /// `db.t` as written.
        table: Option<String>,
    },
}

/// What a metadata statement needs from the catalog, taken while it is locked; the table's
/// rows are read and the LIKE patterns matched afterwards, outside the catalog's lock.
#[derive(Debug)]
pub enum Gathered {
    /// Database or table names.
    Names(Vec<String>),
    /// A table's rows, for its measures (SHOW MEASURES) or its columns (DESCRIBE).
    Table(Arc<Mutex<TableStore>>),
}

impl Show {
    /// The metadata statement `sql` is, or `None` when it is not one.
    pub fn parse(sql: &str) -> Option<Self> {
        let words: Vec<&str> = sql.split_whitespace().collect();
        let upper: Vec<String> = words.iter().map(|w| w.trim_end_matches(';').to_ascii_uppercase()).collect();
        let like = upper
            .iter()
            .position(|w| w == "LIKE")
            .and_then(|i| words.get(i + 1))
            .map(|p| p.trim_end_matches(';').trim_matches('\'').to_string());
        let word = |i: usize| words.get(i).map(|w| w.to_string());
        match upper.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
            ["SHOW", "DATABASES", ..] => Some(Self::Databases { like }),
            ["SHOW", "TABLES", "FROM" | "IN", ..] => Some(Self::Tables { from: Some(unquote(&word(3)?)), like }),
            ["SHOW", "TABLES", ..] => Some(Self::Tables { from: None, like }),
            ["SHOW", "MEASURES", "FROM", ..] => Some(Self::Measures { table: word(3), like }),
            ["DESCRIBE" | "DESC", ..] => Some(Self::Describe { table: word(1) }),
            _ => None,
        }
    }

    /// The databases the statement reads (for access checks); `None` for every database the
    /// caller may read.
    pub fn database(&self) -> Option<String> {
        match self {
            Self::Databases { .. } | Self::Tables { from: None, .. } => None,
            Self::Tables { from: Some(db), .. } => Some(db.clone()),
            Self::Measures { table, .. } | Self::Describe { table } => {
                table.as_deref().and_then(|t| split_table(t).ok()).map(|(db, _)| db)
            }
        }
    }

    /// Takes what the statement needs from `catalog` (to be called with the catalog locked,
    /// and brief: no pattern is matched here); `readable` says which databases the caller may
    /// see.
    pub fn gather(&self, catalog: &Catalog, readable: &dyn Fn(&str) -> bool) -> ApiResult<Gathered> {
        Ok(match self {
            Self::Databases { .. } => {
                Gathered::Names(catalog.databases.keys().filter(|d| readable(d)).cloned().collect())
            }
            Self::Tables { from: Some(db), .. } => match catalog.database(db) {
                Ok(d) => Gathered::Names(d.tables.keys().cloned().collect()),
                Err(_) => return Err(ApiError::validation(format!("Database '{}' does not exist", shown(db)))),
            },
            Self::Tables { from: None, .. } => Gathered::Names(
                catalog
                    .databases
                    .iter()
                    .filter(|(name, _)| readable(name))
                    .flat_map(|(_, d)| d.tables.keys().cloned())
                    .collect(),
            ),
            Self::Measures { table: name, .. } | Self::Describe { table: name } => {
                Gathered::Table(table(catalog, name.as_deref())?.data_handle())
            }
        })
    }

    /// The statement's answer from what [`Show::gather`] took.
    pub fn answer(&self, gathered: Gathered) -> (SchemaRef, Vec<RecordBatch>) {
        let like = match self {
            Self::Databases { like } | Self::Tables { like, .. } | Self::Measures { like, .. } => like.as_deref(),
            Self::Describe { .. } => None,
        };
        match gathered {
            Gathered::Names(names) => {
                let header = if matches!(self, Self::Databases { .. }) { "Database" } else { "Table" };
                strings(&[header], vec![names.into_iter().filter(|n| matches_like(n, like)).collect()])
            }
            Gathered::Table(data) => {
                let data = data.lock().unwrap_or_else(PoisonError::into_inner);
                match self {
                    Self::Describe { .. } => describe(&data.memory),
                    _ => measures_batch(measures(&data.memory).into_iter().filter(|(n, _, _)| matches_like(n, like))),
                }
            }
        }
    }
}

fn unquote(name: &str) -> String {
    name.trim_end_matches(';').trim_matches('"').to_string()
}

fn split_table(name: &str) -> ApiResult<(String, String)> {
    let (db, t) = name
        .trim_end_matches(';')
        .split_once('.')
        .ok_or_else(|| ApiError::validation("Expected a table name: db.table"))?;
    Ok((unquote(db), unquote(t)))
}

fn table<'c>(catalog: &'c Catalog, name: Option<&str>) -> ApiResult<&'c Table> {
    let (db, t) = split_table(name.ok_or_else(|| ApiError::validation("Expected a table name: db.table"))?)?;
    catalog.table(&db, &t).map_err(|e| ApiError::validation(e.message))
}

/// SQL `LIKE` with `%` (any run of characters) and `_` (one character), in time proportional
/// to the lengths' product at worst: a `%` is retried only from the latest one, never
/// recursively, so no pattern makes it backtrack exponentially.
fn matches_like(s: &str, pattern: Option<&str>) -> bool {
    let Some(p) = pattern else { return true };
    let (s, p): (Vec<char>, Vec<char>) = (s.chars().collect(), p.chars().collect());
    let (mut si, mut pi) = (0, 0);
    // After the latest `%`: where the pattern resumes, and where in `s` its run ends now.
    let mut star: Option<(usize, usize)> = None;
    while si < s.len() {
        if pi < p.len() && p[pi] == '%' {
            star = Some((pi + 1, si));
            pi += 1;
        } else if pi < p.len() && (p[pi] == '_' || p[pi] == s[si]) {
            si += 1;
            pi += 1;
        } else if let Some((resume, run_end)) = star {
            star = Some((resume, run_end + 1));
            pi = resume;
            si = run_end + 1;
        } else {
            return false;
        }
    }
    p[pi..].iter().all(|&c| c == '%')
}

/// A batch of varchar columns.
fn strings(names: &[&str], columns: Vec<Vec<String>>) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("columns match the schema");
    (schema, vec![batch])
}

fn describe(t: &TableData) -> (SchemaRef, Vec<RecordBatch>) {
    let (mut col, mut ty, mut attr) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |c: String, t: &str, a: &str| {
        col.push(c);
        ty.push(t.to_string());
        attr.push(a.to_string());
    };
    for d in t.dimension_names() {
        add(d.to_string(), "varchar", "DIMENSION");
    }
    add("measure_name".into(), "varchar", "MEASURE_NAME");
    add("time".into(), "timestamp", "TIMESTAMP");
    for s in t.single_types() {
        let name = s.name().to_lowercase();
        add(format!("measure_value::{name}"), &name, "MEASURE_VALUE");
    }
    for (n, s) in t.attributes() {
        add(n.to_string(), &s.name().to_lowercase(), "MULTI");
    }
    strings(&["Column", "Type", "Timestream attribute type"], vec![col, ty, attr])
}

fn measures(t: &TableData) -> Vec<(String, String, BTreeSet<String>)> {
    t.measures().iter().map(|(name, (kind, dims))| (name.clone(), kind.clone(), dims.clone())).collect()
}

fn measures_batch(found: impl Iterator<Item = (String, String, BTreeSet<String>)>) -> (SchemaRef, Vec<RecordBatch>) {
    let dim_fields: Fields =
        vec![Field::new("dimension_name", DataType::Utf8, true), Field::new("data_type", DataType::Utf8, true)].into();
    let mut names = StringBuilder::new();
    let mut types = StringBuilder::new();
    let mut dims = ListBuilder::new(StructBuilder::from_fields(dim_fields.clone(), 0));
    for (name, kind, dimensions) in found {
        names.append_value(name);
        types.append_value(kind);
        for d in dimensions {
            let s = dims.values();
            s.field_builder::<StringBuilder>(0).expect("varchar field").append_value(d);
            s.field_builder::<StringBuilder>(1).expect("varchar field").append_value("varchar");
            s.append(true);
        }
        dims.append(true);
    }
    let dims = dims.finish();
    let schema = Arc::new(Schema::new(vec![
        Field::new("measure_name", DataType::Utf8, false),
        Field::new("data_type", DataType::Utf8, false),
        Field::new("dimensions", dims.data_type().clone(), true),
    ]));
    let batch =
        RecordBatch::try_new(schema.clone(), vec![Arc::new(names.finish()), Arc::new(types.finish()), Arc::new(dims)])
            .expect("columns match the schema");
    (schema, vec![batch])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn like_matches_as_sql_does() {
        let like = |s: &str, p: &str| matches_like(s, Some(p));
        assert!(like("sensors", "sen%") && like("sensors", "%ors") && like("sensors", "%nso%"));
        assert!(like("sensors", "s_nsors") && like("", "%") && like("abc", "a%%c") && like("abc", "%_c"));
        assert!(!like("sensors", "sen") && !like("sensors", "_ensor") && !like("", "_") && !like("abc", "a%b"));
        assert!(like("aXbXc", "%X%X%") && !like("aXb", "%X%X%"));
        assert!(matches_like("anything", None));
    }

    #[test]
    fn like_never_backtracks_exponentially() {
        // Naive backtracking needs hours for these (the test run's time limit catches a hang);
        // each `%` resuming from the latest one only makes them a few thousand steps.
        let name = "a".repeat(256);
        assert!(!matches_like(&name, Some("%a%a%a%a%a%a%a%a%a%a%a%a%b")));
        assert!(matches_like(&name, Some("%a%a%a%a%a%a%a%a%a%a%a%a%a")));
    }
}
