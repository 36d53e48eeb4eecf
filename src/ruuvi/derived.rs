//! Values derived from a reading's temperature (°C), relative humidity (%) and pressure (Pa),
//! with the formulas RuuviCollector and RuuviBridge use (Magnus form, constants 611.2 Pa,
//! 17.67, 243.5 °C), so that dashboards built on either agree.
//!
//! ```
//! use ruuvistream::ruuvi::derived::Derived;
//! // The official data format 5 vector: 24.3 °C, 53.49 %RH, 100044 Pa.
//! let dew_point = Derived::DewPoint.compute(24.3, 53.49, 100044.0).unwrap();
//! assert!((dew_point - 14.262).abs() < 5e-4);
//! ```

use std::sync::Arc;

use arrow_array::cast::AsArray;
use arrow_array::types::Float64Type;
use arrow_array::{Array, ArrayRef, Float64Array, RecordBatch};
use arrow_schema::{DataType, Field, Schema};

use crate::error::{Error, Result};

/// A derived measure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Derived {
    /// `dew_point`, °C: `v = ln(RH/100 · Es / 611.2)`, `Td = −243.5 · v / (v − 17.67)`; none
    /// at 0 % RH.
    DewPoint,
    /// `absolute_humidity`, g/m³: `Es · RH · 0.021674 / (273.15 + T)`.
    AbsoluteHumidity,
    /// `vapour_pressure_deficit`, Pa: `Es · (1 − RH/100)`, what the air could still take up.
    VapourPressureDeficit,
    /// `air_density`, kg/m³: `1.2929 · 273.15 / (T + 273.15) · (P − 0.3783 · RH/100 · Es) / 101300`.
    AirDensity,
}

/// The saturation vapour pressure over water at `t` °C, Pa: `Es = 611.2 · exp(17.67·T / (243.5 + T))`.
pub fn saturation_vapour_pressure(t: f64) -> f64 {
    611.2 * (17.67 * t / (243.5 + t)).exp()
}

impl Derived {
    /// Every derived measure.
    pub const ALL: [Derived; 4] =
        [Derived::DewPoint, Derived::AbsoluteHumidity, Derived::VapourPressureDeficit, Derived::AirDensity];

    /// Its column and measure name.
    pub fn name(self) -> &'static str {
        match self {
            Self::DewPoint => "dew_point",
            Self::AbsoluteHumidity => "absolute_humidity",
            Self::VapourPressureDeficit => "vapour_pressure_deficit",
            Self::AirDensity => "air_density",
        }
    }

    /// The one named `name`.
    pub fn parse(name: &str) -> Result<Self> {
        Self::ALL.into_iter().find(|d| d.name() == name).ok_or_else(|| {
            let names: Vec<&str> = Self::ALL.iter().map(|d| d.name()).collect();
            Error::InvalidArgument(format!("unknown derived measure {name:?}: use {}", names.join(", ")))
        })
    }

    /// Its value for temperature `t` (°C), relative humidity `rh` (%) and pressure `p` (Pa);
    /// `None` where it is not defined (or not finite).
    pub fn compute(self, t: f64, rh: f64, p: f64) -> Option<f64> {
        let es = saturation_vapour_pressure(t);
        let value = match self {
            Self::DewPoint => {
                if rh <= 0.0 {
                    return None;
                }
                let v = (rh / 100.0 * es / 611.2).ln();
                -243.5 * v / (v - 17.67)
            }
            Self::AbsoluteHumidity => es * rh * 0.021674 / (273.15 + t),
            Self::VapourPressureDeficit => es * (1.0 - rh / 100.0),
            Self::AirDensity => 1.2929 * 273.15 / (t + 273.15) * (p - 0.3783 * rh / 100.0 * es) / 101_300.0,
        };
        value.is_finite().then_some(value)
    }

    /// Whether it needs the pressure.
    fn needs_pressure(self) -> bool {
        self == Self::AirDensity
    }
}

/// `readings` with a Float64 column appended for each of `which` (a reading without the
/// inputs gets a null). The batch needs `temperature` and `humidity` (and `pressure` for air
/// density) as Float64 columns, as the decoders make them.
pub fn with_derived(readings: &RecordBatch, which: &[Derived]) -> Result<RecordBatch> {
    if which.is_empty() {
        return Ok(readings.clone());
    }
    let column = |name: &str| -> Result<&arrow_array::Float64Array> {
        readings
            .column_by_name(name)
            .filter(|c| c.data_type() == &DataType::Float64)
            .map(|c| c.as_primitive::<Float64Type>())
            .ok_or_else(|| Error::InvalidArgument(format!("derived measures need a Float64 column {name:?}")))
    };
    let (t, rh) = (column("temperature")?, column("humidity")?);
    let p = if which.iter().any(|d| d.needs_pressure()) { Some(column("pressure")?) } else { None };
    let mut fields: Vec<Arc<Field>> = readings.schema().fields().iter().cloned().collect();
    let mut columns: Vec<ArrayRef> = readings.columns().to_vec();
    for &d in which {
        let values: Float64Array = (0..readings.num_rows())
            .map(|i| {
                if t.is_null(i) || rh.is_null(i) || p.is_some_and(|p| p.is_null(i)) {
                    return None;
                }
                d.compute(t.value(i), rh.value(i), p.map_or(f64::NAN, |p| p.value(i)))
            })
            .collect();
        fields.push(Arc::new(Field::new(d.name(), DataType::Float64, true)));
        columns.push(Arc::new(values));
    }
    Ok(RecordBatch::try_new(Arc::new(Schema::new(fields)), columns)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_worked_example() {
        // 24.3 °C, 53.49 %RH, 100044 Pa: Es 3037.50 Pa, AH 11.839 g/m³, dew point 14.262 °C,
        // air density 1.16535 kg/m³.
        let (t, rh, p) = (24.3, 53.49, 100_044.0);
        assert!((saturation_vapour_pressure(t) - 3037.50).abs() < 5e-3);
        let near = |d: Derived, want: f64, tol: f64| {
            let got = d.compute(t, rh, p).unwrap();
            assert!((got - want).abs() < tol, "{}: {got} vs {want}", d.name());
        };
        near(Derived::AbsoluteHumidity, 11.839, 5e-4);
        near(Derived::DewPoint, 14.262, 5e-4);
        near(Derived::AirDensity, 1.16535, 5e-6);
        near(Derived::VapourPressureDeficit, 3037.50 * (1.0 - 0.5349), 5e-3);
        assert_eq!(Derived::DewPoint.compute(t, 0.0, p), None);
        assert_eq!(Derived::parse("dew_point").unwrap(), Derived::DewPoint);
        let e = Derived::parse("heat_index").unwrap_err().to_string();
        assert!(e.contains("dew_point, absolute_humidity, vapour_pressure_deficit, air_density"), "{e}");
    }

    #[test]
    fn columns_are_appended_with_nulls_where_inputs_are_missing() {
        let readings = crate::ruuvi::decode_many_hex(
            &["0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F", "058001FFFFFFFF800080008000FFFFFFFFFFFFFFFFFFFFFF"],
            crate::ruuvi::OnError::Raise,
        )
        .unwrap();
        let out = with_derived(&readings, &Derived::ALL).unwrap();
        assert_eq!(out.num_columns(), readings.num_columns() + 4);
        let dew = out.column_by_name("dew_point").unwrap().as_primitive::<Float64Type>();
        assert!((dew.value(0) - 14.262).abs() < 5e-4);
        assert!(dew.is_null(1), "the 'not available' vector has no temperature");
        assert_eq!(with_derived(&readings, &[]).unwrap(), readings);
    }
}
