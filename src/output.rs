//! Printing tables for people and programs: `csv` (the published format), `json` (an array of
//! objects) and `table` (aligned columns for a terminal). Typed reports build a [`Tabular`];
//! ad-hoc SQL results come as Arrow batches.

use arrow::array::RecordBatch;
use std::io::{self, Write};
use std::str::FromStr;

/// Output format of a command.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// Comma-separated values with a header.
    #[default]
    Csv,
    /// A JSON array of objects.
    Json,
    /// Aligned text for a terminal.
    Table,
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "csv" => Ok(Format::Csv),
            "json" => Ok(Format::Json),
            "table" => Ok(Format::Table),
            _ => Err(format!("'{s}' is not a format: use csv, json or table")),
        }
    }
}

/// One cell of a typed report.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    /// Text.
    Text(String),
    /// A count.
    Count(u64),
    /// A percentage in tenths (`684` → `68.4`), empty when `None`.
    Tenths(Option<i64>),
    /// A suppressed small number (`*`).
    Suppressed,
    /// Nothing.
    Empty,
}

impl Cell {
    fn text(&self) -> String {
        match self {
            Cell::Text(s) => s.clone(),
            Cell::Count(n) => n.to_string(),
            Cell::Tenths(t) => crate::compliance::format_tenths(*t),
            Cell::Suppressed => "*".into(),
            Cell::Empty => String::new(),
        }
    }

    fn json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Cell::Text(s) => Value::String(s.clone()),
            Cell::Count(n) => Value::from(*n),
            Cell::Tenths(Some(t)) => {
                serde_json::Number::from_f64(*t as f64 / 10.0).map_or(Value::Null, Value::Number)
            }
            Cell::Suppressed => Value::String("*".into()),
            Cell::Tenths(None) | Cell::Empty => Value::Null,
        }
    }
}

/// A typed table with optional notes (e.g. "suppression applied").
#[derive(Debug, Clone, Default)]
pub struct Tabular {
    /// Column names.
    pub columns: Vec<String>,
    /// Rows, each as long as `columns`.
    pub rows: Vec<Vec<Cell>>,
    /// Notes printed after the table (CSV: `# ` comment lines; JSON: a `notes` field).
    pub notes: Vec<String>,
}

impl Tabular {
    /// A table with these columns.
    pub fn new(columns: &[&str]) -> Self {
        Tabular {
            columns: columns.iter().map(|c| c.to_string()).collect(),
            ..Default::default()
        }
    }

    /// Print in `format`.
    pub fn write(&self, format: Format, out: &mut dyn Write) -> io::Result<()> {
        match format {
            Format::Csv => {
                writeln!(out, "{}", self.columns.join(","))?;
                for row in &self.rows {
                    let cells: Vec<String> = row.iter().map(|c| csv_escape(&c.text())).collect();
                    writeln!(out, "{}", cells.join(","))?;
                }
                for note in &self.notes {
                    writeln!(out, "# {note}")?;
                }
                Ok(())
            }
            Format::Json => {
                let rows: Vec<serde_json::Value> = self
                    .rows
                    .iter()
                    .map(|row| {
                        serde_json::Value::Object(
                            self.columns
                                .iter()
                                .cloned()
                                .zip(row.iter().map(Cell::json))
                                .collect(),
                        )
                    })
                    .collect();
                let doc = if self.notes.is_empty() {
                    serde_json::Value::Array(rows)
                } else {
                    serde_json::json!({ "notes": self.notes, "rows": rows })
                };
                serde_json::to_writer_pretty(&mut *out, &doc)?;
                writeln!(out)
            }
            Format::Table => {
                let texts: Vec<Vec<String>> = self
                    .rows
                    .iter()
                    .map(|r| r.iter().map(Cell::text).collect())
                    .collect();
                let widths: Vec<usize> = (0..self.columns.len())
                    .map(|i| {
                        texts
                            .iter()
                            .map(|r| r[i].chars().count())
                            .chain([self.columns[i].len()])
                            .max()
                            .unwrap_or(0)
                    })
                    .collect();
                let line = |cells: &[String]| -> String {
                    cells
                        .iter()
                        .zip(&widths)
                        .map(|(c, w)| format!("{c:>w$}"))
                        .collect::<Vec<_>>()
                        .join("  ")
                };
                writeln!(out, "{}", line(&self.columns))?;
                for r in &texts {
                    writeln!(out, "{}", line(r))?;
                }
                for note in &self.notes {
                    writeln!(out, "note: {note}")?;
                }
                Ok(())
            }
        }
    }
}

fn csv_escape(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

/// Print Arrow batches (ad-hoc SQL results) in `format`.
pub fn write_batches(
    schema: arrow::datatypes::SchemaRef,
    batches: &[RecordBatch],
    format: Format,
    out: &mut dyn Write,
) -> Result<(), arrow::error::ArrowError> {
    match format {
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new()
                .with_header(true)
                .build(out);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema))?;
            }
            for b in batches {
                w.write(b)?;
            }
            Ok(())
        }
        Format::Json => {
            let mut w = arrow::json::ArrayWriter::new(&mut *out);
            let refs: Vec<&RecordBatch> = batches.iter().collect();
            w.write_batches(&refs)?;
            w.finish()?;
            writeln!(out)?;
            Ok(())
        }
        Format::Table => {
            let shown = if batches.is_empty() {
                vec![RecordBatch::new_empty(schema)]
            } else {
                batches.to_vec()
            };
            writeln!(
                out,
                "{}",
                arrow::util::pretty::pretty_format_batches(&shown)?
            )?;
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn csv_json_and_table_agree() {
        let mut t = Tabular::new(&["a", "pct"]);
        t.rows
            .push(vec![Cell::Text("x,y".into()), Cell::Tenths(Some(684))]);
        t.rows.push(vec![Cell::Count(3), Cell::Tenths(None)]);
        let mut csv = Vec::new();
        t.write(Format::Csv, &mut csv).unwrap();
        assert_eq!(String::from_utf8(csv).unwrap(), "a,pct\n\"x,y\",68.4\n3,\n");
        let mut json = Vec::new();
        t.write(Format::Json, &mut json).unwrap();
        let v: serde_json::Value = serde_json::from_slice(&json).unwrap();
        assert_eq!(v[0]["pct"], serde_json::json!(68.4));
        assert!(v[1]["pct"].is_null());
        let mut table = Vec::new();
        t.write(Format::Table, &mut table).unwrap();
        assert!(String::from_utf8(table).unwrap().contains("68.4"));
    }
}
