//! The simulator: deterministic, realistic and decodable by the real decoder.

use std::collections::HashMap;
use std::time::Duration;

use ruuvistream::ruuvi::simulator::{Simulator, SimulatorConfig};
use ruuvistream::ruuvi::{DataFormat, decode};

const DAY_START: i64 = 1_767_225_600_000_000_000; // 2026-01-01T00:00:00Z

fn day(sensors: usize, air: usize, seed: u64) -> SimulatorConfig {
    SimulatorConfig {
        sensors,
        air_sensors: air,
        seed,
        start_ns: DAY_START,
        duration: Duration::from_secs(86_400),
        interval: Duration::from_secs(60),
        loss: 0.0,
        repeat: 0.0,
        ..Default::default()
    }
}

#[test]
fn same_seed_same_packets_other_seed_other_packets() {
    let a: Vec<_> = Simulator::new(SimulatorConfig { seed: 7, ..Default::default() }).unwrap().collect();
    let b: Vec<_> = Simulator::new(SimulatorConfig { seed: 7, ..Default::default() }).unwrap().collect();
    let c: Vec<_> = Simulator::new(SimulatorConfig { seed: 8, ..Default::default() }).unwrap().collect();
    assert_eq!(a, b);
    assert_ne!(a, c);
}

#[test]
fn packets_are_time_ordered_and_within_the_window() {
    let cfg = SimulatorConfig { sensors: 5, air_sensors: 2, ..Default::default() };
    let (start, end) = (cfg.start_ns, cfg.start_ns + cfg.duration.as_nanos() as i64);
    let packets: Vec<_> = Simulator::new(cfg).unwrap().collect();
    assert!(packets.windows(2).all(|w| w[0].time_ns <= w[1].time_ns));
    assert!(packets.iter().all(|p| p.time_ns >= start && p.time_ns < end + 1_000_000_000));
}

#[test]
fn loss_and_repeats_follow_their_probabilities() {
    let base = SimulatorConfig { sensors: 10, duration: Duration::from_secs(6 * 3600), ..Default::default() };
    let broadcasts = 10 * 6 * 3600 / 5;
    let none: usize = Simulator::new(SimulatorConfig { loss: 0.0, repeat: 0.0, ..base.clone() }).unwrap().count();
    assert_eq!(none, broadcasts);
    let lossy = Simulator::new(SimulatorConfig { loss: 0.3, repeat: 0.0, ..base.clone() }).unwrap().count();
    let ratio = lossy as f64 / broadcasts as f64;
    assert!((0.68..0.72).contains(&ratio), "{ratio}");
    let packets: Vec<_> = Simulator::new(SimulatorConfig { loss: 0.0, repeat: 0.2, ..base }).unwrap().collect();
    // A repeat carries the same measurement: same sequence number from the same sensor.
    let mut seen: HashMap<(usize, u32), usize> = HashMap::new();
    for p in &packets {
        let r = decode(&p.advertisement).unwrap();
        *seen.entry((p.sensor, r.measurement_sequence.unwrap())).or_default() += 1;
    }
    let repeats = seen.values().filter(|&&n| n == 2).count() as f64 / broadcasts as f64;
    assert!((0.18..0.22).contains(&repeats), "{repeats}");
}

