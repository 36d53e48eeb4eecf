//! Simulated Ruuvi sensors, for people who own none (and for tests and benchmarks).
//!
//! Each sensor sits at a named location with its own climate: a diurnal temperature cycle,
//! humidity that falls as the air warms, weather-driven pressure shared by the whole site, a
//! slowly draining battery that sags in the cold, now-and-then movement that bumps the movement
//! counter and tilts the tag, and a measurement sequence counter. Ruuvi Air sensors add CO₂,
//! particulates, VOC/NOx indices and light that follow occupancy and daylight. Broadcasts are
//! lost with a given probability and sometimes received twice.
//!
//! The output is what a receiver would hear: encoded advertisements with a time, the sensor's
//! MAC and an RSSI, so simulated data goes through the real decoder. The same seed and start
//! give the same packets, byte for byte.

use std::collections::VecDeque;
use std::f64::consts::PI;
use std::time::Duration;

use super::advertisement;
use super::encoder::encode_advertisement;
use super::reading::{DataFormat, Mac, Observation, Reading};
use crate::error::{Error, Result};

/// How to simulate.
#[derive(Debug, Clone, PartialEq)]
pub struct SimulatorConfig {
    /// RuuviTags (format 5).
    pub sensors: usize,
    /// Ruuvi Air sensors (format E1).
    pub air_sensors: usize,
    /// First broadcast tick, nanoseconds since the Unix epoch.
    pub start_ns: i64,
    /// How long to simulate.
    pub duration: Duration,
    /// Time between broadcasts of one sensor (a RuuviTag's default is 1285 ms).
    pub interval: Duration,
    /// Seed of every random choice.
    pub seed: u64,
    /// Probability that a broadcast is not received (0–1).
    pub loss: f64,
    /// Probability that a received broadcast is received a second time (0–1).
    pub repeat: f64,
    /// The site every sensor belongs to.
    pub site: String,
}

impl Default for SimulatorConfig {
    /// Four RuuviTags for one hour at a 5 s interval, 10 % loss, 5 % repeats, seed 0, starting
    /// at 2026-01-01T00:00:00Z.
    fn default() -> Self {
        Self {
            sensors: 4,
            air_sensors: 0,
            start_ns: 1_767_225_600_000_000_000,
            duration: Duration::from_secs(3600),
            interval: Duration::from_secs(5),
            seed: 0,
            loss: 0.1,
            repeat: 0.05,
            site: "home".into(),
        }
    }
}

/// A simulated sensor.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SensorInfo {
    /// Its MAC (a static random address, as Ruuvi devices use).
    pub mac: Mac,
    /// Where it is: `bedroom`, `greenhouse`, …
    pub location: String,
    /// The site it belongs to.
    pub site: String,
    /// The format it broadcasts.
    pub data_format: DataFormat,
}

/// One received broadcast.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Packet {
    /// Receive time, nanoseconds since the Unix epoch.
    pub time_ns: i64,
    /// Index of the sensor in [`Simulator::sensors`].
    pub sensor: usize,
    /// The sender's MAC.
    pub mac: Mac,
    /// Received signal strength, dBm.
    pub rssi: i16,
    /// The advertisement as it went over the air (AD structures).
    pub advertisement: Vec<u8>,
}

/// xoshiro256**, seeded through SplitMix64: small, fast and stable across releases, so that a
/// seed means the same data forever.
#[derive(Debug, Clone)]
struct Rng([u64; 4]);

impl Rng {
    fn new(seed: u64) -> Self {
        let mut x = seed;
        let mut next = || {
            x = x.wrapping_add(0x9E37_79B9_7F4A_7C15);
            let mut z = x;
            z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
            z ^ (z >> 31)
        };
        Self([next(), next(), next(), next()])
    }

    fn next_u64(&mut self) -> u64 {
        let s = &mut self.0;
        let out = s[1].wrapping_mul(5).rotate_left(7).wrapping_mul(9);
        let t = s[1] << 17;
        s[2] ^= s[0];
        s[3] ^= s[1];
        s[1] ^= s[2];
        s[0] ^= s[3];
        s[2] ^= t;
        s[3] = s[3].rotate_left(45);
        out
    }

