//! Hexadecimal text to bytes, without allocation for anything the size of an advertisement.

use crate::error::DecodeError;

/// The largest input that can be an advertisement: BT5 extended advertising data is at most
/// 255 bytes per report. Longer hex is refused rather than decoded.
pub const MAX_BYTES: usize = 255;

/// The value of one hex digit, either case.
#[inline]
pub(crate) const fn nibble(c: u8) -> Option<u8> {
    match c {
        b'0'..=b'9' => Some(c - b'0'),
        b'a'..=b'f' => Some(c - b'a' + 10),
        b'A'..=b'F' => Some(c - b'A' + 10),
        _ => None,
    }
}

/// Decodes hex text (either case, optional `0x` prefix, surrounding white space ignored) into
/// `buf`, returning the filled prefix.
pub fn decode_into<'b>(text: &str, buf: &'b mut [u8; MAX_BYTES]) -> Result<&'b [u8], DecodeError> {
    let trimmed = text.trim();
    let offset = text.len() - text.trim_start().len();
    let (digits, offset) = match trimmed.strip_prefix("0x").or_else(|| trimmed.strip_prefix("0X")) {
        Some(rest) => (rest.as_bytes(), offset + 2),
        None => (trimmed.as_bytes(), offset),
    };
    if digits.is_empty() {
        return Err(DecodeError::Empty);
    }
    if digits.len() % 2 != 0 {
        return Err(DecodeError::BadHex { position: offset + digits.len(), reason: "odd number of hex digits" });
    }
    if digits.len() / 2 > MAX_BYTES {
        return Err(DecodeError::BadHex {
            position: offset + 2 * MAX_BYTES,
            reason: "longer than any BLE advertisement (255 bytes)",
        });
    }
    for (i, pair) in digits.chunks_exact(2).enumerate() {
        let hi = nibble(pair[0]);
        let lo = nibble(pair[1]);
        match (hi, lo) {
            (Some(h), Some(l)) => buf[i] = h << 4 | l,
            (None, _) => return Err(bad_digit(offset + 2 * i)),
            (_, None) => return Err(bad_digit(offset + 2 * i + 1)),
        }
    }
    Ok(&buf[..digits.len() / 2])
}

fn bad_digit(position: usize) -> DecodeError {
    DecodeError::BadHex { position, reason: "not a hex digit" }
}

/// Uppercase hex of `bytes`, the form Ruuvi Gateway uses.
pub fn encode_upper(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(HEX[(b >> 4) as usize] as char);
        s.push(HEX[(b & 15) as usize] as char);
    }
    s
}

/// Hex text to bytes (either case, optional `0x`, at most [`MAX_BYTES`] bytes).
///
/// ```
/// assert_eq!(ruuvistream::ruuvi::hex_to_bytes("0x99 04".replace(' ', "").as_str()).unwrap(), [0x99, 0x04]);
/// ```
pub fn hex_to_bytes(text: &str) -> Result<Vec<u8>, DecodeError> {
    let mut buf = [0u8; MAX_BYTES];
    decode_into(text, &mut buf).map(<[u8]>::to_vec)
}
