//! Tests of the landing thread's ordering rule: after a failed batch, later batches of the same
//! partition and epoch are skipped (landing them would leave a gap below committed offsets),
//! while other partitions and the next epoch land.

use super::*;
use crate::fault::FaultPlan;
use crate::landing::{DataDir, EventRow, PartitionOffset, Source};
use crate::telemetry::Metrics;
use std::time::Duration;

fn event(lhb: &str, n: i64) -> EventRow {
    let line = format!(
        r#"{{"schema_version":1,"event_id":"00000000-0000-4000-8000-{n:012x}","event_type":"assessment_undertaken","provider_lhb":"{lhb}","referral_id":"r{n}","recorded_at":"2024-01-10T12:00:00Z","assessment_date":"2024-01-10"}}"#
    );
    let v = crate::event::Validator::new(crate::event::Pseudonymiser::new("k"));
    EventRow {
        event: v.validate(line.as_bytes(), None).unwrap(),
        source: Source::Kafka {
            topic: format!("lpmhss.events.{lhb}").into(),
            partition: 0,
            offset: n,
        },
    }
}

fn job(lhb: &str, epoch: u64, first: i64, last: i64) -> Job {
    let topic = format!("lpmhss.events.{lhb}");
    Job {
        key: (topic.clone(), 0),
        epoch,
        first,
        last,
        batch: Batch {
            stem: crate::landing::kafka_stem(&topic, 0, first, last),
            events: (first..=last).map(|n| event(lhb, n)).collect(),
            dead_letters: Vec::new(),
            offsets: vec![PartitionOffset {
                topic,
                partition: 0,
                next_offset: last + 1,
                first_offset: Some(first),
            }],
            source: None,
        },
    }
}

fn outcome_name(o: &Outcome) -> &'static str {
    match o {
        Outcome::Landed => "landed",
        Outcome::Failed(_) => "failed",
        Outcome::Skipped => "skipped",
    }
}

#[test]
fn a_failed_batch_stops_its_partition_until_the_next_epoch() {
    let tmp = tempfile::tempdir().unwrap();
    let landing = Landing::open(
        DataDir::new(tmp.path()),
        "t",
        Arc::new(FaultPlan::default()),
    );
    let landing = Arc::new(Mutex::new(landing.unwrap()));
    // A file where 7A1's partition directory belongs: 7A1 batches fail until it is removed.
    let blocker = tmp.path().join("events/lhb=7A1");
    std::fs::write(&blocker, b"").unwrap();
    let status = Arc::new(ServiceStatus::new(
        Metrics::new(0.8, 60.0),
        0.8,
        Duration::from_secs(60),
        Duration::from_secs(60),
    ));
    let mut lander = Lander::start(landing.clone(), status, 1).unwrap();
    let jobs = [
        job("7A1", 1, 0, 1),
        job("7A2", 2, 0, 1),
        job("7A1", 1, 2, 3),
        job("7A1", 1, 4, 5),
        job("7A2", 2, 2, 3),
    ];
    let mut seen = Vec::new();
    for j in jobs {
        lander.send(j);
    }
    for _ in 0..5 {
        let d = lander.wait_done();
        seen.push((d.key.0.clone(), d.first, outcome_name(&d.outcome)));
    }
    let expect =
        |lhb: &str, first: i64, o: &'static str| (format!("lpmhss.events.{lhb}"), first, o);
    assert_eq!(
        seen,
        [
            expect("7A1", 0, "failed"),
            expect("7A2", 0, "landed"),
            expect("7A1", 2, "skipped"),
            expect("7A1", 4, "skipped"),
            expect("7A2", 2, "landed"),
        ]
    );
    // The rewound partition's next epoch lands again from its first offset.
    std::fs::remove_file(&blocker).unwrap();
    lander.send(job("7A1", 3, 0, 5));
    assert!(matches!(lander.wait_done().outcome, Outcome::Landed));
    drop(lander);
    let log = landing.lock().unwrap();
    assert_eq!(
        log.commit_log().next_offset("lpmhss.events.7A1", 0),
        Some(6)
    );
    assert_eq!(
        log.commit_log().next_offset("lpmhss.events.7A2", 0),
        Some(4)
    );
    assert_eq!(log.commit_log().entries().len(), 3);
}
