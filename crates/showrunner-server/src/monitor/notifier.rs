//! Sending notifications over HTTP: each receiver's payload (built by
//! `showrunner_monitor::notify`), posted with retries and exponential back-off on transport
//! errors, 5xx and 429 answers (other 4xx answers are final: the payload will not get
//! better), and one [`NotificationEntry`] per payload for the notification log.

use std::time::Duration;

use serde_json::Value;
use showrunner_monitor::alerts::Notification;
use showrunner_monitor::notify;
use showrunner_store::NotificationEntry;

use super::config::{Receiver, RetryConfig, Route};

/// The receivers a notification goes to: those of every route whose matchers all of its
/// alerts satisfy, or every receiver when no route is configured.
pub fn receivers_for<'a>(
    notification: &Notification,
    receivers: &'a [Receiver],
    routes: &[Route],
) -> Vec<&'a Receiver> {
    if routes.is_empty() {
        return receivers.iter().collect();
    }
    let mut out: Vec<&Receiver> = Vec::new();
    for route in routes {
        let matches = notification.alerts.iter().all(|alert| {
            route
                .matchers
                .iter()
                .all(|(k, v)| alert.labels.get(k) == Some(v))
        });
        if matches
            && let Some(receiver) = receivers.iter().find(|r| r.name() == route.receiver)
            && !out.iter().any(|r| r.name() == receiver.name())
        {
            out.push(receiver);
        }
    }
    out
}

/// The URL and bodies one receiver is sent for one notification.
pub fn payloads(
    receiver: &Receiver,
    notification: &Notification,
    external_url: &str,
) -> (String, Vec<Value>) {
    match receiver {
        Receiver::Webhook { name, url } => (
            url.clone(),
            vec![notify::alertmanager_webhook(
                notification,
                name,
                external_url,
            )],
        ),
        Receiver::Slack { url, .. } => (url.clone(), vec![notify::slack(notification)]),
        Receiver::Pagerduty {
            routing_key, url, ..
        } => (
            url.clone(),
            notify::pagerduty(notification, routing_key, "showrunner"),
        ),
        Receiver::Alertmanager { url, .. } => (
            format!("{}/api/v2/alerts", url.trim_end_matches('/')),
            vec![notify::alertmanager_api_v2(notification, external_url)],
        ),
    }
}

/// Sends one notification to one receiver, retrying as configured; returns a log entry per
/// payload (PagerDuty gets one event per alert).
pub async fn deliver(
    client: &reqwest::Client,
    receiver: &Receiver,
    notification: &Notification,
    retry: &RetryConfig,
    external_url: &str,
    now_ms: i64,
) -> Vec<NotificationEntry> {
    let (url, bodies) = payloads(receiver, notification, external_url);
    let mut entries = Vec::with_capacity(bodies.len());
    for body in bodies {
        let payload = body.to_string();
        let mut attempts = 0u32;
        let mut http_status: Option<u16>;
        let mut error: Option<String>;
        loop {
            attempts += 1;
            let result = client
                .post(&url)
                .header(reqwest::header::CONTENT_TYPE, "application/json")
                .body(payload.clone())
                .send()
                .await;
            let retryable = match result {
                Ok(response) => {
                    let status = response.status();
                    http_status = Some(status.as_u16());
                    if status.is_success() {
                        error = None;
                        break;
                    }
                    let text = response.text().await.unwrap_or_default();
                    let snippet: String = text.chars().take(200).collect();
                    error = Some(format!("HTTP {}: {}", status.as_u16(), snippet.trim()));
                    status.is_server_error() || status.as_u16() == 429
                }
                Err(e) => {
                    http_status = None;
                    error = Some(format!("sending to {url}: {e}"));
                    true
                }
            };
            if !retryable {
                break;
            }
            let Some(delay) = notify::retry_delay(
                attempts - 1,
                retry.attempts.max(1),
                Duration::from_millis(retry.base_ms),
                Duration::from_millis(retry.max_ms.max(retry.base_ms)),
            ) else {
                break;
            };
            tracing::warn!(
                receiver = receiver.name(),
                attempt = attempts,
                error = error.as_deref().unwrap_or(""),
                "notification failed; retrying"
            );
            tokio::time::sleep(delay).await;
        }
        let status = if error.is_none() { "sent" } else { "failed" };
        if let Some(problem) = &error {
            tracing::error!(receiver = receiver.name(), attempts, error = %problem, "notification given up");
        }
        entries.push(NotificationEntry {
            at_ms: now_ms,
            receiver: receiver.name().to_owned(),
            kind: receiver.kind().to_owned(),
            group_key: notification.group_key.clone(),
            status: status.to_owned(),
            attempts,
            http_status,
            error,
            payload,
        });
    }
    entries
}
