//! The bridge's settings: a TOML file for everything, the command line's flags for the common
//! ones (they win over the file).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use crate::error::{Error, Result};
use crate::ruuvi::Mac;
use crate::units::{parse_bytes, parse_duration};

/// Everything the bridge is told, as read from its TOML file (every key optional).
///
/// ```toml
/// listen = "127.0.0.1:8080"
///
/// [target]
/// endpoint_url = "http://127.0.0.1:8800"   # leave out for AWS (default credential chain)
/// # ca_file = "/etc/ssl/my-ca.pem"          # for an https:// engine with a private CA
/// database = "ruuvi"
/// table = "sensors"
/// create = true
///
/// [spool]
/// dir = "/var/lib/ruuvistream/spool"
/// max_size = "1GiB"
///
/// [http]
/// auth = "bearer"                           # none, basic, bearer, token or api_key
/// token = "a long random string"
///
/// [sensors]
/// deny = ["AA:BB:CC:DD:EE:FF"]
///
/// [sensor."C6:A5:B9:E0:AD:06"]
/// name = "sauna"
/// labels = { location = "sauna", site = "cabin" }
/// temperature_offset = -0.4
/// ```
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BridgeConfig {
    /// Where the bridge listens for HTTP (`host:port`; default `127.0.0.1:8080`).
    pub listen: Option<String>,
    /// Where readings go.
    #[serde(default)]
    pub target: TargetConfig,
    /// The disk spool.
    #[serde(default)]
    pub spool: SpoolConfig,
    /// The HTTP input's authentication (the Gateway's `http_auth` settings).
    #[serde(default)]
    pub http: HttpConfig,
    /// Rules for every sensor.
    #[serde(default)]
    pub sensors: SensorsConfig,
    /// Settings per sensor, by MAC.
    #[serde(default)]
    pub sensor: BTreeMap<String, SensorConfig>,
    /// MQTT brokers to subscribe to (`[[mqtt]]`, one table each).
    #[serde(default)]
    pub mqtt: Vec<MqttConfig>,
    /// Ruuvi Gateways to poll (`[[poll]]`, one table each).
    #[serde(default)]
    pub poll: Vec<PollConfig>,
}

/// A Ruuvi Gateway whose `/history` the bridge polls.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PollConfig {
    /// Its history URL, `http://<gateway>/history`.
    pub url: String,
    /// Its bearer token (the Gateway's "API key for reading"), if it asks for one.
    pub token: Option<String>,
    /// How often (default `10s`).
    pub interval: Option<String>,
}

/// A Gateway to poll, checked.
#[derive(Debug, Clone)]
pub struct Poll {
    /// Its history URL.
    pub url: String,
    /// Its bearer token.
    pub token: Option<String>,
    /// How often.
    pub interval: Duration,
}

/// One MQTT broker to subscribe to.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct MqttConfig {
    /// `mqtt://host[:port]` (default port 1883) or `mqtts://host[:port]` (TLS, 8883).
    pub url: String,
    /// What its messages are: `gateway` (default; a Ruuvi Gateway's, on
    /// `<prefix><sensor MAC>`) or `walkthrough` (JSON on `d/<location>`, `d_*` fields as
    /// dimensions and every other number a measure, as the walkthrough's backend took them).
    pub shape: Option<String>,
    /// Topic filters (default `ruuvi/#` for `gateway`, the Gateway's default prefix
    /// `ruuvi/<gateway MAC>/`; `d/+` for `walkthrough`).
    pub topics: Option<Vec<String>>,
    /// The user name.
    pub username: Option<String>,
    /// The password.
    pub password: Option<String>,
    /// A CA certificate (PEM) to trust for `mqtts://` (default: the system's).
    pub ca: Option<PathBuf>,
    /// The client id (default `ruuvistream-bridge`, or `ruuvistream-bridge-walkthrough` for
    /// that shape); the broker keeps its session (and the messages not yet acknowledged) under
    /// it, so it must be stable and, per broker, unique.
    pub client_id: Option<String>,
    /// For `walkthrough`: the `site` dimension of messages that carry none (the original IoT
    /// rule's `'home' as d_site`; default `home`).
    pub site: Option<String>,
}

