//! Architecture invariants that a test can check by reading the source (ARCHITECTURE.md).

use std::path::{Path, PathBuf};

fn sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for e in std::fs::read_dir(dir).unwrap().flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(sources(&p));
        } else if p.extension().is_some_and(|x| x == "rs") {
            out.push(p);
        }
    }
    out
}

fn users_of(krate: &str) -> Vec<String> {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    sources(&src)
        .into_iter()
        .filter(|p| {
            std::fs::read_to_string(p)
                .unwrap()
                .lines()
                .any(|l| l.trim_start().starts_with(&format!("use {krate}::")))
        })
        .map(|p| p.strip_prefix(&src).unwrap().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn one_owner_per_dependency() {
    for f in users_of("rdkafka") {
        assert!(f.starts_with("ingest/"), "{f} imports rdkafka");
    }
    for f in users_of("datafusion") {
        assert!(f.starts_with("compliance/"), "{f} imports datafusion");
    }
    for f in users_of("axum") {
        assert!(f.starts_with("http/"), "{f} imports axum");
    }
    for f in users_of("parquet") {
        assert!(f.starts_with("landing/"), "{f} imports parquet");
    }
}

#[test]
fn event_module_is_pure() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("src/event");
    for f in sources(&dir) {
        let text = std::fs::read_to_string(&f).unwrap();
        for banned in [
            "std::fs",
            "tokio",
            "std::net",
            "tracing::",
            "prometheus",
            "Utc::now",
        ] {
            assert!(!text.contains(banned), "{} uses {banned}", f.display());
        }
    }
}

#[test]
fn every_source_file_starts_with_a_module_doc() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    for f in sources(&src) {
        let text = std::fs::read_to_string(&f).unwrap();
        assert!(
            text.starts_with("//!"),
            "{} lacks a //! header",
            f.display()
        );
    }
}
