//! Many readings as one Arrow `RecordBatch` in the canonical reading schema.
//!
//! Columns are built directly from decoded values (no intermediate rows), so batch decoding
//! runs at tens of millions of payloads per second.

use std::sync::Arc;

use arrow_array::builder::BooleanBufferBuilder;
use arrow_array::types::*;
use arrow_array::{
    Array, ArrayRef, ArrowPrimitiveType, BinaryArray, BinaryViewArray, BooleanArray, FixedSizeBinaryArray,
    LargeBinaryArray, LargeStringArray, PrimitiveArray, RecordBatch, StringArray, StringViewArray,
};
use arrow_buffer::{NullBuffer, OffsetBuffer, ScalarBuffer};
use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

use super::advertisement;
use super::reading::{Mac, Observation, Reading};
use crate::error::{DecodeError, Error, Result};

/// The timezone of every timestamp column this crate produces.
pub const UTC: &str = "UTC";

/// What batch decoding does with an input row it cannot decode.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnError {
    /// Stop and return [`Error::Decode`] naming the first bad row.
    #[default]
    Raise,
    /// Emit a row of nulls and describe the problem in an extra `error` column (null for rows
    /// that decoded).
    Null,
}

/// The canonical reading schema.
///
/// `context` appends `time` (timestamp[ns, UTC]), `rssi` (int16) and `gateway_mac` (utf8), which
/// readings from Gateway JSON and the simulator carry; `error` appends the utf8 `error` column of
/// [`OnError::Null`]. Every column is nullable.
pub fn reading_schema(context: bool, error: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new("mac", DataType::Utf8, true),
        Field::new("data_format", DataType::UInt8, true),
        Field::new("temperature", DataType::Float64, true),
        Field::new("humidity", DataType::Float64, true),
        Field::new("pressure", DataType::Float64, true),
        Field::new("acceleration_x", DataType::Float64, true),
        Field::new("acceleration_y", DataType::Float64, true),
        Field::new("acceleration_z", DataType::Float64, true),
        Field::new("battery_voltage", DataType::Float64, true),
        Field::new("tx_power", DataType::Int8, true),
        Field::new("movement_counter", DataType::UInt8, true),
        Field::new("measurement_sequence", DataType::UInt32, true),
        Field::new("pm1_0", DataType::Float64, true),
        Field::new("pm2_5", DataType::Float64, true),
        Field::new("pm4_0", DataType::Float64, true),
        Field::new("pm10_0", DataType::Float64, true),
        Field::new("co2", DataType::UInt16, true),
        Field::new("voc", DataType::UInt16, true),
        Field::new("nox", DataType::UInt16, true),
        Field::new("luminosity", DataType::Float64, true),
        Field::new("calibration_in_progress", DataType::Boolean, true),
    ];
    if context {
        fields.push(Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())), true));
        fields.push(Field::new("rssi", DataType::Int16, true));
        fields.push(Field::new("gateway_mac", DataType::Utf8, true));
    }
    if error {
        fields.push(Field::new("error", DataType::Utf8, true));
    }
    Arc::new(Schema::new(fields))
}

/// A nullable primitive column under construction.
struct Prim<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    valid: BooleanBufferBuilder,
    nulls: usize,
}

impl<T: ArrowPrimitiveType> Prim<T> {
    fn new(capacity: usize) -> Self {
        Self { values: Vec::with_capacity(capacity), valid: BooleanBufferBuilder::new(capacity), nulls: 0 }
    }

    #[inline(always)]
    fn push(&mut self, v: Option<T::Native>) {
        match v {
            Some(v) => {
                self.values.push(v);
                self.valid.append(true);
            }
            None => {
                self.values.push(T::Native::default());
                self.valid.append(false);
                self.nulls += 1;
            }
        }
    }

    fn finish(mut self) -> PrimitiveArray<T> {
        let nulls = (self.nulls > 0).then(|| NullBuffer::new(self.valid.finish()));
        PrimitiveArray::new(ScalarBuffer::from(self.values), nulls)
    }
}

/// A nullable boolean column under construction.
struct Bool {
    values: BooleanBufferBuilder,
    valid: BooleanBufferBuilder,
    nulls: usize,
}

impl Bool {
    fn new(capacity: usize) -> Self {
        Self { values: BooleanBufferBuilder::new(capacity), valid: BooleanBufferBuilder::new(capacity), nulls: 0 }
    }

    #[inline(always)]
    fn push(&mut self, v: Option<bool>) {
        self.values.append(v.unwrap_or(false));
        self.valid.append(v.is_some());
        self.nulls += usize::from(v.is_none());
    }

