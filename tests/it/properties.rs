//! Property tests: encode → decode round trips, and no input can panic the decoder.

use proptest::prelude::*;
use ruuvistream::ruuvi::{
    DataFormat, Reading, decode, decode_advertisement, decode_hex, decode_payload, encode, encode_advertisement,
};

fn valid_df5() -> impl Strategy<Value = Vec<u8>> {
    (
        -32767i16..=32767,
        0u16..=65534,
        0u16..=65534,
        prop::array::uniform3(-32767i16..=32767),
        0u16..=2046,
        0u16..=30,
        0u8..=254,
        0u16..=65534,
        prop::array::uniform6(any::<u8>()).prop_filter("not the all-FF N/A MAC", |m| *m != [0xFF; 6]),
    )
        .prop_map(|(t, h, p, acc, batt, tx, mv, seq, mac)| {
            let mut v = vec![5u8];
            v.extend_from_slice(&t.to_be_bytes());
            v.extend_from_slice(&h.to_be_bytes());
            v.extend_from_slice(&p.to_be_bytes());
            for a in acc {
                v.extend_from_slice(&a.to_be_bytes());
            }
            v.extend_from_slice(&(batt << 5 | tx).to_be_bytes());
            v.push(mv);
            v.extend_from_slice(&seq.to_be_bytes());
            v.extend_from_slice(&mac);
            v
        })
}

fn valid_e1() -> impl Strategy<Value = Vec<u8>> {
    (prop::collection::vec(any::<u8>(), 40), 0u32..0xFF_FFFF, 0u16..=500, 0u16..=500, any::<bool>()).prop_map(
        |(mut v, seq, voc, nox, cal)| {
            v[0] = 0xE1;
            if v[1..3] == [0x80, 0x00] {
                v[1] = 0; // keep the temperature available so that it round-trips as a value
            }
            v[17] = (voc >> 1) as u8;
            v[18] = (nox >> 1) as u8;
            v[25..28].copy_from_slice(&seq.to_be_bytes()[1..]);
            v[28] = u8::from(cal) | if voc & 1 == 1 { 0x40 } else { 0 } | if nox & 1 == 1 { 0x80 } else { 0 };
            // Reserved bytes are written back as FF.
            v[22..25].fill(0xFF);
            v[29..34].fill(0xFF);
            v
        },
    )
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn df5_payload_round_trips(p in valid_df5()) {
        let r = decode_payload(&p).unwrap();
        prop_assert_eq!(encode(&r, DataFormat::Df5).unwrap(), p);
    }

    #[test]
    fn e1_payload_round_trips(p in valid_e1()) {
        let r = decode_payload(&p).unwrap();
        let again = encode(&r, DataFormat::E1).unwrap();
        // Fields at "not available" keep their sentinel; everything decodes identically.
        prop_assert_eq!(decode_payload(&again).unwrap(), r);
    }

    #[test]
    fn readings_round_trip_within_resolution(
        t in -163.0f64..163.0, h in 0.0f64..100.0, p in 50_000.0f64..115_000.0,
        ax in -30.0f64..30.0, v in 1.6f64..3.6, seq in 0u32..65_535,
    ) {
        let mut r = Reading::empty(DataFormat::Df5);
        r.temperature = Some(t);
        r.humidity = Some(h);
        r.pressure = Some(p);
        r.acceleration_x = Some(ax);
        r.battery_voltage = Some(v);
        r.measurement_sequence = Some(seq);
        for format in [DataFormat::Df5, DataFormat::C5, DataFormat::E1, DataFormat::Df6] {
            let back = decode(&encode_advertisement(&r, format).unwrap()).unwrap();
            prop_assert!((back.temperature.unwrap() - t).abs() <= 0.0025 + 1e-9);
            prop_assert!((back.humidity.unwrap() - h).abs() <= 0.00125 + 1e-9);
            prop_assert!((back.pressure.unwrap() - p).abs() <= 0.5);
            if format == DataFormat::Df5 {
                prop_assert!((back.acceleration_x.unwrap() - ax).abs() <= 0.0005 + 1e-9);
            }
            if matches!(format, DataFormat::Df5 | DataFormat::C5) {
                prop_assert!((back.battery_voltage.unwrap() - v).abs() <= 0.0005 + 1e-9);
                prop_assert_eq!(back.measurement_sequence, Some(seq));
            }
        }
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let _ = decode(&bytes);
        let _ = decode_advertisement(&bytes);
        let _ = decode_payload(&bytes);
    }

    #[test]
    fn arbitrary_ruuvi_prefixed_bytes_never_panic(
        format in prop::sample::select(vec![3u8, 5, 6, 0xC5, 0xE1, 8, 2, 4]),
        len_byte in any::<u8>(),
        tail in prop::collection::vec(any::<u8>(), 0..60),
    ) {
        let mut ad = vec![len_byte, 0xFF, 0x99, 0x04, format];
        ad.extend_from_slice(&tail);
        let _ = decode(&ad);
        let mut bare = vec![format];
        bare.extend_from_slice(&tail);
        let _ = decode(&bare);
    }

    #[test]
    fn arbitrary_text_never_panics(s in "\\PC{0,120}") {
        let _ = decode_hex(&s);
        let _ = ruuvistream::ruuvi::decode_url(&s);
        let _ = ruuvistream::ruuvi::gateway::parse_message(&s);
        let _ = ruuvistream::units::parse_duration(&s);
    }

    #[test]
    fn arbitrary_json_never_panics(s in r#"\{("[a-z_]{1,10}": ?("[0-9A-Fa-f:]{0,60}"|-?[0-9]{1,20}|\{\}|\[\]|null),? ?){0,6}\}"#) {
        let _ = ruuvistream::ruuvi::gateway::parse_message(&s);
    }
}

