//! Ruuvi sensor data: decoding every broadcast format, from bare payloads, full BLE
//! advertisements and Ruuvi Gateway JSON; encoding; batch decoding into Arrow; and a simulator.
//!
//! ```
//! use ruuvistream::ruuvi::decode_hex;
//! let r = decode_hex("0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F").unwrap();
//! assert_eq!(r.temperature, Some(24.3));
//! assert_eq!(r.pressure, Some(100044.0));
//! assert_eq!(r.mac.unwrap().to_string(), "CB:B8:33:4C:88:4F");
//! ```

mod advertisement;
mod batch;
mod c5;
pub mod derived;
mod df3;
mod df5;
mod df6;
mod e1;
mod encoder;
mod fields;
pub mod gateway;
mod hex;
mod reading;
pub mod simulator;
mod url;

pub use advertisement::{COMPANY_ID, decode, decode_advertisement, decode_hex, decode_payload};
pub use batch::{
    OnError, Payload, ReadingsBuilder, UTC, decode_array, decode_chunks, decode_many, decode_many_hex, decode_payloads,
    observations_to_batch, reading_schema,
};
pub use encoder::{encode, encode_advertisement};
pub use hex::{MAX_BYTES, encode_upper as bytes_to_hex, hex_to_bytes};
pub use reading::{DataFormat, Mac, Observation, Reading};
pub use url::decode_url;
