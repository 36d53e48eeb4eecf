//! `CREATE_TIME_SERIES(time, value)`: an aggregate that collects each group's (time, value)
//! points and sorts them by time once, at the end. (As an ordered `array_agg` of structs it
//! spent seconds per million rows in DataFusion's general ordered aggregation.)
//!
//! Points are remembered as (time, batch, row) references into the value arrays they came in,
//! so collecting copies nothing; the values are gathered with one `interleave` per result.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Int64Type;
use arrow_array::{Array, ArrayRef, BooleanArray, ListArray, StructArray, TimestampNanosecondArray};
use arrow_buffer::OffsetBuffer;
use arrow_schema::{DataType, Field, FieldRef, Fields, TimeUnit};
use datafusion::common::{Result, ScalarValue, plan_err};
use datafusion::logical_expr::function::AccumulatorArgs;
use datafusion::logical_expr::{
    Accumulator, AggregateUDF, AggregateUDFImpl, EmitTo, GroupsAccumulator, Signature, Volatility,
};

/// The aggregate to register on a session.
pub fn create_time_series() -> AggregateUDF {
    AggregateUDF::from(CreateTimeSeries { signature: Signature::any(2, Volatility::Immutable) })
}

/// `CREATE_TIME_SERIES(time, value)`.
#[derive(Debug, PartialEq, Eq, Hash)]
pub struct CreateTimeSeries {
    signature: Signature,
}

/// The time series type for values of type `value`: `list<struct<time: timestamp[ns, tz], value>>`.
fn series_type(time: &DataType, value: &DataType) -> Result<DataType> {
    let tz = match time {
        DataType::Timestamp(_, tz) => tz.clone(),
        other => return plan_err!("CREATE_TIME_SERIES takes a timestamp first, got {other}"),
    };
    let fields = Fields::from(vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, tz), true),
        Field::new("value", value.clone(), true),
    ]);
    Ok(DataType::List(Arc::new(Field::new("item", DataType::Struct(fields), true))))
}

impl AggregateUDFImpl for CreateTimeSeries {
    fn name(&self) -> &str {
        "create_time_series"
    }

    fn signature(&self) -> &Signature {
        &self.signature
    }

    fn return_type(&self, args: &[DataType]) -> Result<DataType> {
        series_type(&args[0], &args[1])
    }

    fn accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn Accumulator>> {
        Ok(Box::new(SeriesAccumulator(Points::new(args.return_field.data_type())?)))
    }

    fn groups_accumulator_supported(&self, _args: AccumulatorArgs) -> bool {
        true
    }

    fn create_groups_accumulator(&self, args: AccumulatorArgs) -> Result<Box<dyn GroupsAccumulator>> {
        Ok(Box::new(Points::new(args.return_field.data_type())?))
    }
}

/// Points of every group: per group, (time ns, source array, row in it).
#[derive(Debug)]
struct Points {
    item: FieldRef,
    fields: Fields,
    /// The value arrays the points refer to.
    sources: Vec<ArrayRef>,
    groups: Vec<Vec<(i64, u32, u32)>>,
}

impl Points {
    fn new(output: &DataType) -> Result<Self> {
        let DataType::List(item) = output else { return plan_err!("a time series is a list, got {output}") };
        let DataType::Struct(fields) = item.data_type() else {
            return plan_err!("a time series holds structs, got {output}");
        };
        Ok(Self { item: item.clone(), fields: fields.clone(), sources: Vec::new(), groups: Vec::new() })
    }

    /// Adds the points of `times` and `values` (rows where both are non-null and the filter
    /// passes) to their groups.
    fn add(
        &mut self,
        times: &ArrayRef,
        values: &ArrayRef,
        group_of: impl Fn(usize) -> usize,
        filter: Option<&BooleanArray>,
        groups: usize,
    ) -> Result<()> {
        if self.groups.len() < groups {
            self.groups.resize_with(groups, Vec::new);
        }
        let ns = arrow_cast::cast(times, &DataType::Timestamp(TimeUnit::Nanosecond, None))?;
        let ns = arrow_cast::cast(&ns, &DataType::Int64)?;
        let ns = ns.as_primitive::<Int64Type>();
        let source = self.sources.len() as u32;
        self.sources.push(values.clone());
        for row in 0..values.len() {
            if ns.is_null(row) || values.is_null(row) || filter.is_some_and(|f| !f.is_valid(row) || !f.value(row)) {
                continue;
            }
            self.groups[group_of(row)].push((ns.value(row), source, row as u32));
        }
        Ok(())
    }

