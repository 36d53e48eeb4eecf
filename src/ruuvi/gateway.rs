//! Ruuvi Gateway JSON (and the simulator's JSON lines) to observations.
//!
//! Accepted shapes, in every firmware variant seen in the wild:
//!
//! * the HTTP POST body and `/history` answer: `{"data": {"gw_mac"|"gwmac", "timestamp",
//!   "tags": {MAC: {"rssi", "timestamp"|"counter", "data"}}}}` (the `data` wrapper optional);
//! * the MQTT message: `{"gw_mac", "rssi", "gwts", "ts"|"cnt", "data"}`, one per advertisement;
//! * the simulator's lines: `{"time", "mac", "rssi", "data"}`;
//! * a Ruuvi Cloud answer: `{"data": {"sensor", "measurements": [{"gwmac", "rssi",
//!   "timestamp", "data"}]}}`;
//! * "decoded only" messages with no `data`, carrying the Gateway's decoded keys (`dataFormat`,
//!   `temperature`, `accelX`, `PM2.5`, `CO2`, …).
//!
//! Numbers may be JSON numbers or strings; MACs may have colons or not, in either case.
//! Timestamps are Unix seconds (values too large for seconds are read as milliseconds,
//! microseconds or nanoseconds) or RFC 3339 text. When the envelope names the tag's MAC it is
//! used; otherwise the MAC from the payload.

use serde_json::{Map, Value};

use super::advertisement::decode_hex;
use super::reading::{DataFormat, Mac, Observation, Reading};
use crate::error::GatewayError;

/// The result for one tag entry of a message: an observation, or why that tag failed.
pub type TagResult = Result<Observation, GatewayError>;

/// Parses one JSON document (a message, POST body or simulator line) into one result per
/// advertisement it carries. The outer error means the document as a whole is unusable; an
/// inner error concerns one tag only.
pub fn parse_message(text: &str) -> Result<Vec<TagResult>, GatewayError> {
    let value: Value = serde_json::from_str(text)?;
    observations_from_value(&value)
}

/// Parses text holding any number of JSON documents (one, JSON lines, or concatenated), each a
/// message or an array of messages, into one result per advertisement. A document that is not
/// usable as a whole gives one error in its place; a syntax error ends the text.
pub fn parse_documents(text: &str) -> Vec<TagResult> {
    let mut out = Vec::new();
    for doc in serde_json::Deserializer::from_str(text).into_iter::<Value>() {
        let doc = match doc {
            Ok(doc) => doc,
            Err(e) => {
                out.push(Err(e.into()));
                break;
            }
        };
        let items = match doc {
            Value::Array(items) => items,
            other => vec![other],
        };
        for item in &items {
            match observations_from_value(item) {
                Ok(results) => out.extend(results),
                Err(e) => out.push(Err(e)),
            }
        }
    }
    out
}

/// Parses one JSON document and fails if any tag in it fails.
///
/// ```
/// let body = r#"{"data": {"gw_mac": "C8:25:2D:8E:9C:2C", "timestamp": 1653633988,
///   "tags": {"C6:A5:B9:E0:AD:06": {"rssi": -71, "timestamp": 1653633986,
///   "data": "0201061BFF99040513C85714C7CC00240008041CAB76F41C3CC6A5B9E0AD06"}}}}"#;
/// let obs = ruuvistream::ruuvi::gateway::decode_json(body).unwrap();
/// assert_eq!(obs[0].rssi, Some(-71));
/// assert_eq!(obs[0].time_ns, Some(1_653_633_986_000_000_000));
/// assert_eq!(obs[0].reading.mac.unwrap().to_string(), "C6:A5:B9:E0:AD:06");
/// ```
pub fn decode_json(text: &str) -> Result<Vec<Observation>, GatewayError> {
    parse_message(text)?.into_iter().collect()
}

