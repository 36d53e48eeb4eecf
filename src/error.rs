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

/// Why a Timestream value (a `Datum`, or the text of a `ScalarValue`) could not be turned into
/// Arrow.
#[derive(Debug, thiserror::Error)]
pub enum TypeError {
    /// A `ScalarValue` whose text is not a value of its type.
    #[error("not {} {}: {:?}", Article(.expected), .expected, .text)]
    BadScalar {
        /// The Timestream type, as the API names it (`TIMESTAMP`, `DOUBLE`, …).
        expected: &'static str,
        /// The offending text (its first 80 characters).
        text: String,
    },
    /// A well-formed value that its Arrow type cannot hold (a TIMESTAMP outside 1677–2262, a
    /// BIGINT past 64 bits, …).
    #[error("{expected} out of range: {text:?}")]
    OutOfRange {
        /// The Timestream type, as the API names it.
        expected: &'static str,
        /// The offending text (its first 80 characters).
        text: String,
    },
    /// A `Datum` of another kind than its type: an `ArrayValue` for a DOUBLE, a `ScalarValue`
    /// for a ROW, a value for UNKNOWN (which only holds nulls), ….
    #[error("expected {expected}, got {found}")]
    Mismatch {
        /// The type, in Timestream SQL notation (`ARRAY(ROW(a BIGINT))`).
        expected: String,
        /// What came instead (`a ScalarValue`, `an ArrayValue`, …).
        found: &'static str,
    },
    /// A `RowValue` with another number of fields than its ROW type.
    #[error("expected {expected} with {fields} fields, got a RowValue with {actual}")]
    RowWidth {
        /// The ROW type, in Timestream SQL notation.
        expected: String,
        /// How many fields the type has.
        fields: usize,
        /// How many the value has.
        actual: usize,
    },
    /// JSON that is not shaped like a `Datum` (or a `Row`).
    #[error("not a Datum: {0}")]
    NotDatum(String),
    /// A row with another number of values than the schema has columns.
    #[error("row {row} has {actual} values for {expected} columns")]
    RowLength {
        /// Index of the row.
        row: usize,
        /// How many columns the schema has.
        expected: usize,
        /// How many values the row has.
        actual: usize,
    },
    /// A value of a column of a row could not be converted.
    #[error("row {row}, column {column:?}: {source}")]
    At {
        /// Index of the row.
        row: usize,
        /// Name of the column.
        column: String,
        /// Why.
        #[source]
        source: Box<TypeError>,
    },
    /// Arrow refused the result (a list column with more than 2³¹ elements in one batch).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
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
    /// A Timestream value (a query result's `Datum`) could not be turned into Arrow.
    #[error(transparent)]
    Type(#[from] TypeError),
    /// An argument is out of range or malformed (a duration, a sensor count, a MAC address, …).
    #[error("invalid argument: {0}")]
    InvalidArgument(String),
    /// Building an Arrow array or batch failed.
    #[error("arrow: {0}")]
    Arrow(#[from] arrow_schema::ArrowError),
    /// Reading or writing a file or stream failed.
    #[error("io: {0}")]
    Io(#[from] std::io::Error),
    /// The engine's data directory is damaged or incomplete (a file missing, failing its
    /// checksum or unreadable): the message names the file and what to do. Nothing was changed;
    /// `ruuvistream repair DIR` salvages what is readable.
    #[error("{0}")]
    Damaged(String),
    /// Timestream (or the engine) refused a request: `code` is the service's error type, such
    /// as `ValidationException` or `ResourceNotFoundException`.
    #[error("{operation}: {code}: {message}")]
    Service {
        /// The API operation.
        operation: &'static str,
        /// The error type the service returned.
        code: String,
        /// The service's message.
        message: String,
    },
    /// Timestream could not be reached (or its answer could not be read): no network, no
    /// credentials, a timeout after every retry.
    #[error("{operation}: {message}")]
    Connection {
        /// The API operation.
        operation: &'static str,
        /// What went wrong, with its causes.
        message: String,
    },
}

impl Error {
    /// The error's text without the operation a service or connection error names, for where
    /// the operation is already said (a WriteRecords report's reasons).
    pub fn detail(&self) -> String {
        match self {
            Self::Service { code, message, .. } => format!("{code}: {message}"),
            Self::Connection { message, .. } => message.clone(),
            other => other.to_string(),
        }
    }
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

/// `a` or `an`, for a type name in an error message.
struct Article<'a>(&'a str);

impl fmt::Display for Article<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let vowel = self.0.starts_with(['A', 'E', 'I', 'O', 'U', 'a', 'e', 'i', 'o', 'u']);
        f.write_str(if vowel { "an" } else { "a" })
    }
}
