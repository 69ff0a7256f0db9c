//! The admin HTTP listener: `/metrics` (Prometheus text), `/healthz` (alive), `/readyz`
//! (partitions assigned, landing and computation healthy) and the status page at `/`
//! (`?lang=cy` for Welsh). The only module that imports the web framework.

pub mod labels;
mod page_model;
pub mod status_page;

pub use page_model::status_page as build_status_page;

use crate::status::ServiceStatus;
use axum::extract::{Query, State};
use axum::http::{header, StatusCode};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use std::collections::HashMap;
use std::sync::Arc;
use tokio::net::TcpListener;
use tokio_util::sync::CancellationToken;

/// The admin routes over shared service state.
pub fn router(status: Arc<ServiceStatus>) -> Router {
    Router::new()
        .route("/", get(page))
        .route("/metrics", get(metrics))
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/readyz", get(ready))
        .with_state(status)
}

/// Serve `router` on `listener` until `stop` is cancelled.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    stop: CancellationToken,
) -> std::io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(async move { stop.cancelled().await })
        .await
}

async fn metrics(State(s): State<Arc<ServiceStatus>>) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        s.metrics.render(),
    )
        .into_response()
}

async fn ready(State(s): State<Arc<ServiceStatus>>) -> Response {
    let now = chrono::Utc::now().timestamp_micros() as f64 / 1e6;
    match s.readiness(now) {
        Ok(()) => (StatusCode::OK, "ready\n".to_string()).into_response(),
        Err(why) => (
            StatusCode::SERVICE_UNAVAILABLE,
            format!("not ready: {why}\n"),
        )
            .into_response(),
    }
}

async fn page(
    State(s): State<Arc<ServiceStatus>>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let lang = status_page::Lang::from_query(q.get("lang").map(String::as_str));
    match s.latest() {
        Some(c) => {
            let model = page_model::status_page(
                &c,
                chrono::Utc::now(),
                lang,
                s.target_ratio,
                s.feed_silence_threshold,
            );
            Html(status_page::render(&model)).into_response()
        }
        None => (
            StatusCode::SERVICE_UNAVAILABLE,
            Html("<!doctype html><html lang=\"en\"><meta charset=\"utf-8\"><title>lpmhss</title><p>lpmhss is starting: the first computation has not finished yet. This page refreshes when you reload it.</p></html>".to_string()),
        )
            .into_response(),
    }
}
