//! Hexadecimal text to bytes, table-driven, without allocation for anything the size of an
//! advertisement.

use crate::error::DecodeError;

/// The largest input that can be an advertisement: BT5 extended advertising data is at most
/// 255 bytes per report. Longer hex is refused rather than decoded.
pub const MAX_BYTES: usize = 255;

/// The value of every byte as a hex digit, 0xFF where it is none.
const VALUE: [u8; 256] = {
    let mut t = [0xFFu8; 256];
    let mut i = 0;
    while i < 10 {
        t[b'0' as usize + i] = i as u8;
        i += 1;
    }
    let mut i = 0;
    while i < 6 {
        t[b'a' as usize + i] = 10 + i as u8;
        t[b'A' as usize + i] = 10 + i as u8;
        i += 1;
    }
    t
};

/// The byte for every pair of characters (indexed by the first character times 256 plus the
/// second), with bit 8 set where either is not a hex digit: one lookup per output byte.
static PAIRS: [u16; 65536] = {
    let mut t = [0x100u16; 65536];
    let mut i = 0;
    while i < 65536 {
        let (hi, lo) = (VALUE[i >> 8], VALUE[i & 0xFF]);
        if hi != 0xFF && lo != 0xFF {
            t[i] = (hi as u16) << 4 | lo as u16;
        }
        i += 1;
    }
    t
};

/// The value of one hex digit, either case.
#[inline]
pub(crate) const fn nibble(c: u8) -> Option<u8> {
    match VALUE[c as usize] {
        0xFF => None,
        v => Some(v),
    }
}

/// The hex digits of `text` without surrounding white space and an optional `0x`, with the
/// offset of the first digit in `text`.
#[inline]
fn digits(text: &str) -> (&[u8], usize) {
    let b = text.as_bytes();
    let mut start = 0;
    let mut end = b.len();
    while start < end && b[start].is_ascii_whitespace() {
        start += 1;
    }
    while end > start && b[end - 1].is_ascii_whitespace() {
        end -= 1;
    }
    if end - start >= 2 && b[start] == b'0' && (b[start + 1] | 0x20) == b'x' {
        start += 2;
    }
    (&b[start..end], start)
}

/// Decodes hex text (either case, optional `0x` prefix, surrounding white space ignored),
/// appending the bytes to `out`. On error `out` may hold part of the bytes.
#[inline]
pub fn decode_append(text: &str, out: &mut Vec<u8>) -> Result<(), DecodeError> {
    let (d, offset) = digits(text);
    if d.is_empty() {
        return Err(DecodeError::Empty);
    }
    if d.len() % 2 != 0 {
        // A character that is no hex digit is the better answer: "hello" is not hex at all.
        let position = match d.iter().position(|c| VALUE[*c as usize] == 0xFF) {
            Some(i) => return Err(DecodeError::BadHex { position: offset + i, reason: "not a hex digit" }),
            None => offset + d.len(),
        };
        return Err(DecodeError::BadHex { position, reason: "odd number of hex digits" });
    }
    if d.len() / 2 > MAX_BYTES {
        return Err(DecodeError::BadHex {
            position: offset + 2 * MAX_BYTES,
            reason: "longer than any BLE advertisement (255 bytes)",
        });
    }
    // Decode every pair, OR-ing the table values together: an invalid digit sets bit 8, which
    // is checked once at the end; only then is its position looked for.
    let start = out.len();
    out.resize(start + d.len() / 2, 0);
    let mut bad = 0u16;
    for (dst, pair) in out[start..].iter_mut().zip(d.chunks_exact(2)) {
        let v = PAIRS[(pair[0] as usize) << 8 | pair[1] as usize];
        bad |= v;
        *dst = v as u8;
    }
    if bad & 0x100 != 0 {
        let i = d.iter().position(|c| VALUE[*c as usize] == 0xFF).unwrap_or(0);
        return Err(DecodeError::BadHex { position: offset + i, reason: "not a hex digit" });
    }
    Ok(())
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
/// assert_eq!(ruuvistream::ruuvi::hex_to_bytes("0x9904").unwrap(), [0x99, 0x04]);
/// ```
pub fn hex_to_bytes(text: &str) -> Result<Vec<u8>, DecodeError> {
    let mut v = Vec::new();
    decode_append(text, &mut v).map(|()| v)
}
