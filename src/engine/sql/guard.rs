//! DataFusion's functions that can produce far more than they are given — `repeat('x',
//! 1500000000)`, `range(1, 1e9)`, `lpad(s, 1e9)` — wrapped so that what a call would produce is
//! bounded before anything is allocated, and the `range` and `generate_series` table functions
//! held to the series limit. Everything else about each function (types, names, simplification)
//! is the original's.

use std::any::Any;
use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Int64Type, IntervalMonthDayNanoType};
use arrow_array::{Array, ArrayRef};
use arrow_schema::{DataType, FieldRef};
use datafusion::catalog::{TableFunctionArgs, TableFunctionImpl, TableProvider};
use datafusion::common::config::ConfigOptions;
use datafusion::common::{Result, exec_err, plan_err};
use datafusion::execution::SessionState;
use datafusion::functions_table::generate_series::GenerateSeriesTable;
use datafusion::logical_expr::simplify::{ExprSimplifyResult, SimplifyContext};
use datafusion::logical_expr::sort_properties::{ExprProperties, SortProperties};
use datafusion::logical_expr::{
    ColumnarValue, Documentation, Expr, ReturnFieldArgs, ScalarFunctionArgs, ScalarUDF, ScalarUDFImpl, Signature,
};

use crate::engine::query::MAX_SERIES_ENTRIES;

/// `levenshtein` may compare at most this many character pairs in one batch (its work grows with
/// the product of the lengths).
pub const MAX_LEVENSHTEIN_PAIRS: usize = 100_000_000;

/// Which bound a wrapped function keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Bound {
    /// `repeat(s, n)`: n copies of s.
    Repeat,
    /// `lpad(s, n[, fill])`, `rpad`: n characters.
    Pad,
    /// `replace(s, from, to)`: every `from` becomes `to`.
    Replace,
    /// `regexp_replace(s, pattern, replacement[, flags])`: matches become the replacement, whose
    /// group references repeat matched text.
    RegexpReplace,
    /// `range(...)`, `generate_series(...)`: a list from start to stop by step.
    Series,
    /// `array_repeat(x, n)`: a list of n copies of x.
    ArrayRepeat,
    /// `array_resize(list, n[, fill])`: a list of n entries.
    ArrayResize,
    /// `levenshtein(a, b)`: work, not memory.
    Levenshtein,
    /// Functions whose output is at most this many times the size of all their arguments
    /// (`concat`, `upper`, `make_array`, …): cheap alone, but a query can call them on the
    /// same large value thousands of times over.
    Copies(usize),
}

/// The functions this module bounds, by their DataFusion names.
const BOUNDED: &[(&str, Bound)] = &[
    ("repeat", Bound::Repeat),
    ("lpad", Bound::Pad),
    ("rpad", Bound::Pad),
    ("replace", Bound::Replace),
    ("regexp_replace", Bound::RegexpReplace),
    ("range", Bound::Series),
    ("generate_series", Bound::Series),
    ("array_repeat", Bound::ArrayRepeat),
    ("array_resize", Bound::ArrayResize),
    ("levenshtein", Bound::Levenshtein),
    ("concat", Bound::Copies(1)),
    ("concat_ws", Bound::Copies(2)),
    ("upper", Bound::Copies(3)),
    ("lower", Bound::Copies(3)),
    ("initcap", Bound::Copies(3)),
    ("translate", Bound::Copies(4)),
    ("overlay", Bound::Copies(1)),
    ("string_to_array", Bound::Copies(9)),
    ("make_array", Bound::Copies(1)),
    ("array_concat", Bound::Copies(1)),
    ("array_append", Bound::Copies(1)),
    ("array_prepend", Bound::Copies(1)),
    ("flatten", Bound::Copies(1)),
];

/// Whether `name` (as written in SQL, any case) calls a function this module bounds.
pub fn is_bounded(name: &str) -> bool {
    BOUNDED.iter().any(|(n, _)| n.eq_ignore_ascii_case(name))
}