#[test]
fn encoders_clip_and_mark_not_available() {
    let mut r = Reading::empty(DataFormat::Df5);
    r.temperature = Some(170.0);
    r.humidity = Some(f64::NAN);
    r.pressure = Some(20_000.0);
    r.battery_voltage = Some(5.0);
    r.tx_power = Some(30);
    let back = decode_payload(&encode(&r, DataFormat::Df5).unwrap()).unwrap();
    assert_eq!(back.temperature, Some(163.835));
    assert_eq!(back.humidity, None);
    assert_eq!(back.pressure, Some(50_000.0));
    assert_eq!(back.battery_voltage, Some(3.646));
    assert_eq!(back.tx_power, Some(20));
    assert_eq!(back.acceleration_x, None);
    assert_eq!(back.mac, None);
    assert!(encode(&r, DataFormat::Url2).is_err());
}

#[test]
fn format_3_round_trips_its_values() {
    let p = crate::hex("03291A1ECE1EFC18F94202CA0B53");
    let r = decode_payload(&p).unwrap();
    assert_eq!(encode(&r, DataFormat::Df3).unwrap(), p);
    let neg = crate::hex("03178145355803E804E705E60886");
    assert_eq!(encode(&decode_payload(&neg).unwrap(), DataFormat::Df3).unwrap(), neg);
}

#[test]
fn format_6_round_trips() {
    let p = crate::hex("06170C5668C79E007000C90501D9FFCD004C884F");
    let r = decode_payload(&p).unwrap();
    assert_eq!(encode(&r, DataFormat::Df6).unwrap(), p);
}

// ------------------------------------------------------------------------------------------------
// The Timestream type model: Arrow → Datum (render_datum) → Arrow (ColumnBuilder) is the identity
// for every type, at every nesting, with nulls at every level.

mod types {
    use std::sync::Arc;

    use arrow_array::{
        Array, ArrayRef, BooleanArray, Date32Array, DurationNanosecondArray, Float64Array, Int32Array, Int64Array,
        IntervalYearMonthArray, ListArray, NullArray, StringArray, StructArray, Time64NanosecondArray,
        TimestampNanosecondArray,
    };
    use arrow_buffer::{NullBuffer, OffsetBuffer};
    use arrow_schema::DataType;
    use proptest::prelude::*;
    use ruuvistream::types::{
        BatchBuilder, ColumnBuilder, Datum, ScalarType, TsType, format_double, format_timestamp_ns, parse_boolean,
        parse_date, parse_double, parse_interval_day_to_second_ns, parse_interval_year_to_month, parse_time_ns,
        parse_timestamp_ns, render_datum, rows_to_batch,
    };

    const NS_PER_DAY: i64 = 86_400_000_000_000;

    const SCALARS: [ScalarType; 11] = [
        ScalarType::Varchar,
        ScalarType::Boolean,
        ScalarType::Bigint,
        ScalarType::Integer,
        ScalarType::Double,
        ScalarType::Timestamp,
        ScalarType::Date,
        ScalarType::Time,
        ScalarType::IntervalDayToSecond,
        ScalarType::IntervalYearToMonth,
        ScalarType::Unknown,
    ];

