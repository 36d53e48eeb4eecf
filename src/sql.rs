//! Values into Timestream SQL text, safely: [`literal`] renders one value as a literal and
//! [`format_sql`] fills `{name}` placeholders in a template with literals, so that a value can
//! never change the shape of a query (the walkthrough's `str.format` template is open to
//! injection; this is the fix). The Python package's `format_sql` follows the same rules.
//!
//! ```
//! use ruuvistream::sql::{Identifier, format_sql};
//! use std::time::Duration;
//!
//! let sql = format_sql(
//!     "SELECT avg(temperature) FROM {table} WHERE location = {loc} AND time > ago({window})",
//!     &[
//!         ("table", &Identifier::qualified("ruuvi", "sensors")),
//!         ("loc", &"sauna' OR '1'='1"),
//!         ("window", &Duration::from_secs(3 * 3600)),
//!     ],
//! )
//! .unwrap();
//! assert_eq!(
//!     sql,
//!     r#"SELECT avg(temperature) FROM "ruuvi"."sensors" WHERE location = 'sauna'' OR ''1''=''1' AND time > ago(3h)"#
//! );
//! ```

use std::fmt::Write as _;
use std::time::Duration;

use crate::error::{Error, Result};

/// A value that has a Timestream SQL literal.
pub trait SqlLiteral {
    /// Appends the literal to `out`, or says why the value has none (NaN, for one).
    fn write_sql(&self, out: &mut String) -> Result<()>;
}

/// A name to put into SQL as a quoted identifier (`"my-table"`), or a qualified name
/// (`"db"."table"`), never as a string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identifier(Vec<String>);

impl Identifier {
    /// One name.
    pub fn new(name: impl Into<String>) -> Self {
        Self(vec![name.into()])
    }

    /// `database.table`.
    pub fn qualified(database: impl Into<String>, table: impl Into<String>) -> Self {
        Self(vec![database.into(), table.into()])
    }
}

impl SqlLiteral for Identifier {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        for (i, part) in self.0.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            out.push('"');
            out.push_str(&part.replace('"', "\"\""));
            out.push('"');
        }
        Ok(())
    }
}

impl SqlLiteral for str {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        out.push('\'');
        out.push_str(&self.replace('\'', "''"));
        out.push('\'');
        Ok(())
    }
}

impl SqlLiteral for String {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        self.as_str().write_sql(out)
    }
}

impl<T: SqlLiteral + ?Sized> SqlLiteral for &T {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        (**self).write_sql(out)
    }
}

impl<T: SqlLiteral> SqlLiteral for Option<T> {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        match self {
            Some(v) => v.write_sql(out),
            None => {
                out.push_str("NULL");
                Ok(())
            }
        }
    }
}

impl SqlLiteral for bool {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        out.push_str(if *self { "true" } else { "false" });
        Ok(())
    }
}

/// A number's text; one that starts with a minus (`-0.0` too) goes in parentheses, so that the
/// minus can never join one before it into a `--` comment.
fn write_number(out: &mut String, text: std::fmt::Arguments<'_>) {
    let text = text.to_string();
    if text.starts_with('-') {
        out.push('(');
        out.push_str(&text);
        out.push(')');
    } else {
        out.push_str(&text);
    }
}

macro_rules! integer_literals {
    ($($t:ty),*) => {$(
        impl SqlLiteral for $t {
            fn write_sql(&self, out: &mut String) -> Result<()> {
                write_number(out, format_args!("{self}"));
                Ok(())
            }
        }
    )*};
}
integer_literals!(i8, i16, i32, i64, u8, u16, u32, u64, usize);

impl SqlLiteral for f64 {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        if !self.is_finite() {
            return Err(Error::InvalidArgument(format!("{self} has no SQL literal")));
        }
        // `{:?}` keeps a decimal point (1.0, not 1), so the literal stays a DOUBLE.
        write_number(out, format_args!("{self:?}"));
        Ok(())
    }
}

impl SqlLiteral for f32 {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        f64::from(*self).write_sql(out)
    }
}

/// An interval literal in the largest unit that divides it exactly (`3h`, `90s`, `250ms`).
impl SqlLiteral for Duration {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        const UNITS: [(u128, &str); 7] = [
            (86_400_000_000_000, "d"),
            (3_600_000_000_000, "h"),
            (60_000_000_000, "m"),
            (1_000_000_000, "s"),
            (1_000_000, "ms"),
            (1_000, "us"),
            (1, "ns"),
        ];
        let ns = self.as_nanos();
        let (size, unit) = UNITS.iter().find(|(size, _)| ns.is_multiple_of(*size)).copied().unwrap_or((1, "ns"));
        let _ = write!(out, "{}{unit}", ns / size);
        Ok(())
    }
}

/// `from_iso8601_timestamp('…Z')`, to the nanosecond.
impl SqlLiteral for chrono::DateTime<chrono::Utc> {
    fn write_sql(&self, out: &mut String) -> Result<()> {
        let text = self.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true);
        let _ = write!(out, "from_iso8601_timestamp('{text}')");
        Ok(())
    }
}