/// Where readings go.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TargetConfig {
    /// A Timestream-compatible endpoint (the engine); `None` writes to AWS.
    pub endpoint_url: Option<String>,
    /// The AWS region (default: the credential chain's, or us-east-1 for an endpoint).
    pub region: Option<String>,
    /// A PEM file of certificate authorities to trust besides the system's roots, for an
    /// `https://` endpoint whose certificate a private CA signed.
    pub ca_file: Option<PathBuf>,
    /// The database (default `ruuvi`).
    pub database: Option<String>,
    /// The table (default `sensors`).
    pub table: Option<String>,
    /// Create the database and table when they do not exist.
    #[serde(default)]
    pub create: bool,
    /// `multi` (default: one MULTI record per reading, named `ruuvi`) or `single` (one record
    /// per measure, the walkthrough's layout).
    pub layout: Option<String>,
}

/// The disk spool.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SpoolConfig {
    /// Its directory (required, here or as `--spool`).
    pub dir: Option<PathBuf>,
    /// The most it may hold, e.g. `1GiB` (default); beyond it new readings are refused.
    pub max_size: Option<String>,
}

/// The HTTP input's authentication.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HttpConfig {
    /// `none` (default), `basic`, `bearer`, `token` or `api_key`, as the Gateway names them.
    pub auth: Option<String>,
    /// The user name, for `basic`.
    pub user: Option<String>,
    /// The password, for `basic`.
    pub password: Option<String>,
    /// The token or key, for `bearer`, `token` and `api_key`.
    pub token: Option<String>,
    /// Listen beyond the loopback interface with `auth = "none"`: anyone who can reach the
    /// port may write readings. Without it, such a bridge refuses to start.
    #[serde(default)]
    pub allow_anonymous: bool,
}

/// Rules for every sensor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorsConfig {
    /// Only these sensors are written (default: all).
    pub allow: Option<Vec<String>>,
    /// These sensors are never written.
    #[serde(default)]
    pub deny: Vec<String>,
    /// How long a sensor's measurement sequence number is remembered, so that a broadcast
    /// heard by two gateways, or sent twice, is written once (default `10m`; `0s` turns it off).
    pub dedupe_window: Option<String>,
    /// Measures to derive and write with every reading that has what they need:
    /// `dew_point`, `absolute_humidity`, `vapour_pressure_deficit`, `air_density`.
    #[serde(default)]
    pub derived: Vec<String>,
    /// Write at most one reading per sensor per window of this length (`5m`, say): the latest
    /// of each window (aligned to the Unix epoch). Default `0s`: every reading. Like the other
    /// rules here, it applies to readings with a sensor's MAC, not to the walkthrough's MQTT
    /// messages.
    pub min_interval: Option<String>,
    /// How long after a window's end (and after its latest reading arrived) the bridge waits
    /// for more readings of that window before writing it (default `30s`).
    pub min_interval_grace: Option<String>,
}

/// Settings of one sensor.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SensorConfig {
    /// Its name, written as the `name` dimension.
    pub name: Option<String>,
    /// More dimensions, e.g. `{ location = "sauna" }`.
    #[serde(default)]
    pub labels: BTreeMap<String, String>,
    /// Added to every temperature, °C.
    pub temperature_offset: Option<f64>,
    /// Added to every relative humidity, %RH (the result is kept within 0–100).
    pub humidity_offset: Option<f64>,
    /// Added to every pressure, Pa.
    pub pressure_offset: Option<f64>,
    /// This sensor's minimum interval, instead of `[sensors] min_interval` (`0s`: every
    /// reading).
    pub min_interval: Option<String>,
}

/// The HTTP input's authentication, checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Auth {
    /// Anyone may post.
    None,
    /// `Authorization: Basic base64(user:password)`.
    Basic {
        /// The user name.
        user: String,
        /// The password.
        password: String,
    },
    /// `Authorization: Bearer <token>`.
    Bearer(String),
    /// `Authorization: Token <token>`.
    Token(String),
    /// `Authorization: <key>`.
    ApiKey(String),
}

/// Per-sensor calibration and dimensions, checked.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Sensor {
    /// Dimensions written with its readings (`name` first, then the labels).
    pub dimensions: Vec<(String, String)>,
    /// Offsets added to temperature (°C), humidity (%RH) and pressure (Pa).
    pub offsets: [f64; 3],
    /// Its own minimum interval (`None`: the one of every sensor).
    pub min_interval: Option<Duration>,
}

