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

use super::reading::{Mac, Observation, Reading};
use super::{advertisement, hex, url};
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

/// A validity bitmap that is only built once a null appears: columns without nulls (most of
/// them, for good data) never touch it.
#[derive(Default)]
struct Validity {
    bits: Option<BooleanBufferBuilder>,
}

impl Validity {
    /// Records one row; `len` is the number of rows before it.
    #[inline(always)]
    fn push(&mut self, valid: bool, len: usize) {
        match (&mut self.bits, valid) {
            (Some(bits), v) => bits.append(v),
            (None, true) => {}
            (None, false) => {
                let mut bits = BooleanBufferBuilder::new((len + 1).max(1024));
                bits.append_n(len, true);
                bits.append(false);
                self.bits = Some(bits);
            }
        }
    }

    fn finish(self) -> Option<NullBuffer> {
        self.bits.map(|mut b| NullBuffer::new(b.finish()))
    }
}

/// A nullable primitive column under construction. While every row so far is null (a column the
/// format lacks), nothing is stored but the count.
struct Prim<T: ArrowPrimitiveType> {
    values: Vec<T::Native>,
    validity: Validity,
    len: usize,
    nulls: usize,
    capacity: usize,
}

impl<T: ArrowPrimitiveType> Prim<T> {
    fn new(capacity: usize) -> Self {
        Self { values: Vec::new(), validity: Validity::default(), len: 0, nulls: 0, capacity }
    }

    #[inline(always)]
    fn push(&mut self, v: Option<T::Native>) {
        if self.nulls == self.len {
            // All null so far (or empty).
            match v {
                None => self.nulls += 1,
                Some(x) => {
                    self.values.reserve(self.capacity.max(self.len + 1));
                    self.values.resize(self.len, T::Native::default());
                    if self.len > 0 {
                        let mut bits = BooleanBufferBuilder::new(self.capacity.max(self.len + 1));
                        bits.append_n(self.len, false);
                        self.validity.bits = Some(bits);
                    }
                    self.values.push(x);
                    self.validity.push(true, self.len);
                }
            }
        } else {
            self.values.push(v.unwrap_or_default());
            self.validity.push(v.is_some(), self.len);
            self.nulls += usize::from(v.is_none());
        }
        self.len += 1;
    }

    /// Appends `f(x)` for every `x`. The values go in with one bulk `extend` (no per-row capacity
    /// check, vectorisable); validity is only computed when a null shows up.
    #[inline(always)]
    fn extend_map<X>(&mut self, xs: &[X], f: impl Fn(&X) -> Option<T::Native>) {
        if self.nulls == self.len && self.len > 0 {
            xs.iter().for_each(|x| self.push(f(x)));
            return;
        }
        if self.values.capacity() == 0 {
            self.values.reserve(self.capacity.max(xs.len()));
        }
        let mut nulls = 0;
        self.values.extend(xs.iter().map(|x| {
            let v = f(x);
            nulls += usize::from(v.is_none());
            v.unwrap_or_default()
        }));
        if nulls > 0 || self.validity.bits.is_some() {
            for (i, x) in xs.iter().enumerate() {
                self.validity.push(f(x).is_some(), self.len + i);
            }
        }
        self.len += xs.len();
        self.nulls += nulls;
    }

    /// Appends `n` nulls; free while the column is all null.
    #[inline]
    fn push_nulls(&mut self, n: usize) {
        if self.nulls == self.len {
            self.nulls += n;
            self.len += n;
        } else {
            (0..n).for_each(|_| self.push(None));
        }
    }

    fn finish(self) -> PrimitiveArray<T> {
        if self.nulls == self.len {
            return PrimitiveArray::new_null(self.len);
        }
        PrimitiveArray::new(ScalarBuffer::from(self.values), self.validity.finish())
    }
}

/// A nullable boolean column under construction.
struct Bool {
    values: BooleanBufferBuilder,
    validity: Validity,
    len: usize,
}

impl Bool {
    fn new(capacity: usize) -> Self {
        Self { values: BooleanBufferBuilder::new(capacity), validity: Validity::default(), len: 0 }
    }

    #[inline(always)]
    fn push(&mut self, v: Option<bool>) {
        self.values.append(v.unwrap_or(false));
        self.validity.push(v.is_some(), self.len);
        self.len += 1;
    }

    fn push_nulls(&mut self, n: usize) {
        (0..n).for_each(|_| self.push(None));
    }

    fn finish(mut self) -> BooleanArray {
        BooleanArray::new(self.values.finish(), self.validity.finish())
    }
}

