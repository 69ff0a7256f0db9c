//! Rows waiting to land: a validated event or a dead letter, each with the coordinates of the
//! message it came from, converted column-wise into Arrow record batches.

use super::schema::{dead_letters_schema, events_schema};
use crate::event::{LandedEvent, Patient, Payload, Rejection};
use arrow::array::{
    ArrayRef, Date32Array, Int32Array, Int64Array, RecordBatch, StringArray,
    TimestampMicrosecondArray,
};
use arrow::error::ArrowError;
use chrono::{DateTime, NaiveDate, Utc};
use std::sync::Arc;

/// Where a message came from. Names are shared (`Arc<str>`): every row of a batch carries
/// the same one, and a copy per row was an allocation per message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Source {
    /// A Kafka message.
    Kafka {
        /// Topic name.
        topic: Arc<str>,
        /// Partition.
        partition: i32,
        /// Offset of the message.
        offset: i64,
    },
    /// A line of an NDJSON file (`-` for stdin).
    File {
        /// File name as given on the command line.
        file: Arc<str>,
        /// 1-based line number.
        line: i64,
    },
}

/// A valid event plus its provenance.
#[derive(Debug, Clone)]
pub struct EventRow {
    /// The event.
    pub event: LandedEvent,
    /// Where it came from.
    pub source: Source,
}

/// A rejected message plus its provenance.
#[derive(Debug, Clone)]
pub struct DeadLetterRow {
    /// Why it was rejected.
    pub rejection: Rejection,
    /// The payload with personal identifiers redacted.
    pub payload: String,
    /// Board the message is attributed to: the topic's board, or the payload's valid
    /// `provider_lhb` for files; `None` when unknown.
    pub lhb: Option<String>,
    /// When it was received.
    pub received_at: DateTime<Utc>,
    /// Where it came from.
    pub source: Source,
}

fn micros(t: DateTime<Utc>) -> i64 {
    t.timestamp_micros()
}

fn days(d: NaiveDate) -> i32 {
    // Days since 1970-01-01: Arrow's Date32.
    (d - NaiveDate::from_ymd_opt(1970, 1, 1).expect("epoch")).num_days() as i32
}

fn strings<'a>(it: impl Iterator<Item = Option<&'a str>>) -> ArrayRef {
    Arc::new(StringArray::from_iter(it))
}

fn source_columns<'a>(sources: impl Iterator<Item = &'a Source> + Clone) -> Vec<ArrayRef> {
    let kafka = |s: &'a Source| match s {
        Source::Kafka {
            topic,
            partition,
            offset,
        } => Some((&**topic, *partition, *offset)),
        Source::File { .. } => None,
    };
    let file = |s: &'a Source| match s {
        Source::File { file, line } => Some((&**file, *line)),
        Source::Kafka { .. } => None,
    };
    vec![
        strings(sources.clone().map(|s| kafka(s).map(|k| k.0))),
        Arc::new(Int32Array::from_iter(
            sources.clone().map(|s| kafka(s).map(|k| k.1)),
        )),
        Arc::new(Int64Array::from_iter(
            sources.clone().map(|s| kafka(s).map(|k| k.2)),
        )),
        strings(sources.clone().map(|s| file(s).map(|f| f.0))),
        Arc::new(Int64Array::from_iter(sources.map(|s| file(s).map(|f| f.1)))),
    ]
}

fn landed_at_column(n: usize, landed_at: DateTime<Utc>) -> ArrayRef {
    Arc::new(TimestampMicrosecondArray::from(vec![micros(landed_at); n]).with_timezone("UTC"))
}

fn patient_of(e: &LandedEvent) -> Option<&Patient> {
    match &e.payload {
        Payload::Referral { patient, .. } => Some(patient),
        _ => None,
    }
}

