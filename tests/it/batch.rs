//! Batch decoding into Arrow record batches in the canonical schema.

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::{Float64Type, UInt8Type, UInt16Type};
use arrow_array::{Array, ArrayRef, BinaryArray, Int32Array, StringArray};
use arrow_schema::{DataType, TimeUnit};
use ruuvistream::Error;
use ruuvistream::ruuvi::{
    OnError, decode_array, decode_chunks, decode_many, decode_many_hex, observations_to_batch, reading_schema,
    simulator::{Simulator, SimulatorConfig},
};

use crate::hex;

const DF5: &str = "0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F";
const E1: &str = "E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE01FFFFFFFFFFCBB8334C884F";

#[test]
fn schema_is_the_documented_one() {
    let s = reading_schema(true, true);
    let got: Vec<(String, DataType)> = s.fields().iter().map(|f| (f.name().clone(), f.data_type().clone())).collect();
    let f64 = DataType::Float64;
    let expected = vec![
        ("mac", DataType::Utf8),
        ("data_format", DataType::UInt8),
        ("temperature", f64.clone()),
        ("humidity", f64.clone()),
        ("pressure", f64.clone()),
        ("acceleration_x", f64.clone()),
        ("acceleration_y", f64.clone()),
        ("acceleration_z", f64.clone()),
        ("battery_voltage", f64.clone()),
        ("tx_power", DataType::Int8),
        ("movement_counter", DataType::UInt8),
        ("measurement_sequence", DataType::UInt32),
        ("pm1_0", f64.clone()),
        ("pm2_5", f64.clone()),
        ("pm4_0", f64.clone()),
        ("pm10_0", f64.clone()),
        ("co2", DataType::UInt16),
        ("voc", DataType::UInt16),
        ("nox", DataType::UInt16),
        ("luminosity", f64.clone()),
        ("calibration_in_progress", DataType::Boolean),
        ("time", DataType::Timestamp(TimeUnit::Nanosecond, Some("UTC".into()))),
        ("rssi", DataType::Int16),
        ("gateway_mac", DataType::Utf8),
        ("error", DataType::Utf8),
    ];
    let expected: Vec<(String, DataType)> = expected.into_iter().map(|(n, t)| (n.to_string(), t)).collect();
    assert_eq!(got, expected);
    assert!(s.fields().iter().all(|f| f.is_nullable()));
    assert_eq!(reading_schema(false, false).fields().len(), 21);
}

#[test]
fn mixed_formats_in_one_batch() {
    let batch = decode_many_hex(&[DF5, E1], OnError::Raise).unwrap();
    assert_eq!(batch.num_rows(), 2);
    let temp = batch.column_by_name("temperature").unwrap().as_primitive::<Float64Type>();
    assert_eq!(temp.value(0), 24.3);
    assert_eq!(temp.value(1), 29.5);
    let fmt = batch.column_by_name("data_format").unwrap().as_primitive::<UInt8Type>();
    assert_eq!((fmt.value(0), fmt.value(1)), (5, 225));
    let co2 = batch.column_by_name("co2").unwrap().as_primitive::<UInt16Type>();
    assert!(co2.is_null(0));
    assert_eq!(co2.value(1), 201);
    let accel = batch.column_by_name("acceleration_x").unwrap();
    assert_eq!(accel.null_count(), 1);
}

#[test]
fn raise_names_the_bad_row() {
    match decode_many_hex(&[DF5, DF5, "05FF", DF5], OnError::Raise) {
        Err(Error::Decode { row, .. }) => assert_eq!(row, 2),
        other => panic!("{other:?}"),
    }
}

#[test]
fn null_mode_keeps_row_alignment() {
    let batch = decode_many_hex(&[DF5, "zz", DF5, "0201061AFF4C00"], OnError::Null).unwrap();
    assert_eq!(batch.num_rows(), 4);
    let err = batch.column_by_name("error").unwrap().as_string::<i32>();
    assert!(err.is_null(0) && err.is_null(2));
    assert!(err.value(1).starts_with("bad hex"));
    assert!(err.value(3).starts_with("not Ruuvi data"));
    let mac = batch.column_by_name("mac").unwrap();
    assert!(mac.is_valid(0) && mac.is_null(1) && mac.is_valid(2) && mac.is_null(3));
}

