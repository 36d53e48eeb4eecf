//! Timestream SQL onto DataFusion: parse with the Timestream dialect, rewrite what DataFusion
//! reads differently, refuse anything that is not a read.
//!
//! Rewrites: `measure_value::double` is a column name, not a cast; unquoted `10m`, `3h`, `1d`,
//! `100ms`, `15s`, `5us`, `7ns` are intervals; `now()` and `current_timestamp` read the engine's
//! clock; `ago(x)` is `now() - x`; `bin(t, x)` is
//! `date_bin(x, t)`; unaliased select expressions are named `_col0`, `_col1`, ….

use std::ops::ControlFlow;

use datafusion::sql::parser::{DFParserBuilder, Statement as DFStatement};
use datafusion::sql::sqlparser::ast::{
    CastKind, Expr, FunctionArg, FunctionArgExpr, FunctionArguments, Ident, JoinOperator, Query, Select, SelectItem,
    SetExpr, Statement, TableFactor, Value, visit_expressions_mut,
};
use datafusion::sql::sqlparser::parser::Parser;

use super::dialect::TimestreamDialect;
use crate::engine::error::{ApiError, ApiResult};

/// Parses one read-only statement (a query, or an UNLOAD of one) and rewrites it for
/// DataFusion; `now_ns` is the engine's clock, which `now()`, `current_timestamp` and `ago()`
/// read.
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
    match &statement {
        Statement::Query(_) | Statement::Unload { query: Some(_), query_text: None, auth: None, .. } => {}
        Statement::Unload { .. } => {
            return Err(ApiError::validation(
                "UNLOAD takes a query in parentheses: UNLOAD (SELECT ...) TO 's3://bucket/folder/' WITH (...).",
            ));
        }
        _ => return Err(read_only()),
    }
    // Before anything else walks the expressions: they could nest deeper than a stack holds.
    super::depth::check_depth(&mut statement)?;
    let now = format!("arrow_cast({now_ns}, 'Timestamp(Nanosecond, Some(\"UTC\"))')");
    let flow = visit_expressions_mut(&mut statement, |e| match rewrite(e, &now) {
        Ok(()) => ControlFlow::Continue(()),
        Err(msg) => ControlFlow::Break(msg),
    });
    if let ControlFlow::Break(msg) = flow {
        return Err(ApiError::validation(msg));
    }
    if let Statement::Query(q) | Statement::Unload { query: Some(q), .. } = &mut statement {
        rewrite_unnest(q).map_err(ApiError::validation)?;
    }
    name_unaliased_columns(&mut statement);
    Ok(statement)
}

/// `FROM x CROSS JOIN UNNEST(x.series) AS t (time, value)` (or `FROM x, UNNEST(…)`): DataFusion
/// cannot unnest with a reference to the left table, so the pair becomes one derived table
/// that unnests in its select list and names the elements' fields positionally, as Presto
/// does: `time`/`value` of a time series, or the element itself for one column.
fn rewrite_unnest(q: &mut Query) -> Result<(), String> {
    if let Some(with) = &mut q.with {
        for cte in &mut with.cte_tables {
            rewrite_unnest(&mut cte.query)?;
        }
    }
    rewrite_set_expr(&mut q.body)
}

fn rewrite_set_expr(body: &mut SetExpr) -> Result<(), String> {
    match body {
        SetExpr::Select(select) => rewrite_select(select),
        SetExpr::Query(q) => rewrite_unnest(q),
        SetExpr::SetOperation { left, right, .. } => {
            rewrite_set_expr(left)?;
            rewrite_set_expr(right)
        }
        _ => Ok(()),
    }
}

