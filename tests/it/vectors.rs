//! The official test vectors from docs.ruuvi.com (DF3, DF5, C5, DF6, E1), with the tolerances
//! of the field resolutions: temperature 0.005, humidity 0.0025, acceleration 0.001, voltage
//! 0.001, PM 0.1, lux 0.01.

use ruuvistream::ruuvi::{DataFormat, Reading, decode, decode_hex, decode_payload};

use crate::{close, hex};

fn payload(h: &str) -> Reading {
    decode_payload(&hex(h)).unwrap_or_else(|e| panic!("{h}: {e}"))
}

#[test]
fn df3_valid() {
    let r = payload("03291A1ECE1EFC18F94202CA0B53");
    assert_eq!(r.data_format, DataFormat::Df3);
    close(r.temperature, 26.3, 0.005);
    close(r.pressure, 102_766.0, 0.5);
    close(r.humidity, 20.5, 0.0025);
    close(r.acceleration_x, -1.000, 0.001);
    close(r.acceleration_y, -1.726, 0.001);
    close(r.acceleration_z, 0.714, 0.001);
    close(r.battery_voltage, 2.899, 0.001);
    assert_eq!(r.mac, None);
    assert_eq!(r.measurement_sequence, None);
}

#[test]
fn df3_maximum() {
    let r = payload("03FF7F63FFFF7FFF7FFF7FFFFFFF");
    close(r.temperature, 127.99, 0.005);
    close(r.pressure, 115_535.0, 0.5);
    close(r.humidity, 127.5, 0.0025);
    for a in [r.acceleration_x, r.acceleration_y, r.acceleration_z] {
        close(a, 32.767, 0.001);
    }
    close(r.battery_voltage, 65.535, 0.001);
}

#[test]
fn df3_minimum() {
    let r = payload("0300FF6300008001800180010000");
    close(r.temperature, -127.99, 0.005);
    close(r.pressure, 50_000.0, 0.5);
    close(r.humidity, 0.0, 0.0025);
    for a in [r.acceleration_x, r.acceleration_y, r.acceleration_z] {
        close(a, -32.767, 0.001);
    }
    close(r.battery_voltage, 0.0, 0.001);
}

#[test]
fn df3_sign_magnitude_temperature() {
    // Temperature bytes 81 45 = -1.69 °C, 01 45 = +1.69 °C (not two's complement).
    let neg = payload("03178145355803E804E705E60886");
    let pos = payload("03170145355803E804E705E60886");
    close(neg.temperature, -1.69, 0.005);
    close(pos.temperature, 1.69, 0.005);
    close(pos.humidity, 11.5, 0.0025);
    close(pos.pressure, 63_656.0, 0.5);
    close(pos.battery_voltage, 2.182, 0.001);
}

#[test]
fn df5_valid() {
    let r = payload("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F");
    assert_eq!(r.data_format, DataFormat::Df5);
    // Exact: the raw codes divided by their scale are the documented decimals.
    assert_eq!(r.temperature, Some(24.3));
    assert_eq!(r.pressure, Some(100_044.0));
    assert_eq!(r.humidity, Some(53.49));
    assert_eq!((r.acceleration_x, r.acceleration_y, r.acceleration_z), (Some(0.004), Some(-0.004), Some(1.036)));
    assert_eq!(r.tx_power, Some(4));
    assert_eq!(r.battery_voltage, Some(2.977));
    assert_eq!(r.movement_counter, Some(66));
    assert_eq!(r.measurement_sequence, Some(205));
    assert_eq!(r.mac.unwrap().to_string(), "CB:B8:33:4C:88:4F");
    assert_eq!((r.pm2_5, r.co2, r.luminosity, r.calibration_in_progress), (None, None, None, None));
}

#[test]
fn df5_maximum() {
    let r = payload("057FFFFFFEFFFE7FFF7FFF7FFFFFDEFEFFFECBB8334C884F");
    close(r.temperature, 163.835, 0.005);
    close(r.pressure, 115_534.0, 0.5);
    close(r.humidity, 163.835, 0.0025);
    for a in [r.acceleration_x, r.acceleration_y, r.acceleration_z] {
        close(a, 32.767, 0.001);
    }
    assert_eq!(r.tx_power, Some(20));
    close(r.battery_voltage, 3.646, 0.001);
    assert_eq!(r.movement_counter, Some(254));
    assert_eq!(r.measurement_sequence, Some(65534));
}

