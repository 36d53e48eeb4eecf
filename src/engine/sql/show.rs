//! The metadata statements: `SHOW DATABASES`, `SHOW TABLES [FROM db] [LIKE 'p']`,
//! `SHOW MEASURES FROM db.t [LIKE 'p']` and `DESCRIBE db.t`, answered from the catalog.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use arrow_array::builder::{ListBuilder, StringBuilder, StructBuilder};
use arrow_array::{Array, ArrayRef, RecordBatch, StringArray};
use arrow_schema::{DataType, Field, Fields, Schema, SchemaRef};

use crate::engine::catalog::{Catalog, Table};
use crate::engine::error::{ApiError, ApiResult};
use crate::engine::store::Measure;

/// The answer to a metadata statement, or `None` when `sql` is not one.
pub fn show(sql: &str, catalog: &Catalog) -> Option<ApiResult<(SchemaRef, Vec<RecordBatch>)>> {
    let words: Vec<&str> = sql.split_whitespace().collect();
    let upper: Vec<String> = words.iter().map(|w| w.trim_end_matches(';').to_ascii_uppercase()).collect();
    let like = upper
        .iter()
        .position(|w| w == "LIKE")
        .and_then(|i| words.get(i + 1))
        .map(|p| p.trim_end_matches(';').trim_matches('\'').to_string());
    match upper.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        ["SHOW", "DATABASES", ..] => {
            let names = catalog.databases.keys().filter(|n| matches_like(n, like.as_deref())).cloned().collect();
            Some(Ok(strings(&["Database"], vec![names])))
        }
        ["SHOW", "TABLES", rest @ ..] => {
            let names: Vec<String> = match rest.first() {
                Some(&"FROM") | Some(&"IN") => {
                    let db = unquote(words.get(3).copied().unwrap_or(""));
                    match catalog.database(&db) {
                        Ok(d) => d.tables.keys().cloned().collect(),
                        Err(_) => return Some(Err(ApiError::validation(format!("Database '{db}' does not exist")))),
                    }
                }
                _ => catalog.databases.values().flat_map(|d| d.tables.keys().cloned()).collect(),
            };
            Some(Ok(strings(
                &["Table"],
                vec![names.into_iter().filter(|n| matches_like(n, like.as_deref())).collect()],
            )))
        }
        ["SHOW", "MEASURES", "FROM", ..] => {
            Some(table(catalog, words.get(3).copied()).map(|t| measures(t, like.as_deref())))
        }
        ["DESCRIBE" | "DESC", ..] => Some(table(catalog, words.get(1).copied()).map(describe)),
        _ => None,
    }
}

fn unquote(name: &str) -> String {
    name.trim_end_matches(';').trim_matches('"').to_string()
}

fn table<'c>(catalog: &'c Catalog, name: Option<&str>) -> ApiResult<&'c Table> {
    let name = name.ok_or_else(|| ApiError::validation("Expected a table name: db.table"))?;
    let (db, t) = name
        .trim_end_matches(';')
        .split_once('.')
        .ok_or_else(|| ApiError::validation("Expected a table name: db.table"))?;
    catalog.table(&unquote(db), &unquote(t)).map_err(|e| ApiError::validation(e.message))
}

/// SQL `LIKE` with `%` and `_`.
fn matches_like(s: &str, pattern: Option<&str>) -> bool {
    fn go(s: &[char], p: &[char]) -> bool {
        match p.split_first() {
            None => s.is_empty(),
            Some(('%', rest)) => (0..=s.len()).any(|i| go(&s[i..], rest)),
            Some(('_', rest)) => !s.is_empty() && go(&s[1..], rest),
            Some((c, rest)) => s.first() == Some(c) && go(&s[1..], rest),
        }
    }
    pattern.is_none_or(|p| go(&s.chars().collect::<Vec<_>>(), &p.chars().collect::<Vec<_>>()))
}

/// A batch of varchar columns.
fn strings(names: &[&str], columns: Vec<Vec<String>>) -> (SchemaRef, Vec<RecordBatch>) {
    let schema = Arc::new(Schema::new(names.iter().map(|n| Field::new(*n, DataType::Utf8, false)).collect::<Vec<_>>()));
    let arrays: Vec<ArrayRef> = columns.into_iter().map(|c| Arc::new(StringArray::from(c)) as ArrayRef).collect();
    let batch = RecordBatch::try_new(schema.clone(), arrays).expect("columns match the schema");
    (schema, vec![batch])
}

fn describe(t: &Table) -> (SchemaRef, Vec<RecordBatch>) {
    let (mut col, mut ty, mut attr) = (Vec::new(), Vec::new(), Vec::new());
    let mut add = |c: String, t: &str, a: &str| {
        col.push(c);
        ty.push(t.to_string());
        attr.push(a.to_string());
    };
    for d in t.data.dimension_names() {
        add(d.to_string(), "varchar", "DIMENSION");
    }
    add("measure_name".into(), "varchar", "MEASURE_NAME");
    add("time".into(), "timestamp", "TIMESTAMP");
    for s in t.data.single_types() {
        let name = s.name().to_lowercase();
        add(format!("measure_value::{name}"), &name, "MEASURE_VALUE");
    }
    for (n, s) in t.data.attributes() {
        add(n.to_string(), &s.name().to_lowercase(), "MULTI");
    }
    strings(&["Column", "Type", "Timestream attribute type"], vec![col, ty, attr])
}

fn measures(t: &Table, like: Option<&str>) -> (SchemaRef, Vec<RecordBatch>) {
    let mut found: BTreeMap<&str, (String, BTreeSet<&str>)> = BTreeMap::new();
    for (dims, name, _, r) in t.data.rows() {
        if !matches_like(name, like) {
            continue;
        }
        let kind = match &r.measure {
            Measure::Single(v) => v.kind().name().to_lowercase(),
            Measure::Multi(_) => "multi".into(),
        };
        let entry = found.entry(name).or_insert_with(|| (kind, BTreeSet::new()));
        entry.1.extend(dims.iter().map(|(d, _)| d.as_str()));
    }
    let dim_fields: Fields =
        vec![Field::new("dimension_name", DataType::Utf8, true), Field::new("data_type", DataType::Utf8, true)].into();
    let mut names = StringBuilder::new();
    let mut types = StringBuilder::new();
    let mut dims = ListBuilder::new(StructBuilder::from_fields(dim_fields.clone(), 0));
    for (name, (kind, dimensions)) in &found {
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
