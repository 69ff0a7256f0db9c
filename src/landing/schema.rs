//! Arrow schemas of the landed tables (SPEC section 7). Column order is part of the contract
//! analysts rely on; add columns at the end.

use arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use std::sync::{Arc, OnceLock};

fn utc_micros() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn source_fields() -> Vec<Field> {
    vec![
        Field::new("source_topic", DataType::Utf8, true),
        Field::new("source_partition", DataType::Int32, true),
        Field::new("source_offset", DataType::Int64, true),
        Field::new("source_file", DataType::Utf8, true),
        Field::new("source_line", DataType::Int64, true),
    ]
}

/// `events`: one row per landed message, pseudonymised.
pub fn events_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = vec![
                Field::new("event_id", DataType::Utf8, false),
                Field::new("event_type", DataType::Utf8, false),
                Field::new("provider_lhb", DataType::Utf8, false),
                Field::new("referral_id", DataType::Utf8, false),
                Field::new("recorded_at", utc_micros(), false),
                Field::new("supersedes", DataType::Utf8, true),
                Field::new("referral_received_date", DataType::Date32, true),
                Field::new("referral_source", DataType::Utf8, true),
                Field::new("patient_pseudo_id", DataType::Utf8, true),
                Field::new("age_at_referral", DataType::Int32, true),
                Field::new("sex", DataType::Utf8, true),
                Field::new("ethnicity", DataType::Utf8, true),
                Field::new("preferred_language", DataType::Utf8, true),
                Field::new("wimd_quintile", DataType::Int32, true),
                Field::new("local_authority", DataType::Utf8, true),
                Field::new("assessment_date", DataType::Date32, true),
                Field::new("assessment_outcome", DataType::Utf8, true),
                Field::new("start_date", DataType::Date32, true),
                Field::new("intervention_type", DataType::Utf8, true),
                Field::new("appointment_stage", DataType::Utf8, true),
                Field::new("appointment_date", DataType::Date32, true),
                Field::new("appointment_outcome", DataType::Utf8, true),
                Field::new("closed_date", DataType::Date32, true),
                Field::new("close_reason", DataType::Utf8, true),
                Field::new("retracts", DataType::Utf8, true),
                Field::new("unknown_fields", DataType::Int32, false),
            ];
            fields.extend(source_fields());
            fields.push(Field::new("landed_at", utc_micros(), false));
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// `dead_letters`: rejected messages with provenance and a redacted payload.
pub fn dead_letters_schema() -> SchemaRef {
    static SCHEMA: OnceLock<SchemaRef> = OnceLock::new();
    SCHEMA
        .get_or_init(|| {
            let mut fields = source_fields();
            fields.extend([
                Field::new("reason", DataType::Utf8, false),
                Field::new("detail", DataType::Utf8, false),
                Field::new("payload", DataType::Utf8, false),
                Field::new("received_at", utc_micros(), false),
                Field::new("landed_at", utc_micros(), false),
            ]);
            Arc::new(Schema::new(fields))
        })
        .clone()
}

/// `schema` with every column nullable: batches of one table that come from different queries
/// differ in nullability only, and one schema must hold them all.
pub fn all_nullable(schema: &Schema) -> SchemaRef {
    Arc::new(Schema::new(
        schema
            .fields()
            .iter()
            .map(|f| f.as_ref().clone().with_nullable(true))
            .collect::<Vec<_>>(),
    ))
}