/// `value` as a Timestream SQL literal: strings quoted with `'` doubled, numbers as they are
/// (negatives in parentheses), `NULL` for `None`, durations as interval literals (`10m`), UTC
/// times as `from_iso8601_timestamp(...)`, an [`Identifier`] as a quoted name.
///
/// ```
/// use ruuvistream::sql::literal;
/// assert_eq!(literal(&"it's").unwrap(), "'it''s'");
/// assert_eq!(literal(&-2.5).unwrap(), "(-2.5)");
/// assert_eq!(literal(&None::<i64>).unwrap(), "NULL");
/// assert!(literal(&f64::NAN).is_err());
/// ```
pub fn literal(value: &dyn SqlLiteral) -> Result<String> {
    let mut out = String::new();
    value.write_sql(&mut out)?;
    Ok(out)
}

/// Fills each `{name}` placeholder of `template` with the literal of the value of that name
/// (`{{` and `}}` are literal braces). Placeholders stand for whole literals: write
/// `location = {loc}`, not `location = '{loc}'`. A placeholder without a value, a value
/// without a placeholder, or a placeholder that is not a plain name is an error.
pub fn format_sql(template: &str, values: &[(&str, &dyn SqlLiteral)]) -> Result<String> {
    let bad = |m: String| Err(Error::InvalidArgument(m));
    let mut out = String::with_capacity(template.len() + 16);
    let mut used = vec![false; values.len()];
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        out.push_str(&rest[..i]);
        let tail = &rest[i..];
        if tail.starts_with("{{") || tail.starts_with("}}") {
            out.push_str(&tail[..1]);
            rest = &tail[2..];
            continue;
        }
        if tail.starts_with('}') {
            return bad(format!("a lone '}}' at byte {}; write '}}}}' for a brace", template.len() - tail.len()));
        }
        let Some(end) = tail.find('}') else {
            return bad(format!("a '{{' at byte {} is not closed", template.len() - tail.len()));
        };
        let name = &tail[1..end];
        let plain = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_');
        if !plain {
            return bad(format!("placeholders are plain names, like {{location}}: got {{{name}}}"));
        }
        let Some(k) = values.iter().position(|(n, _)| *n == name) else {
            return bad(format!("no value for {{{name}}}"));
        };
        used[k] = true;
        values[k].1.write_sql(&mut out)?;
        rest = &tail[end + 1..];
    }
    out.push_str(rest);
    if let Some(k) = used.iter().position(|u| !u) {
        return bad(format!("the value {:?} has no placeholder in the template", values[k].0));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn literals() {
        assert_eq!(literal(&"plain").unwrap(), "'plain'");
        assert_eq!(literal(&String::from("a'b''c")).unwrap(), "'a''b''''c'");
        assert_eq!(literal(&42_i64).unwrap(), "42");
        assert_eq!(literal(&-42_i32).unwrap(), "(-42)");
        assert_eq!(literal(&7_u64).unwrap(), "7");
        assert_eq!(literal(&1.0_f64).unwrap(), "1.0");
        assert_eq!(literal(&-0.0_f64).unwrap(), "(-0.0)");
        assert_eq!(literal(&1e300_f64).unwrap(), "1e300");
        assert!(literal(&f64::INFINITY).is_err());
        assert_eq!(literal(&true).unwrap(), "true");
        assert_eq!(literal(&Some("x")).unwrap(), "'x'");
        assert_eq!(literal(&Identifier::new("my\"table")).unwrap(), r#""my""table""#);
        assert_eq!(literal(&Duration::from_secs(90)).unwrap(), "90s");
        assert_eq!(literal(&Duration::from_secs(86_400 * 2)).unwrap(), "2d");
        assert_eq!(literal(&Duration::from_millis(1500)).unwrap(), "1500ms");
        assert_eq!(literal(&Duration::from_nanos(7)).unwrap(), "7ns");
        assert_eq!(literal(&Duration::ZERO).unwrap(), "0d");
        let t = chrono::DateTime::from_timestamp(1_767_225_600, 5).unwrap();
        assert_eq!(literal(&t).unwrap(), "from_iso8601_timestamp('2026-01-01T00:00:00.000000005Z')");
    }

    #[test]
    fn templates() {
        let q = format_sql("SELECT {{x}} WHERE a = {a} AND b = {b_2} AND c = {a}", &[("a", &"it's"), ("b_2", &-1_i64)]);
        assert_eq!(q.unwrap(), "SELECT {x} WHERE a = 'it''s' AND b = (-1) AND c = 'it''s'");
        for (template, why) in [
            ("x = {a", "not closed"),
            ("x = a}", "lone"),
            ("x = {a.b}", "plain names"),
            ("x = {}", "plain names"),
            ("x = {1a}", "plain names"),
            ("x = {a!r}", "plain names"),
            ("x = {missing}", "no value"),
            ("x = 1", "no placeholder"),
        ] {
            let e = format_sql(template, &[("a", &1_i64)]).unwrap_err().to_string();
            assert!(e.contains(why), "{template}: {e}");
        }
        assert!(format_sql("{a}", &[("a", &f64::NAN)]).is_err());
        // A minus before a negative value never makes a `--` comment.
        assert_eq!(format_sql("x -{a}", &[("a", &-0.0_f64)]).unwrap(), "x -(-0.0)");
    }
}