/// Two uppercase hex digits for every byte value.
const HEX_PAIRS: [[u8; 2]; 256] = {
    const DIGITS: &[u8; 16] = b"0123456789ABCDEF";
    let mut t = [[0u8; 2]; 256];
    let mut i = 0;
    while i < 256 {
        t[i] = [DIGITS[i >> 4], DIGITS[i & 15]];
        i += 1;
    }
    t
};

/// A nullable utf8 column under construction.
struct Text {
    offsets: Vec<i32>,
    data: Vec<u8>,
    validity: Validity,
    len: usize,
}

impl Text {
    fn new(capacity: usize, bytes_per_row: usize) -> Self {
        let mut offsets = Vec::with_capacity(capacity + 1);
        offsets.push(0);
        Self { offsets, data: Vec::with_capacity(capacity * bytes_per_row), validity: Validity::default(), len: 0 }
    }

    #[inline(always)]
    fn push_bytes(&mut self, v: Option<&[u8]>) {
        if let Some(s) = v {
            self.data.extend_from_slice(s);
        }
        self.validity.push(v.is_some(), self.len);
        self.len += 1;
        // Offsets are i32 by the utf8 layout; `finish` checks the total fits.
        self.offsets.push(self.data.len() as i32);
    }

    #[inline(always)]
    fn push_mac(&mut self, m: Option<Mac>) {
        match m {
            Some(m) => {
                let b = m.as_bytes();
                let mut buf = [b':'; 17];
                for (i, byte) in b.iter().enumerate() {
                    buf[3 * i..3 * i + 2].copy_from_slice(&HEX_PAIRS[*byte as usize]);
                }
                // Fixed-size copies compile to plain moves; a variable-length one calls memmove.
                if b.len() == 6 {
                    self.data.extend_from_slice(&buf);
                } else {
                    self.data.extend_from_slice(&buf[..8]);
                }
                self.validity.push(true, self.len);
                self.len += 1;
                self.offsets.push(self.data.len() as i32);
            }
            None => self.push_bytes(None),
        }
    }