/// The settings, checked and with their defaults.
#[derive(Debug, Clone)]
pub struct Settings {
    /// Where the bridge listens.
    pub listen: String,
    /// The endpoint (`None`: AWS).
    pub endpoint_url: Option<String>,
    /// The region.
    pub region: Option<String>,
    /// Certificate authorities the endpoint's HTTPS may be signed by, besides the system's.
    pub ca_file: Option<PathBuf>,
    /// The database.
    pub database: String,
    /// The table.
    pub table: String,
    /// Create them when missing.
    pub create: bool,
    /// One record per measure (`true`) or one MULTI record per reading.
    pub single_measure: bool,
    /// The spool's directory.
    pub spool_dir: PathBuf,
    /// The spool's bound, in bytes.
    pub spool_max_bytes: u64,
    /// The HTTP input's authentication.
    pub auth: Auth,
    /// Only these sensors (`None`: all).
    pub allow: Option<Vec<Mac>>,
    /// Never these.
    pub deny: Vec<Mac>,
    /// How long sequence numbers are remembered.
    pub dedupe_window: Duration,
    /// At most one reading per sensor per window of this length, the latest (zero: every
    /// reading); sensors may have their own ([`Sensor::min_interval`]).
    pub min_interval: Duration,
    /// How long after a window's end a window's latest reading waits for later ones.
    pub min_interval_grace: Duration,
    /// Per-sensor settings, by MAC.
    pub sensors: BTreeMap<Mac, Sensor>,
    /// MQTT brokers.
    pub mqtt: Vec<Mqtt>,
    /// Measures derived from every reading.
    pub derived: Vec<crate::ruuvi::derived::Derived>,
    /// Gateways to poll.
    pub polls: Vec<Poll>,
}

/// What an MQTT broker's messages are.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MqttShape {
    /// A Ruuvi Gateway's: one advertisement per message, the sensor's MAC last in the topic.
    Gateway,
    /// The walkthrough's: JSON fields on `d/<location>`.
    Walkthrough,
}

/// One MQTT broker, checked.
#[derive(Debug, Clone)]
pub struct Mqtt {
    /// The URL as given (for messages).
    pub url: String,
    /// Host and port.
    pub host: String,
    /// The port.
    pub port: u16,
    /// Over TLS.
    pub tls: bool,
    /// What its messages are.
    pub shape: MqttShape,
    /// Topic filters.
    pub topics: Vec<String>,
    /// User name and password.
    pub credentials: Option<(String, String)>,
    /// A CA to trust (PEM file).
    pub ca: Option<PathBuf>,
    /// The client id.
    pub client_id: String,
    /// The default `site` of walkthrough messages.
    pub site: String,
}

impl MqttConfig {
    fn check(&self) -> Result<Mqtt> {
        let bad = |why: String| Error::InvalidArgument(format!("[[mqtt]] {:?}: {why}", self.url));
        let (scheme, rest) = self
            .url
            .split_once("://")
            .ok_or_else(|| bad("write it mqtt://host[:port] or mqtts://host[:port]".into()))?;
        let tls = match scheme.to_ascii_lowercase().as_str() {
            "mqtt" | "tcp" => false,
            "mqtts" | "ssl" => true,
            other => return Err(bad(format!("unknown scheme {other:?}: use mqtt:// or mqtts://"))),
        };
        let authority = rest.trim_end_matches('/');
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !host.ends_with(']') || authority.starts_with('[') => {
                (host, port.parse::<u16>().map_err(|_| bad(format!("bad port {port:?}")))?)
            }
            _ => (authority, if tls { 8883 } else { 1883 }),
        };
        let host = host.trim_start_matches('[').trim_end_matches(']');
        if host.is_empty() || host.contains('/') {
            return Err(bad("no host".into()));
        }
        let shape = match self.shape.as_deref() {
            None | Some("gateway") => MqttShape::Gateway,
            Some("walkthrough") => MqttShape::Walkthrough,
            Some(other) => return Err(bad(format!("shape must be \"gateway\" or \"walkthrough\", not {other:?}"))),
        };
        let topics = match &self.topics {
            Some(t) if t.is_empty() || t.iter().any(String::is_empty) => {
                return Err(bad("topics must be topic filters such as ruuvi/#".into()));
            }
            Some(t) => t.clone(),
            None if shape == MqttShape::Gateway => vec!["ruuvi/#".into()],
            None => vec!["d/+".into()],
        };
        let credentials = match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some((u.clone(), p.clone())),
            (None, None) => None,
            _ => return Err(bad("a username needs a password, and a password a username".into())),
        };
        if self.ca.is_some() && !tls {
            return Err(bad("a CA is for mqtts:// URLs".into()));
        }
        Ok(Mqtt {
            url: self.url.clone(),
            host: host.to_string(),
            port,
            tls,
            shape,
            topics,
            credentials,
            ca: self.ca.clone(),
            client_id: self.client_id.clone().unwrap_or_else(|| match shape {
                MqttShape::Gateway => "ruuvistream-bridge".into(),
                MqttShape::Walkthrough => "ruuvistream-bridge-walkthrough".into(),
            }),
            site: self.site.clone().unwrap_or_else(|| "home".into()),
        })
    }
}

