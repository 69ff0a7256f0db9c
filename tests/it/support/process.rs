//! Child processes that must not outlive a test, and free local ports.

use std::net::TcpListener;
use std::process::Child;
use std::time::{Duration, Instant};

/// A free TCP port on 127.0.0.1 (bound and released).
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// A child killed (SIGKILL) when dropped.
pub struct Guard(pub Option<Child>);

impl Guard {
    /// The child.
    pub fn child(&mut self) -> &mut Child {
        self.0.as_mut().expect("running child")
    }

    /// Send a signal by number (9 = SIGKILL, 15 = SIGTERM).
    pub fn signal(&mut self, sig: i32) {
        let pid = self.child().id();
        let _ = std::process::Command::new("kill")
            .arg(format!("-{sig}"))
            .arg(pid.to_string())
            .status();
    }

    /// Wait up to `timeout` for exit; `None` if still running.
    pub fn wait_timeout(&mut self, timeout: Duration) -> Option<std::process::ExitStatus> {
        let start = Instant::now();
        while start.elapsed() < timeout {
            if let Ok(Some(s)) = self.child().try_wait() {
                return Some(s);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    /// Kill -9 and reap.
    pub fn kill9(&mut self) {
        self.signal(9);
        let _ = self.child().wait();
    }
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Some(c) = self.0.as_mut() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// Poll `f` until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let start = Instant::now();
    while start.elapsed() < timeout {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(250));
    }
    None
}
