//! Finding the Ruuvi payload in whatever the caller has: a bare payload, manufacturer data with
//! its company id, a full advertisement (AD structures, as Ruuvi Gateway relays it), or an
//! hcidump-style report with a leading total length and a trailing RSSI byte.

use super::reading::{DataFormat, Reading};
use super::{c5, df3, df5, df6, e1, hex, url};
use crate::error::DecodeError;

/// Ruuvi Innovations' Bluetooth company id, 0x0499, as it appears on the air (little-endian).
pub const COMPANY_ID: [u8; 2] = [0x99, 0x04];

const AD_MANUFACTURER_DATA: u8 = 0xFF;
const AD_SERVICE_DATA_16: u8 = 0x16;
const EDDYSTONE_UUID: [u8; 2] = [0xAA, 0xFE];

/// Decodes a payload that starts at the format byte and has exactly the format's length.
///
/// This is the strictest entry point: no shape detection, no trailing bytes.
#[inline(always)]
pub fn decode_payload(payload: &[u8]) -> Result<Reading, DecodeError> {
    let Some(&code) = payload.first() else { return Err(DecodeError::Empty) };
    let format = match DataFormat::from_code(code) {
        Some(f @ (DataFormat::Url2 | DataFormat::Url4)) => {
            return Err(DecodeError::UnsupportedFormat {
                format: f.code(),
                detail: "formats 2 and 4 travel as Eddystone URLs, not as binary payloads",
            });
        }
        Some(f) => f,
        None => return Err(unsupported(code)),
    };
    let expected = format.payload_len().unwrap_or(0);
    if payload.len() != expected {
        return Err(DecodeError::WrongLength { format: code, expected, actual: payload.len() });
    }
    Ok(match format {
        DataFormat::Df5 => df5::decode(payload),
        DataFormat::E1 => e1::decode(payload),
        DataFormat::Df6 => df6::decode(payload),
        DataFormat::C5 => c5::decode(payload),
        DataFormat::Df3 => df3::decode(payload),
        DataFormat::Url2 | DataFormat::Url4 => unreachable!("handled above"),
    })
}

fn unsupported(code: u8) -> DecodeError {
    let detail = match code {
        0x08 => "format 8 (encrypted environmental) is only a proposal and was never shipped",
        0x07 | 0xE0 | 0xF0 | 0xFA | 0xCA => "an unpublished or withdrawn Ruuvi format",
        _ => "not a Ruuvi data format",
    };
    DecodeError::UnsupportedFormat { format: code, detail }
}

/// What an AD-structure walk found.
enum Found<'a> {
    /// Ruuvi manufacturer data, starting at the format byte.
    Payload(&'a [u8]),
    /// The text of a Ruuvi Eddystone-URL frame.
    Url(&'a str),
}

/// Walks AD structures (`len`, `type`, data…) and returns the first Ruuvi one. A zero length
/// ends the list (padding). A structure that overruns the input ends the walk, except that an
/// overrunning Ruuvi manufacturer structure is still returned so that its payload length can be
/// reported.
fn walk(ad: &[u8]) -> Option<Found<'_>> {
    let mut i = 0;
    while i < ad.len() {
        let len = ad[i] as usize;
        if len == 0 {
            break;
        }
        let end = (i + 1 + len).min(ad.len());
        let overruns = i + 1 + len > ad.len();
        let body = &ad[(i + 1).min(end)..end];
        if let [ty, data @ ..] = body {
            if *ty == AD_MANUFACTURER_DATA && data.starts_with(&COMPANY_ID) {
                return Some(Found::Payload(&data[2..]));
            }
            if *ty == AD_SERVICE_DATA_16
                && data.starts_with(&EDDYSTONE_UUID)
                && !overruns
                && let Some(text) = url::eddystone_ruuvi_url(&data[2..])
            {
                return Some(Found::Url(text));
            }
        }
        if overruns {
            break;
        }
        i = end;
    }
    None
}

