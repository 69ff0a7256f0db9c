//! Shutdown: a cancellation token tripped by the first SIGTERM/SIGINT; a second signal exits
//! at once (safe: the commit log, not this process, is the source of truth).

use tokio_util::sync::CancellationToken;

/// Exit code used when a second signal forces an immediate exit.
pub const FORCED_EXIT_CODE: i32 = 130;

/// Spawn the signal watcher; the returned token is cancelled on the first signal.
pub fn install_signal_handlers() -> CancellationToken {
    let token = CancellationToken::new();
    let t = token.clone();
    tokio::spawn(async move {
        wait_for_signal().await;
        tracing::info!(
            "shutdown requested: finishing in-flight batches (a second signal exits at once)"
        );
        t.cancel();
        wait_for_signal().await;
        tracing::warn!("second signal: exiting now");
        std::process::exit(FORCED_EXIT_CODE);
    });
    token
}

async fn wait_for_signal() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        let mut term = match signal(SignalKind::terminate()) {
            Ok(s) => s,
            Err(_) => return std::future::pending().await,
        };
        tokio::select! {
            _ = term.recv() => {}
            _ = tokio::signal::ctrl_c() => {}
        }
    }
    #[cfg(not(unix))]
    {
        let _ = tokio::signal::ctrl_c().await;
    }
}