impl BridgeConfig {
    /// Reads a TOML file.
    pub fn load(path: &Path) -> Result<Self> {
        let text = std::fs::read_to_string(path).map_err(|e| {
            Error::InvalidArgument(format!("cannot read the bridge configuration {}: {e}", path.display()))
        })?;
        Self::parse(&text).map_err(|e| Error::InvalidArgument(format!("{}: {e}", path.display())))
    }

    /// Parses TOML text.
    pub fn parse(text: &str) -> std::result::Result<Self, String> {
        toml::from_str(text).map_err(|e| e.to_string().trim_end().to_string())
    }

    /// Checks every value and fills in the defaults.
    pub fn settings(&self) -> Result<Settings> {
        let bad = |m: String| Error::InvalidArgument(m);
        let mac = |s: &String, what: &str| {
            s.parse::<Mac>().map_err(|e| bad(format!("{what}: {s:?} is not a MAC address ({e})")))
        };
        let interval = |text: &str, what: &str| match parse_duration(text) {
            Err(Error::InvalidArgument(m)) => Err(bad(format!("{what}: {m}"))),
            other => other,
        };
        let spool_dir = self.spool.dir.clone().ok_or_else(|| {
            bad("the bridge needs a spool directory: --spool DIR, or [spool] dir in the configuration".into())
        })?;
        let spool_max_bytes = match &self.spool.max_size {
            Some(s) => parse_bytes(s)? as u64,
            None => 1 << 30,
        };
        if spool_max_bytes < 1 << 20 {
            return Err(bad(format!("[spool] max_size must be at least 1MiB, not {spool_max_bytes} bytes")));
        }
        let single_measure = match self.target.layout.as_deref() {
            None | Some("multi") => false,
            Some("single") => true,
            Some(other) => return Err(bad(format!("[target] layout must be \"multi\" or \"single\", not {other:?}"))),
        };
        let secret = |what: &str| -> Result<String> {
            self.http
                .token
                .clone()
                .filter(|t| !t.is_empty())
                .ok_or_else(|| bad(format!("[http] auth = \"{what}\" needs a token")))
        };
        let auth = match self.http.auth.as_deref() {
            None | Some("none") => Auth::None,
            Some("basic") => match (&self.http.user, &self.http.password) {
                (Some(user), Some(password)) if !user.is_empty() => {
                    Auth::Basic { user: user.clone(), password: password.clone() }
                }
                _ => return Err(bad("[http] auth = \"basic\" needs a user and a password".into())),
            },
            Some("bearer") => Auth::Bearer(secret("bearer")?),
            Some("token") => Auth::Token(secret("token")?),
            Some("api_key") => Auth::ApiKey(secret("api_key")?),
            Some(other) => {
                return Err(bad(format!(
                    "[http] auth must be none, basic, bearer, token or api_key (as the Gateway names them), not {other:?}"
                )));
            }
        };
        let listen = self.listen.clone().unwrap_or_else(|| "127.0.0.1:8080".into());
        if auth == Auth::None && !self.http.allow_anonymous && !crate::client::is_loopback(&listen) {
            return Err(bad(format!(
                "listening on {listen} without authentication would let anyone who can reach it write readings: \
                 set [http] auth (the Gateway sends basic, bearer, token or api_key credentials), or \
                 allow_anonymous = true"
            )));
        }
        let allow = self
            .sensors
            .allow
            .as_ref()
            .map(|list| list.iter().map(|s| mac(s, "[sensors] allow")).collect::<Result<Vec<_>>>())
            .transpose()?;
        let deny = self.sensors.deny.iter().map(|s| mac(s, "[sensors] deny")).collect::<Result<Vec<_>>>()?;
        let dedupe_window = match &self.sensors.dedupe_window {
            Some(s) => parse_duration(s)?,
            None => Duration::from_secs(600),
        };
        let mut sensors = BTreeMap::new();
        for (key, s) in &self.sensor {
            let at = format!("[sensor.\"{key}\"]");
            let mut dimensions = Vec::new();
            if let Some(name) = &s.name {
                dimensions.push(("name".to_string(), name.clone()));
            }
            for (k, v) in &s.labels {
                if k == "name" && s.name.is_some() {
                    return Err(bad(format!("{at}: the label \"name\" repeats the sensor's name")));
                }
                if k.is_empty() || v.is_empty() {
                    return Err(bad(format!("{at}: labels need a name and a value")));
                }
                dimensions.push((k.clone(), v.clone()));
            }
            let offsets = [s.temperature_offset, s.humidity_offset, s.pressure_offset].map(|o| o.unwrap_or(0.0));
            if offsets.iter().any(|o| !o.is_finite()) {
                return Err(bad(format!("{at}: offsets must be finite numbers")));
            }
            let min_interval =
                s.min_interval.as_deref().map(|d| interval(d, &format!("{at} min_interval"))).transpose()?;
            sensors.insert(mac(key, &at)?, Sensor { dimensions, offsets, min_interval });
        }
        Ok(Settings {
            listen,
            endpoint_url: self.target.endpoint_url.clone(),
            region: self.target.region.clone(),
            ca_file: self.target.ca_file.clone(),
            database: self.target.database.clone().unwrap_or_else(|| "ruuvi".into()),
            table: self.target.table.clone().unwrap_or_else(|| "sensors".into()),
            create: self.target.create,
            single_measure,
            spool_dir,
            spool_max_bytes,
            auth,
            allow,
            deny,
            dedupe_window,
            min_interval: match &self.sensors.min_interval {
                Some(d) => interval(d, "[sensors] min_interval")?,
                None => Duration::ZERO,
            },
            min_interval_grace: match &self.sensors.min_interval_grace {
                Some(d) => interval(d, "[sensors] min_interval_grace")?,
                None => Duration::from_secs(30),
            },
            sensors,
            polls: self
                .poll
                .iter()
                .map(|p| {
                    super::fetch::Connection::new(&p.url, "[[poll]] url")?;
                    let interval = parse_duration(p.interval.as_deref().unwrap_or("10s"))?;
                    if interval < Duration::from_secs(1) {
                        return Err(bad(format!("[[poll]] {:?}: poll at most once a second", p.url)));
                    }
                    Ok(Poll { url: p.url.clone(), token: p.token.clone().filter(|t| !t.is_empty()), interval })
                })
                .collect::<Result<_>>()?,
            derived: {
                let mut derived = self
                    .sensors
                    .derived
                    .iter()
                    .map(|name| crate::ruuvi::derived::Derived::parse(name))
                    .collect::<Result<Vec<_>>>()
                    .map_err(|e| bad(format!("[sensors] derived: {e}")))?;
                derived.sort_unstable();
                derived.dedup();
                derived
            },
            mqtt: {
                let mqtt = self.mqtt.iter().map(MqttConfig::check).collect::<Result<Vec<_>>>()?;
                for (i, a) in mqtt.iter().enumerate() {
                    if let Some(b) =
                        mqtt[..i].iter().find(|b| (&b.host, b.port, &b.client_id) == (&a.host, a.port, &a.client_id))
                    {
                        return Err(bad(format!(
                            "[[mqtt]] {:?} and {:?} would connect to the same broker as the same client {:?}, and \
                             each would disconnect the other: give one a client_id",
                            b.url, a.url, a.client_id
                        )));
                    }
                }
                mqtt
            },
        })
    }
}
