//! Timestream SQL onto DataFusion: parse with the Timestream dialect, rewrite what DataFusion
//! reads differently, refuse anything that is not a read.
//!
//! Rewrites: `measure_value::double` is a column name, not a cast; unquoted `10m`, `3h`, `1d`,
//! `100ms`, `15s`, `5us`, `7ns` are intervals; `now()` and `current_timestamp` read the engine's
//! clock; `ago(x)` is `now() - x`; `bin(t, x)` is
//! `date_bin(x, t)`; `SEQUENCE` is `generate_series` (both include the end); `CREATE_TIME_SERIES(t,
//! v)` is an ordered `array_agg` of (time, value) structs; unaliased select expressions are
//! named `_col0`, `_col1`, ….

use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, SelectItem, SetExpr, Statement,
    visit_expressions_mut,
};
use datafusion::sql::sqlparser::parser::Parser;

use super::dialect::TimestreamDialect;
use crate::engine::error::{ApiError, ApiResult};

/// Parses one read-only statement and rewrites it for DataFusion; `now_ns` is the engine's
/// clock, which `now()`, `current_timestamp` and `ago()` read.
pub fn parse(sql: &str, now_ns: i64) -> ApiResult<Statement> {
    let mut statements = DFParserBuilder::new(sql)
        .with_dialect(&TimestreamDialect)
        .build()
        .and_then(|mut p| p.parse_statements())
        .map_err(|e| ApiError::validation(syntax_message(&e.to_string(), sql)))?;
    if statements.len() != 1 {
        return Err(ApiError::validation(format!("Expected exactly one SQL statement, got {}.", statements.len())));
    }
    let mut statement = match statements.pop_front() {
        Some(DFStatement::Statement(s)) => *s,
        _ => return Err(read_only()),
    };
    if !matches!(statement, Statement::Query(_)) {
        return Err(read_only());
    }
    let now = format!("arrow_cast({now_ns}, 'Timestamp(Nanosecond, Some(\"UTC\"))')");
    let flow = visit_expressions_mut(&mut statement, |e| match rewrite(e, &now) {
        Ok(()) => ControlFlow::Continue(()),
        Err(msg) => ControlFlow::Break(msg),
    });
    if let ControlFlow::Break(msg) = flow {
        return Err(ApiError::validation(msg));
    }
    name_unaliased_columns(&mut statement);
    Ok(statement)
}

fn read_only() -> ApiError {
    ApiError::validation("Only SELECT queries are supported: DDL, DML and other statements are refused.")
}

/// sqlparser's "sql parser error: Expected: …, found: … at Line: 1, Column: 13" as Timestream's
/// `line 1:13: …` (errors at the end of the text get the end's position).
fn syntax_message(e: &str, sql: &str) -> String {
    let e = e.trim_start_matches("SQL error: ").trim_start_matches("ParserError(\"").trim_end_matches("\")");
    match e.rsplit_once(" at Line: ") {
        Some((msg, pos)) => {
            let (line, col) = pos.split_once(", Column: ").unwrap_or((pos, "1"));
            let col: String = col.chars().take_while(char::is_ascii_digit).collect();
            format!("line {line}:{col}: {msg}")
        }
        None => {
            let line = sql.lines().count().max(1);
            let col = sql.lines().last().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}:{col}: {e}")
        }
    }
}

fn parse_expr(text: &str) -> Result<Expr, String> {
    Parser::new(&TimestreamDialect)
        .try_with_sql(text)
        .and_then(|mut p| p.parse_expr())
        .map_err(|e| format!("cannot rewrite {text:?}: {e}"))
}

/// `10m` → `INTERVAL '10 minutes'`, for unquoted identifiers of that shape.
fn interval_literal(word: &str) -> Option<String> {
    let split = word.find(|c: char| !c.is_ascii_digit())?;
    let (n, unit) = word.split_at(split);
    if n.is_empty() {
        return None;
    }
    let unit = match unit {
        "ns" => "nanoseconds",
        "us" => "microseconds",
        "ms" => "milliseconds",
        "s" => "seconds",
        "m" => "minutes",
        "h" => "hours",
        "d" => "days",
        _ => return None,
    };
    Some(format!("INTERVAL '{n} {unit}'"))
}

fn function_args(args: &FunctionArguments) -> Option<Vec<String>> {
    match args {
        FunctionArguments::List(list) => list
            .args
            .iter()
            .map(|a| match a {
                FunctionArg::Unnamed(FunctionArgExpr::Expr(e)) => Some(e.to_string()),
                _ => None,
            })
            .collect(),
        _ => None,
    }
}

fn rewrite(e: &mut Expr, now: &str) -> Result<(), String> {
    let replacement = match e {
        Expr::Cast { kind: CastKind::DoubleColon, expr, data_type, .. } => {
            let column = format!("measure_value::{}", data_type.to_string().to_lowercase());
            match expr.as_ref() {
                Expr::Identifier(id) if id.value.eq_ignore_ascii_case("measure_value") => {
                    Some(Expr::Identifier(Ident::with_quote('"', column)))
                }
                Expr::CompoundIdentifier(parts)
                    if parts.last().is_some_and(|p| p.value.eq_ignore_ascii_case("measure_value")) =>
                {
                    let mut parts = parts.clone();
                    if let Some(last) = parts.last_mut() {
                        *last = Ident::with_quote('"', column);
                    }
                    Some(Expr::CompoundIdentifier(parts))
                }
                _ => None,
            }
        }
        Expr::Identifier(id) if id.quote_style.is_none() => {
            interval_literal(&id.value).map(|t| parse_expr(&t)).transpose()?
        }
        Expr::Function(f) => {
            let name = f.name.to_string().to_ascii_lowercase();
            match (name.as_str(), function_args(&f.args).as_deref()) {
                ("now" | "current_timestamp", _) => Some(parse_expr(now)?),
                ("ago", Some([x])) => Some(parse_expr(&format!("({now} - {x})"))?),
                ("bin", Some([t, x])) => Some(parse_expr(&format!("date_bin({x}, {t})"))?),
                ("sequence", Some([a, b, step])) => Some(parse_expr(&format!("generate_series({a}, {b}, {step})"))?),
                ("create_time_series", Some([t, v])) => {
                    Some(parse_expr(&format!("array_agg(named_struct('time', {t}, 'value', {v}) ORDER BY {t})"))?)
                }
                _ => None,
            }
        }
        _ => None,
    };
    if let Some(r) = replacement {
        *e = r;
    }
    Ok(())
}

/// Presto names unaliased expressions `_col<i>`; plain column references keep their names.
fn name_unaliased_columns(statement: &mut Statement) {
    let Statement::Query(q) = statement else { return };
    let SetExpr::Select(select) = q.body.as_mut() else { return };
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item
            && !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: Ident::new(format!("_col{i}")) };
        }
    }
}