/// Table functions by name.
pub type TableFunctions = Vec<(String, Arc<dyn TableFunctionImpl>)>;

/// DataFusion's functions that this module bounds, as a session registered them.
#[derive(Debug)]
pub struct Guards {
    originals: Vec<(Arc<dyn ScalarUDFImpl>, Bound)>,
    tables: TableFunctions,
}

impl Guards {
    /// The functions to bound, taken from `state`'s registry (DataFusion's own).
    pub fn from_registry(state: &SessionState) -> Self {
        let originals = BOUNDED
            .iter()
            .filter_map(|(name, bound)| Some((state.scalar_functions().get(*name)?.inner().clone(), *bound)))
            .collect();
        let tables = ["range", "generate_series"]
            .iter()
            .filter_map(|name| {
                let f = state.table_functions().get(*name)?;
                let bounded: Arc<dyn TableFunctionImpl> = Arc::new(BoundedSeriesTable { inner: f.function().clone() });
                Some((name.to_string(), bounded))
            })
            .collect();
        Self { originals, tables }
    }

    /// The bounded scalar functions, each call of which may produce at most `budget` bytes for a
    /// batch of rows, to register in place of DataFusion's.
    pub fn scalars(&self, budget: usize) -> Vec<ScalarUDF> {
        self.originals
            .iter()
            .map(|(inner, bound)| ScalarUDF::new_from_impl(Guarded { inner: inner.clone(), bound: *bound, budget }))
            .collect()
    }

    /// The bounded table functions, to register in place of DataFusion's.
    pub fn tables(&self) -> &TableFunctions {
        &self.tables
    }
}

/// A function with a check of what a call would produce, made before the call.
#[derive(Debug)]
struct Guarded {
    inner: Arc<dyn ScalarUDFImpl>,
    bound: Bound,
    /// Bytes one call may produce for a batch of rows.
    budget: usize,
}

impl PartialEq for Guarded {
    fn eq(&self, other: &Self) -> bool {
        self.bound == other.bound && self.budget == other.budget && self.inner.dyn_eq(other.inner.as_ref() as &dyn Any)
    }
}

impl Eq for Guarded {}

impl std::hash::Hash for Guarded {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.bound.hash(state);
        self.budget.hash(state);
        self.inner.dyn_hash(state);
    }
}

impl ScalarUDFImpl for Guarded {
    fn name(&self) -> &str {
        self.inner.name()
    }

    fn aliases(&self) -> &[String] {
        self.inner.aliases()
    }

    fn schema_name(&self, args: &[Expr]) -> Result<String> {
        self.inner.schema_name(args)
    }

    fn signature(&self) -> &Signature {
        self.inner.signature()
    }

    fn return_type(&self, arg_types: &[DataType]) -> Result<DataType> {
        self.inner.return_type(arg_types)
    }

    fn return_field_from_args(&self, args: ReturnFieldArgs) -> Result<FieldRef> {
        self.inner.return_field_from_args(args)
    }

    fn with_updated_config(&self, config: &ConfigOptions) -> Option<ScalarUDF> {
        let updated = self.inner.with_updated_config(config)?;
        Some(ScalarUDF::new_from_impl(Guarded {
            inner: updated.inner().clone(),
            bound: self.bound,
            budget: self.budget,
        }))
    }

    fn is_strict(&self) -> bool {
        self.inner.is_strict()
    }

    fn invoke_with_args(&self, args: ScalarFunctionArgs) -> Result<ColumnarValue> {
        check(self.inner.name(), self.bound, self.budget, &args.args, args.number_rows)?;
        self.inner.invoke_with_args(args)
    }

    fn simplify(&self, args: Vec<Expr>, info: &SimplifyContext) -> Result<ExprSimplifyResult> {
        self.inner.simplify(args, info)
    }

