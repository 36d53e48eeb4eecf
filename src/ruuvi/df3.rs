//! Data format 3, "RAWv1" (14 bytes): RuuviTag firmware 1.x and 2.x. Deprecated, but old tags
//! still send it. It has no "not available" codes, no MAC and no counters.

use super::fields::{i16_at, u16_at};
use super::reading::{DataFormat, Reading};

/// Payload length, format byte included.
pub const LEN: usize = 14;

/// Decodes a 14-byte payload (the caller has checked the length and format byte).
pub(super) fn decode(p: &[u8]) -> Reading {
    let mut r = Reading::empty(DataFormat::Df3);
    r.humidity = Some(f64::from(p[1]) / 2.0);
    // Sign and magnitude, not two's complement: bit 7 is the sign, the rest whole degrees, and
    // the next byte hundredths.
    let hundredths = f64::from(u16::from(p[2] & 0x7F) * 100 + u16::from(p[3]));
    let sign = if p[2] & 0x80 != 0 { -1.0 } else { 1.0 };
    r.temperature = Some(sign * hundredths / 100.0);
    r.pressure = Some(f64::from(u16_at(p, 4)) + 50_000.0);
    r.acceleration_x = Some(f64::from(i16_at(p, 6)) / 1000.0);
    r.acceleration_y = Some(f64::from(i16_at(p, 8)) / 1000.0);
    r.acceleration_z = Some(f64::from(i16_at(p, 10)) / 1000.0);
    r.battery_voltage = Some(f64::from(u16_at(p, 12)) / 1000.0);
    r
}

/// Encodes a reading as a format 3 payload. The format has no "not available" codes, so absent
/// fields are written as 0 and values are clipped to the format's range.
pub(super) fn encode(r: &Reading) -> [u8; LEN] {
    fn clip(v: Option<f64>, scale: f64, offset: f64, lo: f64, hi: f64) -> f64 {
        v.filter(|x| !x.is_nan()).map_or(0.0, |x| ((x - offset) * scale).round().clamp(lo, hi))
    }
    let mut p = [0u8; LEN];
    p[0] = DataFormat::Df3.code();
    p[1] = clip(r.humidity, 2.0, 0.0, 0.0, 255.0) as u8;
    let t = clip(r.temperature, 100.0, 0.0, -12799.0, 12799.0) as i32;
    let magnitude = t.unsigned_abs();
    p[2] = (magnitude / 100) as u8 | if t < 0 { 0x80 } else { 0 };
    p[3] = (magnitude % 100) as u8;
    p[4..6].copy_from_slice(&(clip(r.pressure, 1.0, 50_000.0, 0.0, 65535.0) as u16).to_be_bytes());
    for (i, a) in [r.acceleration_x, r.acceleration_y, r.acceleration_z].into_iter().enumerate() {
        let raw = clip(a, 1000.0, 0.0, -32768.0, 32767.0) as i16;
        p[6 + 2 * i..8 + 2 * i].copy_from_slice(&raw.to_be_bytes());
    }
    p[12..14].copy_from_slice(&(clip(r.battery_voltage, 1000.0, 0.0, 0.0, 65535.0) as u16).to_be_bytes());
    p
}