#[test]
fn df5_minimum() {
    let r = payload("058001000000008001800180010000000000CBB8334C884F");
    close(r.temperature, -163.835, 0.005);
    close(r.pressure, 50_000.0, 0.5);
    close(r.humidity, 0.0, 0.0025);
    for a in [r.acceleration_x, r.acceleration_y, r.acceleration_z] {
        close(a, -32.767, 0.001);
    }
    assert_eq!(r.tx_power, Some(-40));
    close(r.battery_voltage, 1.600, 0.001);
    assert_eq!(r.movement_counter, Some(0));
    assert_eq!(r.measurement_sequence, Some(0));
}

#[test]
fn df5_invalid_is_all_null() {
    let r = payload("058000FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF");
    assert_eq!(r, Reading::empty(DataFormat::Df5));
}

#[test]
fn c5_valid() {
    // The docs page prints byte 0 as 05 (copied from DF5); the 18-byte layout starts with C5.
    let r = payload("C512FC5394C37CAC364200CDCBB8334C884F");
    assert_eq!(r.data_format, DataFormat::C5);
    assert_eq!(r.data_format.code(), 197);
    assert_eq!(r.temperature, Some(24.3));
    assert_eq!(r.pressure, Some(100_044.0));
    assert_eq!(r.humidity, Some(53.49));
    assert_eq!(r.tx_power, Some(4));
    assert_eq!(r.battery_voltage, Some(2.977));
    assert_eq!(r.movement_counter, Some(66));
    assert_eq!(r.measurement_sequence, Some(205));
    assert_eq!(r.mac.unwrap().to_string(), "CB:B8:33:4C:88:4F");
    assert_eq!(r.acceleration_x, None);
}

#[test]
fn c5_maximum_minimum_invalid() {
    // DF5's max/min/invalid vectors with the acceleration bytes cut out.
    let max = payload("C57FFFFFFEFFFEFFDEFEFFFECBB8334C884F");
    close(max.temperature, 163.835, 0.005);
    assert_eq!((max.tx_power, max.movement_counter, max.measurement_sequence), (Some(20), Some(254), Some(65534)));
    let min = payload("C58001000000000000000000CBB8334C884F");
    close(min.battery_voltage, 1.6, 0.001);
    assert_eq!(min.tx_power, Some(-40));
    let invalid = payload("C58000FFFFFFFFFFFFFFFFFFFFFFFFFFFFFF");
    assert_eq!(invalid, Reading::empty(DataFormat::C5));
}

#[test]
fn df6_valid() {
    // The docs print the reserved byte 14 as XX: any value must decode the same.
    for reserved in ["FF", "00", "5A"] {
        let r = payload(&format!("06170C5668C79E007000C90501D9{reserved}CD004C884F"));
        assert_eq!(r.data_format, DataFormat::Df6);
        close(r.temperature, 29.5, 0.005);
        close(r.pressure, 101_102.0, 0.5);
        close(r.humidity, 55.3, 0.0025);
        close(r.pm2_5, 11.2, 0.1);
        assert_eq!(r.co2, Some(201));
        assert_eq!(r.voc, Some(10));
        assert_eq!(r.nox, Some(2));
        close(r.luminosity, 13_026.67, 0.01);
        assert_eq!(r.measurement_sequence, Some(205));
        assert_eq!(r.calibration_in_progress, Some(false));
        assert_eq!(r.mac.unwrap().to_string(), "4C:88:4F");
        assert_eq!((r.pm1_0, r.pm4_0, r.pm10_0, r.acceleration_x), (None, None, None, None));
    }
}

#[test]
fn df6_luminosity_codes() {
    // Documented examples of the logarithmic code: 0→0, 1→0.04, 0x10→1.01, 0xFE→65535. The page's
    // 0x80→244.06 disagrees with its own formula (which the official vector 0xD9→13026.67
    // confirms): 0x80 is 266.43, and 244.06 is code 0x7E.
    for (code, lux) in [(0x00, 0.0), (0x01, 0.04), (0x10, 1.01), (0x7E, 244.06), (0x80, 266.43), (0xFE, 65_535.0)] {
        let r = payload(&format!("06170C5668C79E007000C90501{code:02X}FFCD004C884F"));
        close(r.luminosity, lux, 0.01);
    }
    let na = payload("06170C5668C79E007000C90501FFFFCD004C884F");
    assert_eq!(na.luminosity, None);
}