    fn finish(mut self) -> BooleanArray {
        let nulls = (self.nulls > 0).then(|| NullBuffer::new(self.valid.finish()));
        BooleanArray::new(self.values.finish(), nulls)
    }
}

/// A nullable utf8 column under construction.
struct Text {
    offsets: Vec<i32>,
    data: Vec<u8>,
    valid: BooleanBufferBuilder,
    nulls: usize,
}

impl Text {
    fn new(capacity: usize, bytes_per_row: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self {
            offsets,
            data: Vec::with_capacity(capacity * bytes_per_row),
            valid: BooleanBufferBuilder::new(capacity),
            nulls: 0,
        }
    }

    #[inline(always)]
    fn push_bytes(&mut self, v: Option<&[u8]>) {
        if let Some(s) = v {
            self.data.extend_from_slice(s);
        } else {
            self.nulls += 1;
        }
        self.valid.append(v.is_some());
        // Offsets are i32 by the utf8 layout; `finish` checks the total fits.
        self.offsets.push(self.data.len() as i32);
    }

    #[inline(always)]
    fn push_mac(&mut self, m: Option<Mac>) {
        match m {
            Some(m) => {
                let mut buf = [0u8; 17];
                let n = m.write_text(&mut buf);
                self.push_bytes(Some(&buf[..n]));
            }
            None => self.push_bytes(None),
        }
    }

    fn finish(mut self) -> Result<StringArray> {
        if i32::try_from(self.data.len()).is_err() {
            return Err(Error::InvalidArgument("text column larger than 2 GiB; decode in smaller batches".into()));
        }
        let nulls = (self.nulls > 0).then(|| NullBuffer::new(self.valid.finish()));
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        Ok(StringArray::try_new(offsets, self.data.into(), nulls)?)
    }
}

/// Builds a `RecordBatch` in the canonical reading schema, one row at a time.
///
/// ```
/// use ruuvistream::ruuvi::{decode_hex, ReadingsBuilder};
/// let mut b = ReadingsBuilder::new(false, false, 1);
/// b.push_reading(&decode_hex("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F").unwrap());
/// let batch = b.finish().unwrap();
/// assert_eq!(batch.num_rows(), 1);
/// assert_eq!(batch.schema().field(0).name(), "mac");
/// ```
pub struct ReadingsBuilder {
    context: bool,
    error_column: bool,
    mac: Text,
    data_format: Prim<UInt8Type>,
    temperature: Prim<Float64Type>,
    humidity: Prim<Float64Type>,
    pressure: Prim<Float64Type>,
    acceleration_x: Prim<Float64Type>,
    acceleration_y: Prim<Float64Type>,
    acceleration_z: Prim<Float64Type>,
    battery_voltage: Prim<Float64Type>,
    tx_power: Prim<Int8Type>,
    movement_counter: Prim<UInt8Type>,
    measurement_sequence: Prim<UInt32Type>,
    pm1_0: Prim<Float64Type>,
    pm2_5: Prim<Float64Type>,
    pm4_0: Prim<Float64Type>,
    pm10_0: Prim<Float64Type>,
    co2: Prim<UInt16Type>,
    voc: Prim<UInt16Type>,
    nox: Prim<UInt16Type>,
    luminosity: Prim<Float64Type>,
    calibration_in_progress: Bool,
    time: Prim<TimestampNanosecondType>,
    rssi: Prim<Int16Type>,
    gateway_mac: Text,
    error: Text,
}

impl ReadingsBuilder {
    /// A builder for the schema [`reading_schema`]`(context, error_column)`, with room for
    /// `capacity` rows.
    pub fn new(context: bool, error_column: bool, capacity: usize) -> Self {
        let ctx = if context { capacity } else { 0 };
        let err = if error_column { capacity } else { 0 };
        Self {
            context,
            error_column,
            mac: Text::new(capacity, 17),
            data_format: Prim::new(capacity),
            temperature: Prim::new(capacity),
            humidity: Prim::new(capacity),
            pressure: Prim::new(capacity),
            acceleration_x: Prim::new(capacity),
            acceleration_y: Prim::new(capacity),
            acceleration_z: Prim::new(capacity),
            battery_voltage: Prim::new(capacity),
            tx_power: Prim::new(capacity),
            movement_counter: Prim::new(capacity),
            measurement_sequence: Prim::new(capacity),
            pm1_0: Prim::new(capacity),
            pm2_5: Prim::new(capacity),
            pm4_0: Prim::new(capacity),
            pm10_0: Prim::new(capacity),
            co2: Prim::new(capacity),
            voc: Prim::new(capacity),
            nox: Prim::new(capacity),
            luminosity: Prim::new(capacity),
            calibration_in_progress: Bool::new(capacity),
            time: Prim::new(ctx),
            rssi: Prim::new(ctx),
            gateway_mac: Text::new(ctx, 17),
            error: Text::new(err, 0),
        }
    }

