//! Shared test support: the binary under test, temporary data directories, the compact event
//! notation of the rule cases, and helpers to run commands and read their CSV.

pub mod broker;
pub mod events;
pub mod process;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

/// The key every test process pseudonymises with (never a user's key file).
pub const TEST_KEY: &str = "test-key-0123456789abcdef0123456789abcdef";

/// The `lpmhss` binary built for this test run.
pub fn bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_lpmhss"))
}

/// A command for the binary with the test environment: fixed key, no user config touched.
pub fn lpmhss() -> Command {
    let mut c = Command::new(bin());
    c.env("LPMHSS__PRIVACY__PSEUDONYMISATION_KEY", TEST_KEY)
        .env("RUST_LOG", "warn")
        .env_remove("LPMHSS__TESTING__CRASH_AT");
    c
}

/// Run and require success; returns stdout.
pub fn run_ok(cmd: &mut Command) -> String {
    let out = cmd.output().expect("spawn lpmhss");
    assert!(
        out.status.success(),
        "command failed: {:?}\nstdout:\n{}\nstderr:\n{}",
        cmd,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("utf-8 stdout")
}

/// Run and return the whole output whatever the status.
pub fn run(cmd: &mut Command) -> Output {
    cmd.output().expect("spawn lpmhss")
}

/// Ingest NDJSON text into `data_dir` through the CLI.
pub fn ingest_text(data_dir: &Path, ndjson: &str) -> String {
    let file = data_dir.with_extension("ndjson");
    std::fs::write(&file, ndjson).unwrap();
    run_ok(
        lpmhss()
            .arg("ingest")
            .arg("--data-dir")
            .arg(data_dir)
            .arg(&file),
    )
}

/// `lpmhss sql --format csv` output.
pub fn sql(data_dir: &Path, query: &str) -> String {
    run_ok(
        lpmhss()
            .args(["sql", "--format", "csv", "--data-dir"])
            .arg(data_dir)
            .arg(query),
    )
}

/// A single number from a one-cell SQL query.
pub fn sql_count(data_dir: &Path, query: &str) -> u64 {
    let out = sql(data_dir, query);
    out.lines()
        .nth(1)
        .and_then(|l| l.trim().parse().ok())
        .unwrap_or_else(|| panic!("no count in: {out}"))
}

/// Run a Python script (DuckDB and pyarrow are installed by `scripts/setup.sh`) and return its
/// trimmed stdout; a failing script fails the test with its stderr.
pub fn python(script: &str) -> String {
    let out = Command::new("python3")
        .arg("-c")
        .arg(script)
        .output()
        .expect("python3 (run scripts/setup.sh to install duckdb and pyarrow)");
    assert!(
        out.status.success(),
        "python failed (run scripts/setup.sh): {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_string()
}