    fn short_circuits(&self) -> bool {
        self.inner.short_circuits()
    }

    fn output_ordering(&self, inputs: &[ExprProperties]) -> Result<SortProperties> {
        self.inner.output_ordering(inputs)
    }

    fn preserves_lex_ordering(&self, inputs: &[ExprProperties]) -> Result<bool> {
        self.inner.preserves_lex_ordering(inputs)
    }

    fn coerce_types(&self, arg_types: &[DataType]) -> Result<Vec<DataType>> {
        self.inner.coerce_types(arg_types)
    }

    fn documentation(&self) -> Option<&Documentation> {
        self.inner.documentation()
    }
}

/// The byte length of every value of a string or binary argument (0 for nulls); `None` for
/// other types.
fn byte_lengths(a: &ArrayRef) -> Option<Vec<usize>> {
    Some(match a.data_type() {
        DataType::Utf8 => a.as_string::<i32>().iter().map(|s| s.map_or(0, str::len)).collect(),
        DataType::LargeUtf8 => a.as_string::<i64>().iter().map(|s| s.map_or(0, str::len)).collect(),
        DataType::Utf8View => a.as_string_view().iter().map(|s| s.map_or(0, str::len)).collect(),
        DataType::Binary => a.as_binary::<i32>().iter().map(|s| s.map_or(0, <[u8]>::len)).collect(),
        DataType::LargeBinary => a.as_binary::<i64>().iter().map(|s| s.map_or(0, <[u8]>::len)).collect(),
        DataType::BinaryView => a.as_binary_view().iter().map(|s| s.map_or(0, <[u8]>::len)).collect(),
        DataType::Null => vec![0; a.len()],
        _ => return None,
    })
}

/// Every value of an integer argument (`None` for nulls and for arguments that are not
/// integers).
fn integers(a: &ArrayRef) -> Vec<Option<i64>> {
    match arrow_cast::cast(a, &DataType::Int64) {
        Ok(c) if a.data_type().is_integer() || a.data_type() == &DataType::Null => {
            c.as_primitive::<Int64Type>().iter().collect()
        }
        _ => vec![None; a.len()],
    }
}

/// Adds up `per_row` and fails once the total passes `limit` (of `what`: bytes, or another
/// unit).
fn total(name: &str, per_row: impl Iterator<Item = u128>, limit: usize, what: &str) -> Result<()> {
    let mut sum: u128 = 0;
    for n in per_row {
        sum = sum.saturating_add(n);
        if sum > limit as u128 {
            let amount = if what == "bytes" { human(limit) } else { format!("{} {what}", human(limit)) };
            return exec_err!(
                "{name} would produce more than {amount} for one batch of rows, the most the engine lets one call \
                 produce"
            );
        }
    }
    Ok(())
}