/// Column-wise conversion of events into the `events` schema.
pub fn events_batch(
    rows: &[EventRow],
    landed_at: DateTime<Utc>,
) -> Result<RecordBatch, ArrowError> {
    let ev = || rows.iter().map(|r| &r.event);
    let patient = patient_of;
    let date_col = |f: fn(&Payload) -> Option<NaiveDate>| -> ArrayRef {
        Arc::new(Date32Array::from_iter(
            ev().map(|e| f(&e.payload).map(days)),
        ))
    };
    let str_col = |f: fn(&LandedEvent) -> Option<&str>| strings(ev().map(f));

    let mut columns: Vec<ArrayRef> = vec![
        str_col(|e| Some(e.event_id.as_str())),
        str_col(|e| Some(e.event_type.as_str())),
        str_col(|e| Some(e.provider_lhb)),
        str_col(|e| Some(e.referral_id.as_str())),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(ev().map(|e| micros(e.recorded_at)))
                .with_timezone("UTC"),
        ),
        str_col(|e| e.supersedes.as_deref()),
        date_col(|p| match p {
            Payload::Referral { received_date, .. } => Some(*received_date),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Referral { source, .. } => source.as_deref(),
            _ => None,
        }),
        strings(ev().map(|e| patient(e).and_then(|p| p.pseudo_id.as_deref()))),
        Arc::new(Int32Array::from_iter(
            ev().map(|e| patient(e).and_then(|p| p.age_at_referral)),
        )),
        strings(ev().map(|e| patient(e).and_then(|p| p.sex))),
        strings(ev().map(|e| patient(e).and_then(|p| p.ethnicity.as_deref()))),
        strings(ev().map(|e| patient(e).and_then(|p| p.preferred_language))),
        Arc::new(Int32Array::from_iter(
            ev().map(|e| patient(e).and_then(|p| p.wimd_quintile)),
        )),
        strings(ev().map(|e| patient(e).and_then(|p| p.local_authority))),
        date_col(|p| match p {
            Payload::Assessment { date, .. } => Some(*date),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Assessment { outcome, .. } => outcome.as_deref(),
            _ => None,
        }),
        date_col(|p| match p {
            Payload::Intervention { start_date, .. } => Some(*start_date),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Intervention {
                intervention_type, ..
            } => intervention_type.as_deref(),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Appointment { stage, .. } => Some(*stage),
            _ => None,
        }),
        date_col(|p| match p {
            Payload::Appointment { date, .. } => Some(*date),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Appointment { outcome, .. } => Some(*outcome),
            _ => None,
        }),
        date_col(|p| match p {
            Payload::Closure { date, .. } => Some(*date),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Closure { reason, .. } => reason.as_deref(),
            _ => None,
        }),
        str_col(|e| match &e.payload {
            Payload::Retraction { retracts } => Some(retracts.as_str()),
            _ => None,
        }),
        Arc::new(Int32Array::from_iter_values(
            ev().map(|e| e.unknown_fields as i32),
        )),
    ];
    columns.extend(source_columns(rows.iter().map(|r| &r.source)));
    columns.push(landed_at_column(rows.len(), landed_at));
    RecordBatch::try_new(events_schema(), columns)
}

/// Column-wise conversion of dead letters into the `dead_letters` schema.
pub fn dead_letters_batch(
    rows: &[DeadLetterRow],
    landed_at: DateTime<Utc>,
) -> Result<RecordBatch, ArrowError> {
    let mut columns: Vec<ArrayRef> = source_columns(rows.iter().map(|r| &r.source));
    columns.extend([
        strings(rows.iter().map(|r| Some(r.rejection.reason.as_str()))),
        strings(rows.iter().map(|r| Some(r.rejection.detail.as_str()))),
        strings(rows.iter().map(|r| Some(r.payload.as_str()))),
        Arc::new(
            TimestampMicrosecondArray::from_iter_values(rows.iter().map(|r| micros(r.received_at)))
                .with_timezone("UTC"),
        ) as ArrayRef,
        landed_at_column(rows.len(), landed_at),
    ]);
    RecordBatch::try_new(dead_letters_schema(), columns)
}