/// [`parse_message`] for an already parsed JSON value.
pub fn observations_from_value(value: &Value) -> Result<Vec<TagResult>, GatewayError> {
    let obj = value.as_object().ok_or_else(|| shape("expected a JSON object"))?;
    let inner = obj.get("data").and_then(Value::as_object);
    // Ruuvi Station's data forwarding: decoded tags in an array.
    if let Some(tags) = obj.get("tags").and_then(Value::as_array) {
        let default_time = time_of(obj, &["time"]).ok().flatten();
        return Ok(tags.iter().map(|tag| station_tag(tag, default_time)).collect());
    }
    // HTTP POST / history: tags keyed by MAC, inside "data" or at the top level.
    if let Some(body) = inner.filter(|d| d.contains_key("tags")).or(obj.contains_key("tags").then_some(obj)) {
        let tags = body.get("tags").and_then(Value::as_object).ok_or_else(|| shape("\"tags\" must be an object"))?;
        let gw = gateway_mac(body)?;
        let default_time = time_of(body, &["timestamp"])?;
        return Ok(tags
            .iter()
            .map(|(mac, tag)| {
                let tag = tag.as_object().ok_or_else(|| shape(&format!("tag {mac} must be an object")))?;
                entry(tag, Some(mac), gw, default_time)
            })
            .collect());
    }
    // Ruuvi Cloud: measurements of one sensor.
    if let Some(cloud) = inner.filter(|d| d.contains_key("measurements")) {
        let list = cloud
            .get("measurements")
            .and_then(Value::as_array)
            .ok_or_else(|| shape("\"measurements\" must be an array"))?;
        let sensor = cloud.get("sensor").and_then(Value::as_str);
        return Ok(list
            .iter()
            .map(|m| {
                let m = m.as_object().ok_or_else(|| shape("a measurement must be an object"))?;
                entry(m, sensor, gateway_mac(m)?, None)
            })
            .collect());
    }
    // MQTT message or simulator line: one advertisement.
    let mac = ["mac", "id", "tag_mac"].iter().find_map(|k| obj.get(*k).and_then(Value::as_str));
    Ok(vec![entry(obj, mac, gateway_mac(obj)?, None)])
}

fn shape(msg: &str) -> GatewayError {
    GatewayError::Shape(msg.to_string())
}

/// One advertisement: its envelope and its `data` (or decoded keys).
fn entry(tag: &Map<String, Value>, mac: Option<&str>, gw: Option<Mac>, default_time: Option<i64>) -> TagResult {
    let label = mac.unwrap_or("?").to_string();
    let envelope_mac = mac.map(str::parse::<Mac>).transpose().map_err(|e| GatewayError::Shape(e.to_string()))?;
    let mut reading = match tag.get("data") {
        Some(Value::String(hex)) => {
            decode_hex(hex).map_err(|source| GatewayError::Decode { mac: label.clone(), source })?
        }
        Some(other) => return Err(shape(&format!("tag {label}: \"data\" must be a hex string, not {other}"))),
        None => decoded_only(tag).ok_or_else(|| shape(&format!("tag {label}: no \"data\" and no decoded values")))?,
    };
    // The envelope's full MAC wins over the payload's (format 6 carries only 3 bytes, format 3
    // none at all).
    if let Some(m) = envelope_mac.filter(|m| m.as_bytes().len() == 6) {
        reading.mac = Some(m);
    } else if reading.mac.is_none() {
        reading.mac = envelope_mac;
    }
    Ok(Observation {
        reading,
        time_ns: time_of(tag, &["time", "ts", "timestamp", "gwts"])?.or(default_time),
        rssi: integer(tag.get("rssi")).and_then(|v| i16::try_from(v).ok()),
        gateway_mac: gw,
    })
}

fn gateway_mac(obj: &Map<String, Value>) -> Result<Option<Mac>, GatewayError> {
    ["gw_mac", "gwmac", "gateway_mac"]
        .iter()
        .find_map(|k| obj.get(*k).and_then(Value::as_str))
        .filter(|s| !s.is_empty())
        .map(str::parse::<Mac>)
        .transpose()
        .map_err(|e| GatewayError::Shape(e.to_string()))
}