    /// Uniform in [0, 1).
    fn uniform(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    fn range(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.uniform()
    }

    /// Standard normal (Box–Muller).
    fn normal(&mut self) -> f64 {
        let u = 1.0 - self.uniform();
        let v = self.uniform();
        (-2.0 * u.ln()).sqrt() * (2.0 * PI * v).cos()
    }

    fn chance(&mut self, p: f64) -> bool {
        self.uniform() < p
    }
}

/// An Ornstein–Uhlenbeck process: noise that wanders and returns to zero, with a standard
/// deviation `sigma` and a memory of `tau` seconds.
#[derive(Debug, Clone)]
struct Wander {
    x: f64,
    sigma: f64,
    tau: f64,
}

impl Wander {
    fn new(sigma: f64, tau: f64, rng: &mut Rng) -> Self {
        Self { x: sigma * rng.normal(), sigma, tau }
    }

    fn step(&mut self, dt: f64, rng: &mut Rng) -> f64 {
        let a = (-dt / self.tau).exp();
        self.x = a * self.x + self.sigma * (1.0 - a * a).sqrt() * rng.normal();
        self.x
    }
}

/// A location's climate.
struct Place {
    name: &'static str,
    /// Mean temperature, °C, and the half-swing of its daily cycle.
    temp: f64,
    swing: f64,
    /// Mean humidity, %RH, and how many %RH it drops per °C above the mean.
    humidity: f64,
    dry_per_degree: f64,
    /// Typical RSSI at the gateway, dBm.
    rssi: f64,
    /// Movement events per day.
    moves_per_day: f64,
    /// A daily evening heating session (the sauna).
    sauna: bool,
}

const TAG_PLACES: &[Place] = &[
    Place {
        name: "bedroom",
        temp: 20.5,
        swing: 1.2,
        humidity: 42.0,
        dry_per_degree: 1.5,
        rssi: -62.0,
        moves_per_day: 2.0,
        sauna: false,
    },
    Place {
        name: "bathroom",
        temp: 22.0,
        swing: 1.5,
        humidity: 58.0,
        dry_per_degree: 2.0,
        rssi: -70.0,
        moves_per_day: 1.0,
        sauna: false,
    },
    Place {
        name: "greenhouse",
        temp: 17.0,
        swing: 7.0,
        humidity: 70.0,
        dry_per_degree: 2.5,
        rssi: -84.0,
        moves_per_day: 3.0,
        sauna: false,
    },
    Place {
        name: "living room",
        temp: 21.5,
        swing: 1.0,
        humidity: 40.0,
        dry_per_degree: 1.5,
        rssi: -58.0,
        moves_per_day: 4.0,
        sauna: false,
    },
    Place {
        name: "balcony",
        temp: 6.0,
        swing: 4.0,
        humidity: 80.0,
        dry_per_degree: 3.0,
        rssi: -80.0,
        moves_per_day: 0.5,
        sauna: false,
    },
    Place {
        name: "sauna",
        temp: 21.0,
        swing: 0.8,
        humidity: 45.0,
        dry_per_degree: 0.6,
        rssi: -76.0,
        moves_per_day: 1.0,
        sauna: true,
    },
    Place {
        name: "fridge",
        temp: 4.0,
        swing: 0.3,
        humidity: 65.0,
        dry_per_degree: 0.5,
        rssi: -78.0,
        moves_per_day: 8.0,
        sauna: false,
    },
    Place {
        name: "garage",
        temp: 10.0,
        swing: 3.0,
        humidity: 60.0,
        dry_per_degree: 2.0,
        rssi: -88.0,
        moves_per_day: 1.0,
        sauna: false,
    },
];

const AIR_PLACES: &[Place] = &[
    Place {
        name: "office",
        temp: 22.0,
        swing: 1.0,
        humidity: 38.0,
        dry_per_degree: 1.5,
        rssi: -60.0,
        moves_per_day: 0.0,
        sauna: false,
    },
    Place {
        name: "kitchen",
        temp: 22.5,
        swing: 1.5,
        humidity: 45.0,
        dry_per_degree: 1.5,
        rssi: -66.0,
        moves_per_day: 0.0,
        sauna: false,
    },
    Place {
        name: "nursery",
        temp: 21.0,
        swing: 0.8,
        humidity: 44.0,
        dry_per_degree: 1.5,
        rssi: -72.0,
        moves_per_day: 0.0,
        sauna: false,
    },
];

/// The state of one simulated sensor between broadcasts.
struct Sensor {
    info: SensorInfo,
    place: &'static Place,
    rng: Rng,
    temp_noise: Wander,
    humidity_noise: Wander,
    air_noise: Wander,
    pressure_offset: f64,
    battery: f64,
    /// Unit gravity vector in the tag's frame.
    gravity: [f64; 3],
    movement: u8,
    sequence: u32,
    phase_ns: i64,
}

/// Hour of the day (UTC, fractional) at `ns`.
fn hour_of_day(ns: i64) -> f64 {
    (ns.rem_euclid(86_400_000_000_000)) as f64 / 3.6e12
}

/// 1 when people are usually home and awake (07–09, 17–23), a little otherwise.
fn occupancy(hour: f64) -> f64 {
    if (7.0..9.0).contains(&hour) || (17.0..23.0).contains(&hour) { 1.0 } else { 0.15 }
}

impl Sensor {
    fn new(index: usize, air: bool, cfg: &SimulatorConfig) -> Self {
        let places = if air { AIR_PLACES } else { TAG_PLACES };
        let nth = if air { index - cfg.sensors } else { index };
        let place = &places[nth % places.len()];
        let location = match nth / places.len() {
            0 => place.name.to_string(),
            k => format!("{} {}", place.name, k + 1),
        };
        let mut rng = Rng::new(cfg.seed ^ (index as u64 + 1).wrapping_mul(0xA076_1D64_78BD_642F));
        let mut mac = [0u8; 6];
        for b in &mut mac {
            *b = (rng.next_u64() >> 56) as u8;
        }
        mac[0] |= 0xC0; // a static random address has its two top bits set
        let tilt = [rng.range(-0.03, 0.03), rng.range(-0.03, 0.03), 1.0];
        Self {
            info: SensorInfo {
                mac: Mac::new(mac),
                location,
                site: cfg.site.clone(),
                data_format: if air { DataFormat::E1 } else { DataFormat::Df5 },
            },
            place,
            temp_noise: Wander::new(0.15, 1200.0, &mut rng),
            humidity_noise: Wander::new(1.0, 1800.0, &mut rng),
            air_noise: Wander::new(1.0, 900.0, &mut rng),
            pressure_offset: rng.range(-30.0, 30.0),
            battery: rng.range(2.95, 3.10),
            gravity: normalize(tilt),
            movement: (rng.next_u64() % 200) as u8,
            sequence: (rng.next_u64() % 60_000) as u32,
            phase_ns: (rng.uniform() * cfg.interval.as_nanos() as f64) as i64,
            rng,
        }
    }

