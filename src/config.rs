//! Configuration: `config/default.toml` (embedded) → `--config FILE` → `LPMHSS__SECTION__KEY`
//! environment variables, validated once at start-up with every error reported together.
//! Nothing reads the environment after [`Config::load`].

use crate::fault::FaultPoint;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::time::Duration;

const DEFAULT_TOML: &str = include_str!("../config/default.toml");
const ENV_PREFIX: &str = "LPMHSS__";

/// A secret string: `Debug` and `Serialize` print `[REDACTED]`.
#[derive(Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(transparent)]
pub struct Secret(String);

impl Secret {
    /// The secret value; call only where it is used.
    pub fn expose(&self) -> &str {
        &self.0
    }
    /// Whether nothing was configured.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(if self.0.is_empty() {
            "\"\""
        } else {
            "\"[REDACTED]\""
        })
    }
}

impl Serialize for Secret {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(if self.0.is_empty() { "" } else { "[REDACTED]" })
    }
}

/// The whole configuration.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Config {
    /// `[data]`.
    pub data: DataConfig,
    /// `[privacy]`.
    pub privacy: PrivacyConfig,
    /// `[kafka]`.
    pub kafka: KafkaConfig,
    /// `[landing]`.
    pub landing: LandingConfig,
    /// `[compute]`.
    pub compute: ComputeConfig,
    /// `[admin]`.
    pub admin: AdminConfig,
    /// `[shutdown]`.
    pub shutdown: ShutdownConfig,
    /// `[testing]`.
    pub testing: TestingConfig,
}

/// `[data]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct DataConfig {
    /// Data directory.
    pub dir: PathBuf,
}

/// `[privacy]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PrivacyConfig {
    /// HMAC key; empty = use the key file.
    pub pseudonymisation_key: Secret,
    /// Key file path; empty = the user config directory.
    pub key_file: String,
}

/// `[kafka]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct KafkaConfig {
    /// Bootstrap servers.
    pub brokers: String,
    /// Consumer group id.
    pub group_id: String,
    /// Topic regex.
    pub topic_pattern: String,
    /// Metadata refresh interval, ms.
    pub metadata_refresh_ms: u32,
    /// Prefetch bound, KiB.
    pub queued_max_messages_kbytes: u32,
    /// Session timeout, ms.
    pub session_timeout_ms: u32,
    /// Max poll interval (and rebalance timeout), ms.
    pub max_poll_interval_ms: u32,
    /// librdkafka passthrough properties (values may be secrets: printed redacted).
    #[serde(default)]
    pub properties: BTreeMap<String, Secret>,
}

/// `[landing]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct LandingConfig {
    /// Size trigger.
    pub flush_max_messages: usize,
    /// Age trigger.
    #[serde(with = "humantime_serde")]
    pub flush_max_age: Duration,
    /// Age trigger once the consumer has caught up.
    #[serde(with = "humantime_serde", default = "default_flush_idle_age")]
    pub flush_idle_age: Duration,
    /// Lines per file-ingest batch.
    pub file_batch_lines: usize,
}

/// `[compute]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ComputeConfig {
    /// Recomputation interval.
    #[serde(with = "humantime_serde")]
    pub interval: Duration,
    /// Target ratio.
    pub target_ratio: f64,
    /// How computations derive pathways (`auto`, `full`, `incremental`).
    #[serde(default)]
    pub derivation: crate::compliance::DerivationMode,
    /// In `auto`, the longest time between full derivations.
    #[serde(with = "humantime_serde", default = "default_full_every")]
    pub full_every: Duration,
    /// Events per bucket of a full derivation in bounded memory (0: all in memory at once;
    /// unset: sized to `memory_mb`).
    #[serde(default)]
    pub bucket_events: Option<u64>,
    /// The resident memory (MiB) a full derivation sizes its buckets to.
    #[serde(default = "default_memory_mb")]
    pub memory_mb: u64,
}

fn default_memory_mb() -> u64 {
    crate::compliance::Derivation::default().memory_mb
}

fn default_flush_idle_age() -> Duration {
    Duration::from_secs(1)
}

fn default_full_every() -> Duration {
    crate::compliance::Derivation::default().full_every
}

impl ComputeConfig {
    /// The derivation settings.
    pub fn derivation(&self) -> crate::compliance::Derivation {
        crate::compliance::Derivation {
            mode: self.derivation,
            full_every: self.full_every,
            bucket_events: self.bucket_events,
            memory_mb: self.memory_mb,
        }
    }
}

