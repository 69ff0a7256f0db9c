//! Baseline for the end-to-end benchmark (`benches/e2e.sh`): how fast can a plain librdkafka
//! consumer read the board topics from the broker, doing nothing with the messages?
//!
//! ```sh
//! cargo run --release --example raw_consume -- --brokers 127.0.0.1:9092 --expect 1000000
//! ```
//!
//! Subscribes to `^lpmhss\.events\..+` with a fresh consumer group (offsets from the start, no
//! commits), counts messages until `--expect` have arrived, then prints one JSON line on stdout:
//! messages, payload bytes, seconds from the first message to the last (`seconds`), seconds from
//! process start (`seconds_total`, which includes the group join), and the rates.
//! `--property KEY=VALUE` (repeatable) passes extra librdkafka settings, e.g. to reproduce the
//! settings of `lpmhss serve`.

use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, Consumer};
use rdkafka::message::Message;
use std::process::ExitCode;
use std::time::{Duration, Instant};

struct Args {
    brokers: String,
    expect: u64,
    group_id: String,
    topic_pattern: String,
    timeout: Duration,
    properties: Vec<(String, String)>,
}

fn usage() -> String {
    "usage: raw_consume --brokers HOST:PORT --expect N [--group-id ID] \
     [--topic-pattern REGEX] [--timeout-secs S] [--property KEY=VALUE]…"
        .to_string()
}

fn parse_args() -> Result<Args, String> {
    let mut args = Args {
        brokers: String::new(),
        expect: 0,
        group_id: format!("raw-consume-{}", std::process::id()),
        topic_pattern: r"^lpmhss\.events\..+".to_string(),
        timeout: Duration::from_secs(600),
        properties: Vec::new(),
    };
    let mut it = std::env::args().skip(1);
    while let Some(flag) = it.next() {
        let mut value = || {
            it.next()
                .ok_or_else(|| format!("{flag} needs a value; {}", usage()))
        };
        match flag.as_str() {
            "--brokers" => args.brokers = value()?,
            "--expect" => args.expect = value()?.parse().map_err(|e| format!("--expect: {e}"))?,
            "--group-id" => args.group_id = value()?,
            "--topic-pattern" => args.topic_pattern = value()?,
            "--timeout-secs" => {
                args.timeout = Duration::from_secs(
                    value()?
                        .parse()
                        .map_err(|e| format!("--timeout-secs: {e}"))?,
                )
            }
            "--property" => {
                let kv = value()?;
                let (k, v) = kv
                    .split_once('=')
                    .ok_or_else(|| format!("--property wants KEY=VALUE, got {kv}"))?;
                args.properties.push((k.to_string(), v.to_string()));
            }
            "-h" | "--help" => return Err(usage()),
            other => return Err(format!("unknown argument {other}; {}", usage())),
        }
    }
    if args.brokers.is_empty() || args.expect == 0 {
        return Err(usage());
    }
    Ok(args)
}

fn main() -> ExitCode {
    let started = Instant::now();
    let args = match parse_args() {
        Ok(a) => a,
        Err(e) => {
            eprintln!("raw_consume: {e}");
            return ExitCode::from(2);
        }
    };
    let mut config = ClientConfig::new();
    config
        .set("bootstrap.servers", &args.brokers)
        .set("group.id", &args.group_id)
        .set("auto.offset.reset", "earliest")
        .set("enable.auto.commit", "false")
        .set("enable.auto.offset.store", "false")
        .set("enable.partition.eof", "false");
    for (k, v) in &args.properties {
        config.set(k, v);
    }
    let consumer: BaseConsumer = match config.create() {
        Ok(c) => c,
        Err(e) => {
            eprintln!("raw_consume: cannot create the consumer: {e}");
            return ExitCode::FAILURE;
        }
    };
    if let Err(e) = consumer.subscribe(&[args.topic_pattern.as_str()]) {
        eprintln!(
            "raw_consume: cannot subscribe to {}: {e}",
            args.topic_pattern
        );
        return ExitCode::FAILURE;
    }

    let mut messages = 0u64;
    let mut bytes = 0u64;
    let mut first: Option<Instant> = None;
    let mut errors = 0u64;
    let mut last_progress = Instant::now();
    while messages < args.expect {
        if started.elapsed() > args.timeout {
            eprintln!(
                "raw_consume: timed out after {:?} with {messages} of {} messages",
                args.timeout, args.expect
            );
            return ExitCode::FAILURE;
        }
        match consumer.poll(Duration::from_millis(100)) {
            None => {}
            Some(Ok(m)) => {
                first.get_or_insert_with(Instant::now);
                messages += 1;
                bytes += m.payload_len() as u64 + m.key().map_or(0, |k| k.len() as u64);
            }
            Some(Err(e)) => {
                errors += 1;
                if errors <= 5 {
                    eprintln!("raw_consume: poll error: {e}");
                }
            }
        }
        if last_progress.elapsed() >= Duration::from_secs(2) {
            last_progress = Instant::now();
            eprintln!("raw_consume: {messages} of {} messages", args.expect);
        }
    }
    let done = Instant::now();
    let seconds = first.map_or(0.0, |f| (done - f).as_secs_f64());
    let seconds_total = (done - started).as_secs_f64();
    let rate = |secs: f64| {
        if secs > 0.0 {
            messages as f64 / secs
        } else {
            0.0
        }
    };
    println!(
        "{{\"messages\":{messages},\"bytes\":{bytes},\"seconds\":{seconds:.3},\
         \"seconds_total\":{seconds_total:.3},\"messages_per_sec\":{:.0},\
         \"messages_per_sec_total\":{:.0},\"mb_per_sec\":{:.1},\"poll_errors\":{errors}}}",
        rate(seconds),
        rate(seconds_total),
        if seconds > 0.0 {
            bytes as f64 / 1e6 / seconds
        } else {
            0.0
        },
    );
    ExitCode::SUCCESS
}
