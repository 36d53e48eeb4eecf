//! Data format C5, "Cut-RAWv2" (18 bytes): format 5 without acceleration, leaving room in a
//! legacy advertisement for a service UUID.

use super::fields::*;
use super::reading::{DataFormat, Reading};

/// Payload length, format byte included.
pub const LEN: usize = 18;

/// Decodes an 18-byte payload (the caller has checked the length and format byte).
pub(super) fn decode(p: &[u8]) -> Reading {
    let (battery_voltage, tx_power) = power(u16_at(p, 7));
    let mut r = Reading::empty(DataFormat::C5);
    r.temperature = temperature(i16_at(p, 1));
    r.humidity = humidity(u16_at(p, 3));
    r.pressure = pressure(u16_at(p, 5));
    r.battery_voltage = battery_voltage;
    r.tx_power = tx_power;
    r.movement_counter = (p[9] != 0xFF).then_some(p[9]);
    r.measurement_sequence = u16_or_na(u16_at(p, 10)).map(u32::from);
    r.mac = mac6(&p[12..18]);
    r
}

/// Encodes a reading as a C5 payload; absent fields become "not available".
pub(super) fn encode(r: &Reading) -> [u8; LEN] {
    let mut p = [0u8; LEN];
    p[0] = DataFormat::C5.code();
    p[1..3].copy_from_slice(&enc_temperature(r.temperature));
    p[3..5].copy_from_slice(&enc_humidity(r.humidity));
    p[5..7].copy_from_slice(&enc_pressure(r.pressure));
    p[7..9].copy_from_slice(&enc_power(r.battery_voltage, r.tx_power));
    p[9] = r.movement_counter.map_or(0xFF, |m| m.min(254));
    p[10..12].copy_from_slice(&enc_u16(r.measurement_sequence.map(|s| (s & 0xFFFF) as u16)));
    p[12..18].copy_from_slice(&enc_mac6(r.mac));
    p
}
