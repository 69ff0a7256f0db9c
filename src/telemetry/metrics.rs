//! The metrics facade: every Prometheus name and label set of SPEC section 8, with methods
//! named after the events that change them. Labels come only from bounded sets (board codes,
//! age groups, periods, stages, bands, reasons, flags, topics and partitions).

use crate::compliance::{Computation, Month, StageCounts, FLAGS};
use crate::event::reference;
use crate::event::{EventType, Reason};
use prometheus::{
    Encoder, Gauge, GaugeVec, IntCounter, IntCounterVec, IntGauge, IntGaugeVec, Opts, Registry,
    TextEncoder,
};
use std::collections::BTreeMap;

/// Bands of a wait, as metric labels.
const BANDS: [&str; 3] = ["within_28", "29_to_56", "over_56"];
const PERIODS: [&str; 2] = ["current_month", "last_complete_month"];

/// The process's metrics, in an owned registry.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    assessment_ratio: GaugeVec,
    assessments: IntGaugeVec,
    intervention_ratio: GaugeVec,
    interventions: IntGaugeVec,
    referrals: IntGaugeVec,
    waiting: IntGaugeVec,
    will_breach: IntGaugeVec,
    events_ingested: IntCounterVec,
    dead_lettered: IntCounterVec,
    unknown_fields: IntCounter,
    consumer_lag: IntGaugeVec,
    last_event: GaugeVec,
    data_quality: IntGaugeVec,
    compute_duration: Gauge,
    last_compute: Gauge,
    compute_failures: IntCounter,
    batches_landed: IntCounter,
    last_landing: Gauge,
    partitions_assigned: IntGauge,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Metrics")
    }
}

fn reg<T: prometheus::core::Collector + Clone + 'static>(r: &Registry, c: T) -> T {
    r.register(Box::new(c.clone()))
        .expect("metric names are unique");
    c
}

impl Metrics {
    /// Register every metric; `target_ratio` and `silence_threshold_seconds` come from config.
    pub fn new(target_ratio: f64, silence_threshold_seconds: f64) -> Metrics {
        let r = Registry::new();
        let gv = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &r,
                GaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let igv = |name: &str, help: &str, labels: &[&str]| {
            reg(
                &r,
                IntGaugeVec::new(Opts::new(name, help), labels).expect("valid metric"),
            )
        };
        let period_labels = ["lhb", "age_group", "period"];
        let band_labels = ["lhb", "age_group", "period", "band"];
        let m = Metrics {
            assessment_ratio: gv("lpmhss_assessment_within_28d_ratio", "Part 1a: share of LPMHSS assessments undertaken within 28 days of referral (0-1); absent when no assessments", &period_labels),
            assessments: igv("lpmhss_assessments", "Part 1a: assessments undertaken in the period, by wait band", &band_labels),
            intervention_ratio: gv("lpmhss_intervention_within_28d_ratio", "Part 1b: share of therapeutic interventions started within 28 days of assessment (0-1); absent when none", &period_labels),
            interventions: igv("lpmhss_interventions", "Part 1b: interventions started in the period, by wait band", &band_labels),
            referrals: igv("lpmhss_referrals_received", "Referrals received in the period", &period_labels),
            waiting: igv("lpmhss_waiting", "People waiting today, by stage and wait band", &["lhb", "age_group", "stage", "band"]),
            will_breach: igv("lpmhss_will_breach_within_7_days", "People waiting 22-28 days today (all ages): they pass 28 days within a week unless seen", &["lhb", "stage"]),
            events_ingested: reg(&r, IntCounterVec::new(Opts::new("lpmhss_events_ingested_total", "Events landed, by board and type"), &["lhb", "event_type"]).expect("valid metric")),
            dead_lettered: reg(&r, IntCounterVec::new(Opts::new("lpmhss_events_dead_lettered_total", "Messages dead-lettered, by reason"), &["reason"]).expect("valid metric")),
            unknown_fields: reg(&r, IntCounter::new("lpmhss_unknown_fields_dropped_total", "Unknown fields dropped from landed events").expect("valid metric")),
            consumer_lag: igv("lpmhss_consumer_lag_messages", "Messages behind the partition's high watermark", &["topic", "partition"]),
            last_event: gv("lpmhss_last_event_timestamp_seconds", "Unix time the newest event from the board was landed", &["lhb"]),
            data_quality: igv("lpmhss_data_quality_flags", "Pathways carrying each data-quality flag (all months)", &["lhb", "flag"]),
            compute_duration: reg(&r, Gauge::new("lpmhss_compute_duration_seconds", "Wall time of the last successful computation").expect("valid metric")),
            last_compute: reg(&r, Gauge::new("lpmhss_last_compute_timestamp_seconds", "Unix time of the last successful computation").expect("valid metric")),
            compute_failures: reg(&r, IntCounter::new("lpmhss_compute_failures_total", "Computations that failed").expect("valid metric")),
            batches_landed: reg(&r, IntCounter::new("lpmhss_batches_landed_total", "Batches committed to the landing commit log").expect("valid metric")),
            last_landing: reg(&r, Gauge::new("lpmhss_last_landing_timestamp_seconds", "Unix time of the last committed batch").expect("valid metric")),
            partitions_assigned: reg(&r, IntGauge::new("lpmhss_partitions_assigned", "Kafka partitions currently assigned to this process").expect("valid metric")),
            registry: r,
        };
        let target = reg(
            &m.registry,
            Gauge::new(
                "lpmhss_target_ratio",
                "National target for both measures (0-1)",
            )
            .expect("valid metric"),
        );
        target.set(target_ratio);
        let silence = reg(
            &m.registry,
            Gauge::new(
                "lpmhss_feed_silence_threshold_seconds",
                "A board feed silent for longer than this is alerted on",
            )
            .expect("valid metric"),
        );
        silence.set(silence_threshold_seconds);
        // Zero series up front so rate() and absent-vs-zero behave from the first scrape.
        for reason in Reason::ALL {
            m.dead_lettered.with_label_values(&[reason.as_str()]);
        }
        for board in reference::boards() {
            for t in EventType::ALL {
                m.events_ingested
                    .with_label_values(&[&board.ods, t.as_str()]);
            }
            for flag in FLAGS {
                m.data_quality.with_label_values(&[&board.ods, flag]).set(0);
            }
        }
        m
    }

