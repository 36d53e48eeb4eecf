//! Timestream's time-series functions as DataFusion functions. A time series is a
//! `list<struct<time: timestamp[ns, UTC], value>>` sorted by time, as `CREATE_TIME_SERIES`
//! (an aggregate of its own, in `series_agg`) builds it.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, TimestampNanosecondType};
use arrow_array::{Array, ArrayRef, Float64Array, ListArray, StructArray, TimestampNanosecondArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, Fields};
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::logical_expr::{ColumnarValue, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature, Volatility};

use crate::engine::query::{MAX_GENERATED_BYTES, MAX_SERIES_ENTRIES};

/// The functions to register on a session.
pub fn all() -> Vec<ScalarUDF> {
    let mut fs: Vec<ScalarUDF> = [Method::Linear, Method::Locf, Method::Fill, Method::Spline]
        .into_iter()
        .map(|m| ScalarUDF::from(Interpolate::new(m)))
        .collect();
    fs.push(ScalarUDF::from(Derivative::new(false)));
    fs.push(ScalarUDF::from(Derivative::new(true)));
    fs.push(ScalarUDF::from(Integral::default()));
    fs.push(ScalarUDF::from(Sequence::default()));
    fs.push(ScalarUDF::from(Correlate::new(false)));
    fs.push(ScalarUDF::from(Correlate::new(true)));
    fs
}

/// `CORRELATE_PEARSON(ts1, ts2)` and `CORRELATE_SPEARMAN(ts1, ts2)`: the correlation of two
/// time series over the times they share (null with fewer than two shared points or no
/// variance).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Correlate {
    spearman: bool,
    signature: Signature,
}

impl Correlate {
    fn new(spearman: bool) -> Self {
        Self { spearman, signature: Signature::any(2, Volatility::Immutable) }
    }
}

/// Ranks (1-based, ties averaged) of `values`.
fn ranks(values: &[f64]) -> Vec<f64> {
    let mut order: Vec<usize> = (0..values.len()).collect();
    order.sort_by(|&a, &b| values[a].total_cmp(&values[b]));
    let mut out = vec![0.0; values.len()];
    let mut i = 0;
    while i < order.len() {
        let mut j = i;
        while j + 1 < order.len() && values[order[j + 1]] == values[order[i]] {
            j += 1;
        }
        let rank = (i + j) as f64 / 2.0 + 1.0;
        for &k in &order[i..=j] {
            out[k] = rank;
        }
        i = j + 1;
    }
    out
}

fn pearson(x: &[f64], y: &[f64]) -> Option<f64> {
    let n = x.len() as f64;
    if x.len() < 2 {
        return None;
    }
    let (mx, my) = (x.iter().sum::<f64>() / n, y.iter().sum::<f64>() / n);
    let cov: f64 = x.iter().zip(y).map(|(a, b)| (a - mx) * (b - my)).sum();
    let (vx, vy): (f64, f64) = (x.iter().map(|a| (a - mx).powi(2)).sum(), y.iter().map(|b| (b - my).powi(2)).sum());
    (vx > 0.0 && vy > 0.0).then(|| cov / (vx * vy).sqrt())
}