    /// The number of rows pushed so far.
    pub fn len(&self) -> usize {
        self.data_format.values.len()
    }

    /// Whether no row has been pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    #[inline(always)]
    fn push_fields(&mut self, r: Option<&Reading>) {
        self.mac.push_mac(r.and_then(|r| r.mac));
        self.data_format.push(r.map(|r| r.data_format.code()));
        self.temperature.push(r.and_then(|r| r.temperature));
        self.humidity.push(r.and_then(|r| r.humidity));
        self.pressure.push(r.and_then(|r| r.pressure));
        self.acceleration_x.push(r.and_then(|r| r.acceleration_x));
        self.acceleration_y.push(r.and_then(|r| r.acceleration_y));
        self.acceleration_z.push(r.and_then(|r| r.acceleration_z));
        self.battery_voltage.push(r.and_then(|r| r.battery_voltage));
        self.tx_power.push(r.and_then(|r| r.tx_power));
        self.movement_counter.push(r.and_then(|r| r.movement_counter));
        self.measurement_sequence.push(r.and_then(|r| r.measurement_sequence));
        self.pm1_0.push(r.and_then(|r| r.pm1_0));
        self.pm2_5.push(r.and_then(|r| r.pm2_5));
        self.pm4_0.push(r.and_then(|r| r.pm4_0));
        self.pm10_0.push(r.and_then(|r| r.pm10_0));
        self.co2.push(r.and_then(|r| r.co2));
        self.voc.push(r.and_then(|r| r.voc));
        self.nox.push(r.and_then(|r| r.nox));
        self.luminosity.push(r.and_then(|r| r.luminosity));
        self.calibration_in_progress.push(r.and_then(|r| r.calibration_in_progress));
    }

    #[inline(always)]
    fn push_context(&mut self, o: Option<&Observation>) {
        if self.context {
            self.time.push(o.and_then(|o| o.time_ns));
            self.rssi.push(o.and_then(|o| o.rssi));
            self.gateway_mac.push_mac(o.and_then(|o| o.gateway_mac));
        }
    }

    /// Appends a decoded reading (context columns, if any, are null).
    #[inline]
    pub fn push_reading(&mut self, r: &Reading) {
        self.push_fields(Some(r));
        self.push_context(None);
        if self.error_column {
            self.error.push_bytes(None);
        }
    }

    /// Appends a reading with its receive context.
    pub fn push_observation(&mut self, o: &Observation) {
        self.push_fields(Some(&o.reading));
        self.push_context(Some(o));
        if self.error_column {
            self.error.push_bytes(None);
        }
    }

    /// Appends a row of nulls, with `error` in the error column if the builder has one.
    pub fn push_null(&mut self, error: Option<&str>) {
        self.push_fields(None);
        self.push_context(None);
        if self.error_column {
            self.error.push_bytes(error.map(str::as_bytes));
        }
    }

    /// Finishes the batch.
    pub fn finish(self) -> Result<RecordBatch> {
        let schema = reading_schema(self.context, self.error_column);
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.mac.finish()?),
            Arc::new(self.data_format.finish()),
            Arc::new(self.temperature.finish()),
            Arc::new(self.humidity.finish()),
            Arc::new(self.pressure.finish()),
            Arc::new(self.acceleration_x.finish()),
            Arc::new(self.acceleration_y.finish()),
            Arc::new(self.acceleration_z.finish()),
            Arc::new(self.battery_voltage.finish()),
            Arc::new(self.tx_power.finish()),
            Arc::new(self.movement_counter.finish()),
            Arc::new(self.measurement_sequence.finish()),
            Arc::new(self.pm1_0.finish()),
            Arc::new(self.pm2_5.finish()),
            Arc::new(self.pm4_0.finish()),
            Arc::new(self.pm10_0.finish()),
            Arc::new(self.co2.finish()),
            Arc::new(self.voc.finish()),
            Arc::new(self.nox.finish()),
            Arc::new(self.luminosity.finish()),
            Arc::new(self.calibration_in_progress.finish()),
        ];
        if self.context {
            columns.push(Arc::new(self.time.finish().with_timezone(UTC)));
            columns.push(Arc::new(self.rssi.finish()));
            columns.push(Arc::new(self.gateway_mac.finish()?));
        }
        if self.error_column {
            columns.push(Arc::new(self.error.finish()?));
        }
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// Decodes every item with `decode_one`, into one batch. `None` items (null inputs) give rows
/// of nulls without an error.
fn decode_with<T>(
    items: impl Iterator<Item = Option<T>>,
    capacity: usize,
    on_error: OnError,
    mut decode_one: impl FnMut(T) -> Result<Reading, DecodeError>,
) -> Result<RecordBatch> {
    let mut b = ReadingsBuilder::new(false, on_error == OnError::Null, capacity);
    for (row, item) in items.enumerate() {
        match item.map(&mut decode_one) {
            Some(Ok(r)) => b.push_reading(&r),
            None => b.push_null(None),
            Some(Err(e)) => match on_error {
                OnError::Raise => return Err(Error::Decode { row, source: e }),
                OnError::Null => b.push_null(Some(&e.to_string())),
            },
        }
    }
    b.finish()
}