    /// A typed value, turned into Arrow by `build` with Arrow's own constructors (so that the
    /// original arrays do not come from the builder under test).
    #[derive(Debug, Clone)]
    enum Val {
        Null,
        Str(String),
        Bool(bool),
        I64(i64),
        I32(i32),
        F64(f64),
        List(Vec<Val>),
        Fields(Vec<Val>),
        Series(Vec<(i64, Val)>),
    }

    fn ts_type() -> impl Strategy<Value = TsType> {
        prop::sample::select(SCALARS.to_vec()).prop_map(TsType::Scalar).prop_recursive(3, 12, 3, |inner| {
            prop_oneof![
                inner.clone().prop_map(|t| TsType::Array(Box::new(t))),
                prop::collection::vec(inner.clone(), 0..4).prop_map(|ts| TsType::Row(
                    ts.into_iter().enumerate().map(|(i, t)| (format!("f{i}"), t)).collect()
                )),
                inner.prop_map(|t| TsType::TimeSeries(Box::new(t))),
            ]
        })
    }

    fn int64() -> impl Strategy<Value = i64> {
        prop_oneof![Just(i64::MIN), Just(i64::MAX), Just(0), Just(-1), any::<i64>()]
    }

    fn int32() -> impl Strategy<Value = i32> {
        prop_oneof![Just(i32::MIN), Just(i32::MAX), Just(0), Just(-1), Just(-12), Just(-13), any::<i32>()]
    }

    /// Any timestamp, with extra weight before 1970 and near both ends of the range.
    fn timestamp() -> impl Strategy<Value = i64> {
        prop_oneof![
            int64(),
            -10 * NS_PER_DAY..10 * NS_PER_DAY,
            i64::MAX - 400 * NS_PER_DAY..=i64::MAX,
            i64::MIN..=i64::MIN + 400 * NS_PER_DAY,
        ]
    }

    fn double() -> impl Strategy<Value = f64> {
        prop_oneof![
            // Text cannot carry a NaN's payload: every NaN reads back as the canonical one.
            any::<f64>().prop_map(|x| if x.is_nan() { f64::NAN } else { x }),
            prop::sample::select(vec![
                f64::NAN,
                f64::INFINITY,
                f64::NEG_INFINITY,
                -0.0,
                0.0,
                f64::MIN_POSITIVE,
                5e-324,
                f64::MAX,
                f64::MIN,
                1e7,
                9_999_999.999_999_998,
                1e-3,
                0.000_999_999_999_999_999_9,
            ]),
            -1e9..1e9f64,
        ]
    }

    /// Dates that chrono (which `render_datum` formats them with) can represent.
    fn date() -> impl Strategy<Value = i32> {
        let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap();
        let min = chrono::NaiveDate::MIN.signed_duration_since(epoch).num_days() as i32;
        let max = chrono::NaiveDate::MAX.signed_duration_since(epoch).num_days() as i32;
        prop_oneof![Just(min), Just(max), Just(0), Just(-1), -800_000..3_000_000i32, min..=max]
    }

    fn value(t: &TsType) -> BoxedStrategy<Val> {
        let v = match t {
            TsType::Scalar(s) => match s {
                ScalarType::Varchar => {
                    prop_oneof![Just(String::new()), Just("ö°C 🌡 \"\\\n\u{0}".to_string()), "(?s).{0,12}"]
                        .prop_map(Val::Str)
                        .boxed()
                }
                ScalarType::Boolean => any::<bool>().prop_map(Val::Bool).boxed(),
                ScalarType::Bigint | ScalarType::IntervalDayToSecond => int64().prop_map(Val::I64).boxed(),
                ScalarType::Integer | ScalarType::IntervalYearToMonth => int32().prop_map(Val::I32).boxed(),
                ScalarType::Double => double().prop_map(Val::F64).boxed(),
                ScalarType::Timestamp => timestamp().prop_map(Val::I64).boxed(),
                ScalarType::Date => date().prop_map(Val::I32).boxed(),
                ScalarType::Time => {
                    prop_oneof![Just(0), Just(NS_PER_DAY - 1), 0..NS_PER_DAY].prop_map(Val::I64).boxed()
                }
                ScalarType::Unknown => return Just(Val::Null).boxed(),
            },
            TsType::Array(item) => prop::collection::vec(value(item), 0..4).prop_map(Val::List).boxed(),
            TsType::Row(fields) => {
                fields.iter().map(|(_, t)| value(t)).collect::<Vec<_>>().prop_map(Val::Fields).boxed()
            }
            TsType::TimeSeries(v) => prop::collection::vec((timestamp(), value(v)), 0..4).prop_map(Val::Series).boxed(),
        };
        prop_oneof![1 => Just(Val::Null), 4 => v].boxed()
    }

