//! The request id: taken from a sane incoming `x-request-id` or made up, held in a
//! task-local for the request's handler (so every JSON body can carry it), echoed in the
//! `x-request-id` response header, and logged with the request's outcome and latency.

use std::fmt::Write as _;
use std::time::Instant;

use axum::extract::{MatchedPath, Request, State};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;

use crate::AppState;

pub const HEADER: &str = "x-request-id";

tokio::task_local! {
    static REQUEST_ID: String;
}

/// The id of the request being handled (empty outside a request).
pub fn current() -> String {
    REQUEST_ID.try_with(Clone::clone).unwrap_or_default()
}

fn acceptable(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_' || b == b'.')
}

/// 24 hex digits: the time in milliseconds (12), then 48 random bits. Time-ordered, so the
/// store's index of the plays that cite a request (`plays_by_request`) grows at its end
/// instead of at random places, which at ingest is a page written per play; and still
/// unguessable and unique (48 random bits within each millisecond).
fn new_id() -> String {
    let millis = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |since| since.as_millis() as u64);
    let random: [u8; 6] = rand::random();
    let mut id = String::with_capacity(24);
    // Writing to a String cannot fail.
    let _ = write!(id, "{:012x}", millis & 0xffff_ffff_ffff);
    for byte in random {
        let _ = write!(id, "{byte:02x}");
    }
    id
}

/// The outermost middleware: request id, access log, request metrics.
pub async fn middleware(State(state): State<AppState>, request: Request, next: Next) -> Response {
    let started = Instant::now();
    let id = request
        .headers()
        .get(HEADER)
        .and_then(|v| v.to_str().ok())
        .filter(|v| acceptable(v))
        .map_or_else(new_id, str::to_owned);
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", |p| p.as_str())
        .to_owned();
    let method = request.method().clone();
    let mut response = REQUEST_ID.scope(id.clone(), next.run(request)).await;
    let elapsed = started.elapsed();
    if let Ok(value) = HeaderValue::from_str(&id) {
        response.headers_mut().insert(HEADER, value);
    }
    let status = response.status().as_u16();
    state
        .metrics()
        .observe_request(&route, method.as_str(), status, elapsed);
    tracing::info!(
        request_id = %id,
        method = %method,
        route = %route,
        status,
        latency_ms = elapsed.as_secs_f64() * 1000.0,
        "request"
    );
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn made_up_ids_are_acceptable_unique_and_time_ordered() {
        let first = new_id();
        std::thread::sleep(std::time::Duration::from_millis(3));
        let ids: Vec<String> = (0..1_000).map(|_| new_id()).collect();
        for id in &ids {
            assert_eq!(id.len(), 24, "{id}");
            assert!(id.bytes().all(|b| b.is_ascii_hexdigit()), "{id}");
            assert!(acceptable(id), "{id}");
            // Made later, so sorted after: the leading digits are the time.
            assert!(id.as_str() > first.as_str(), "{id} not after {first}");
        }
        let distinct: std::collections::HashSet<&String> = ids.iter().collect();
        assert_eq!(distinct.len(), ids.len());
    }
}