/// An integer given as a JSON number or a string of digits.
fn integer(v: Option<&Value>) -> Option<i64> {
    match v? {
        Value::Number(n) => n.as_i64().or_else(|| n.as_f64().map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

fn number(v: Option<&Value>) -> Option<f64> {
    match v? {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// The first of `keys` that holds a time, as nanoseconds since the epoch.
pub(crate) fn time_of(obj: &Map<String, Value>, keys: &[&str]) -> Result<Option<i64>, GatewayError> {
    for key in keys {
        let Some(v) = obj.get(*key) else { continue };
        if let Some(s) = v.as_str().filter(|s| s.contains('-') || s.contains('T')) {
            let t = chrono::DateTime::parse_from_rfc3339(s)
                .map_err(|e| shape(&format!("\"{key}\": {s:?} is not an RFC 3339 time: {e}")))?;
            return Ok(t.timestamp_nanos_opt());
        }
        if let Some(n) = integer_exact(v) {
            return Ok(Some(epoch_int_to_ns(n)));
        }
        let Some(n) = number(Some(v)) else {
            return Err(shape(&format!("\"{key}\" must be a number or a time, not {v}")));
        };
        return Ok(Some(epoch_to_ns(n)));
    }
    Ok(None)
}

/// A whole number given as a JSON integer or a string of digits (no fraction).
fn integer_exact(v: &Value) -> Option<i64> {
    match v {
        Value::Number(n) => n.as_i64(),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// [`epoch_to_ns`] in integer arithmetic, exact for integer inputs.
fn epoch_int_to_ns(n: i64) -> i64 {
    let scale = match n.unsigned_abs() {
        x if x < 100_000_000_000 => 1_000_000_000,
        x if x < 100_000_000_000_000 => 1_000_000,
        x if x < 100_000_000_000_000_000 => 1_000,
        _ => 1,
    };
    n.saturating_mul(scale)
}

/// Seconds since the epoch, or milli-, micro- or nanoseconds when the value is too large to be
/// seconds (10¹¹ s is the year 5138).
fn epoch_to_ns(n: f64) -> i64 {
    let scale = match n.abs() {
        x if x < 1e11 => 1e9,
        x if x < 1e14 => 1e6,
        x if x < 1e17 => 1e3,
        _ => 1.0,
    };
    (n * scale).round() as i64
}

/// One tag of a Ruuvi Station data forwarding POST: the Gateway's decoded keys (`id` the MAC),
/// with the pressure in hPa (converted to Pa; a value above 2000 is taken as Pa already) and
/// the time in `updateAt` (else the message's `time`, else none).
fn station_tag(tag: &Value, default_time: Option<i64>) -> TagResult {
    let tag = tag.as_object().ok_or_else(|| shape("a Ruuvi Station tag must be an object"))?;
    let label = tag.get("id").and_then(Value::as_str).unwrap_or("?");
    let mut reading =
        decoded_only(tag).ok_or_else(|| shape(&format!("tag {label}: no \"dataFormat\" and decoded values")))?;
    if reading.mac.is_none() {
        return Err(shape(&format!("tag {label}: \"id\" must be the sensor's MAC")));
    }
    reading.pressure = reading.pressure.map(|p| if p.abs() < 2000.0 { p * 100.0 } else { p });
    Ok(Observation {
        reading,
        // Its dates may be in a form only the phone's locale knows: then the message's time.
        time_ns: time_of(tag, &["updateAt"]).ok().flatten().or(default_time),
        rssi: integer(tag.get("rssi")).and_then(|v| i16::try_from(v).ok()),
        gateway_mac: None,
    })
}

/// A reading from the Gateway's decoded keys (decoded-only mode), if it has any.
fn decoded_only(tag: &Map<String, Value>) -> Option<Reading> {
    let code = integer(tag.get("dataFormat"))
        .and_then(|c| u8::try_from(c).ok())
        .or_else(|| tag.get("dataFormat").and_then(Value::as_str).and_then(|s| u8::from_str_radix(s, 16).ok()))?;
    let format = DataFormat::from_code(code)?;
    let f = |k: &str| number(tag.get(k));
    let int = |k: &str| integer(tag.get(k));
    let mut r = Reading::empty(format);
    r.temperature = f("temperature");
    r.humidity = f("humidity");
    r.pressure = f("pressure");
    r.acceleration_x = f("accelX");
    r.acceleration_y = f("accelY");
    r.acceleration_z = f("accelZ");
    r.battery_voltage = f("voltage");
    r.tx_power = int("txPower").and_then(|v| i8::try_from(v).ok());
    r.movement_counter = int("movementCounter").and_then(|v| u8::try_from(v).ok());
    r.measurement_sequence = int("measurementSequenceNumber").and_then(|v| u32::try_from(v).ok());
    r.pm1_0 = f("PM1.0");
    r.pm2_5 = f("PM2.5");
    r.pm4_0 = f("PM4.0");
    r.pm10_0 = f("PM10.0");
    r.co2 = int("CO2").and_then(|v| u16::try_from(v).ok());
    r.voc = int("VOC").and_then(|v| u16::try_from(v).ok());
    r.nox = int("NOx").and_then(|v| u16::try_from(v).ok());
    r.luminosity = f("luminosity");
    r.calibration_in_progress = tag.get("flag_calibration_in_progress").and_then(Value::as_bool);
    r.mac = tag.get("id").and_then(Value::as_str).and_then(|s| s.parse().ok());
    Some(r)
}
