//! Data format E1, "Extended v1" (40 bytes): Ruuvi Air over BT5 extended advertising.

use super::fields::*;
use super::reading::{DataFormat, Reading};

/// Payload length, format byte included.
pub const LEN: usize = 40;

/// Decodes a 40-byte payload (the caller has checked the length and format byte).
///
/// Bytes 22–24 and 29–33 and flags bits 1–5 are reserved (firmware may put sound levels there);
/// they are ignored.
pub(super) fn decode(p: &[u8]) -> Reading {
    let flags = p[28];
    let mut r = Reading::empty(DataFormat::E1);
    r.temperature = temperature(i16_at(p, 1));
    r.humidity = humidity(u16_at(p, 3));
    r.pressure = pressure(u16_at(p, 5));
    r.pm1_0 = pm(u16_at(p, 7));
    r.pm2_5 = pm(u16_at(p, 9));
    r.pm4_0 = pm(u16_at(p, 11));
    r.pm10_0 = pm(u16_at(p, 13));
    r.co2 = u16_or_na(u16_at(p, 15));
    r.voc = nine_bit(p[17], flags & 0x40 != 0);
    r.nox = nine_bit(p[18], flags & 0x80 != 0);
    let lux = u24_at(p, 19);
    r.luminosity = (lux != 0xFF_FFFF).then(|| f64::from(lux) / 100.0);
    let seq = u24_at(p, 25);
    r.measurement_sequence = (seq != 0xFF_FFFF).then_some(seq);
    r.calibration_in_progress = Some(flags & 0x01 != 0);
    r.mac = mac6(&p[34..40]);
    r
}

/// Encodes a reading as an E1 payload; absent fields become "not available", reserved bytes
/// are `FF`.
pub(super) fn encode(r: &Reading) -> [u8; LEN] {
    let mut p = [0xFFu8; LEN];
    p[0] = DataFormat::E1.code();
    p[1..3].copy_from_slice(&enc_temperature(r.temperature));
    p[3..5].copy_from_slice(&enc_humidity(r.humidity));
    p[5..7].copy_from_slice(&enc_pressure(r.pressure));
    p[7..9].copy_from_slice(&enc_pm(r.pm1_0));
    p[9..11].copy_from_slice(&enc_pm(r.pm2_5));
    p[11..13].copy_from_slice(&enc_pm(r.pm4_0));
    p[13..15].copy_from_slice(&enc_pm(r.pm10_0));
    p[15..17].copy_from_slice(&enc_u16(r.co2));
    let (voc, voc_lsb) = enc_nine_bit(r.voc);
    let (nox, nox_lsb) = enc_nine_bit(r.nox);
    p[17] = voc;
    p[18] = nox;
    let lux = match r.luminosity {
        Some(l) if !l.is_nan() => ((l * 100.0).round().clamp(0.0, 16_777_214.0)) as u32,
        _ => 0xFF_FFFF,
    };
    p[19..22].copy_from_slice(&lux.to_be_bytes()[1..]);
    let seq = r.measurement_sequence.map_or(0xFF_FFFF, |s| s.min(0xFF_FFFE));
    p[25..28].copy_from_slice(&seq.to_be_bytes()[1..]);
    p[28] = u8::from(r.calibration_in_progress == Some(true))
        | if voc_lsb { 0x40 } else { 0 }
        | if nox_lsb { 0x80 } else { 0 };
    p[34..40].copy_from_slice(&enc_mac6(r.mac));
    p
}