/// `[admin]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct AdminConfig {
    /// Listener address.
    pub addr: String,
    /// Silence threshold per board.
    #[serde(with = "humantime_serde")]
    pub feed_silence_threshold: Duration,
    /// Readiness staleness.
    #[serde(with = "humantime_serde")]
    pub stale_after: Duration,
}

/// `[shutdown]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ShutdownConfig {
    /// Grace period.
    #[serde(with = "humantime_serde")]
    pub grace_period: Duration,
}

/// `[testing]`.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TestingConfig {
    /// Fault point name or empty.
    pub crash_at: String,
    /// Which occurrence crashes.
    pub crash_on_occurrence: u64,
}

/// Why the configuration is unusable; lists every problem found.
#[derive(Debug, thiserror::Error)]
#[error("invalid configuration:\n  - {}", .0.join("\n  - "))]
pub struct ConfigError(pub Vec<String>);

impl Config {
    /// Load defaults, then `file`, then the process environment.
    pub fn load(file: Option<&Path>) -> Result<Config, ConfigError> {
        Self::load_with_env(file, std::env::vars())
    }

    /// As [`Config::load`] with an explicit environment (tests).
    pub fn load_with_env(
        file: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Config, ConfigError> {
        let mut errors = Vec::new();
        let mut merged: toml::Table = toml::from_str(DEFAULT_TOML)
            .map_err(|e| ConfigError(vec![format!("built-in defaults: {e}")]))?;
        if let Some(path) = file {
            match std::fs::read_to_string(path) {
                Ok(text) => match toml::from_str::<toml::Table>(&text) {
                    Ok(t) => merge(&mut merged, t),
                    Err(e) => errors.push(format!("{}: {e}", path.display())),
                },
                Err(e) => errors.push(format!("cannot read {}: {e}", path.display())),
            }
        }
        for (key, value) in env {
            let Some(rest) = key.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            let parts: Vec<String> = rest.split("__").map(env_key_part).collect();
            if parts.len() < 2 {
                errors.push(format!("{key}: use LPMHSS__SECTION__KEY"));
                continue;
            }
            set_path(&mut merged, &parts, parse_env_value(&value));
        }
        let config = match toml::Value::Table(merged).try_into::<Config>() {
            Ok(c) => Some(c),
            Err(e) => {
                errors.push(e.to_string().trim().replace('\n', " "));
                None
            }
        };
        if let Some(c) = &config {
            errors.extend(c.validate());
        }
        match config {
            Some(c) if errors.is_empty() => Ok(c),
            _ => Err(ConfigError(errors)),
        }
    }

    fn validate(&self) -> Vec<String> {
        let mut errors = Vec::new();
        if !(0.0..=1.0).contains(&self.compute.target_ratio) {
            errors.push("compute.target_ratio must be between 0 and 1".into());
        }
        if self.kafka.brokers.trim().is_empty() {
            errors.push("kafka.brokers must name at least one HOST:PORT".into());
        }
        if regex::Regex::new(&self.kafka.topic_pattern).is_err() {
            errors.push("kafka.topic_pattern is not a valid regex".into());
        }
        if self.landing.flush_max_messages == 0 || self.landing.file_batch_lines == 0 {
            errors.push("landing batch sizes must be at least 1".into());
        }
        if self.compute.interval.is_zero() {
            errors.push("compute.interval must be positive".into());
        }
        if self.admin.addr.parse::<std::net::SocketAddr>().is_err() {
            errors.push(format!("admin.addr '{}' is not HOST:PORT", self.admin.addr));
        }
        if let Err(e) = self.fault_point() {
            errors.push(e);
        }
        errors
    }

    /// The configured fault point, if any.
    pub fn fault_point(&self) -> Result<Option<FaultPoint>, String> {
        match self.testing.crash_at.as_str() {
            "" => Ok(None),
            name => toml::Value::String(name.to_string())
                .try_into::<FaultPoint>()
                .map(Some)
                .map_err(|_| format!("testing.crash_at '{name}' is not a fault point")),
        }
    }

    /// The effective configuration as TOML, secrets redacted.
    pub fn to_redacted_toml(&self) -> String {
        toml::to_string_pretty(self).unwrap_or_else(|e| format!("# cannot print: {e}"))
    }
}

/// `SASL_PASSWORD` → `sasl.password` inside kafka.properties; otherwise lowercase.
fn env_key_part(part: &str) -> String {
    part.to_ascii_lowercase()
}

fn parse_env_value(raw: &str) -> toml::Value {
    // Numbers and booleans keep their type; everything else is a string.
    if let Ok(i) = raw.parse::<i64>() {
        return toml::Value::Integer(i);
    }
    if let Ok(f) = raw.parse::<f64>() {
        if raw.contains('.') {
            return toml::Value::Float(f);
        }
    }
    match raw {
        "true" => toml::Value::Boolean(true),
        "false" => toml::Value::Boolean(false),
        _ => toml::Value::String(raw.to_string()),
    }
}

fn set_path(table: &mut toml::Table, parts: &[String], value: toml::Value) {
    // Inside kafka.properties, keys are librdkafka names with dots.
    if parts.len() >= 3 && parts[0] == "kafka" && parts[1] == "properties" {
        let key = parts[2..].join("_").replace('_', ".");
        let props = table
            .entry("kafka")
            .or_insert_with(|| toml::Value::Table(Default::default()))
            .as_table_mut()
            .map(|k| {
                k.entry("properties")
                    .or_insert_with(|| toml::Value::Table(Default::default()))
            })
            .and_then(toml::Value::as_table_mut);
        if let Some(p) = props {
            p.insert(key, toml::Value::String(value_as_string(&value)));
        }
        return;
    }
    let (last, init) = parts.split_last().expect("at least two parts");
    let mut cur = table;
    for p in init {
        let next = cur
            .entry(p.clone())
            .or_insert_with(|| toml::Value::Table(Default::default()));
        match next.as_table_mut() {
            Some(t) => cur = t,
            None => return,
        }
    }
    // A string setting keeps its string type even when the value looks like a number.
    let value = match cur.get(last) {
        Some(toml::Value::String(_)) => toml::Value::String(value_as_string(&value)),
        _ => value,
    };
    cur.insert(last.clone(), value);
}

fn value_as_string(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn merge(base: &mut toml::Table, over: toml::Table) {
    for (k, v) in over {
        match (base.get_mut(&k), v) {
            (Some(toml::Value::Table(b)), toml::Value::Table(o)) => merge(b, o),
            (_, v) => {
                base.insert(k, v);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    #[test]
    fn defaults_load() {
        let c = Config::load_with_env(None, env(&[])).unwrap();
        assert_eq!(c.compute.target_ratio, 0.8);
        assert_eq!(c.landing.flush_max_age, Duration::from_secs(5));
    }

    #[test]
    fn file_then_environment_override() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("c.toml");
        std::fs::write(&f, "[kafka]\nbrokers = \"a:1\"\ngroup_id = \"g\"\n").unwrap();
        let c = Config::load_with_env(
            Some(&f),
            env(&[
                ("LPMHSS__KAFKA__BROKERS", "b:2"),
                ("LPMHSS__COMPUTE__INTERVAL", "2s"),
                ("LPMHSS__KAFKA__PROPERTIES__SASL_PASSWORD", "hunter2"),
                ("LPMHSS__DATA__DIR", "1234"),
            ]),
        )
        .unwrap();
        assert_eq!(c.kafka.brokers, "b:2");
        assert_eq!(c.kafka.group_id, "g");
        assert_eq!(c.compute.interval, Duration::from_secs(2));
        assert_eq!(c.data.dir, PathBuf::from("1234"));
        assert_eq!(c.kafka.properties["sasl.password"].expose(), "hunter2");
        assert!(!c.to_redacted_toml().contains("hunter2"));
    }

    #[test]
    fn every_error_is_reported_at_once() {
        let err = Config::load_with_env(
            None,
            env(&[
                ("LPMHSS__COMPUTE__TARGET_RATIO", "1.5"),
                ("LPMHSS__ADMIN__ADDR", "nowhere"),
                ("LPMHSS__TESTING__CRASH_AT", "sometime"),
            ]),
        )
        .unwrap_err();
        assert_eq!(err.0.len(), 3, "{err}");
    }

    #[test]
    fn unknown_keys_are_rejected() {
        let err = Config::load_with_env(None, env(&[("LPMHSS__KAFKA__BROKER", "x")])).unwrap_err();
        assert!(err.to_string().contains("broker"), "{err}");
    }

    #[test]
    fn secrets_are_redacted() {
        let c = Config::load_with_env(
            None,
            env(&[("LPMHSS__PRIVACY__PSEUDONYMISATION_KEY", "s3cret")]),
        )
        .unwrap();
        assert!(!format!("{c:?}").contains("s3cret"));
        assert!(!c.to_redacted_toml().contains("s3cret"));
        assert_eq!(c.privacy.pseudonymisation_key.expose(), "s3cret");
    }
}