fn rewrite_select(select: &mut Select) -> Result<(), String> {
    // The comma form is a cross join.
    if select.from.len() >= 2
        && matches!(select.from[1].relation, TableFactor::UNNEST { .. })
        && select.from[1].joins.is_empty()
    {
        let unnest = select.from.remove(1);
        select.from[0].joins.insert(
            0,
            datafusion::sql::sqlparser::ast::Join {
                relation: unnest.relation,
                global: false,
                join_operator: JoinOperator::CrossJoin(datafusion::sql::sqlparser::ast::JoinConstraint::None),
            },
        );
    }
    let mut requalified = Vec::new();
    for item in &mut select.from {
        let Some(first) = item.joins.first() else { continue };
        let (TableFactor::UNNEST { alias, array_exprs, .. }, JoinOperator::CrossJoin(_)) =
            (&first.relation, &first.join_operator)
        else {
            continue;
        };
        let [array] = array_exprs.as_slice() else {
            return Err("UNNEST of more than one array is not supported".into());
        };
        // An unnamed subquery gets a name, so that the unnest can refer to its columns.
        if let TableFactor::Derived { alias: alias @ None, .. } = &mut item.relation {
            *alias = Some(datafusion::sql::sqlparser::ast::TableAlias {
                explicit: true,
                name: Ident::new("__left"),
                columns: Vec::new(),
                at: None,
            });
        }
        let left_qualifier = match &item.relation {
            TableFactor::Table { alias: Some(a), .. } | TableFactor::Derived { alias: Some(a), .. } => {
                a.name.value.clone()
            }
            TableFactor::Table { name, .. } => name.0.last().map(|p| p.to_string()).unwrap_or_default(),
            _ => return Err("UNNEST must follow a table or a named subquery".into()),
        };
        let alias_name = alias.as_ref().map_or_else(|| "__unnest".to_string(), |a| a.name.value.clone());
        let columns: Vec<String> =
            alias.as_ref().map(|a| a.columns.iter().map(|c| c.name.value.clone()).collect()).unwrap_or_default();
        let fields = match columns.as_slice() {
            [] => "__x.__u['time'] AS \"time\", __x.__u['value'] AS \"value\"".to_string(),
            [one] => format!("__x.__u AS \"{one}\""),
            [a, b] => format!("__x.__u['time'] AS \"{a}\", __x.__u['value'] AS \"{b}\""),
            _ => return Err("UNNEST AS t (...) names one column (an array) or two (a time series)".into()),
        };
        let text = format!(
            "(SELECT __x.* EXCLUDE (__u), {fields} FROM (SELECT {left_qualifier}.*, unnest({array}) AS __u FROM {}) AS __x) AS \"{alias_name}\"",
            item.relation
        );
        let derived = Parser::new(&TimestreamDialect)
            .try_with_sql(&text)
            .and_then(|mut p| p.parse_table_factor())
            .map_err(|e| format!("cannot rewrite UNNEST: {e}"))?;
        item.relation = derived;
        item.joins.remove(0);
        requalified.push((left_qualifier, alias_name));
    }
    // Columns of the left table are now columns of the derived table. (The derived tables
    // themselves still use the left qualifiers, so only these clauses are visited.)
    for (from, to) in &requalified {
        let mut fix = |e: &mut Expr| {
            requalify(e, from, to);
            ControlFlow::<()>::Continue(())
        };
        let _ = visit_expressions_mut(&mut select.projection, &mut fix);
        let _ = visit_expressions_mut(&mut select.selection, &mut fix);
        let _ = visit_expressions_mut(&mut select.group_by, &mut fix);
        let _ = visit_expressions_mut(&mut select.having, &mut fix);
    }
    Ok(())
}

fn requalify(e: &mut Expr, from: &str, to: &str) {
    if let Expr::CompoundIdentifier(parts) = e
        && parts.len() == 2
        && parts[0].value == from
    {
        parts[0] = Ident::with_quote('"', to);
    }
}

fn read_only() -> ApiError {
    ApiError::validation(
        "Only SELECT queries (and UNLOAD of one) are supported: DDL, DML and other statements are refused.",
    )
}

