//! Data format 5, "RAWv2" (24 bytes): RuuviTag firmware 2.5.9 and later.

use super::fields::*;
use super::reading::{DataFormat, Reading};

/// Payload length, format byte included.
pub const LEN: usize = 24;

/// Decodes a 24-byte payload (the caller has checked the length and format byte).
#[inline(always)]
pub(super) fn decode(p: &[u8]) -> Reading {
    let p: &[u8; LEN] = p.try_into().expect("caller checks the length");
    let (battery_voltage, tx_power) = power(u16_at(p, 13));
    let mut r = Reading::empty(DataFormat::Df5);
    r.temperature = temperature(i16_at(p, 1));
    r.humidity = humidity(u16_at(p, 3));
    r.pressure = pressure(u16_at(p, 5));
    r.acceleration_x = acceleration(i16_at(p, 7));
    r.acceleration_y = acceleration(i16_at(p, 9));
    r.acceleration_z = acceleration(i16_at(p, 11));
    r.battery_voltage = battery_voltage;
    r.tx_power = tx_power;
    r.movement_counter = (p[15] != 0xFF).then_some(p[15]);
    r.measurement_sequence = u16_or_na(u16_at(p, 16)).map(u32::from);
    r.mac = mac6(&p[18..24]);
    r
}

/// Encodes a reading as a format 5 payload; absent fields become "not available".
pub(super) fn encode(r: &Reading) -> [u8; LEN] {
    let mut p = [0u8; LEN];
    p[0] = DataFormat::Df5.code();
    p[1..3].copy_from_slice(&enc_temperature(r.temperature));
    p[3..5].copy_from_slice(&enc_humidity(r.humidity));
    p[5..7].copy_from_slice(&enc_pressure(r.pressure));
    p[7..9].copy_from_slice(&enc_acceleration(r.acceleration_x));
    p[9..11].copy_from_slice(&enc_acceleration(r.acceleration_y));
    p[11..13].copy_from_slice(&enc_acceleration(r.acceleration_z));
    p[13..15].copy_from_slice(&enc_power(r.battery_voltage, r.tx_power));
    p[15] = r.movement_counter.map_or(0xFF, |m| m.min(254));
    p[16..18].copy_from_slice(&enc_u16(r.measurement_sequence.map(|s| (s & 0xFFFF) as u16)));
    p[18..24].copy_from_slice(&enc_mac6(r.mac));
    p
}