fn decode_found(found: Found<'_>) -> Result<Reading, DecodeError> {
    match found {
        Found::Payload(p) => decode_payload(p),
        Found::Url(text) => url::decode_url(text),
    }
}

/// The format 5 payload inside `bytes` when it is in one of the common exact shapes (bare,
/// after the company id, as the manufacturer-data structure, or after the usual flags
/// structure), else `None`. Agrees with [`decode`] on every input it accepts; batch decoding
/// uses it to take a columnar fast path.
#[inline]
pub(super) fn df5_fast(b: &[u8]) -> Option<&[u8; 24]> {
    let payload = match b.len() {
        24 if b[0] == 0x05 => b,
        26 if b[..3] == [0x99, 0x04, 0x05] => &b[2..],
        28 if b[..5] == [0x1B, 0xFF, 0x99, 0x04, 0x05] => &b[4..],
        31 if b[..2] == [0x02, 0x01] && b[3..8] == [0x1B, 0xFF, 0x99, 0x04, 0x05] => &b[7..],
        _ => return None,
    };
    payload.try_into().ok()
}

/// Decodes an advertisement given as AD structures (what Ruuvi Gateway puts in `data`).
pub fn decode_advertisement(ad: &[u8]) -> Result<Reading, DecodeError> {
    if ad.is_empty() {
        return Err(DecodeError::Empty);
    }
    walk(ad)
        .map(decode_found)
        .unwrap_or(Err(DecodeError::NotRuuvi("no Ruuvi manufacturer data or Ruuvi URL in the advertisement")))
}

/// Decodes Ruuvi data in any of the shapes it travels in, telling them apart by content:
///
/// 1. manufacturer data that starts with the company id `99 04`;
/// 2. a bare payload (format byte first) of exactly its format's length;
/// 3. a full advertisement (AD structures), with or without an hcidump-style leading total
///    length byte and trailing RSSI byte;
/// 4. otherwise, a payload with a known format byte is reported with its length problem, and
///    anything else as not Ruuvi data.
#[inline]
pub fn decode(bytes: &[u8]) -> Result<Reading, DecodeError> {
    let Some(&first) = bytes.first() else { return Err(DecodeError::Empty) };
    if DataFormat::from_code(first).and_then(DataFormat::payload_len) == Some(bytes.len()) {
        return decode_payload(bytes);
    }
    if let Some(rest) = bytes.strip_prefix(&COMPANY_ID) {
        return decode_payload(rest);
    }
    if let Some(found) = walk(bytes) {
        return decode_found(found);
    }
    // hcidump style: a total length byte, AD structures, maybe one RSSI byte.
    let n = bytes.len();
    if n > 1
        && (first as usize == n - 1 || first as usize == n - 2)
        && let Some(found) = walk(&bytes[1..=first as usize])
    {
        return decode_found(found);
    }
    match first {
        0x03 | 0x05 | 0x06 | 0xC5 | 0xE1 | 0x08 | 0x07 | 0xE0 | 0xF0 | 0xFA | 0xCA => decode_payload(bytes),
        _ => Err(DecodeError::NotRuuvi("neither a Ruuvi payload nor an advertisement carrying one")),
    }
}

/// Decodes hex text (either case, optional `0x`) in any shape [`decode`] accepts, or a Ruuvi
/// URL (`https://ruu.vi/#…`, formats 2 and 4).
pub fn decode_hex(text: &str) -> Result<Reading, DecodeError> {
    let mut buf = Vec::with_capacity(64);
    match hex::decode_append(text, &mut buf) {
        Ok(()) => decode(&buf),
        Err(e) => decode_url_or(text, e),
    }
}

/// Text that is not hex may be a Ruuvi URL; otherwise the hex error stands.
pub(super) fn decode_url_or(text: &str, hex_error: DecodeError) -> Result<Reading, DecodeError> {
    if text.contains("ruu.vi/#") { url::decode_url(text) } else { Err(hex_error) }
}