    /// Advances by `dt` seconds to time `ns` and measures.
    fn measure(&mut self, ns: i64, dt: f64, pressure: f64) -> Reading {
        let p = self.place;
        let hour = hour_of_day(ns);
        let daily = (2.0 * PI * (hour - 9.0) / 24.0).sin();
        // The sauna heats up from 18:30, holds about 80 °C until 20:00 and cools over an hour.
        let heat = if p.sauna {
            let h = hour - 18.5;
            60.0 * if h < 0.0 {
                0.0
            } else if h < 0.5 {
                h / 0.5
            } else if h < 1.5 {
                1.0
            } else {
                (-(h - 1.5) * 3.0).exp()
            }
        } else {
            0.0
        };
        let temp = p.temp + p.swing * daily + self.temp_noise.step(dt, &mut self.rng) + heat;
        let humidity = (p.humidity - p.dry_per_degree * (temp - p.temp) + self.humidity_noise.step(dt, &mut self.rng))
            .clamp(2.0, 100.0);
        let air_noise = self.air_noise.step(dt, &mut self.rng);

        let mut r = Reading::empty(self.info.data_format);
        r.mac = Some(self.info.mac);
        r.temperature = Some(temp);
        r.humidity = Some(humidity);
        r.pressure = Some(pressure + self.pressure_offset + self.rng.normal() * 2.0);

        if self.info.data_format == DataFormat::E1 {
            let occ = occupancy(hour);
            let pm25 = (4.0 + 6.0 * occ + 1.5 * air_noise).max(0.0);
            r.pm1_0 = Some(pm25 * 0.7);
            r.pm2_5 = Some(pm25);
            r.pm4_0 = Some(pm25 * 1.1);
            r.pm10_0 = Some(pm25 * 1.2);
            r.co2 = Some((460.0 + 650.0 * occ + 40.0 * air_noise).clamp(400.0, 5000.0) as u16);
            r.voc = Some((100.0 + 70.0 * occ + 12.0 * air_noise).clamp(1.0, 500.0) as u16);
            r.nox = Some((1.0 + 2.0 * occ + air_noise).clamp(1.0, 500.0) as u16);
            let daylight = (PI * (hour - 6.0) / 12.0).sin().max(0.0) * 420.0;
            let lamps = if (17.0..23.0).contains(&hour) { 180.0 } else { 0.0 };
            r.luminosity = Some((daylight + lamps) * (1.0 + 0.02 * air_noise).max(0.0));
            r.calibration_in_progress = Some(false);
            self.sequence = (self.sequence + 1) % 0xFF_FFFF;
        } else {
            // Movement: a few events a day; each bumps the counter and tilts the tag.
            let moved = self.rng.chance(1.0 - (-p.moves_per_day * dt / 86_400.0).exp());
            if moved {
                let steps = 1 + (self.rng.next_u64() % 3) as u8;
                // The counter runs 0..=254; 255 means "not available".
                self.movement = ((u16::from(self.movement) + u16::from(steps)) % 255) as u8;
                let g = self.gravity;
                self.gravity = normalize([
                    g[0] + self.rng.range(-0.3, 0.3),
                    g[1] + self.rng.range(-0.3, 0.3),
                    g[2] + self.rng.range(-0.1, 0.1),
                ]);
            }
            let shake = if moved { 0.25 } else { 0.004 };
            r.acceleration_x = Some(self.gravity[0] + shake * self.rng.normal());
            r.acceleration_y = Some(self.gravity[1] + shake * self.rng.normal());
            r.acceleration_z = Some(self.gravity[2] + shake * self.rng.normal());
            // CR2477: drains ~1.5 mV a day, sags ~3 mV per °C below 20 °C.
            self.battery -= 0.0015 * dt / 86_400.0;
            r.battery_voltage = Some(self.battery - 0.003 * (20.0 - temp).max(0.0) + 0.002 * self.rng.normal());
            r.tx_power = Some(4);
            r.movement_counter = Some(self.movement);
            self.sequence = (self.sequence + 1) % 0xFFFF;
        }
        r.measurement_sequence = Some(self.sequence);
        r
    }
}

fn normalize(v: [f64; 3]) -> [f64; 3] {
    let n = (v[0] * v[0] + v[1] * v[1] + v[2] * v[2]).sqrt().max(1e-9);
    [v[0] / n, v[1] / n, v[2] / n]
}

/// An iterator of received broadcasts, in time order.
///
/// ```
/// use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};
/// let sim = Simulator::new(SimulatorConfig { sensors: 2, ..Default::default() }).unwrap();
/// assert_eq!(sim.sensors().len(), 2);
/// let packets: Vec<_> = sim.collect();
/// // 2 sensors × 720 broadcasts, less ~10 % lost, plus ~5 % repeats
/// assert!((1200..1500).contains(&packets.len()));
/// ```
pub struct Simulator {
    cfg: SimulatorConfig,
    sensors: Vec<Sensor>,
    infos: Vec<SensorInfo>,
    weather: Wander,
    rng: Rng,
    tick: u64,
    ticks: u64,
    pending: VecDeque<Packet>,
}

impl Simulator {
    /// Checks the configuration and sets the sensors up.
    pub fn new(cfg: SimulatorConfig) -> Result<Self> {
        let bad = |m: &str| Err(Error::InvalidArgument(m.into()));
        if cfg.interval.is_zero() {
            return bad("the broadcast interval must be positive");
        }
        if !(0.0..=1.0).contains(&cfg.loss) || !(0.0..=1.0).contains(&cfg.repeat) {
            return bad("loss and repeat are probabilities between 0 and 1");
        }
        if cfg.sensors + cfg.air_sensors > 100_000 {
            return bad("at most 100000 sensors");
        }
        let ticks = (cfg.duration.as_nanos() / cfg.interval.as_nanos()) as u64;
        let sensors: Vec<Sensor> =
            (0..cfg.sensors + cfg.air_sensors).map(|i| Sensor::new(i, i >= cfg.sensors, &cfg)).collect();
        let infos = sensors.iter().map(|s| s.info.clone()).collect();
        let mut rng = Rng::new(cfg.seed.wrapping_add(0x5EED));
        let weather = Wander::new(700.0, 36.0 * 3600.0, &mut rng);
        Ok(Self { cfg, sensors, infos, weather, rng, tick: 0, ticks, pending: VecDeque::new() })
    }

