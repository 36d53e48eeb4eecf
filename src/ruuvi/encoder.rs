//! Encoding readings back into Ruuvi payloads and advertisements, so that the simulator's data
//! flows through the real decoder and decoding can be tested by round trips.

use super::reading::{DataFormat, Reading};
use super::{advertisement::COMPANY_ID, c5, df3, df5, df6, e1};
use crate::error::Error;

/// Encodes `reading` as a bare payload of `format` (format byte first). Values are clipped to
/// the format's range, absent ones written as "not available" (0 in format 3, which has no such
/// code); fields the format lacks are dropped.
///
/// ```
/// use ruuvistream::ruuvi::{decode_payload, encode, DataFormat};
/// let payload = hex_literal("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F");
/// let reading = decode_payload(&payload).unwrap();
/// assert_eq!(encode(&reading, DataFormat::Df5).unwrap(), payload);
/// # fn hex_literal(s: &str) -> Vec<u8> {
/// #     (0..s.len()).step_by(2).map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap()).collect()
/// # }
/// ```
pub fn encode(reading: &Reading, format: DataFormat) -> Result<Vec<u8>, Error> {
    Ok(match format {
        DataFormat::Df3 => df3::encode(reading).to_vec(),
        DataFormat::Df5 => df5::encode(reading).to_vec(),
        DataFormat::C5 => c5::encode(reading).to_vec(),
        DataFormat::Df6 => df6::encode(reading).to_vec(),
        DataFormat::E1 => e1::encode(reading).to_vec(),
        DataFormat::Url2 | DataFormat::Url4 => {
            return Err(Error::InvalidArgument(format!("encoding format {format} (Eddystone URL) is not supported")));
        }
    })
}

/// Encodes `reading` as a complete advertisement (AD structures), the way a tag broadcasts it
/// and Ruuvi Gateway relays it in `data`: flags, then (format 6) the 0xFC98 service UUID, then
/// the manufacturer data. E1 travels alone in a BT5 extended advertisement.
pub fn encode_advertisement(reading: &Reading, format: DataFormat) -> Result<Vec<u8>, Error> {
    let payload = encode(reading, format)?;
    let mut ad = Vec::with_capacity(payload.len() + 10);
    match format {
        DataFormat::E1 => {}
        DataFormat::Df6 => ad.extend_from_slice(&[0x02, 0x01, 0x06, 0x03, 0x03, 0x98, 0xFC]),
        _ => ad.extend_from_slice(&[0x02, 0x01, 0x06]),
    }
    // Length counts the type byte, the company id and the payload.
    ad.push((payload.len() + 3) as u8);
    ad.push(0xFF);
    ad.extend_from_slice(&COMPANY_ID);
    ad.extend_from_slice(&payload);
    Ok(ad)
}