#[test]
fn readings_are_realistic() {
    let sim = Simulator::new(day(8, 3, 1)).unwrap();
    let sensors = sim.sensors().to_vec();
    let mut by_sensor: HashMap<usize, Vec<ruuvistream::ruuvi::Reading>> = HashMap::new();
    for p in sim {
        by_sensor.entry(p.sensor).or_default().push(decode(&p.advertisement).unwrap());
    }
    for (i, readings) in &by_sensor {
        let info = &sensors[*i];
        assert_eq!(readings.len(), 1440, "{}", info.location);
        let temps: Vec<f64> = readings.iter().map(|r| r.temperature.unwrap()).collect();
        let (lo, hi) = temps.iter().fold((f64::MAX, f64::MIN), |(a, b), &t| (a.min(t), b.max(t)));
        assert!(hi - lo > 0.3, "{} has a daily cycle ({lo}..{hi})", info.location);
        for r in readings {
            assert_eq!(r.data_format, info.data_format);
            assert_eq!(r.mac, Some(info.mac));
            let h = r.humidity.unwrap();
            assert!((0.0..=100.0).contains(&h));
            let p = r.pressure.unwrap();
            assert!((95_000.0..108_000.0).contains(&p), "{p}");
        }
        // Sequence numbers count up by one per measurement.
        let seqs: Vec<u32> = readings.iter().map(|r| r.measurement_sequence.unwrap()).collect();
        let modulus = if info.data_format == DataFormat::E1 { 0xFF_FFFF } else { 0xFFFF };
        assert!(seqs.windows(2).all(|w| w[1] == (w[0] + 1) % modulus));
        if info.data_format == DataFormat::Df5 {
            let first = readings[0].battery_voltage.unwrap();
            assert!((2.8..3.2).contains(&first));
            assert!(readings.iter().all(|r| r.tx_power == Some(4)));
            let g = readings[0];
            let norm = (g.acceleration_x.unwrap().powi(2)
                + g.acceleration_y.unwrap().powi(2)
                + g.acceleration_z.unwrap().powi(2))
            .sqrt();
            assert!((0.9..1.1).contains(&norm), "gravity {norm}");
        } else {
            assert!(readings.iter().all(|r| (400..5000).contains(&r.co2.unwrap())));
            let lux: Vec<f64> = readings.iter().map(|r| r.luminosity.unwrap()).collect();
            assert!(lux.contains(&0.0) && lux.iter().any(|&l| l > 200.0), "night and day");
        }
    }
    // The sauna heats up in the evening.
    let sauna = sensors.iter().position(|s| s.location == "sauna").unwrap();
    let max = by_sensor[&sauna].iter().map(|r| r.temperature.unwrap()).fold(f64::MIN, f64::max);
    assert!(max > 70.0, "sauna {max}");
}

#[test]
fn pressure_is_shared_weather() {
    let sim = Simulator::new(day(3, 0, 3)).unwrap();
    let mut last: HashMap<usize, f64> = HashMap::new();
    let mut spread = 0.0f64;
    for p in sim {
        let pressure = decode(&p.advertisement).unwrap().pressure.unwrap();
        last.insert(p.sensor, pressure);
        if last.len() == 3 {
            let (lo, hi) = last.values().fold((f64::MAX, f64::MIN), |(a, b), &v| (a.min(v), b.max(v)));
            spread = spread.max(hi - lo);
        }
    }
    assert!(spread < 100.0, "sensors at one site read the same weather (spread {spread} Pa)");
}

#[test]
fn movement_counter_moves_sometimes() {
    let sim = Simulator::new(SimulatorConfig { seed: 5, ..day(4, 0, 5) }).unwrap();
    let mut counters: HashMap<usize, Vec<u8>> = HashMap::new();
    for p in sim {
        counters.entry(p.sensor).or_default().push(decode(&p.advertisement).unwrap().movement_counter.unwrap());
    }
    let changes: usize = counters.values().map(|c| c.windows(2).filter(|w| w[0] != w[1]).count()).sum();
    assert!((1..200).contains(&changes), "{changes} movement events in a day for 4 tags");
    assert!(counters.values().flatten().all(|&c| c != 255));
}

#[test]
fn sensor_names_and_macs() {
    let sim = Simulator::new(SimulatorConfig { sensors: 10, air_sensors: 1, ..Default::default() }).unwrap();
    let s = sim.sensors();
    assert_eq!(s[0].location, "bedroom");
    assert_eq!(s[8].location, "bedroom 2");
    assert_eq!(s[10].location, "office");
    assert_eq!(s[10].data_format, DataFormat::E1);
    assert!(s.iter().all(|x| x.mac.as_bytes()[0] & 0xC0 == 0xC0), "static random addresses");
    let mut macs: Vec<_> = s.iter().map(|x| x.mac).collect();
    macs.dedup();
    assert_eq!(macs.len(), 11);
}

#[test]
fn bad_configurations_are_refused() {
    for cfg in [
        SimulatorConfig { interval: Duration::ZERO, ..Default::default() },
        SimulatorConfig { loss: 1.5, ..Default::default() },
        SimulatorConfig { repeat: -0.1, ..Default::default() },
        SimulatorConfig { sensors: 1_000_000, ..Default::default() },
    ] {
        assert!(matches!(Simulator::new(cfg), Err(ruuvistream::Error::InvalidArgument(_))));
    }
}