impl ScalarUDFImpl for Correlate {
    fn name(&self) -> &str {
        if self.spearman { "correlate_spearman" } else { "correlate_pearson" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        double_series(&args[0])?;
        double_series(&args[1])?;
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (a, b) = (arrays[0].as_list::<i32>(), arrays[1].as_list::<i32>());
        let out: Float64Array = (0..a.len())
            .map(|row| {
                if a.is_null(row) || b.is_null(row) {
                    return Ok(None);
                }
                let (pa, pb) = (points_of(a, row)?, points_of(b, row)?);
                let mut x = Vec::new();
                let mut y = Vec::new();
                for (t, v) in &pa {
                    if let Ok(k) = pb.binary_search_by_key(t, |(tb, _)| *tb) {
                        x.push(*v);
                        y.push(pb[k].1);
                    }
                }
                if self.spearman {
                    let (rx, ry) = (ranks(&x), ranks(&y));
                    Ok(pearson(&rx, &ry))
                } else {
                    Ok(pearson(&x, &y))
                }
            })
            .collect::<Result<_>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// A signature taking any argument types, in any of the given counts.
fn any_of(counts: &[usize]) -> Signature {
    let choices = counts.iter().map(|&n| datafusion::logical_expr::TypeSignature::Any(n)).collect();
    Signature::one_of(choices, Volatility::Immutable)
}

/// A list of time series from flat times and values and the number of points of each row;
/// `fields` and `item` give the exact types (`fields[0]` carries the time zone).
fn series_array(
    item: Arc<Field>,
    fields: Fields,
    times: Vec<i64>,
    values: Vec<f64>,
    lengths: Vec<usize>,
) -> Result<ArrayRef> {
    let tz = match fields[0].data_type() {
        DataType::Timestamp(_, tz) => tz.clone(),
        _ => None,
    };
    let time: ArrayRef = Arc::new(TimestampNanosecondArray::from(times).with_timezone_opt(tz));
    let points = StructArray::try_new(fields, vec![time, Arc::new(Float64Array::from(values))], None)?;
    Ok(Arc::new(ListArray::try_new(item, OffsetBuffer::from_lengths(lengths), Arc::new(points), None)?))
}

/// `SEQUENCE(start, stop, step)` over timestamps (step an interval) or integers (step an
/// integer, default 1): every value from start to stop inclusive; at most 10,000 of them.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Sequence {
    signature: Signature,
}

impl Default for Sequence {
    fn default() -> Self {
        Self { signature: any_of(&[2, 3]) }
    }
}

impl ScalarUDFImpl for Sequence {
    fn name(&self) -> &str {
        "sequence"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let item = match &args[0] {
            DataType::Timestamp(_, tz) => DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, tz.clone()),
            t if t.is_integer() => DataType::Int64,
            other => return plan_err!("SEQUENCE takes timestamps or integers, got {other}"),
        };
        Ok(DataType::List(Arc::new(Field::new("item", item, true))))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        use arrow_array::types::Int64Type;
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let timestamps = matches!(arrays[0].data_type(), DataType::Timestamp(..));
        let target =
            if timestamps { DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None) } else { DataType::Int64 };
        let start = arrow_cast::cast(&arrays[0], &target)?;
        let stop = arrow_cast::cast(&arrays[1], &target)?;
        let (start, stop) = if timestamps {
            (arrow_cast::cast(&start, &DataType::Int64)?, arrow_cast::cast(&stop, &DataType::Int64)?)
        } else {
            (start, stop)
        };
        let (start, stop) = (start.as_primitive::<Int64Type>(), stop.as_primitive::<Int64Type>());
        let mut values: Vec<i64> = Vec::new();
        let mut lengths = Vec::with_capacity(start.len());
        for row in 0..start.len() {
            let step = match (arrays.get(2), timestamps) {
                (Some(s), true) => interval_ns(s, row)?,
                (Some(s), false) => {
                    let s = arrow_cast::cast(s, &DataType::Int64)?;
                    let s = s.as_primitive::<Int64Type>();
                    s.is_valid(row).then(|| s.value(row))
                }
                (None, true) => return exec_err!("SEQUENCE over timestamps needs a step interval"),
                (None, false) => Some(1),
            };
            let before = values.len();
            if let (true, true, Some(step)) = (start.is_valid(row), stop.is_valid(row), step) {
                let (a, b) = (start.value(row), stop.value(row));
                if step == 0 || (b > a && step < 0) || (b < a && step > 0) {
                    return exec_err!("SEQUENCE step must move from start towards stop");
                }
                let count = (i128::from(b) - i128::from(a)) / i128::from(step) + 1;
                if count > MAX_SERIES_ENTRIES as i128 {
                    return exec_err!("SEQUENCE would have {count} entries; the limit is {MAX_SERIES_ENTRIES}");
                }
                if (values.len() + count as usize) * 8 > MAX_GENERATED_BYTES {
                    return exec_err!(
                        "SEQUENCE would produce more than {} MiB for one batch of rows; the engine's limit is {} MiB",
                        MAX_GENERATED_BYTES >> 20,
                        MAX_GENERATED_BYTES >> 20
                    );
                }
                values.extend((0..count as i64).map(|k| a + k * step));
            }
            lengths.push(values.len() - before);
        }
        let item_type = match args.return_field.data_type() {
            DataType::List(f) => f.clone(),
            other => return exec_err!("unexpected SEQUENCE return type {other}"),
        };
        let items: ArrayRef = Arc::new(arrow_array::Int64Array::from(values));
        let items = arrow_cast::cast(&items, item_type.data_type())?;
        let list = ListArray::try_new(item_type, OffsetBuffer::from_lengths(lengths), items, None)?;
        Ok(ColumnarValue::Array(Arc::new(list)))
    }
}

