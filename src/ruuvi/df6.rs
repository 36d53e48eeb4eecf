//! Data format 6 (20 bytes): Ruuvi Air over legacy (BT4) advertising.

use super::fields::*;
use super::reading::{DataFormat, Mac, Reading};

/// Payload length, format byte included.
pub const LEN: usize = 20;

/// ln(65536) / 254: the step of the logarithmic luminosity code.
const LUX_STEP: f64 = 16.0 * std::f64::consts::LN_2 / 254.0;

/// Decodes a 20-byte payload (the caller has checked the length and format byte).
///
/// Byte 14 and flags bits 1–5 are reserved (firmware may put sound levels and a button flag
/// there); they are ignored.
pub(super) fn decode(p: &[u8]) -> Reading {
    let flags = p[16];
    let mut r = Reading::empty(DataFormat::Df6);
    r.temperature = temperature(i16_at(p, 1));
    r.humidity = humidity(u16_at(p, 3));
    r.pressure = pressure(u16_at(p, 5));
    r.pm2_5 = pm(u16_at(p, 7));
    r.co2 = u16_or_na(u16_at(p, 9));
    r.voc = nine_bit(p[11], flags & 0x40 != 0);
    r.nox = nine_bit(p[12], flags & 0x80 != 0);
    r.luminosity = (p[13] != 0xFF).then(|| lux_from_code(p[13]));
    // Format 6 has no "not available" sequence number: every value counts.
    r.measurement_sequence = Some(u32::from(p[15]));
    r.calibration_in_progress = Some(flags & 0x01 != 0);
    let mac = [p[17], p[18], p[19]];
    r.mac = (mac != [0xFF; 3]).then_some(Mac::short(mac));
    r
}

/// The logarithmic luminosity code as lux, rounded to 2 decimals as the specification does.
fn lux_from_code(code: u8) -> f64 {
    let lux = (f64::from(code) * LUX_STEP).exp() - 1.0;
    (lux * 100.0).round() / 100.0
}

fn lux_to_code(lux: Option<f64>) -> u8 {
    match lux {
        Some(l) if !l.is_nan() => ((l.max(0.0) + 1.0).ln() / LUX_STEP).round().clamp(0.0, 254.0) as u8,
        _ => 0xFF,
    }
}

/// Encodes a reading as a format 6 payload; absent fields become "not available".
pub(super) fn encode(r: &Reading) -> [u8; LEN] {
    let mut p = [0u8; LEN];
    p[0] = DataFormat::Df6.code();
    p[1..3].copy_from_slice(&enc_temperature(r.temperature));
    p[3..5].copy_from_slice(&enc_humidity(r.humidity));
    p[5..7].copy_from_slice(&enc_pressure(r.pressure));
    p[7..9].copy_from_slice(&enc_pm(r.pm2_5));
    p[9..11].copy_from_slice(&enc_u16(r.co2));
    let (voc, voc_lsb) = enc_nine_bit(r.voc);
    let (nox, nox_lsb) = enc_nine_bit(r.nox);
    p[11] = voc;
    p[12] = nox;
    p[13] = lux_to_code(r.luminosity);
    p[14] = 0xFF;
    p[15] = r.measurement_sequence.map_or(0, |s| (s & 0xFF) as u8);
    p[16] = u8::from(r.calibration_in_progress == Some(true))
        | if voc_lsb { 0x40 } else { 0 }
        | if nox_lsb { 0x80 } else { 0 };
    let mac = enc_mac6(r.mac);
    p[17..20].copy_from_slice(&mac[3..6]);
    p
}