#[test]
fn df6_nine_bit_indices_and_not_available() {
    // VOC 0x0E8 = 232: byte 0x74, LSB 0 ; NOX 0x1FF = not available: byte 0xFF, flags bit 7 set.
    let r = payload("06170C5668C79E007000C97401D9FFCD804C884F");
    assert_eq!(r.voc, Some(232));
    // NOX byte 0x01 holds bits 8..1 and flags bit 7 is bit 0: (1 << 1) | 1.
    assert_eq!(r.nox, Some(3));
    let r2 = payload("06170C5668C79E007000C974FFD9FFCD804C884F");
    assert_eq!(r2.nox, None);
    let all_na = payload(&format!("068000{}C0FFFFFF", "FF".repeat(13)));
    assert_eq!(all_na.temperature, None);
    assert_eq!(all_na.humidity, None);
    assert_eq!(all_na.pressure, None);
    assert_eq!(all_na.pm2_5, None);
    assert_eq!(all_na.co2, None);
    assert_eq!(all_na.voc, None);
    assert_eq!(all_na.nox, None);
    assert_eq!(all_na.luminosity, None);
    assert_eq!(all_na.mac, None);
    // Format 6 has no "not available" sequence number.
    assert_eq!(all_na.measurement_sequence, Some(255));
}

#[test]
fn e1_valid() {
    let r = payload("E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE01FFFFFFFFFFCBB8334C884F");
    assert_eq!(r.data_format, DataFormat::E1);
    assert_eq!(r.data_format.code(), 225);
    close(r.temperature, 29.5, 0.005);
    close(r.pressure, 101_102.0, 0.5);
    close(r.humidity, 55.3, 0.0025);
    close(r.pm1_0, 10.1, 0.1);
    close(r.pm2_5, 11.2, 0.1);
    close(r.pm4_0, 121.3, 0.1);
    close(r.pm10_0, 455.4, 0.1);
    assert_eq!(r.co2, Some(201));
    assert_eq!(r.voc, Some(20));
    assert_eq!(r.nox, Some(4));
    close(r.luminosity, 13_027.0, 0.01);
    assert_eq!(r.measurement_sequence, Some(14_601_710));
    assert_eq!(r.calibration_in_progress, Some(true));
    assert_eq!(r.mac.unwrap().to_string(), "CB:B8:33:4C:88:4F");
}

#[test]
fn e1_reserved_bytes_are_ignored() {
    let a = payload("E1170C5668C79E0065007004BD11CA00C90A0213E0ACFFFFFFDECDEE01FFFFFFFFFFCBB8334C884F");
    // Sound levels (firmware extras) in the reserved bytes and flags bits 3-5.
    let b = payload("E1170C5668C79E0065007004BD11CA00C90A0213E0AC123456DECDEE3900000000FFCBB8334C884F");
    assert_eq!(a, b);
}

#[test]
fn e1_not_available() {
    let r = payload(&format!("E18000{}", "FF".repeat(37)));
    assert_eq!(r.temperature, None);
    assert_eq!(r.co2, None);
    assert_eq!(r.voc, None);
    assert_eq!(r.luminosity, None);
    assert_eq!(r.measurement_sequence, None);
    assert_eq!(r.mac, None);
}

#[test]
fn url_formats() {
    // Docs example: https://ruu.vi/#BFwaAMjlQ -> 04 5C 1A 00 C8 E5.
    let r = decode_hex("https://ruu.vi/#BFwaAMjlQ").unwrap();
    assert_eq!(r.data_format, DataFormat::Url4);
    assert_eq!(r.humidity, Some(46.0));
    assert_eq!(r.temperature, Some(26.0));
    assert_eq!(r.pressure, Some(101_429.0));
    // The same inside an Eddystone-URL advertisement.
    let mut ad = hex("0201060303AAFE");
    let url = b"ruu.vi/#BFwaAMjlQ";
    ad.push((url.len() + 6) as u8);
    ad.extend_from_slice(&[0x16, 0xAA, 0xFE, 0x10, 0xF9, 0x03]);
    ad.extend_from_slice(url);
    assert_eq!(decode(&ad).unwrap(), r);
}
