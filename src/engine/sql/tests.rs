//! The dialect's functions run through the parser, the rewrite and DataFusion, on inline data.

use datafusion::arrow::util::pretty::pretty_format_batches;

use super::{parse, run_query};

/// 2026-11-30 12:00:00 UTC in ns.
const NOW: i64 = 1_796_040_000_000_000_000;

/// The result of `sql` as text lines (a pretty table), or the error message.
fn run(sql: &str) -> Result<Vec<String>, String> {
    let statement = parse(sql, NOW).map_err(|e| e.message)?;
    let runtime = tokio::runtime::Builder::new_current_thread().build().map_err(|e| e.to_string())?;
    let out = runtime.block_on(run_query(sql, statement, Vec::new(), 1 << 30)).map_err(|e| e.message)?;
    let text = pretty_format_batches(&out.batches).map_err(|e| e.to_string())?.to_string();
    Ok(text.lines().skip(3).filter(|l| !l.starts_with('+')).map(|l| l.split_whitespace().collect()).collect())
}

/// A time series of (second s, value v) points as a derived table with column `ts`.
fn series(points: &[(i64, f64)]) -> String {
    let rows: Vec<String> = points
        .iter()
        .map(|(s, v)| format!("(arrow_cast({}, 'Timestamp(Nanosecond, Some(\"UTC\"))'), {v:?})", s * 1_000_000_000))
        .collect();
    format!("(SELECT CREATE_TIME_SERIES(t, v) AS ts FROM (VALUES {}) AS p (t, v))", rows.join(", "))
}

#[test]
fn spline_passes_through_the_points_and_bends_between_them() {
    let from = series(&[(0, 0.0), (1, 1.0), (2, 0.0)]);
    let sql = format!(
        "SELECT INTERPOLATE_SPLINE_CUBIC(ts, arrow_cast(500000000, 'Timestamp(Nanosecond, Some(\"UTC\"))')) AS a, \
         INTERPOLATE_SPLINE_CUBIC(ts, arrow_cast(1000000000, 'Timestamp(Nanosecond, Some(\"UTC\"))')) AS b, \
         INTERPOLATE_SPLINE_CUBIC(ts, arrow_cast(3000000000, 'Timestamp(Nanosecond, Some(\"UTC\"))')) AS c FROM {from}"
    );
    // The natural spline through (0,0), (1,1), (2,0) has m1 = -3, so at 0.5: 0.5 + 1.125/6.
    assert_eq!(run(&sql).unwrap(), vec!["|0.6875|1.0||"]);
    // Collinear points: the spline is the line.
    let line = series(&[(0, 0.0), (10, 10.0), (20, 20.0), (30, 30.0)]);
    let sql = format!(
        "SELECT v.value FROM (SELECT INTERPOLATE_SPLINE_CUBIC(ts, SEQUENCE(arrow_cast(5000000000, \
         'Timestamp(Nanosecond, Some(\"UTC\"))'), arrow_cast(25000000000, 'Timestamp(Nanosecond, Some(\"UTC\"))'), 10s)) AS s \
         FROM {line}) CROSS JOIN UNNEST(s) AS v (time, value)"
    );
    assert_eq!(run(&sql).unwrap(), vec!["|5.0|", "|15.0|", "|25.0|"]);
}

#[test]
fn filter_reduce_transform_and_matches() {
    let from = series(&[(0, 1.0), (60, 5.0), (120, 3.0), (180, 8.0)]);
    let sql = format!(
        "SELECT cardinality(FILTER(ts, x -> x.value > 2.5)) AS n, \
         REDUCE(ts, 0.0, (s, x) -> s + x.value, s -> s / 4) AS mean, \
         REDUCE(ts, 0, (s, x) -> s + 1, s -> s) AS count, \
         TRANSFORM(ARRAY[1, 2, 3], x -> x * 10) AS t, \
         ANY_MATCH(ts, x -> x.value > 7) AS any, ALL_MATCH(ts, x -> x.value > 1) AS all, \
         NONE_MATCH(ts, x -> x.time > from_milliseconds(0) + 1h) AS none FROM {from}"
    );
    assert_eq!(run(&sql).unwrap(), vec!["|3|4.25|4|[10,20,30]|true|false|true|"]);
    let sql = format!(
        "SELECT f.time, f.value FROM (SELECT FILTER(ts, x -> x.value BETWEEN 2 AND 6 AND NOT x.value = 3) AS k FROM {from}) \
         CROSS JOIN UNNEST(k) AS f (time, value)"
    );
    assert_eq!(run(&sql).unwrap(), vec!["|1970-01-01T00:01:00Z|5.0|"]);
    // Null elements stay null; strings and doubles are read as themselves.
    let sql = "SELECT TRANSFORM(ARRAY[1, NULL, 3], x -> x * 10) AS t, cardinality(FILTER(ARRAY['a', 'bb', NULL], \
               s -> s = 'bb')) AS n, REDUCE(ARRAY[0.5, 1.25], 0.0, (s, x) -> s + x, s -> s) AS r";
    assert_eq!(run(sql).unwrap(), vec!["|[10,,30]|1|1.75|"]);
}

#[test]
fn lambda_errors_are_planning_errors() {
    let from = series(&[(0, 1.0)]);
    let outer = run(&format!("SELECT FILTER(ts, x -> y > 1) FROM {from}")).unwrap_err();
    assert!(outer.contains("'y' is not one of"), "{outer}");
    let not_bool = run(&format!("SELECT FILTER(ts, x -> x.value + 1) FROM {from}")).unwrap_err();
    assert!(not_bool.contains("must return a boolean"), "{not_bool}");
    let field = run(&format!("SELECT FILTER(ts, x -> x.colour = 'red') FROM {from}")).unwrap_err();
    assert!(field.contains("has no field"), "{field}");
}