/// sqlparser's "sql parser error: Expected: …, found: … at Line: 1, Column: 13" as Timestream's
/// `line 1:13: …` (errors at the end of the text get the end's position).
/// A parser error as `line L:C: message` (at most 500 bytes of the parser's message, which may
/// quote a token of any length).
fn syntax_message(e: &str, sql: &str) -> String {
    let e = e.trim_start_matches("SQL error: ").trim_start_matches("ParserError(\"").trim_end_matches("\")");
    let short = |m: &str| crate::engine::error::shorten(m, 500);
    match e.rsplit_once(" at Line: ") {
        Some((msg, pos)) => {
            let (line, col) = pos.split_once(", Column: ").unwrap_or((pos, "1"));
            let line: String = line.chars().take_while(char::is_ascii_digit).collect();
            let col: String = col.chars().take_while(char::is_ascii_digit).collect();
            format!("line {line}:{col}: {}", short(msg))
        }
        None => {
            let line = sql.lines().count().max(1);
            let col = sql.lines().last().map_or(0, |l| l.chars().count()) + 1;
            format!("line {line}:{col}: {}", short(e))
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
            if super::lambda::NAMES.contains(&name.as_str()) {
                lambdas_as_text(&mut f.args);
            }
            match function_args(&f.args) {
                Some(args) => match rewrite_function(&name, &args, now).map(|t| parse_expr(&t)).transpose()? {
                    // An aggregate keeps its FILTER and a window function its OVER.
                    Some(Expr::Function(mut g)) => {
                        g.filter = g.filter.or_else(|| f.filter.clone());
                        g.over = g.over.or_else(|| f.over.clone());
                        Some(Expr::Function(g))
                    }
                    other => other,
                },
                None => None,
            }
        }
        _ => None,
    };
    if let Some(r) = replacement {
        *e = r;
    }
    Ok(())
}

/// DataFusion has no lambdas: they are handed to the lambda functions as their SQL text.
fn lambdas_as_text(args: &mut FunctionArguments) {
    let FunctionArguments::List(list) = args else { return };
    for arg in &mut list.args {
        if let FunctionArg::Unnamed(FunctionArgExpr::Expr(e @ Expr::Lambda(_))) = arg {
            *e = Expr::value(Value::SingleQuotedString(e.to_string()));
        }
    }
}

/// The engine's timestamp type, as `arrow_cast` spells it.
const TS: &str = "'Timestamp(Nanosecond, Some(\"UTC\"))'";

/// The unquoted text of a string literal argument.
fn literal(arg: &str) -> Option<&str> {
    arg.strip_prefix('\'')?.strip_suffix('\'')
}

/// MySQL date format specifiers (Timestream's `date_format`/`date_parse`) as chrono's.
fn chrono_format(mysql: &str) -> String {
    let mut out = String::new();
    let mut chars = mysql.chars();
    while let Some(c) = chars.next() {
        if c != '%' {
            out.push(c);
            continue;
        }
        out.push_str(match chars.next() {
            Some('i') => "%M",
            Some('s') | Some('S') => "%S",
            Some('f') => "%6f",
            Some('h') | Some('I') => "%I",
            Some('c') => "%-m",
            Some('e') => "%-d",
            Some('M') => "%B",
            Some('W') => "%A",
            Some('T') => "%H:%M:%S",
            Some('r') => "%I:%M:%S %p",
            Some('j') => "%j",
            Some(other) => {
                out.push('%');
                out.push(other);
                continue;
            }
            None => "%",
        });
    }
    out
}