    fn i64s(vals: &[Val]) -> impl Iterator<Item = Option<i64>> + '_ {
        vals.iter().map(|v| if let Val::I64(x) = v { Some(*x) } else { None })
    }

    fn i32s(vals: &[Val]) -> impl Iterator<Item = Option<i32>> + '_ {
        vals.iter().map(|v| if let Val::I32(x) = v { Some(*x) } else { None })
    }

    fn build(t: &TsType, vals: &[Val]) -> ArrayRef {
        let valid = |f: fn(&Val) -> bool| Some(NullBuffer::from(vals.iter().map(f).collect::<Vec<_>>()));
        match (t, t.to_arrow()) {
            (TsType::Scalar(s), _) => match s {
                ScalarType::Varchar => Arc::new(StringArray::from_iter(
                    vals.iter().map(|v| if let Val::Str(s) = v { Some(s.as_str()) } else { None }),
                )),
                ScalarType::Boolean => Arc::new(BooleanArray::from_iter(
                    vals.iter().map(|v| if let Val::Bool(b) = v { Some(*b) } else { None }),
                )),
                ScalarType::Bigint => Arc::new(Int64Array::from_iter(i64s(vals))),
                ScalarType::Integer => Arc::new(Int32Array::from_iter(i32s(vals))),
                ScalarType::Double => Arc::new(Float64Array::from_iter(
                    vals.iter().map(|v| if let Val::F64(x) = v { Some(*x) } else { None }),
                )),
                ScalarType::Timestamp => Arc::new(TimestampNanosecondArray::from_iter(i64s(vals)).with_timezone("UTC")),
                ScalarType::Date => Arc::new(Date32Array::from_iter(i32s(vals))),
                ScalarType::Time => Arc::new(Time64NanosecondArray::from_iter(i64s(vals))),
                ScalarType::IntervalDayToSecond => Arc::new(DurationNanosecondArray::from_iter(i64s(vals))),
                ScalarType::IntervalYearToMonth => Arc::new(IntervalYearMonthArray::from_iter(i32s(vals))),
                ScalarType::Unknown => Arc::new(NullArray::new(vals.len())),
            },
            (TsType::Array(item), DataType::List(field)) => {
                let items: Vec<Val> =
                    vals.iter().flat_map(|v| if let Val::List(xs) = v { xs.clone() } else { vec![] }).collect();
                let lengths = vals.iter().map(|v| if let Val::List(xs) = v { xs.len() } else { 0 });
                let nulls = valid(|v| matches!(v, Val::List(_)));
                Arc::new(ListArray::new(field, OffsetBuffer::from_lengths(lengths), build(item, &items), nulls))
            }
            (TsType::Row(fields), DataType::Struct(struct_fields)) => {
                let nulls = valid(|v| matches!(v, Val::Fields(_)));
                if fields.is_empty() {
                    return Arc::new(StructArray::new_empty_fields(vals.len(), nulls));
                }
                let columns = (0..fields.len())
                    .map(|k| {
                        let column: Vec<Val> = vals
                            .iter()
                            .map(|v| if let Val::Fields(fs) = v { fs[k].clone() } else { Val::Null })
                            .collect();
                        build(&fields[k].1, &column)
                    })
                    .collect();
                Arc::new(StructArray::new(struct_fields, columns, nulls))
            }
            (TsType::TimeSeries(value_type), DataType::List(field)) => {
                let DataType::Struct(point_fields) = field.data_type().clone() else { unreachable!() };
                let points: Vec<(i64, Val)> =
                    vals.iter().flat_map(|v| if let Val::Series(ps) = v { ps.clone() } else { vec![] }).collect();
                let lengths = vals.iter().map(|v| if let Val::Series(ps) = v { ps.len() } else { 0 });
                let times = TimestampNanosecondArray::from_iter_values(points.iter().map(|p| p.0)).with_timezone("UTC");
                let values: Vec<Val> = points.into_iter().map(|p| p.1).collect();
                let points = StructArray::new(point_fields, vec![Arc::new(times), build(value_type, &values)], None);
                let nulls = valid(|v| matches!(v, Val::Series(_)));
                Arc::new(ListArray::new(field, OffsetBuffer::from_lengths(lengths), Arc::new(points), nulls))
            }
            (t, dt) => unreachable!("{t:?} as {dt}"),
        }
    }

    /// Renders row `i` as the wire JSON and reads it back.
    fn datum(array: &ArrayRef, i: usize, t: &TsType) -> Datum {
        let text = render_datum(array, i, t).to_string();
        Datum::from_json(&serde_json::from_str(&text).unwrap()).unwrap_or_else(|e| panic!("{text}: {e}"))
    }

    fn column() -> impl Strategy<Value = (TsType, Vec<Val>)> {
        ts_type().prop_flat_map(|t| {
            let values = prop::collection::vec(value(&t), 0..8);
            (Just(t), values)
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(1000))]

        #[test]
        fn columns_round_trip_through_datums((t, vals) in column(), split in 0usize..8) {
            let original = build(&t, &vals);
            prop_assert_eq!(original.data_type(), &t.to_arrow());
            let mut b = ColumnBuilder::new(&t);
            // Two pages: the builder starts over after `finish`.
            let split = split.min(original.len());
            let mut pages = vec![];
            for range in [0..split, split..original.len()] {
                for i in range {
                    let d = datum(&original, i, &t);
                    b.append(d).unwrap_or_else(|e| panic!("row {i}: {e}"));
                }
                pages.push(b.finish());
            }
            prop_assert_eq!(pages[0].to_data(), original.slice(0, split).to_data());
            let rest = original.len() - split;
            prop_assert_eq!(pages[1].to_data(), original.slice(split, rest).to_data());
            prop_assert_eq!(pages[1].data_type(), &t.to_arrow());
            pages[1].to_data().validate_full().unwrap();
        }

        #[test]
        fn batches_round_trip_through_datums(
            columns in prop::collection::vec(ts_type(), 1..4).prop_flat_map(|ts| {
                let n = 0..6usize;
                (Just(ts), n)
            }).prop_flat_map(|(ts, n)| {
                let values: Vec<_> = ts.iter().map(|t| prop::collection::vec(value(t), n)).collect();
                (Just(ts), values)
            })
        ) {
            let (types, vals) = columns;
            let schema: Vec<(String, TsType)> =
                types.iter().enumerate().map(|(k, t)| (format!("c{k}"), t.clone())).collect();
            let originals: Vec<ArrayRef> = types.iter().zip(&vals).map(|(t, v)| build(t, v)).collect();
            let rows = originals[0].len();
            let data: Vec<Vec<Datum>> =
                (0..rows).map(|i| originals.iter().zip(&types).map(|(a, t)| datum(a, i, t)).collect()).collect();
            let batch = rows_to_batch(&schema, data).unwrap();
            prop_assert_eq!(batch.num_rows(), rows);
            let batch_schema = batch.schema();
            for (k, (name, t)) in schema.iter().enumerate() {
                prop_assert_eq!(batch_schema.field(k), &t.to_field(name));
                prop_assert_eq!(batch.column(k).to_data(), originals[k].to_data());
            }
            prop_assert_eq!(BatchBuilder::new(&schema).schema(), batch.schema());
        }

        #[test]
        fn scalar_parsers_never_panic(
            s in prop_oneof![
                "\\PC{0,40}",
                "[-+]?[0-9]{1,7}-[0-9]{1,2}-[0-9]{1,3}[ T][0-9]{1,2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,11})?",
                "-?[0-9]{1,20} [0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,10})?",
                "-?[0-9]{1,11}--?[0-9]{1,3}",
                "[-+]?[0-9.]{0,30}([eE][-+]?[0-9]{1,4})?",
            ],
        ) {
            let _ = (parse_date(&s), parse_time_ns(&s), parse_boolean(&s));
            let _ = (parse_interval_day_to_second_ns(&s), parse_interval_year_to_month(&s));
            if let Ok(ns) = parse_timestamp_ns(&s) {
                // The canonical form reads back to the same instant, and chrono agrees.
                prop_assert_eq!(parse_timestamp_ns(&format_timestamp_ns(ns)).unwrap(), ns);
                let chrono_ns = chrono::NaiveDateTime::parse_from_str(&s.replace('T', " "), "%Y-%m-%d %H:%M:%S%.f")
                    .unwrap()
                    .and_utc()
                    .timestamp_nanos_opt();
                prop_assert_eq!(chrono_ns, Some(ns));
            }
            if let Ok(x) = parse_double(&s) {
                prop_assert_eq!(parse_double(&format_double(x)).unwrap().to_bits(), x.to_bits());
            }
            for t in SCALARS {
                let _ = ColumnBuilder::new(&TsType::Scalar(t)).append_scalar(&s);
            }
        }
    }
}
