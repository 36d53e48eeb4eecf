//! The decoded reading: one type for every format, fields absent where a format lacks them.

use std::fmt;
use std::str::FromStr;

use crate::error::Error;

/// A Ruuvi data format, named by the byte that starts its payload.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
#[repr(u8)]
pub enum DataFormat {
    /// Format 2, Eddystone URL (obsolete, pre-2018 tags).
    Url2 = 2,
    /// Format 3, "RAWv1" (deprecated; firmware 1.x/2.x).
    Df3 = 3,
    /// Format 4, Eddystone URL with a tag id (obsolete).
    Url4 = 4,
    /// Format 5, "RAWv2": RuuviTag firmware 2.5.9 and later.
    Df5 = 5,
    /// Format 6: Ruuvi Air over legacy (BT4) advertising.
    Df6 = 6,
    /// Format C5, "Cut-RAWv2": format 5 without acceleration (beta).
    C5 = 0xC5,
    /// Format E1, "Extended v1": Ruuvi Air over BT5 extended advertising.
    E1 = 0xE1,
}

impl DataFormat {
    /// The format byte (the value of the `data_format` column): 2, 3, 4, 5, 6, 197 or 225.
    pub const fn code(self) -> u8 {
        self as u8
    }

    /// The format for a format byte, if it is one this crate decodes.
    pub const fn from_code(code: u8) -> Option<Self> {
        Some(match code {
            2 => Self::Url2,
            3 => Self::Df3,
            4 => Self::Url4,
            5 => Self::Df5,
            6 => Self::Df6,
            0xC5 => Self::C5,
            0xE1 => Self::E1,
            _ => return None,
        })
    }

    /// The exact payload length in bytes, format byte included (`None` for the URL formats,
    /// which carry text rather than a binary payload).
    pub const fn payload_len(self) -> Option<usize> {
        match self {
            Self::Df3 => Some(14),
            Self::Df5 => Some(24),
            Self::C5 => Some(18),
            Self::Df6 => Some(20),
            Self::E1 => Some(40),
            Self::Url2 | Self::Url4 => None,
        }
    }
}

impl fmt::Display for DataFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::C5 => f.write_str("C5"),
            Self::E1 => f.write_str("E1"),
            other => write!(f, "{}", other.code()),
        }
    }
}

impl FromStr for DataFormat {
    type Err = Error;

    /// Parses `5`, `C5`, `E1` (any case), or the decimal codes `197` and `225`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let t = s.trim();
        let code = match t.to_ascii_uppercase().as_str() {
            "C5" => Some(0xC5),
            "E1" => Some(0xE1),
            other => other.parse::<u8>().ok(),
        };
        code.and_then(Self::from_code).ok_or_else(|| Error::InvalidArgument(format!("unknown Ruuvi data format {s:?}")))
    }
}

/// A MAC address: six bytes, or the three low bytes that format 6 carries.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Mac {
    bytes: [u8; 6],
    len: u8,
}

impl Mac {
    /// A full 48-bit MAC, most significant byte first.
    pub const fn new(bytes: [u8; 6]) -> Self {
        Self { bytes, len: 6 }
    }

    /// The low 24 bits of a MAC, as format 6 carries them.
    pub const fn short(bytes: [u8; 3]) -> Self {
        Self { bytes: [bytes[0], bytes[1], bytes[2], 0, 0, 0], len: 3 }
    }

    /// The bytes, most significant first (3 or 6 of them).
    #[inline]
    pub fn as_bytes(&self) -> &[u8] {
        &self.bytes[..self.len as usize]
    }

    /// Writes `AA:BB:CC:DD:EE:FF` (or `DD:EE:FF`) into `out`, returning the number of bytes
    /// written (17 or 8). Used on the hot path of batch decoding, where `to_string` would allocate.
    pub fn write_text(&self, out: &mut [u8; 17]) -> usize {
        const HEX: &[u8; 16] = b"0123456789ABCDEF";
        let mut n = 0;
        for (i, b) in self.as_bytes().iter().enumerate() {
            if i > 0 {
                out[n] = b':';
                n += 1;
            }
            out[n] = HEX[(b >> 4) as usize];
            out[n + 1] = HEX[(b & 15) as usize];
            n += 2;
        }
        n
    }
}

impl fmt::Display for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut buf = [0u8; 17];
        let n = self.write_text(&mut buf);
        // write_text only writes ASCII hex digits and colons.
        f.write_str(std::str::from_utf8(&buf[..n]).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for Mac {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Mac({self})")
    }
}

