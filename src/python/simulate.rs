//! The simulator from Python.

use std::sync::Arc;

use arrow_array::builder::{BinaryBuilder, Int16Builder, StringBuilder, TimestampNanosecondBuilder, UInt32Builder};
use arrow_array::{ArrayRef, RecordBatch};
use arrow_schema::{DataType, Field, Schema, TimeUnit};
use pyo3::prelude::*;
use pyo3::types::PyDict;
use pyo3_arrow::PyTable;

use super::errors::to_py;
use crate::error::{Error, Result};
use crate::ruuvi::UTC;
use crate::ruuvi::simulator::{Simulator, SimulatorConfig, gateway_mac_for_seed};
use crate::units::{parse_duration, simulation_start_ns};

#[allow(clippy::too_many_arguments)]
fn config(
    sensors: usize,
    duration: &str,
    interval: &str,
    seed: u64,
    start: Option<&str>,
    air_sensors: usize,
    loss: f64,
    repeat: f64,
    site: &str,
) -> Result<SimulatorConfig> {
    let duration = parse_duration(duration)?;
    Ok(SimulatorConfig {
        sensors,
        air_sensors,
        start_ns: simulation_start_ns(start, duration)?,
        duration,
        interval: parse_duration(interval)?,
        seed,
        loss,
        repeat,
        site: site.to_string(),
    })
}

/// Simulates sensors; returns decoded readings (with `time`, `rssi`, `gateway_mac`), or with
/// `raw` the received packets (`time`, `sensor`, `mac`, `location`, `rssi`, `advertisement`).
#[pyfunction]
#[pyo3(signature = (sensors = 4, duration = "1h", interval = "5s", seed = 0, start = None, air_sensors = 0,
    loss = 0.1, repeat = 0.05, site = "home", raw = false))]
#[allow(clippy::too_many_arguments)]
pub fn simulate(
    py: Python<'_>,
    sensors: usize,
    duration: &str,
    interval: &str,
    seed: u64,
    start: Option<&str>,
    air_sensors: usize,
    loss: f64,
    repeat: f64,
    site: &str,
    raw: bool,
) -> PyResult<PyTable> {
    let cfg = config(sensors, duration, interval, seed, start, air_sensors, loss, repeat, site).map_err(to_py)?;
    let batch = py.detach(move || -> Result<RecordBatch> {
        let sim = Simulator::new(cfg)?;
        if raw { packets_batch(sim) } else { sim.into_batch(Some(gateway_mac_for_seed(seed))) }
    });
    let batch = batch.map_err(to_py)?;
    PyTable::try_new(vec![batch.clone()], batch.schema())
}

fn packets_batch(sim: Simulator) -> Result<RecordBatch> {
    let infos = sim.sensors().to_vec();
    let mut time = TimestampNanosecondBuilder::new();
    let mut sensor = UInt32Builder::new();
    let mut mac = StringBuilder::new();
    let mut location = StringBuilder::new();
    let mut rssi = Int16Builder::new();
    let mut adv = BinaryBuilder::new();
    for p in sim {
        time.append_value(p.time_ns);
        sensor.append_value(p.sensor as u32);
        mac.append_value(p.mac.to_string());
        location.append_value(&infos[p.sensor].location);
        rssi.append_value(p.rssi);
        adv.append_value(&p.advertisement);
    }
    let schema = Arc::new(Schema::new(vec![
        Field::new("time", DataType::Timestamp(TimeUnit::Nanosecond, Some(UTC.into())), false),
        Field::new("sensor", DataType::UInt32, false),
        Field::new("mac", DataType::Utf8, false),
        Field::new("location", DataType::Utf8, false),
        Field::new("rssi", DataType::Int16, false),
        Field::new("advertisement", DataType::Binary, false),
    ]));
    let columns: Vec<ArrayRef> = vec![
        Arc::new(time.finish().with_timezone(UTC)),
        Arc::new(sensor.finish()),
        Arc::new(mac.finish()),
        Arc::new(location.finish()),
        Arc::new(rssi.finish()),
        Arc::new(adv.finish()),
    ];
    RecordBatch::try_new(schema, columns).map_err(Error::from)
}

/// The sensors a simulation with these settings has: a list of dicts with `mac`, `location`,
/// `site`, `data_format` (the format byte) and `format` (its name as Ruuvi writes it: `5`, `E1`).
#[pyfunction]
#[pyo3(signature = (sensors = 4, air_sensors = 0, seed = 0, site = "home"))]
pub fn simulated_sensors<'py>(
    py: Python<'py>,
    sensors: usize,
    air_sensors: usize,
    seed: u64,
    site: &str,
) -> PyResult<Vec<Bound<'py, PyDict>>> {
    let cfg = SimulatorConfig { sensors, air_sensors, seed, site: site.to_string(), ..SimulatorConfig::default() };
    let sim = Simulator::new(cfg).map_err(to_py)?;
    sim.sensors()
        .iter()
        .map(|s| {
            let d = PyDict::new(py);
            d.set_item("mac", s.mac.to_string())?;
            d.set_item("location", &s.location)?;
            d.set_item("site", &s.site)?;
            d.set_item("data_format", s.data_format.code())?;
            d.set_item("format", s.data_format.to_string())?;
            Ok(d)
        })
        .collect()
}