    /// The simulated sensors, in index order.
    pub fn sensors(&self) -> &[SensorInfo] {
        &self.infos
    }

    /// The configuration.
    pub fn config(&self) -> &SimulatorConfig {
        &self.cfg
    }

    fn run_tick(&mut self) {
        let interval = self.cfg.interval.as_nanos() as i64;
        let dt = interval as f64 / 1e9;
        let tick_ns = self.cfg.start_ns + self.tick as i64 * interval;
        let pressure = 101_325.0 + self.weather.step(dt, &mut self.rng);
        let mut out = Vec::with_capacity(self.sensors.len());
        for (i, s) in self.sensors.iter_mut().enumerate() {
            let ns = tick_ns + s.phase_ns + (s.rng.uniform() * 10e6) as i64; // 0–10 ms of jitter
            let reading = s.measure(ns, dt, pressure);
            if s.rng.chance(self.cfg.loss) {
                continue;
            }
            let advertisement = encode_advertisement(&reading, s.info.data_format).expect("binary formats encode");
            let rssi = (s.place.rssi + 3.0 * s.rng.normal()).round().clamp(-105.0, -30.0) as i16;
            let twice = s.rng.chance(self.cfg.repeat);
            let packet = Packet { time_ns: ns, sensor: i, mac: s.info.mac, rssi, advertisement };
            if twice {
                let again = Packet { time_ns: ns + 20_000_000, rssi: rssi - 1, ..packet.clone() };
                out.push(packet);
                out.push(again);
            } else {
                out.push(packet);
            }
        }
        out.sort_by_key(|p| p.time_ns);
        self.pending.extend(out);
        self.tick += 1;
    }

