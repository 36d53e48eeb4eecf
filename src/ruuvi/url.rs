//! Data formats 2 and 4: the Eddystone-URL broadcasts of pre-2018 RuuviTags,
//! `https://ruu.vi/#<base64url>`.
//!
//! The first 8 characters after `#` carry 6 bytes: format, humidity (× 0.5 %), temperature
//! (sign and magnitude, whole degrees, then hundredths) and pressure (+ 50000 Pa). Format 4
//! appends a ninth character, a random tag id, which is not part of the reading.

use super::reading::{DataFormat, Reading};
use crate::error::DecodeError;

fn sextet(c: u8) -> Option<u8> {
    Some(match c {
        b'A'..=b'Z' => c - b'A',
        b'a'..=b'z' => c - b'a' + 26,
        b'0'..=b'9' => c - b'0' + 52,
        b'-' | b'+' => 62,
        b'_' | b'/' => 63,
        _ => return None,
    })
}

/// Decodes the text of a Ruuvi URL: the whole URL (`https://ruu.vi/#BFwaAMjlQ`) or just the
/// part after `#`.
pub fn decode_url(url: &str) -> Result<Reading, DecodeError> {
    let code = url.rsplit_once('#').map_or(url, |(_, c)| c).trim();
    let chars = code.as_bytes();
    if chars.len() < 8 {
        return Err(DecodeError::BadUrl("fewer than 8 characters after '#'"));
    }
    let mut bits: u64 = 0;
    for &c in &chars[..8] {
        bits = bits << 6 | u64::from(sextet(c).ok_or(DecodeError::BadUrl("not base64url"))?);
    }
    let b = bits.to_be_bytes(); // 48 significant bits in the low 6 bytes
    let b = &b[2..8];
    let data_format = match b[0] {
        2 => DataFormat::Url2,
        4 => DataFormat::Url4,
        _ => return Err(DecodeError::BadUrl("first byte is not format 2 or 4")),
    };
    let mut r = Reading::empty(data_format);
    r.humidity = Some(f64::from(b[1]) / 2.0);
    let hundredths = f64::from(u16::from(b[2] & 0x7F) * 100 + u16::from(b[3]));
    r.temperature = Some(if b[2] & 0x80 != 0 { -hundredths } else { hundredths } / 100.0);
    r.pressure = Some(f64::from(u16::from_be_bytes([b[4], b[5]])) + 50_000.0);
    Ok(r)
}

/// The Ruuvi URL text in Eddystone service data (after the 0xFEAA UUID: frame type 0x10, TX
/// power, URL scheme byte, then the URL), or `None` when it is not a Ruuvi URL frame.
pub(super) fn eddystone_ruuvi_url(frame: &[u8]) -> Option<&str> {
    if frame.len() < 4 || frame[0] != 0x10 {
        return None;
    }
    std::str::from_utf8(&frame[3..]).ok()?.strip_prefix("ruu.vi/#")
}