    fn finish(self) -> Result<StringArray> {
        if i32::try_from(self.data.len()).is_err() {
            return Err(Error::InvalidArgument("text column larger than 2 GiB; decode in smaller batches".into()));
        }
        let offsets = OffsetBuffer::new(ScalarBuffer::from(self.offsets));
        Ok(StringArray::try_new(offsets, self.data.into(), self.validity.finish())?)
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

    /// Appends format 5 payloads column by column, straight from their bytes.
    fn extend_df5(&mut self, payloads: &[&[u8; 24]]) {
        use super::fields::*;
        let n = payloads.len();
        for p in payloads {
            self.mac.push_mac(mac6(&p[18..24]));
        }
        self.data_format.extend_map(payloads, |_| Some(5));
        macro_rules! column {
            ($col:ident, $f:expr) => {
                self.$col.extend_map(payloads, $f)
            };
        }
        column!(temperature, |&p: &&[u8; 24]| temperature(i16_at(p, 1)));
        column!(humidity, |&p: &&[u8; 24]| humidity(u16_at(p, 3)));
        column!(pressure, |&p: &&[u8; 24]| pressure(u16_at(p, 5)));
        column!(acceleration_x, |&p: &&[u8; 24]| acceleration(i16_at(p, 7)));
        column!(acceleration_y, |&p: &&[u8; 24]| acceleration(i16_at(p, 9)));
        column!(acceleration_z, |&p: &&[u8; 24]| acceleration(i16_at(p, 11)));
        column!(battery_voltage, |&p: &&[u8; 24]| power(u16_at(p, 13)).0);
        column!(tx_power, |&p: &&[u8; 24]| power(u16_at(p, 13)).1);
        column!(movement_counter, |&p: &&[u8; 24]| (p[15] != 0xFF).then_some(p[15]));
        column!(measurement_sequence, |&p: &&[u8; 24]| u16_or_na(u16_at(p, 16)).map(u32::from));
        self.pm1_0.push_nulls(n);
        self.pm2_5.push_nulls(n);
        self.pm4_0.push_nulls(n);
        self.pm10_0.push_nulls(n);
        self.co2.push_nulls(n);
        self.voc.push_nulls(n);
        self.nox.push_nulls(n);
        self.luminosity.push_nulls(n);
        self.calibration_in_progress.push_nulls(n);
    }

    /// Appends readings (`None` for a row of nulls), without context or error; the fast path of
    /// batch decoding.
    ///
    /// # Panics
    /// If the builder has context or error columns, which these rows would leave short.
    pub fn extend_readings(&mut self, rows: &[Option<Reading>]) {
        assert!(!self.context && !self.error_column, "extend_readings is for builders without extra columns");
        self.extend_fields(rows);
    }

    /// The number of rows pushed so far.
    pub fn len(&self) -> usize {
        self.data_format.len
    }

    /// Whether no row has been pushed.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Appends rows column by column: each column's loop keeps its state in registers, which is
    /// several times faster than pushing 21 columns row by row.
    fn extend_fields(&mut self, rows: &[Option<Reading>]) {
        macro_rules! column {
            ($col:ident, $get:expr) => {
                for r in rows {
                    self.$col.push(r.as_ref().and_then($get));
                }
            };
        }
        for r in rows {
            self.mac.push_mac(r.as_ref().and_then(|r| r.mac));
        }
        column!(data_format, |r| Some(r.data_format.code()));
        column!(temperature, |r| r.temperature);
        column!(humidity, |r| r.humidity);
        column!(pressure, |r| r.pressure);
        column!(acceleration_x, |r| r.acceleration_x);
        column!(acceleration_y, |r| r.acceleration_y);
        column!(acceleration_z, |r| r.acceleration_z);
        column!(battery_voltage, |r| r.battery_voltage);
        column!(tx_power, |r| r.tx_power);
        column!(movement_counter, |r| r.movement_counter);
        column!(measurement_sequence, |r| r.measurement_sequence);
        column!(pm1_0, |r| r.pm1_0);
        column!(pm2_5, |r| r.pm2_5);
        column!(pm4_0, |r| r.pm4_0);
        column!(pm10_0, |r| r.pm10_0);
        column!(co2, |r| r.co2);
        column!(voc, |r| r.voc);
        column!(nox, |r| r.nox);
        column!(luminosity, |r| r.luminosity);
        column!(calibration_in_progress, |r| r.calibration_in_progress);
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
    pub fn push_reading(&mut self, r: &Reading) {
        self.extend_fields(&[Some(*r)]);
        self.push_context(None);
        if self.error_column {
            self.error.push_bytes(None);
        }
    }

    /// Appends a reading with its receive context.
    pub fn push_observation(&mut self, o: &Observation) {
        self.extend_fields(&[Some(o.reading)]);
        self.push_context(Some(o));
        if self.error_column {
            self.error.push_bytes(None);
        }
    }

    /// Appends a row of nulls, with `error` in the error column if the builder has one.
    pub fn push_null(&mut self, error: Option<&str>) {
        self.extend_fields(&[None]);
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

/// One input of a batch: bytes in any shape [`decode`](super::decode) accepts, or hex text (or a
/// Ruuvi URL) as [`decode_hex`](super::decode_hex) takes it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Payload<'a> {
    /// Raw bytes.
    Bytes(&'a [u8]),
    /// Hex text or a Ruuvi URL.
    Hex(&'a str),
}

/// A row of a chunk once its hex is decoded.
#[derive(Clone)]
enum Row<'a> {
    Null,
    Bytes(&'a [u8]),
    /// Decoded hex, at this range of the chunk's arena.
    Arena(usize, usize),
    Url(&'a str),
    Failed(DecodeError),
}

/// Decodes `items` into one batch. Rows go in chunks: hex is decoded into a per-chunk arena; a
/// chunk that is all plain format 5 (the common case) is decoded column by column straight
/// from the bytes; any other chunk row by row into readings, then appended column by column.
pub fn decode_payloads<'a>(
    items: impl IntoIterator<Item = Option<Payload<'a>>>,
    capacity: usize,
    on_error: OnError,
) -> Result<RecordBatch> {
    const CHUNK: usize = 1024;
    let mut b = ReadingsBuilder::new(false, false, capacity);
    let mut errors = (on_error == OnError::Null).then(|| Text::new(capacity, 0));
    let mut rows: Vec<Row<'a>> = Vec::with_capacity(CHUNK);
    let mut arena: Vec<u8> = Vec::with_capacity(CHUNK * 32);
    let mut slow: Vec<Option<Reading>> = Vec::with_capacity(CHUNK);
    // Plain format 5 byte inputs, gathered while reading the chunk (they borrow the input, not
    // the arena, so the vector is reused across chunks).
    let mut fast_bytes: Vec<&'a [u8; 24]> = Vec::with_capacity(CHUNK);
    let mut first_row = 0;
    let mut items = items.into_iter().peekable();
    while items.peek().is_some() {
        rows.clear();
        arena.clear();
        fast_bytes.clear();
        for item in items.by_ref().take(CHUNK) {
            rows.push(match item {
                None => Row::Null,
                Some(Payload::Bytes(bytes)) => {
                    if let Some(p) = advertisement::df5_fast(bytes) {
                        fast_bytes.push(p);
                    }
                    Row::Bytes(bytes)
                }
                Some(Payload::Hex(text)) => {
                    let start = arena.len();
                    match hex::decode_append(text, &mut arena) {
                        Ok(()) => Row::Arena(start, arena.len()),
                        Err(e) => {
                            arena.truncate(start);
                            if text.contains("ruu.vi/#") { Row::Url(text) } else { Row::Failed(e) }
                        }
                    }
                }
            });
        }
        let bytes_of = |row: &Row<'a>| -> Option<&[u8]> {
            match row {
                Row::Bytes(bytes) => Some(bytes),
                Row::Arena(start, end) => Some(&arena[*start..*end]),
                _ => None,
            }
        };
        let all_bytes_fast = fast_bytes.len() == rows.len();
        // Decoded hex borrows the arena, so its fast rows are gathered per chunk.
        let fast_hex: Vec<&[u8; 24]> = if all_bytes_fast || arena.is_empty() {
            Vec::new()
        } else {
            rows.iter().map_while(|r| bytes_of(r).and_then(advertisement::df5_fast)).collect()
        };
        if all_bytes_fast || fast_hex.len() == rows.len() {
            b.extend_df5(if all_bytes_fast { &fast_bytes } else { &fast_hex });
            if let Some(errs) = &mut errors {
                rows.iter().for_each(|_| errs.push_bytes(None));
            }
        } else {
            slow.clear();
            for (i, row) in rows.iter().enumerate() {
                let decoded = match row {
                    Row::Null => Ok(None),
                    Row::Url(text) => url::decode_url(text).map(Some),
                    Row::Failed(e) => Err(e.clone()),
                    other => advertisement::decode(bytes_of(other).unwrap_or_default()).map(Some),
                };
                let reading = match (decoded, &mut errors) {
                    (Ok(r), Some(errs)) => {
                        errs.push_bytes(None);
                        r
                    }
                    (Ok(r), None) => r,
                    (Err(e), Some(errs)) => {
                        errs.push_bytes(Some(e.to_string().as_bytes()));
                        None
                    }
                    (Err(source), None) => return Err(Error::Decode { row: first_row + i, source }),
                };
                slow.push(reading);
            }
            b.extend_fields(&slow);
        }
        first_row += rows.len();
    }
    let batch = b.finish()?;
    match errors {
        None => Ok(batch),
        Some(errs) => {
            let mut columns = batch.columns().to_vec();
            columns.push(Arc::new(errs.finish()?));
            Ok(RecordBatch::try_new(reading_schema(false, true), columns)?)
        }
    }
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
    decode_payloads(payloads.iter().map(|p| Some(Payload::Bytes(p.as_ref()))), payloads.len(), on_error)
}

/// Decodes many hex strings (each in any shape [`decode_hex`](super::decode_hex) accepts) into
/// one batch in the canonical schema.
pub fn decode_many_hex<S: AsRef<str>>(payloads: &[S], on_error: OnError) -> Result<RecordBatch> {
    decode_payloads(payloads.iter().map(|p| Some(Payload::Hex(p.as_ref()))), payloads.len(), on_error)
}

/// Decodes an Arrow array of payloads: binary (any binary type: bytes in any shape) or string
/// (any string type: hex). Null entries give rows of nulls.
pub fn decode_array(array: &dyn Array, on_error: OnError) -> Result<RecordBatch> {
    let n = array.len();
    let any = array.as_any();
    macro_rules! run {
        ($ty:ty, $variant:ident) => {{
            let a = any.downcast_ref::<$ty>().expect("data type checked above");
            decode_payloads(a.iter().map(|v| v.map(Payload::$variant)), n, on_error)
        }};
    }
    match array.data_type() {
        DataType::Binary => run!(BinaryArray, Bytes),
        DataType::LargeBinary => run!(LargeBinaryArray, Bytes),
        DataType::BinaryView => run!(BinaryViewArray, Bytes),
        DataType::FixedSizeBinary(_) => run!(FixedSizeBinaryArray, Bytes),
        DataType::Utf8 => run!(StringArray, Hex),
        DataType::LargeUtf8 => run!(LargeStringArray, Hex),
        DataType::Utf8View => run!(StringViewArray, Hex),
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