#[test]
fn arrow_inputs_of_every_binary_and_string_type() {
    let bytes = hex(DF5);
    let binary: ArrayRef = Arc::new(BinaryArray::from(vec![Some(bytes.as_slice()), None]));
    let strings: ArrayRef = Arc::new(StringArray::from(vec![Some(DF5), None]));
    let casts = [
        DataType::Binary,
        DataType::LargeBinary,
        DataType::BinaryView,
        DataType::Utf8,
        DataType::LargeUtf8,
        DataType::Utf8View,
    ];
    for to in casts {
        let source = if matches!(to, DataType::Binary | DataType::LargeBinary | DataType::BinaryView) {
            &binary
        } else {
            &strings
        };
        let arr = arrow_cast::cast(source, &to).unwrap();
        let batch = decode_array(arr.as_ref(), OnError::Raise).unwrap();
        assert_eq!(batch.num_rows(), 2, "{to}");
        let temp = batch.column_by_name("temperature").unwrap().as_primitive::<Float64Type>();
        assert_eq!(temp.value(0), 24.3, "{to}");
        assert!(temp.is_null(1), "null input gives a null row ({to})");
    }
    let wrong: ArrayRef = Arc::new(Int32Array::from(vec![1]));
    assert!(matches!(decode_array(wrong.as_ref(), OnError::Raise), Err(Error::InvalidArgument(_))));
}

#[test]
fn chunk_errors_count_rows_across_chunks() {
    let a: ArrayRef = Arc::new(StringArray::from(vec![DF5, DF5]));
    let b: ArrayRef = Arc::new(StringArray::from(vec![DF5, "05"]));
    match decode_chunks(&[a, b], OnError::Raise) {
        Err(Error::Decode { row, .. }) => assert_eq!(row, 3),
        other => panic!("{other:?}"),
    }
}

#[test]
fn many_rows_match_single_decodes() {
    let sim = Simulator::new(SimulatorConfig { sensors: 3, air_sensors: 2, ..Default::default() }).unwrap();
    let packets: Vec<Vec<u8>> = sim.map(|p| p.advertisement).collect();
    let batch = decode_many(&packets, OnError::Raise).unwrap();
    assert_eq!(batch.num_rows(), packets.len());
    let temp = batch.column_by_name("temperature").unwrap().as_primitive::<Float64Type>();
    let macs = batch.column_by_name("mac").unwrap().as_string::<i32>();
    for (i, p) in packets.iter().enumerate() {
        let r = ruuvistream::ruuvi::decode(p).unwrap();
        assert_eq!(Some(temp.value(i)), r.temperature);
        assert_eq!(macs.value(i), r.mac.unwrap().to_string());
    }
}

#[test]
fn observations_carry_time_rssi_and_gateway() {
    let obs: Vec<_> = Simulator::new(SimulatorConfig { sensors: 1, ..Default::default() })
        .unwrap()
        .observations(None)
        .take(3)
        .collect();
    let batch = observations_to_batch(&obs).unwrap();
    assert_eq!(batch.num_columns(), 24);
    let time = batch.column_by_name("time").unwrap();
    assert_eq!(time.null_count(), 0);
    assert_eq!(batch.column_by_name("gateway_mac").unwrap().null_count(), 3);
}

#[test]
fn fast_and_slow_chunks_agree() {
    // 3000 format 5 payloads in several shapes (the columnar fast path), one bad row and one E1
    // row in the middle (which send their chunks down the row-by-row path).
    let sim = Simulator::new(SimulatorConfig {
        sensors: 4,
        duration: std::time::Duration::from_secs(6 * 3600),
        ..Default::default()
    })
    .unwrap();
    let mut inputs: Vec<Vec<u8>> = sim
        .take(3000)
        .enumerate()
        .map(|(i, p)| match i % 3 {
            0 => p.advertisement,
            1 => p.advertisement[7..].to_vec(),
            _ => p.advertisement[5..].to_vec(),
        })
        .collect();
    inputs[2500] = vec![0x05, 0x01];
    inputs[1200] = hex(E1);
    match decode_many(&inputs, OnError::Raise) {
        Err(Error::Decode { row, .. }) => assert_eq!(row, 2500),
        other => panic!("{other:?}"),
    }
    let batch = decode_many(&inputs, OnError::Null).unwrap();
    assert_eq!(batch.num_rows(), 3000);
    let err = batch.column_by_name("error").unwrap().as_string::<i32>();
    assert_eq!(err.null_count(), 2999);
    assert!(err.is_valid(2500));
    let temp = batch.column_by_name("temperature").unwrap().as_primitive::<Float64Type>();
    let co2 = batch.column_by_name("co2").unwrap().as_primitive::<UInt16Type>();
    for (i, input) in inputs.iter().enumerate() {
        match ruuvistream::ruuvi::decode(input) {
            Ok(r) => {
                assert_eq!(Some(temp.value(i)), r.temperature, "row {i}");
                assert_eq!(co2.is_valid(i), r.co2.is_some(), "row {i}");
            }
            Err(_) => assert!(temp.is_null(i)),
        }
    }
    assert_eq!(co2.value(1200), 201);
}