/// `134217728` as `128 MiB`, other numbers with thousands separators.
fn human(n: usize) -> String {
    if n >= 1 << 20 && n.is_multiple_of(1 << 20) {
        return format!("{} MiB", n >> 20);
    }
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// Checks a call of a bounded function on `args` (for `rows` rows) before it runs: it may
/// produce at most `budget` bytes.
fn check(name: &str, bound: Bound, budget: usize, args: &[ColumnarValue], rows: usize) -> Result<()> {
    let arrays = ColumnarValue::values_to_arrays(args)?;
    let arg = |i: usize| arrays.get(i);
    let lengths = |i: usize| arg(i).and_then(byte_lengths).unwrap_or_else(|| vec![0; rows]);
    let bytes = budget;
    match bound {
        Bound::Repeat => {
            let (s, n) = (lengths(0), arg(1).map(integers).unwrap_or_default());
            total(name, s.iter().zip(&n).map(|(l, n)| *l as u128 * n.unwrap_or(0).max(0) as u128), bytes, "bytes")
        }
        Bound::Pad => {
            // n counts characters, up to 4 bytes each.
            let n = arg(1).map(integers).unwrap_or_default();
            total(name, n.iter().map(|n| 4 * n.unwrap_or(0).max(0) as u128), bytes, "bytes")
        }
        Bound::Replace => {
            let (s, from, to) = (lengths(0), lengths(1), lengths(2));
            let per_row = (0..s.len()).map(|i| {
                let matches = s[i] / from.get(i).copied().unwrap_or(1).max(1) + 1;
                s[i] as u128 + matches as u128 * to.get(i).copied().unwrap_or(0) as u128
            });
            total(name, per_row, bytes, "bytes")
        }
        Bound::RegexpReplace => {
            // At most len + 1 matches, each replaced by the replacement's literal text, and
            // group references (two or more characters each) that together repeat at most
            // the whole input once per reference.
            let (s, r) = (lengths(0), lengths(2));
            let per_row = (0..s.len()).map(|i| {
                let (len, repl) = (s[i] as u128, r.get(i).copied().unwrap_or(0) as u128);
                len + (len + 1) * repl + repl / 2 * len
            });
            total(name, per_row, bytes, "bytes")
        }
        Bound::Series => {
            let counts = series_counts(&arrays)?;
            series_limit(name, &counts)?;
            total(name, counts.iter().map(|c| *c as u128 * 8), bytes, "bytes")
        }
        Bound::ArrayRepeat => {
            let n: Vec<usize> =
                arg(1).map(integers).unwrap_or_default().iter().map(|n| n.unwrap_or(0).max(0) as usize).collect();
            series_limit(name, &n)?;
            let item = arg(0).map_or(8, |a| a.to_data().get_slice_memory_size().unwrap_or(0) / a.len().max(1) + 1);
            total(name, n.iter().map(|n| (*n * item) as u128), bytes, "bytes")
        }
        Bound::ArrayResize => {
            let n: Vec<usize> =
                arg(1).map(integers).unwrap_or_default().iter().map(|n| n.unwrap_or(0).max(0) as usize).collect();
            series_limit(name, &n)?;
            total(name, n.iter().map(|n| *n as u128 * 16), bytes, "bytes")
        }
        Bound::Copies(factor) => {
            let sizes = arrays.iter().map(|a| a.to_data().get_slice_memory_size().unwrap_or(0) as u128);
            total(name, sizes.map(|b| b * factor as u128), bytes, "bytes")
        }
        Bound::Levenshtein => {
            let (a, b) = (lengths(0), lengths(1));
            total(name, a.iter().zip(&b).map(|(x, y)| *x as u128 * *y as u128), MAX_LEVENSHTEIN_PAIRS, "comparisons")
        }
    }
}

/// Fails when any row would get more than [`MAX_SERIES_ENTRIES`] entries.
fn series_limit(name: &str, counts: &[usize]) -> Result<()> {
    match counts.iter().max() {
        Some(&n) if n > MAX_SERIES_ENTRIES => {
            exec_err!("{name} would produce {} entries; the limit is {}", human(n), human(MAX_SERIES_ENTRIES))
        }
        _ => Ok(()),
    }
}

/// How many entries `range`/`generate_series` would give each row, at most (integers: exact;
/// dates and timestamps: with the shortest length the step's months and days can have).
fn series_counts(arrays: &[ArrayRef]) -> Result<Vec<usize>> {
    let rows = arrays.first().map_or(0, |a| a.len());
    let temporal = arrays.first().is_some_and(|a| matches!(a.data_type(), DataType::Timestamp(..) | DataType::Date32));
    if !temporal {
        let ints: Vec<Vec<Option<i64>>> = arrays.iter().map(integers).collect();
        return Ok((0..rows)
            .map(|i| {
                let (start, stop, step) = match ints.as_slice() {
                    [stop] => (Some(0), stop[i], Some(1)),
                    [start, stop] => (start[i], stop[i], Some(1)),
                    [start, stop, step, ..] => (start[i], stop[i], step[i]),
                    [] => (None, None, None),
                };
                match (start, stop, step) {
                    (Some(a), Some(b), Some(s)) if s != 0 => {
                        let span = i128::from(b) - i128::from(a);
                        if span.signum() * i128::from(s.signum()) < 0 {
                            0
                        } else {
                            (span / i128::from(s) + 1).min(usize::MAX as i128) as usize
                        }
                    }
                    _ => 0,
                }
            })
            .collect());
    }
    let ns = |a: &ArrayRef| -> Result<Vec<Option<i64>>> {
        let t = arrow_cast::cast(a, &DataType::Timestamp(arrow_schema::TimeUnit::Nanosecond, None))?;
        let t = arrow_cast::cast(&t, &DataType::Int64)?;
        Ok(t.as_primitive::<Int64Type>().iter().collect())
    };
    let (Some(start), Some(stop), Some(step)) = (arrays.first(), arrays.get(1), arrays.get(2)) else {
        return Ok(vec![0; rows]);
    };
    let (start, stop) = (ns(start)?, ns(stop)?);
    let step = match step.data_type() {
        DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano) => step.clone(),
        _ => arrow_cast::cast(step, &DataType::Interval(arrow_schema::IntervalUnit::MonthDayNano))?,
    };
    let step = step.as_primitive::<IntervalMonthDayNanoType>();
    const DAY: i128 = 86_400_000_000_000;
    (0..rows)
        .map(|i| {
            let (Some(a), Some(b), true) = (start[i], stop[i], step.is_valid(i)) else { return Ok(0) };
            let s = step.value(i);
            let parts = [i128::from(s.months), i128::from(s.days), i128::from(s.nanoseconds)];
            if parts.iter().any(|p| *p > 0) && parts.iter().any(|p| *p < 0) {
                return plan_err!("a series step cannot mix positive and negative parts");
            }
            // The shortest a step can be: months of 28 days, days of 23 hours.
            let shortest = parts[0] * 28 * DAY + parts[1] * (DAY - DAY / 24) + parts[2];
            if shortest == 0 {
                return Ok(0);
            }
            let span = i128::from(b) - i128::from(a);
            if span.signum() * shortest.signum() < 0 {
                return Ok(0);
            }
            Ok((span / shortest + 1).min(usize::MAX as i128) as usize)
        })
        .collect()
}