impl FromStr for Mac {
    type Err = Error;

    /// Parses a MAC with or without separators (`:` or `-`), in any case: `cb:b8:33:4c:88:4f`,
    /// `CBB8334C884F`, or a 3-byte `4C:88:4F`.
    fn from_str(s: &str) -> Result<Self, Error> {
        let bad = || Error::InvalidArgument(format!("not a MAC address: {s:?}"));
        let digits: Vec<u8> = s.bytes().filter(|c| *c != b':' && *c != b'-').collect();
        if digits.len() != 12 && digits.len() != 6 {
            return Err(bad());
        }
        let mut bytes = [0u8; 6];
        for (i, pair) in digits.chunks(2).enumerate() {
            let hi = crate::ruuvi::hex::nibble(pair[0]).ok_or_else(bad)?;
            let lo = crate::ruuvi::hex::nibble(pair[1]).ok_or_else(bad)?;
            bytes[i] = hi << 4 | lo;
        }
        Ok(Self { bytes, len: (digits.len() / 2) as u8 })
    }
}

/// One decoded measurement broadcast, in the units of the canonical reading schema.
///
/// Every field a format does not carry, or that the sensor reported as "not available", is
/// `None`. Scaled values are computed by dividing the raw integer by its exact scale, so a raw
/// temperature of 4860 is exactly the double nearest to 24.3.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Reading {
    /// The data format the reading came in.
    pub data_format: DataFormat,
    /// The sensor's MAC (3 bytes for format 6; from the payload, or the receiver's envelope).
    pub mac: Option<Mac>,
    /// Temperature, °C.
    pub temperature: Option<f64>,
    /// Relative humidity, %RH.
    pub humidity: Option<f64>,
    /// Air pressure, Pa.
    pub pressure: Option<f64>,
    /// Acceleration along X, g.
    pub acceleration_x: Option<f64>,
    /// Acceleration along Y, g.
    pub acceleration_y: Option<f64>,
    /// Acceleration along Z, g.
    pub acceleration_z: Option<f64>,
    /// Battery voltage, V.
    pub battery_voltage: Option<f64>,
    /// Transmit power, dBm.
    pub tx_power: Option<i8>,
    /// Movement counter (wraps at 255).
    pub movement_counter: Option<u8>,
    /// Measurement sequence number (16 bits in format 5, 8 in format 6, 24 in E1).
    pub measurement_sequence: Option<u32>,
    /// PM1.0, µg/m³.
    pub pm1_0: Option<f64>,
    /// PM2.5, µg/m³.
    pub pm2_5: Option<f64>,
    /// PM4.0, µg/m³.
    pub pm4_0: Option<f64>,
    /// PM10.0, µg/m³.
    pub pm10_0: Option<f64>,
    /// CO₂, ppm.
    pub co2: Option<u16>,
    /// VOC index (0–500).
    pub voc: Option<u16>,
    /// NOx index (0–500).
    pub nox: Option<u16>,
    /// Illuminance, lux.
    pub luminosity: Option<f64>,
    /// Whether the air-quality sensors are calibrating.
    pub calibration_in_progress: Option<bool>,
}

impl Reading {
    /// A reading of the given format with every field absent.
    pub const fn empty(data_format: DataFormat) -> Self {
        Self {
            data_format,
            mac: None,
            temperature: None,
            humidity: None,
            pressure: None,
            acceleration_x: None,
            acceleration_y: None,
            acceleration_z: None,
            battery_voltage: None,
            tx_power: None,
            movement_counter: None,
            measurement_sequence: None,
            pm1_0: None,
            pm2_5: None,
            pm4_0: None,
            pm10_0: None,
            co2: None,
            voc: None,
            nox: None,
            luminosity: None,
            calibration_in_progress: None,
        }
    }
}

/// A reading together with what the receiver knew about it: when it arrived, how strong the
/// signal was and which gateway relayed it. Gateway JSON and the simulator produce these.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Observation {
    /// The decoded reading.
    pub reading: Reading,
    /// Receive time, nanoseconds since the Unix epoch (UTC), if the receiver had a clock.
    pub time_ns: Option<i64>,
    /// Received signal strength, dBm.
    pub rssi: Option<i16>,
    /// The MAC of the gateway that relayed the advertisement.
    pub gateway_mac: Option<Mac>,
}
