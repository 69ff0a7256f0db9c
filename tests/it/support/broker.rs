//! The Kafka-compatible broker (tansu, installed by `scripts/setup.sh`) for integration tests:
//! started in memory on a free 127.0.0.1 port, topics created explicitly, killed on drop.

use super::process::{free_port, wait_for, Guard};
use std::net::TcpStream;
use std::process::{Command, Stdio};
use std::time::Duration;

/// A running broker.
pub struct Broker {
    /// `127.0.0.1:PORT`.
    pub addr: String,
    _process: Option<Guard>,
}

fn tansu_path() -> String {
    if let Ok(p) = std::env::var("TANSU") {
        return p;
    }
    let home = std::env::var("HOME").unwrap_or_default();
    let cargo_bin = format!("{home}/.cargo/bin/tansu");
    if std::path::Path::new(&cargo_bin).exists() {
        cargo_bin
    } else {
        "tansu".into()
    }
}

impl Broker {
    /// Start tansu and create the seven board topics with `partitions` partitions each.
    pub fn start(partitions: i32) -> Broker {
        let port = free_port();
        let addr = format!("127.0.0.1:{port}");
        let url = format!("tcp://{addr}");
        let child = Command::new(tansu_path())
            .args([
                "broker",
                "--storage-engine",
                "memory://tansu/",
                "--listener-url",
            ])
            .arg(&url)
            .arg("--advertised-listener-url")
            .arg(&url)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("tansu broker (run scripts/setup.sh to install it)");
        let process = Guard(Some(child));
        wait_for(Duration::from_secs(30), || TcpStream::connect(&addr).ok())
            .expect("tansu did not start listening");
        let boards: Vec<String> = lpmhss::event::reference::boards()
            .iter()
            .map(|b| b.ods.clone())
            .collect();
        let rt = tokio::runtime::Runtime::new().unwrap();
        rt.block_on(lpmhss::ingest::produce::ensure_topics(
            &addr, &boards, partitions,
        ))
        .expect("create topics");
        Broker {
            addr,
            _process: Some(process),
        }
    }

    /// A broker this test did not start (e.g. librdkafka's mock cluster).
    pub fn external(addr: String) -> Broker {
        Broker {
            addr,
            _process: None,
        }
    }
}