/// `range(...)` and `generate_series(...)` as tables: at most [`MAX_SERIES_ENTRIES`] rows,
/// checked when the query is planned by counting the rows the generator would give.
#[derive(Debug)]
struct BoundedSeriesTable {
    inner: Arc<dyn TableFunctionImpl>,
}

impl TableFunctionImpl for BoundedSeriesTable {
    fn call_with_args(&self, args: TableFunctionArgs) -> Result<Arc<dyn TableProvider>> {
        let table = self.inner.call_with_args(args)?;
        if let Some(series) = (table.as_ref() as &dyn Any).downcast_ref::<GenerateSeriesTable>() {
            let generator = series.as_generator(MAX_SERIES_ENTRIES + 1)?;
            let mut rows = 0;
            while let Some(batch) = generator.write().generate_next_batch()? {
                rows += batch.num_rows();
                if rows > MAX_SERIES_ENTRIES {
                    return plan_err!(
                        "a series table would have more than {} rows; the limit is {}",
                        human(MAX_SERIES_ENTRIES),
                        human(MAX_SERIES_ENTRIES)
                    );
                }
            }
        }
        Ok(table)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_read_as_people_write_them() {
        assert_eq!(human(crate::engine::query::MAX_GENERATED_BYTES), "128 MiB");
        assert_eq!(human(10_000), "10,000");
        assert_eq!(human(999), "999");
        assert_eq!(human(1_234_567), "1,234,567");
    }
}