    /// An event landed.
    pub fn event_landed(&self, lhb: &str, event_type: &str, unknown_fields: u32) {
        self.events_ingested
            .with_label_values(&[lhb, event_type])
            .inc();
        if unknown_fields > 0 {
            self.unknown_fields.inc_by(u64::from(unknown_fields));
        }
    }

    /// A message was dead-lettered.
    pub fn event_dead_lettered(&self, reason: Reason) {
        self.dead_lettered
            .with_label_values(&[reason.as_str()])
            .inc();
    }

    /// A batch was committed; `boards` are the boards whose events it held.
    pub fn batch_landed<'a>(&self, at_unix: f64, boards: impl IntoIterator<Item = &'a str>) {
        self.batches_landed.inc();
        self.last_landing.set(at_unix);
        for b in boards {
            self.last_event.with_label_values(&[b]).set(at_unix);
        }
    }

    /// Current lag of one partition.
    pub fn consumer_lag(&self, topic: &str, partition: i32, lag: i64) {
        self.consumer_lag
            .with_label_values(&[topic, &partition.to_string()])
            .set(lag.max(0));
    }

    /// A partition was revoked: its lag series goes away with it.
    pub fn partition_revoked(&self, topic: &str, partition: i32) {
        let _ = self
            .consumer_lag
            .remove_label_values(&[topic, &partition.to_string()]);
    }

    /// How many partitions are assigned.
    pub fn partitions_assigned(&self, n: usize) {
        self.partitions_assigned.set(n as i64);
    }

    /// The last computation's inputs are unchanged (nothing landed, same day), so its figures
    /// are still exact at `at`: freshness advances without recomputing.
    pub fn confirmed_current(&self, at: f64) {
        self.last_compute.set(at);
    }

    /// A computation failed: the figures keep their last values and go stale.
    pub fn compute_failed(&self) {
        self.compute_failures.inc();
    }

    /// Publish a computation that succeeded at unix time `at`: its figures for `current` (this
    /// month in Wales) and the month before.
    pub fn computed(&self, c: &Computation, current: Month, at: f64) {
        self.compute_duration.set(c.duration.as_secs_f64());
        self.last_compute.set(at);
        let periods: BTreeMap<String, &str> = [
            (current.to_string(), PERIODS[0]),
            (current.previous().to_string(), PERIODS[1]),
        ]
        .into();
        for row in &c.monthly {
            let Some(period) = periods.get(&row.period) else {
                continue;
            };
            let labels = [row.provider_lhb.as_str(), row.age_group.as_str(), period];
            self.referrals
                .with_label_values(&labels)
                .set(row.referrals_received as i64);
            set_stage(
                &self.assessment_ratio,
                &self.assessments,
                &labels,
                &row.assessments,
            );
            set_stage(
                &self.intervention_ratio,
                &self.interventions,
                &labels,
                &row.interventions,
            );
        }
        for w in &c.waiting {
            let bands = [w.within_28, w.from_29_to_56, w.over_56];
            for (band, n) in BANDS.iter().zip(bands) {
                self.waiting
                    .with_label_values(&[
                        w.provider_lhb.as_str(),
                        w.age_group.as_str(),
                        w.stage.as_str(),
                        band,
                    ])
                    .set(n as i64);
            }
            if w.age_group == "all" {
                self.will_breach
                    .with_label_values(&[&w.provider_lhb, &w.stage])
                    .set(w.will_breach_within_7_days as i64);
            }
        }
        let mut flags: BTreeMap<(&str, &str), u64> = BTreeMap::new();
        for r in &c.data_quality {
            *flags.entry((&r.provider_lhb, &r.flag)).or_default() += r.pathways;
        }
        for board in reference::boards() {
            for flag in FLAGS {
                let n = flags.get(&(board.ods.as_str(), flag)).copied().unwrap_or(0);
                self.data_quality
                    .with_label_values(&[&board.ods, flag])
                    .set(n as i64);
            }
        }
        for (lhb, t) in &c.last_landed {
            let g = self.last_event.with_label_values(&[lhb]);
            g.set(g.get().max(t.timestamp() as f64));
        }
        // A board that has never sent anything is exported as 0 (1970), so the silent-feed
        // alert fires for it too instead of the series being absent.
        for board in reference::boards() {
            self.last_event.with_label_values(&[&board.ods]);
        }
    }

    /// Whether a computation has succeeded yet and when (unix seconds).
    pub fn last_compute_unix(&self) -> Option<f64> {
        let v = self.last_compute.get();
        (v > 0.0).then_some(v)
    }

    /// Unix time of the last committed batch, if any.
    pub fn last_landing_unix(&self) -> Option<f64> {
        let v = self.last_landing.get();
        (v > 0.0).then_some(v)
    }

    /// Partitions assigned now.
    pub fn assigned_partitions(&self) -> i64 {
        self.partitions_assigned.get()
    }

    /// Events landed so far per board (all types), for progress output.
    pub fn landed_per_board(&self) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for board in reference::boards() {
            let n = EventType::ALL
                .iter()
                .map(|t| {
                    self.events_ingested
                        .with_label_values(&[&board.ods, t.as_str()])
                        .get()
                })
                .sum();
            out.insert(board.ods.clone(), n);
        }
        out
    }

    /// Prometheus text exposition.
    pub fn render(&self) -> String {
        let mut buf = Vec::new();
        TextEncoder::new()
            .encode(&self.registry.gather(), &mut buf)
            .expect("text encoding of gathered metrics");
        String::from_utf8(buf).expect("prometheus text is UTF-8")
    }
}

fn set_stage(ratio: &GaugeVec, counts: &IntGaugeVec, labels: &[&str; 3], s: &StageCounts) {
    match s.ratio() {
        Some(r) => ratio.with_label_values(labels).set(r),
        None => {
            let _ = ratio.remove_label_values(labels);
        }
    }
    let bands = [s.within_28, s.from_29_to_56, s.over_56];
    for (band, n) in BANDS.iter().zip(bands) {
        counts
            .with_label_values(&[labels[0], labels[1], labels[2], band])
            .set(n as i64);
    }
}