/// A time series' points as (ns, value) pairs, and its interval argument as nanoseconds.
fn points_of(series: &ListArray, row: usize) -> Result<Vec<(i64, f64)>> {
    let ns = DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None);
    let points = series.value(row);
    let points = points.as_struct();
    let t = arrow_cast::cast(points.column(0), &ns)?;
    let t = t.as_primitive::<TimestampNanosecondType>();
    let v = arrow_cast::cast(points.column(1), &DataType::Float64)?;
    let v = v.as_primitive::<Float64Type>();
    Ok((0..t.len()).filter(|&k| t.is_valid(k) && v.is_valid(k)).map(|k| (t.value(k), v.value(k))).collect())
}

/// An interval argument (any interval or duration type) in nanoseconds; months count 30 days.
fn interval_ns(array: &ArrayRef, row: usize) -> Result<Option<i64>> {
    use arrow_array::types::{DurationNanosecondType, IntervalMonthDayNanoType};
    if array.is_null(row) {
        return Ok(None);
    }
    Ok(Some(match array.data_type() {
        DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => {
            let v = array.as_primitive::<IntervalMonthDayNanoType>().value(row);
            (i64::from(v.months) * 30 + i64::from(v.days)) * 86_400_000_000_000 + v.nanoseconds
        }
        DataType::Duration(_) => {
            let d = arrow_cast::cast(array, &DataType::Duration(arrow_schema::TimeUnit::Nanosecond))?;
            d.as_primitive::<DurationNanosecondType>().value(row)
        }
        other => return exec_err!("expected an interval such as 1s or 1m, got {other}"),
    }))
}

/// `DERIVATIVE_LINEAR(timeseries, interval)`: the rate of change per `interval` between each
/// point and the one before it, as a time series from the second point on;
/// `NON_NEGATIVE_DERIVATIVE_LINEAR` leaves out the negative rates.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Derivative {
    non_negative: bool,
    signature: Signature,
}

impl Derivative {
    fn new(non_negative: bool) -> Self {
        Self { non_negative, signature: Signature::any(2, Volatility::Immutable) }
    }
}

impl ScalarUDFImpl for Derivative {
    fn name(&self) -> &str {
        if self.non_negative { "non_negative_derivative_linear" } else { "derivative_linear" }
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        Ok(DataType::List(double_series(&args[0])?.0))
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (item, fields) = double_series(arrays[0].data_type())?;
        let series = arrays[0].as_list::<i32>();
        let (mut times, mut values, mut lengths) = (Vec::new(), Vec::new(), Vec::with_capacity(series.len()));
        for row in 0..series.len() {
            let before = times.len();
            if let (true, Some(unit)) = (series.is_valid(row), interval_ns(&arrays[1], row)?) {
                let points = points_of(series, row)?;
                for w in points.windows(2) {
                    let ((t0, v0), (t1, v1)) = (w[0], w[1]);
                    if t1 == t0 {
                        continue;
                    }
                    let rate = (v1 - v0) / (t1 - t0) as f64 * unit as f64;
                    if !(self.non_negative && rate < 0.0) {
                        times.push(t1);
                        values.push(rate);
                    }
                }
            }
            lengths.push(times.len() - before);
        }
        Ok(ColumnarValue::Array(series_array(item, fields, times, values, lengths)?))
    }
}

/// `INTEGRAL_TRAPEZOIDAL(timeseries[, interval])`: the area under the series by the trapezoid
/// rule, with time measured in `interval`s (default one second).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Integral {
    signature: Signature,
}

impl Default for Integral {
    fn default() -> Self {
        Self { signature: any_of(&[1, 2]) }
    }
}

impl ScalarUDFImpl for Integral {
    fn name(&self) -> &str {
        "integral_trapezoidal"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        double_series(&args[0])?;
        Ok(DataType::Float64)
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let series = arrays[0].as_list::<i32>();
        let out: Float64Array = (0..series.len())
            .map(|row| {
                if series.is_null(row) {
                    return Ok(None);
                }
                let unit = match arrays.get(1) {
                    Some(a) => match interval_ns(a, row)? {
                        Some(u) => u,
                        None => return Ok(None),
                    },
                    None => 1_000_000_000,
                };
                let points = points_of(series, row)?;
                let area: f64 = points.windows(2).map(|w| (w[0].1 + w[1].1) / 2.0 * (w[1].0 - w[0].0) as f64).sum();
                Ok(Some(area / unit as f64))
            })
            .collect::<Result<_>>()?;
        Ok(ColumnarValue::Array(Arc::new(out)))
    }
}

