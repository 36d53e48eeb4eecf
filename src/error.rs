//! The crate's error type.
//!
//! One enum, one variant per thing a caller can act on. The Python bindings map each variant to an
//! exception class in exactly one place (`src/python/errors.rs`).

use std::fmt;

/// Why a Ruuvi payload, advertisement or hex string could not be decoded.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DecodeError {
    /// The input was empty.
    #[error("empty input")]
    Empty,
    /// The text is not valid hexadecimal.
    #[error("bad hex at character {position}: {reason}")]
    BadHex {
        /// Zero-based character offset of the problem.
        position: usize,
        /// What is wrong there.
        reason: &'static str,
    },
    /// The bytes hold no Ruuvi data: no Ruuvi manufacturer data (company id 0x0499) and no Ruuvi
    /// Eddystone URL in the advertisement, and not a bare payload of a known format.
    #[error("not Ruuvi data: {0}")]
    NotRuuvi(&'static str),
    /// A Ruuvi format byte that this decoder does not decode (format 8 is only a proposal; 7, E0,
    /// F0, FA and CA were never published).
    #[error("unsupported Ruuvi data format {}: {}", FormatByte(*.format), .detail)]
    UnsupportedFormat {
        /// The format byte.
        format: u8,
        /// Why it is not supported.
        detail: &'static str,
    },
    /// A known format with the wrong number of bytes.
    #[error("wrong length for Ruuvi data format {}: expected {expected} bytes, got {actual}", FormatByte(*.format))]
    WrongLength {
        /// The format byte.
        format: u8,
        /// The exact length that format has.
        expected: usize,
        /// The length that was given.
        actual: usize,
    },
    /// A Ruuvi Eddystone URL (formats 2 and 4) whose text is not valid.
    #[error("bad Ruuvi URL: {0}")]
    BadUrl(&'static str),
}

/// Why Ruuvi Gateway JSON (or the simulator's JSON lines) could not be read.
#[derive(Debug, thiserror::Error)]
pub enum GatewayError {
    /// The text is not JSON.
    #[error("invalid JSON: {0}")]
    Json(#[from] serde_json::Error),
    /// The JSON is valid but not shaped like a Gateway message.
    #[error("not a Ruuvi Gateway message: {0}")]
    Shape(String),
    /// A tag's advertisement in the message could not be decoded.
    #[error("tag {mac}: {source}")]
    Decode {
        /// The tag's MAC as given in the message (or `?` when the message names none).
        mac: String,
        /// The decoding failure.
        #[source]
        source: DecodeError,
    },
}

/// The crate-wide error.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A payload could not be decoded.
    #[error("row {row}: {source}")]
    Decode {
        /// Index of the input row that failed.
        row: usize,
        /// Why it failed.
        #[source]
        source: DecodeError,
    },
    /// Gateway JSON could not be read.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// An argument is out of range or malformed (a duration, a sensor count, a MAC address, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Building an Arrow array or batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading or writing a file or stream failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for results of this crate.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Formats a format byte the way Ruuvi names it: `5`, `C5`, `E1`.
struct FormatByte(u8);

impl fmt::Display for FormatByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 < 0x10 { write!(f, "{}", self.0) } else { write!(f, "{:02X}", self.0) }
    }
}
