//! Record batches as tables for people: HTML for notebooks (Jupyter with the evcxr kernel shows
//! any value that has an `evcxr_display` method through it) and text for terminals.
//!
//! ```
//! use ruuvistream::display::Table;
//! use ruuvistream::ruuvi::{OnError, decode_many_hex};
//! let readings = decode_many_hex(&["0512FC5394C37C0004FFFC040CAC364200CDCBB8334C884F"], OnError::Raise).unwrap();
//! let html = Table::from(readings).to_html();
//! assert!(html.starts_with("<table") && html.contains("<td>24.3</td>"));
//! ```

use std::fmt;
use std::fmt::Write as _;

use arrow_array::{Array, RecordBatch};
use arrow_cast::display::{ArrayFormatter, FormatOptions};

/// Rows shown by default before a table is cut short.
pub const DEFAULT_MAX_ROWS: usize = 20;

/// Record batches shown as one table (at most `max_rows` rows; the count of the rest is said).
#[derive(Debug, Clone, Default)]
pub struct Table {
    /// The rows; every batch has the first one's columns.
    pub batches: Vec<RecordBatch>,
    /// How many rows to show (default [`DEFAULT_MAX_ROWS`]).
    pub max_rows: usize,
}

impl From<RecordBatch> for Table {
    fn from(batch: RecordBatch) -> Self {
        Self::new(vec![batch])
    }
}

impl From<Vec<RecordBatch>> for Table {
    fn from(batches: Vec<RecordBatch>) -> Self {
        Self::new(batches)
    }
}

impl Table {
    /// A table of `batches`, showing the first [`DEFAULT_MAX_ROWS`] rows.
    pub fn new(batches: Vec<RecordBatch>) -> Self {
        Self { batches, max_rows: DEFAULT_MAX_ROWS }
    }

    /// The same table showing `max_rows` rows.
    pub fn with_max_rows(mut self, max_rows: usize) -> Self {
        self.max_rows = max_rows;
        self
    }

    /// The number of rows (shown or not).
    pub fn num_rows(&self) -> usize {
        self.batches.iter().map(RecordBatch::num_rows).sum()
    }

    /// Each shown row's cells as text, in order (for HTML).
    fn cells(&self) -> Result<Vec<Vec<String>>, arrow_schema::ArrowError> {
        let options = options();
        let mut rows = Vec::new();
        for batch in &self.batches {
            if rows.len() >= self.max_rows {
                break;
            }
            let formatters: Vec<_> = batch
                .columns()
                .iter()
                .map(|c| ArrayFormatter::try_new(c.as_ref(), &options))
                .collect::<Result<_, _>>()?;
            let doubles: Vec<Option<&arrow_array::Float64Array>> =
                batch.columns().iter().map(|c| c.as_any().downcast_ref()).collect();
            for i in 0..batch.num_rows().min(self.max_rows - rows.len()) {
                let cell = |(f, d): (&ArrayFormatter, &Option<&arrow_array::Float64Array>)| match d {
                    Some(d) if d.is_valid(i) => rounded(d.value(i)).unwrap_or_else(|| f.value(i).to_string()),
                    _ => f.value(i).to_string(),
                };
                rows.push(formatters.iter().zip(&doubles).map(cell).collect());
            }
        }
        Ok(rows)
    }

    fn header(&self) -> Vec<String> {
        self.batches.first().map(|b| b.schema().fields().iter().map(|f| f.name().clone()).collect()).unwrap_or_default()
    }

    fn more(&self, shown: usize) -> Option<String> {
        let total = self.num_rows();
        (total > shown).then(|| format!("… {} more rows ({total} in all)", total - shown))
    }

    /// An HTML `<table>` with a header row; values escaped.
    pub fn to_html(&self) -> String {
        let mut out = String::from("<table class=\"ruuvistream\">\n<thead><tr>");
        for name in self.header() {
            let _ = write!(out, "<th>{}</th>", escape(&name));
        }
        out.push_str("</tr></thead>\n<tbody>\n");
        let rows = match self.cells() {
            Ok(rows) => rows,
            Err(e) => return format!("<p>cannot show these rows: {}</p>", escape(&e.to_string())),
        };
        for row in &rows {
            out.push_str("<tr>");
            for cell in row {
                let _ = write!(out, "<td>{}</td>", escape(cell));
            }
            out.push_str("</tr>\n");
        }
        out.push_str("</tbody>\n</table>");
        if let Some(more) = self.more(rows.len()) {
            let _ = write!(out, "\n<p>{more}</p>");
        }
        out
    }