/// How an interpolation fills a time between known points.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Method {
    /// On the line through the neighbouring points.
    Linear,
    /// The last value at or before the time.
    Locf,
    /// The value at exactly that time, else the fill value (third argument).
    Fill,
    /// On the natural cubic spline through the known points.
    Spline,
}

/// `INTERPOLATE_LINEAR`, `INTERPOLATE_SPLINE_CUBIC`, `INTERPOLATE_LOCF` and
/// `INTERPOLATE_FILL(…, fill)` over a time series
/// and an array of times (giving a time series; times the method cannot fill are left out) or
/// one time (giving a double, null if it cannot be filled).
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct Interpolate {
    method: Method,
    name: &'static str,
    signature: Signature,
}

impl Interpolate {
    fn new(method: Method) -> Self {
        let (name, args) = match method {
            Method::Linear => ("interpolate_linear", 2),
            Method::Locf => ("interpolate_locf", 2),
            Method::Fill => ("interpolate_fill", 3),
            Method::Spline => ("interpolate_spline_cubic", 2),
        };
        Self { method, name, signature: Signature::any(args, Volatility::Immutable) }
    }

    /// What the method needs to know about one series beyond its points (the spline's second
    /// derivatives), computed once per row.
    fn prepare(&self, known: &[(i64, f64)]) -> Vec<f64> {
        match self.method {
            Method::Spline => spline_second_derivatives(known),
            _ => Vec::new(),
        }
    }

    fn value_at(&self, known: &[(i64, f64)], prepared: &[f64], at: i64, fill: Option<f64>) -> Option<f64> {
        match self.method {
            Method::Linear => interpolate(known, at),
            Method::Spline => spline_at(known, prepared, at),
            Method::Locf => {
                let i = known.partition_point(|(t, _)| *t <= at);
                i.checked_sub(1).map(|j| known[j].1)
            }
            Method::Fill => known.binary_search_by_key(&at, |(t, _)| *t).ok().map(|k| known[k].1).or(fill),
        }
    }
}

/// The time series type with double values, keeping the time field of `ts` (its zone).
fn double_series(ts: &DataType) -> Result<(Arc<Field>, Fields)> {
    let DataType::List(item) = ts else { return plan_err!("interpolation expects a time series, got {ts}") };
    let DataType::Struct(fields) = item.data_type() else {
        return plan_err!("interpolation expects a time series, got {ts}");
    };
    if fields.len() != 2 || !matches!(fields[0].data_type(), DataType::Timestamp(..)) {
        return plan_err!("interpolation expects a time series of (time, value), got {ts}");
    }
    let out_fields: Fields = vec![fields[0].as_ref().clone(), Field::new("value", DataType::Float64, true)].into();
    let item = Arc::new(Field::new(item.name(), DataType::Struct(out_fields.clone()), true));
    Ok((item, out_fields))
}

impl ScalarUDFImpl for Interpolate {
    fn name(&self) -> &str {
        self.name
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        let series = double_series(&args[0])?.0;
        Ok(if matches!(args[1], DataType::List(_)) { DataType::List(series) } else { DataType::Float64 })
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        let arrays = ColumnarValue::values_to_arrays(&args.args)?;
        let (item, fields) = double_series(arrays[0].data_type())?;
        let series = arrays[0].as_list::<i32>();
        let fill = match arrays.get(2) {
            Some(f) => Some(arrow_cast::cast(f, &DataType::Float64)?),
            None => None,
        };
        let fill_at = |row: usize| {
            fill.as_ref().and_then(|f| f.is_valid(row).then(|| f.as_primitive::<Float64Type>().value(row)))
        };
        let ns = DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None);
        let times = match arrays[1].data_type() {
            DataType::List(_) => arrays[1].as_list::<i32>().clone(),
            DataType::Timestamp(..) => {
                // The single-time form: one double per row.
                let at = arrow_cast::cast(&arrays[1], &ns)?;
                let at = at.as_primitive::<TimestampNanosecondType>();
                let out: Float64Array = (0..series.len())
                    .map(|row| {
                        if series.is_null(row) || at.is_null(row) {
                            return Ok(None);
                        }
                        let known = points_of(series, row)?;
                        Ok(self.value_at(&known, &self.prepare(&known), at.value(row), fill_at(row)))
                    })
                    .collect::<Result<_>>()?;
                return Ok(ColumnarValue::Array(Arc::new(out)));
            }
            other => return exec_err!("{} expects a timestamp or an array of timestamps, got {other}", self.name),
        };
        let mut out_time = Vec::new();
        let mut out_value = Vec::new();
        let mut lengths = Vec::with_capacity(series.len());
        for row in 0..series.len() {
            let before = out_time.len();
            if series.is_valid(row) && times.is_valid(row) {
                let known = points_of(series, row)?;
                let prepared = self.prepare(&known);
                let wanted = arrow_cast::cast(&times.value(row), &ns)?;
                let wanted = wanted.as_primitive::<TimestampNanosecondType>();
                for k in 0..wanted.len() {
                    if wanted.is_null(k) {
                        continue;
                    }
                    let at = wanted.value(k);
                    if let Some(value) = self.value_at(&known, &prepared, at, fill_at(row)) {
                        out_time.push(at);
                        out_value.push(value);
                    }
                }
            }
            lengths.push(out_time.len() - before);
        }
        Ok(ColumnarValue::Array(series_array(item, fields, out_time, out_value, lengths)?))
    }
}

