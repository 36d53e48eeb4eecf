//! The field encodings that formats 5, C5, 6 and E1 share (big-endian, "not available" as the
//! largest unsigned or smallest signed code), in both directions.
//!
//! Decoders map a sentinel to `None` before scaling and divide by the exact scale; encoders clip
//! to the representable range and write the sentinel for `None` or NaN.

use super::reading::Mac;

#[inline]
pub(super) fn u16_at(b: &[u8], i: usize) -> u16 {
    u16::from_be_bytes([b[i], b[i + 1]])
}

#[inline]
pub(super) fn i16_at(b: &[u8], i: usize) -> i16 {
    i16::from_be_bytes([b[i], b[i + 1]])
}

#[inline]
pub(super) fn u24_at(b: &[u8], i: usize) -> u32 {
    u32::from_be_bytes([0, b[i], b[i + 1], b[i + 2]])
}

#[inline]
pub(super) fn temperature(raw: i16) -> Option<f64> {
    (raw != i16::MIN).then(|| f64::from(raw) / 200.0)
}

#[inline]
pub(super) fn humidity(raw: u16) -> Option<f64> {
    (raw != u16::MAX).then(|| f64::from(raw) / 400.0)
}

#[inline]
pub(super) fn pressure(raw: u16) -> Option<f64> {
    (raw != u16::MAX).then(|| f64::from(raw) + 50_000.0)
}

#[inline]
pub(super) fn acceleration(raw: i16) -> Option<f64> {
    (raw != i16::MIN).then(|| f64::from(raw) / 1000.0)
}

/// Battery voltage (V) and TX power (dBm) from the shared 16-bit power field.
#[inline]
pub(super) fn power(raw: u16) -> (Option<f64>, Option<i8>) {
    let battery = raw >> 5;
    let tx = raw & 0x1F;
    ((battery != 0x7FF).then(|| f64::from(battery + 1600) / 1000.0), (tx != 0x1F).then(|| (tx as i8) * 2 - 40))
}

/// A particulate-matter concentration in tenths of µg/m³.
#[inline]
pub(super) fn pm(raw: u16) -> Option<f64> {
    (raw != u16::MAX).then(|| f64::from(raw) / 10.0)
}

#[inline]
pub(super) fn u16_or_na(raw: u16) -> Option<u16> {
    (raw != u16::MAX).then_some(raw)
}

/// A 9-bit index (VOC, NOx): the payload byte holds bits 8..1, a flags bit holds bit 0.
#[inline]
pub(super) fn nine_bit(high: u8, low_bit: bool) -> Option<u16> {
    let v = u16::from(high) << 1 | u16::from(low_bit);
    (v != 0x1FF).then_some(v)
}

#[inline]
pub(super) fn mac6(b: &[u8]) -> Option<Mac> {
    let bytes: [u8; 6] = [b[0], b[1], b[2], b[3], b[4], b[5]];
    (bytes != [0xFF; 6]).then_some(Mac::new(bytes))
}

/// `v × scale`, rounded, clipped to `lo..=hi`; `None` or NaN gives `na`.
#[inline]
fn scaled(v: Option<f64>, scale: f64, offset: f64, lo: i64, hi: i64, na: i64) -> i64 {
    match v {
        Some(x) if !x.is_nan() => (((x - offset) * scale).round() as i64).clamp(lo, hi),
        _ => na,
    }
}

pub(super) fn enc_temperature(v: Option<f64>) -> [u8; 2] {
    (scaled(v, 200.0, 0.0, -32767, 32767, -32768) as i16).to_be_bytes()
}

pub(super) fn enc_humidity(v: Option<f64>) -> [u8; 2] {
    (scaled(v, 400.0, 0.0, 0, 65534, 65535) as u16).to_be_bytes()
}

pub(super) fn enc_pressure(v: Option<f64>) -> [u8; 2] {
    (scaled(v, 1.0, 50_000.0, 0, 65534, 65535) as u16).to_be_bytes()
}

pub(super) fn enc_acceleration(v: Option<f64>) -> [u8; 2] {
    (scaled(v, 1000.0, 0.0, -32767, 32767, -32768) as i16).to_be_bytes()
}

pub(super) fn enc_power(battery: Option<f64>, tx: Option<i8>) -> [u8; 2] {
    let b = scaled(battery, 1000.0, 1.6, 0, 2046, 2047) as u16;
    let t = match tx {
        Some(dbm) => ((i16::from(dbm) + 40).div_euclid(2)).clamp(0, 30) as u16,
        None => 31,
    };
    (b << 5 | t).to_be_bytes()
}

pub(super) fn enc_pm(v: Option<f64>) -> [u8; 2] {
    (scaled(v, 10.0, 0.0, 0, 65534, 65535) as u16).to_be_bytes()
}

pub(super) fn enc_u16(v: Option<u16>) -> [u8; 2] {
    v.map_or(u16::MAX, |x| x.min(65534)).to_be_bytes()
}

/// A 9-bit index as (payload byte, flags bit); `None` is `0x1FF`, values clip at 510.
pub(super) fn enc_nine_bit(v: Option<u16>) -> (u8, bool) {
    let x = v.map_or(0x1FF, |x| x.min(0x1FE));
    ((x >> 1) as u8, x & 1 == 1)
}

pub(super) fn enc_mac6(m: Option<Mac>) -> [u8; 6] {
    match m {
        Some(m) if m.as_bytes().len() == 6 => m.as_bytes().try_into().unwrap_or([0xFF; 6]),
        // A 3-byte MAC cannot fill a 6-byte field: keep its low bytes at the end.
        Some(m) => {
            let b = m.as_bytes();
            [0xFF, 0xFF, 0xFF, b[0], b[1], b[2]]
        }
        None => [0xFF; 6],
    }
}