    /// Every packet decoded by the real decoder, as one record batch in the readings schema
    /// with receive context (`time`, `rssi`, `gateway_mac` set to `gateway`): the input
    /// [`Mapping::map`](crate::records::Mapping::map) and the client's `write` take.
    ///
    /// ```
    /// use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};
    /// let readings = Simulator::new(SimulatorConfig::default()).unwrap().into_batch(None).unwrap();
    /// assert!(readings.num_rows() > 2500 && readings.schema().field_with_name("time").is_ok());
    /// ```
    pub fn into_batch(self, gateway: Option<Mac>) -> Result<arrow_array::RecordBatch> {
        let mut b = super::ReadingsBuilder::new(true, false, 1024);
        for o in self.observations(gateway) {
            b.push_observation(&o);
        }
        b.finish()
    }

    /// The packets decoded by the real decoder, with their receive context (`gateway_mac` set to
    /// `gateway`).
    pub fn observations(self, gateway: Option<Mac>) -> impl Iterator<Item = Observation> {
        self.map(move |p| Observation {
            reading: advertisement::decode(&p.advertisement).expect("the simulator's own packets decode"),
            time_ns: Some(p.time_ns),
            rssi: Some(p.rssi),
            gateway_mac: gateway,
        })
    }
}

impl Iterator for Simulator {
    type Item = Packet;

    fn next(&mut self) -> Option<Packet> {
        while self.pending.is_empty() {
            if self.tick >= self.ticks {
                return None;
            }
            self.run_tick();
        }
        self.pending.pop_front()
    }
}

/// A deterministic gateway MAC for a seed, for output formats that name a gateway.
pub fn gateway_mac_for_seed(seed: u64) -> Mac {
    let mut rng = Rng::new(seed ^ 0x6A7E_3A11);
    let mut b = [0u8; 6];
    for x in &mut b {
        *x = (rng.next_u64() >> 56) as u8;
    }
    b[0] &= 0xFC; // a universally administered unicast address, like a real gateway's
    Mac::new(b)
}