/// The value at `at` on the line through the neighbouring known points (sorted by time).
fn interpolate(known: &[(i64, f64)], at: i64) -> Option<f64> {
    let i = known.partition_point(|(t, _)| *t < at);
    match (known.get(i), i.checked_sub(1).and_then(|j| known.get(j))) {
        (Some(&(t1, v1)), _) if t1 == at => Some(v1),
        (Some(&(t1, v1)), Some(&(t0, v0))) => Some(v0 + (v1 - v0) * (at - t0) as f64 / (t1 - t0) as f64),
        _ => None,
    }
}

/// The second derivatives of the natural cubic spline through `known` (zero at both ends),
/// with time in seconds from the first point so that the system stays well conditioned.
fn spline_second_derivatives(known: &[(i64, f64)]) -> Vec<f64> {
    let n = known.len();
    let mut m = vec![0.0; n];
    if n < 3 {
        return m;
    }
    let x: Vec<f64> = known.iter().map(|(t, _)| (t - known[0].0) as f64 / 1e9).collect();
    if x.windows(2).any(|w| w[1] <= w[0]) {
        // Two points at one time (a series made of several sensors): no spline; the caller
        // falls back to the line through the neighbours.
        return Vec::new();
    }
    let y: Vec<f64> = known.iter().map(|(_, v)| *v).collect();
    // Tridiagonal system for m[1..n-1] (Thomas algorithm).
    let mut diag = vec![0.0; n];
    let mut rhs = vec![0.0; n];
    for i in 1..n - 1 {
        let (h0, h1) = (x[i] - x[i - 1], x[i + 1] - x[i]);
        diag[i] = 2.0 * (h0 + h1);
        rhs[i] = 6.0 * ((y[i + 1] - y[i]) / h1 - (y[i] - y[i - 1]) / h0);
        if i > 1 {
            let w = h0 / diag[i - 1];
            diag[i] -= w * h0;
            rhs[i] -= w * rhs[i - 1];
        }
    }
    for i in (1..n - 1).rev() {
        let h1 = x[i + 1] - x[i];
        let next = if i + 1 < n - 1 { m[i + 1] } else { 0.0 };
        m[i] = (rhs[i] - h1 * next) / diag[i];
    }
    m
}

/// The value at `at` on the natural cubic spline through `known` with second derivatives `m`;
/// `None` outside the known time range, as for the other methods.
fn spline_at(known: &[(i64, f64)], m: &[f64], at: i64) -> Option<f64> {
    let i = known.partition_point(|(t, _)| *t < at);
    match known.get(i) {
        Some(&(t1, v1)) if t1 == at => return Some(v1),
        Some(_) if i > 0 => {}
        _ => return None,
    }
    if m.len() != known.len() {
        return interpolate(known, at);
    }
    let secs = |t: i64| (t - known[0].0) as f64 / 1e9;
    let (x0, x1, x) = (secs(known[i - 1].0), secs(known[i].0), secs(at));
    let (y0, y1, m0, m1) = (known[i - 1].1, known[i].1, m[i - 1], m[i]);
    let h = x1 - x0;
    let (a, b) = ((x1 - x) / h, (x - x0) / h);
    Some(a * y0 + b * y1 + ((a * a * a - a) * m0 + (b * b * b - b) * m1) * h * h / 6.0)
}