    /// Shows the table in a Jupyter notebook run by the evcxr kernel (it prints the HTML
    /// between evcxr's content markers on standard output).
    pub fn evcxr_display(&self) {
        println!("EVCXR_BEGIN_CONTENT text/html\n{}\nEVCXR_END_CONTENT", self.to_html());
    }
}

/// A text table (Arrow's pretty format, as `ruuvistream query` prints it) of the first rows.
impl fmt::Display for Table {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut shown = Vec::new();
        let mut left = self.max_rows;
        for batch in &self.batches {
            if left == 0 {
                break;
            }
            let n = batch.num_rows().min(left);
            shown.push(batch.slice(0, n));
            left -= n;
        }
        let rows: usize = shown.iter().map(RecordBatch::num_rows).sum();
        match arrow_cast::pretty::pretty_format_batches_with_options(&shown, &options()) {
            Ok(text) => writeln!(f, "{text}")?,
            Err(e) => writeln!(f, "cannot show these rows: {e}")?,
        }
        if let Some(more) = self.more(rows) {
            writeln!(f, "{more}")?;
        }
        Ok(())
    }
}

/// How values are written: nulls as `null`.
/// A DOUBLE for people: at most six decimals, trailing zeros dropped (`40.725` rather than
/// `40.724999999999994`). Only for magnitudes where that keeps the value's meaning (1e-3 up
/// to 1e15); others, and non-finite values, keep Arrow's text (`None`). Display only: the
/// batches keep every bit.
fn rounded(v: f64) -> Option<String> {
    if !(1e-3..1e15).contains(&v.abs()) {
        return (v == 0.0).then(|| "0".to_string());
    }
    let text = format!("{v:.6}");
    Some(text.trim_end_matches('0').trim_end_matches('.').to_string())
}

fn options() -> FormatOptions<'static> {
    FormatOptions::default().with_null("null")
}

/// Text made safe for HTML element content.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '&' => out.push_str("&amp;"),
            '"' => out.push_str("&quot;"),
            _ => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow_array::{ArrayRef, Int64Array, StringArray};

    use super::*;

    fn batch(n: i64) -> RecordBatch {
        let names: Vec<Option<String>> = (0..n).map(|i| (i != 1).then(|| format!("<b>{i}&"))).collect();
        RecordBatch::try_from_iter([
            ("n", Arc::new(Int64Array::from_iter_values(0..n)) as ArrayRef),
            ("name", Arc::new(StringArray::from(names)) as ArrayRef),
        ])
        .unwrap()
    }

    #[test]
    fn html_escapes_and_cuts_short() {
        let t = Table::new(vec![batch(3), batch(30)]).with_max_rows(5);
        let html = t.to_html();
        assert_eq!(html.matches("<tr>").count(), 6, "header + 5 rows: {html}");
        assert!(html.contains("<th>n</th><th>name</th>"));
        assert!(html.contains("<td>&lt;b&gt;0&amp;</td>") && !html.contains("<b>"));
        assert!(html.contains("<td>null</td>"));
        assert!(html.contains("… 28 more rows (33 in all)"));
    }

    #[test]
    fn text_is_a_table_of_the_first_rows() {
        let text = Table::new(vec![batch(2), batch(3)]).with_max_rows(3).to_string();
        let expected = "+---+-------+\n| n | name  |\n+---+-------+\n| 0 | <b>0& |\n| 1 | null  |\n| 0 | <b>0& |\n\
                        +---+-------+\n… 2 more rows (5 in all)\n";
        assert_eq!(text, expected);
        assert_eq!(Table::default().to_html().matches("<tr>").count(), 1);
    }

    #[test]
    fn doubles_are_rounded_for_display_only() {
        let values = [40.724999999999994, 24.3, -0.5, 0.0, 1e-9, 1e20, f64::NAN, 1013.25];
        let batch =
            RecordBatch::try_from_iter([("v", Arc::new(arrow_array::Float64Array::from(values.to_vec())) as ArrayRef)])
                .unwrap();
        let html = Table::from(batch.clone()).to_html();
        let cells: Vec<&str> = html.split("<td>").skip(1).map(|c| c.split("</td>").next().unwrap()).collect();
        assert_eq!(cells, ["40.725", "24.3", "-0.5", "0", "1e-9", "1e20", "NaN", "1013.25"]);
        let column = batch.column(0).as_any().downcast_ref::<arrow_array::Float64Array>().unwrap();
        assert_eq!(column.value(0), 40.724999999999994, "the batch keeps every bit");
    }
}