/// Timestream (Presto) functions that DataFusion lacks or names differently, as SQL text over
/// DataFusion's functions; `None` leaves the call alone.
fn rewrite_function(name: &str, args: &[String], now: &str) -> Option<String> {
    let nanos = |t: &str| format!("arrow_cast({t}, 'Int64')");
    let part = |field: &str, t: &str| format!("CAST(date_part('{field}', {t}) AS BIGINT)");
    Some(match (name, args) {
        ("now" | "current_timestamp", _) => now.to_string(),
        ("ago", [x]) => format!("({now} - {x})"),
        ("bin", [t, x]) => format!("date_bin({x}, {t})"),
        ("from_milliseconds", [x]) => format!("arrow_cast(CAST({x} AS BIGINT) * 1000000, {TS})"),
        ("from_nanoseconds", [x]) => format!("arrow_cast(CAST({x} AS BIGINT), {TS})"),
        ("from_unixtime", [x]) => format!("arrow_cast(CAST({x} * 1000000000 AS BIGINT), {TS})"),
        ("to_milliseconds", [t]) => format!("({} / 1000000)", nanos(t)),
        ("to_nanoseconds", [t]) => nanos(t),
        ("to_unixtime", [t]) => format!("(CAST({} AS DOUBLE) / 1000000000.0)", nanos(t)),
        ("from_iso8601_timestamp", [s]) => format!("arrow_cast(to_timestamp({s}), {TS})"),
        ("from_iso8601_date", [s]) => format!("to_date({s})"),
        ("to_iso8601", [t]) => format!("to_char({t}, '%Y-%m-%dT%H:%M:%S%.3fZ')"),
        ("date_add", [unit, n, t]) => {
            let unit = literal(unit)?;
            match n.parse::<i64>() {
                Ok(k) => format!("({t} + INTERVAL '{k} {unit}')"),
                Err(_) => format!("({t} + CAST(concat(CAST({n} AS VARCHAR), ' {unit}') AS INTERVAL))"),
            }
        }
        ("date_diff", [unit, a, b]) => {
            let ns = match literal(unit)?.to_ascii_lowercase().as_str() {
                "nanosecond" => 1i64,
                "microsecond" => 1_000,
                "millisecond" => 1_000_000,
                "second" => 1_000_000_000,
                "minute" => 60_000_000_000,
                "hour" => 3_600_000_000_000,
                "day" => 86_400_000_000_000,
                "week" => 604_800_000_000_000,
                "month" => {
                    return Some(format!(
                        "(({} - {}) * 12 + {} - {})",
                        part("year", b),
                        part("year", a),
                        part("month", b),
                        part("month", a)
                    ));
                }
                "quarter" => {
                    return Some(format!(
                        "((({} - {}) * 12 + {} - {}) / 3)",
                        part("year", b),
                        part("year", a),
                        part("month", b),
                        part("month", a)
                    ));
                }
                "year" => return Some(format!("({} - {})", part("year", b), part("year", a))),
                _ => return None,
            };
            format!("(({} - {}) / {ns})", nanos(b), nanos(a))
        }
        ("year" | "month" | "day" | "hour" | "minute" | "second" | "quarter" | "week" | "millisecond", [t]) => {
            part(name, t)
        }
        ("day_of_month", [t]) => part("day", t),
        ("day_of_year" | "doy", [t]) => part("doy", t),
        ("week_of_year", [t]) => part("week", t),
        ("year_of_week" | "yow", [t]) => part("year", t),
        // ISO day of week: Monday 1 … Sunday 7 (DataFusion counts Sunday 0 … Saturday 6).
        ("day_of_week" | "dow", [t]) => format!("(({} + 6) % 7 + 1)", part("dow", t)),
        ("parse_duration", [s]) => interval_literal(literal(s)?)?,
        ("date_format", [t, f]) => format!("to_char({t}, '{}')", chrono_format(literal(f)?)),
        ("date_parse", [s, f]) => format!("arrow_cast(to_timestamp({s}, '{}'), {TS})", chrono_format(literal(f)?)),
        ("count_if", [c]) => format!("count(CASE WHEN {c} THEN 1 END)"),
        ("arbitrary", [x]) => format!("first_value({x})"),
        ("max_by", [x, y]) => format!("last_value({x} ORDER BY {y})"),
        ("min_by", [x, y]) => format!("first_value({x} ORDER BY {y})"),
        ("approx_percentile", [x, p]) => format!("approx_percentile_cont({x}, {p})"),
        _ => return None,
    })
}

/// Presto names unaliased expressions `_col<i>`; plain column references keep their names.
fn name_unaliased_columns(statement: &mut Statement) {
    let (Statement::Query(q) | Statement::Unload { query: Some(q), .. }) = statement else { return };
    let SetExpr::Select(select) = q.body.as_mut() else { return };
    for (i, item) in select.projection.iter_mut().enumerate() {
        if let SelectItem::UnnamedExpr(expr) = item
            && !matches!(expr, Expr::Identifier(_) | Expr::CompoundIdentifier(_))
        {
            *item = SelectItem::ExprWithAlias { expr: expr.clone(), alias: Ident::new(format!("_col{i}")) };
        }
    }
}