    /// Adds the points of time series (a list array, one per row) to their groups.
    fn merge(&mut self, series: &ArrayRef, group_of: impl Fn(usize) -> usize, groups: usize) -> Result<()> {
        let list = series.as_list::<i32>();
        let points = list.values().as_struct();
        let offsets = list.value_offsets();
        let (base, end) = (offsets[0] as usize, offsets[list.len()] as usize);
        let row_of_point: Vec<usize> = (0..list.len())
            .flat_map(|row| std::iter::repeat_n(row, (offsets[row + 1] - offsets[row]) as usize))
            .collect();
        let times = points.column(0).slice(base, end - base);
        let values = points.column(1).slice(base, end - base);
        self.add(&times, &values, |k| group_of(row_of_point[k]), None, groups)
    }

    /// Forgets the value arrays once no group refers to them.
    fn release(&mut self) {
        if self.groups.iter().all(Vec::is_empty) {
            self.sources.clear();
        }
    }

    /// The time series of the first `n` groups (or all), removing them.
    fn emit(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let taken = emit_to.take_needed(&mut self.groups);
        let mut lengths = Vec::with_capacity(taken.len());
        let mut times = Vec::new();
        let mut picks = Vec::new();
        for mut points in taken {
            points.sort_by_key(|p| p.0);
            lengths.push(points.len());
            for (t, source, row) in points {
                times.push(t);
                picks.push((source as usize, row as usize));
            }
        }
        let tz = match self.fields[0].data_type() {
            DataType::Timestamp(_, tz) => tz.clone(),
            _ => None,
        };
        let sources: Vec<&dyn Array> = self.sources.iter().map(|a| a.as_ref()).collect();
        let values = if picks.is_empty() {
            arrow_array::new_empty_array(self.fields[1].data_type())
        } else {
            datafusion::arrow::compute::interleave(&sources, &picks)?
        };
        let values = if values.data_type() == self.fields[1].data_type() {
            values
        } else {
            arrow_cast::cast(&values, self.fields[1].data_type())?
        };
        let time: ArrayRef = Arc::new(TimestampNanosecondArray::from(times).with_timezone_opt(tz));
        let points = StructArray::try_new(self.fields.clone(), vec![time, values], None)?;
        Ok(Arc::new(ListArray::try_new(
            self.item.clone(),
            OffsetBuffer::from_lengths(lengths),
            Arc::new(points),
            None,
        )?))
    }

    fn bytes(&self) -> usize {
        self.groups.iter().map(|g| g.capacity() * 16).sum::<usize>()
            + self.sources.iter().map(|a| a.get_array_memory_size()).sum::<usize>()
    }
}

impl GroupsAccumulator for Points {
    fn update_batch(
        &mut self,
        values: &[ArrayRef],
        group_indices: &[usize],
        opt_filter: Option<&BooleanArray>,
        total_num_groups: usize,
    ) -> Result<()> {
        self.add(&values[0], &values[1], |row| group_indices[row], opt_filter, total_num_groups)
    }

    fn evaluate(&mut self, emit_to: EmitTo) -> Result<ArrayRef> {
        let out = self.emit(emit_to);
        self.release();
        out
    }

    fn state(&mut self, emit_to: EmitTo) -> Result<Vec<ArrayRef>> {
        Ok(vec![self.evaluate(emit_to)?])
    }

    fn merge_batch(&mut self, values: &[ArrayRef], group_indices: &[usize], total_num_groups: usize) -> Result<()> {
        self.merge(&values[0], |row| group_indices[row], total_num_groups)
    }

    fn convert_to_state(&self, values: &[ArrayRef], opt_filter: Option<&BooleanArray>) -> Result<Vec<ArrayRef>> {
        // Each row on its own: a series of its one point (or none).
        let mut one =
            Points { item: self.item.clone(), fields: self.fields.clone(), sources: Vec::new(), groups: Vec::new() };
        one.add(&values[0], &values[1], |row| row, opt_filter, values[0].len())?;
        Ok(vec![one.emit(EmitTo::All)?])
    }

    fn size(&self) -> usize {
        self.bytes()
    }
}

/// The same for one group (no GROUP BY, or a window).
#[derive(Debug)]
struct SeriesAccumulator(Points);

impl Accumulator for SeriesAccumulator {
    fn update_batch(&mut self, values: &[ArrayRef]) -> Result<()> {
        self.0.add(&values[0], &values[1], |_| 0, None, 1)
    }

    fn evaluate(&mut self) -> Result<ScalarValue> {
        // Evaluation may be asked for more than once (in a window): keep the points.
        let kept = if self.0.groups.is_empty() { vec![Vec::new()] } else { self.0.groups.clone() };
        self.0.groups = kept.clone();
        let series = self.0.emit(EmitTo::All)?;
        self.0.groups = kept;
        Ok(ScalarValue::List(Arc::new(series.as_list::<i32>().clone())))
    }

    fn size(&self) -> usize {
        self.0.bytes()
    }

    fn state(&mut self) -> Result<Vec<ScalarValue>> {
        Ok(vec![self.evaluate()?])
    }

    fn merge_batch(&mut self, states: &[ArrayRef]) -> Result<()> {
        self.0.merge(&states[0], |_| 0, 1)
    }
}