/// Decodes many binary inputs (each in any shape [`decode`](super::decode) accepts) into one
/// batch in the canonical schema.
///
/// ```
/// use ruuvistream::ruuvi::{decode_many, hex_to_bytes, OnError};
/// let p = hex_to_bytes("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F").unwrap();
/// let batch = decode_many(&[p.as_slice(), &[0x05, 0x01]], OnError::Null).unwrap();
/// assert_eq!(batch.num_rows(), 2);
/// assert_eq!(batch.column_by_name("error").unwrap().null_count(), 1);
/// ```
pub fn decode_many<B: AsRef<[u8]>>(payloads: &[B], on_error: OnError) -> Result<RecordBatch> {
    decode_with(payloads.iter().map(|p| Some(p.as_ref())), payloads.len(), on_error, advertisement::decode)
}

/// Decodes many hex strings (each in any shape [`decode_hex`](super::decode_hex) accepts) into
/// one batch in the canonical schema.
pub fn decode_many_hex<S: AsRef<str>>(payloads: &[S], on_error: OnError) -> Result<RecordBatch> {
    decode_with(payloads.iter().map(|p| Some(p.as_ref())), payloads.len(), on_error, advertisement::decode_hex)
}

/// Decodes an Arrow array of payloads: binary (any binary type: bytes in any shape) or string
/// (any string type: hex). Null entries give rows of nulls.
pub fn decode_array(array: &dyn Array, on_error: OnError) -> Result<RecordBatch> {
    let n = array.len();
    let any = array.as_any();
    macro_rules! run {
        ($ty:ty, $f:expr) => {{
            let a = any.downcast_ref::<$ty>().expect("data type checked above");
            decode_with(a.iter(), n, on_error, $f)
        }};
    }
    match array.data_type() {
        DataType::Binary => run!(BinaryArray, advertisement::decode),
        DataType::LargeBinary => run!(LargeBinaryArray, advertisement::decode),
        DataType::BinaryView => run!(BinaryViewArray, advertisement::decode),
        DataType::FixedSizeBinary(_) => run!(FixedSizeBinaryArray, advertisement::decode),
        DataType::Utf8 => run!(StringArray, advertisement::decode_hex),
        DataType::LargeUtf8 => run!(LargeStringArray, advertisement::decode_hex),
        DataType::Utf8View => run!(StringViewArray, advertisement::decode_hex),
        other => Err(Error::InvalidArgument(format!(
            "payloads must be a binary array (raw bytes) or a string array (hex), not {other}"
        ))),
    }
}

/// Decodes the chunks of a chunked array ([`decode_array`] on each), numbering rows across
/// chunks so that an error names its row in the whole input.
pub fn decode_chunks(chunks: &[ArrayRef], on_error: OnError) -> Result<Vec<RecordBatch>> {
    let mut offset = 0;
    let mut out = Vec::with_capacity(chunks.len());
    for chunk in chunks {
        let batch = decode_array(chunk.as_ref(), on_error).map_err(|e| match e {
            Error::Decode { row, source } => Error::Decode { row: row + offset, source },
            other => other,
        })?;
        offset += chunk.len();
        out.push(batch);
    }
    Ok(out)
}

/// Puts observations (readings with receive context) into one batch of the context schema.
pub fn observations_to_batch(observations: &[Observation]) -> Result<RecordBatch> {
    let mut b = ReadingsBuilder::new(true, false, observations.len());
    for o in observations {
        b.push_observation(o);
    }
    b.finish()
}
