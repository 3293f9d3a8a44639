//! Ingest through NATS JetStream against the NATS server on this machine
//! (`SHOWRUNNER_TEST_NATS_URL`, default nats://127.0.0.1:4222): `POST /v1/events` publishes
//! and answers 202, a consumer stores what was published exactly once, and a message a
//! crashed consumer took but never acknowledged is redelivered and stored once. Each test
//! uses its own stream and deletes it. Without a reachable server the tests skip, unless
//! `CI` is set, where that is a failure.

mod common;

use std::time::{Duration, Instant};

use async_nats::jetstream;
use axum::http::StatusCode;
use common::{Fixture, call, play, post, router};
use futures::StreamExt;
use showrunner_model::EventKind;
use showrunner_server::bus::{self, Bus, BusConfig, ConsumeSummary};
use showrunner_store::{SqliteStore, Store};

fn nats_url() -> String {
    std::env::var("SHOWRUNNER_TEST_NATS_URL").unwrap_or_else(|_| "nats://127.0.0.1:4222".into())
}

/// A fresh stream's configuration, or `None` (skip) when NATS is not there outside CI.
async fn bus_config() -> Option<BusConfig> {
    match async_nats::connect(nats_url()).await {
        Ok(_) => {}
        Err(error) if std::env::var_os("CI").is_none() => {
            eprintln!("skipping: NATS at {} is not reachable: {error}", nats_url());
            return None;
        }
        Err(error) => panic!("NATS at {} is not reachable in CI: {error}", nats_url()),
    }
    let tag: u64 = rand::random();
    Some(BusConfig {
        nats_url: nats_url(),
        stream: format!("SR_TEST_{tag:016x}"),
        subject: format!("sr.test.{tag:016x}"),
        durable: format!("sr-test-{tag:016x}"),
        ack_wait_seconds: 1,
        fetch_max: 16,
        ..BusConfig::default()
    })
}

async fn delete_stream(config: &BusConfig) {
    if let Ok(client) = async_nats::connect(&config.nats_url).await {
        let _ = jetstream::new(client).delete_stream(&config.stream).await;
    }
}

fn plays_stored(db: &std::path::Path) -> u64 {
    SqliteStore::open_read_only(db)
        .and_then(|s| s.counts())
        .map_or(0, |c| c.events_of(EventKind::Play))
}

/// Consumes until the store holds `want` more plays than `before` (or 30 s pass), then
/// stops the consumer and returns its totals.
async fn consume_until(fixture: &Fixture, config: &BusConfig, want: u64) -> ConsumeSummary {
    let mut server_config = fixture.config.clone();
    server_config.bus = config.clone();
    let db = fixture.config.db.clone();
    let before = plays_stored(&db);
    let stop = async move {
        let deadline = Instant::now() + Duration::from_secs(30);
        while plays_stored(&db) < before + want && Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        // One more round, so that redeliveries of what is stored get their chance.
        tokio::time::sleep(Duration::from_millis(1500)).await;
    };
    bus::run_consumer(&server_config, stop, |_| {})
        .await
        .expect("the consumer runs")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn posted_events_are_published_then_consumed_into_the_store_exactly_once() {
    let Some(config) = bus_config().await else {
        return;
    };
    let fixture = Fixture::with_model();
    let state = fixture.state().await;
    state.publish_to(Bus::connect(&config).await.expect("connects"));
    let router = router(&state);
    let before = plays_stored(&fixture.config.db);

    let first = [
        play("b1", "m1", "t1", 5, "start"),
        play("b2", "m2", "t2", 5, "start"),
    ]
    .join("\n");
    let answer = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            first.clone(),
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    assert_eq!(answer.json["queued"], 2);
    assert_eq!(answer.json["stream"], config.stream.as_str());
    // A second request repeats one event and adds a bad row.
    let second = [
        play("b2", "m2", "t2", 5, "start"),
        play("b3", "m3", "t3", 5, "start"),
        r#"{"type":"play","id":"bad","member_id":"m1"}"#.to_owned(),
    ]
    .join("\n");
    let answer = call(
        &router,
        post(
            "/v1/events",
            Some(&fixture.ingest_key),
            "application/x-ndjson",
            second,
        ),
    )
    .await;
    assert_eq!(answer.status, StatusCode::ACCEPTED, "{}", answer.text);
    // Published, not yet stored.
    assert_eq!(plays_stored(&fixture.config.db), before);
    state.shutdown();

    let summary = consume_until(&fixture, &config, 3).await;
    assert_eq!(plays_stored(&fixture.config.db), before + 3);
    assert_eq!(summary.messages, 2);
    assert_eq!(
        (summary.accepted, summary.duplicate, summary.rejected),
        (3, 1, 1)
    );
    assert_eq!(summary.failed, 0);
    delete_stream(&config).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_taken_by_a_crashed_consumer_is_redelivered_and_stored_once() {
    let Some(config) = bus_config().await else {
        return;
    };
    let fixture = Fixture::with_model();
    let publisher = Bus::connect(&config).await.expect("connects");
    let rows: Vec<Vec<u8>> = (0..5)
        .map(|i| play(&format!("c{i}"), "m4", "t4", 6, "heartbeat").into_bytes())
        .collect();
    publisher
        .publish("req-crash", &rows)
        .await
        .expect("publishes");
    // A retry of the same request inside the duplicate window is not stored twice.
    let retry = publisher
        .publish("req-crash", &rows)
        .await
        .expect("publishes");
    assert!(retry.duplicate);
    // The same rows under another request id: a second message whose events are stored.
    publisher
        .publish("req-again", &rows)
        .await
        .expect("publishes");

    // A consumer on the shared durable name takes a message and dies without acking.
    {
        let client = async_nats::connect(&config.nats_url).await.unwrap();
        let stream = jetstream::new(client)
            .get_stream(&config.stream)
            .await
            .unwrap();
        let consumer: jetstream::consumer::PullConsumer = stream
            .get_or_create_consumer(
                &config.durable,
                jetstream::consumer::pull::Config {
                    durable_name: Some(config.durable.clone()),
                    ack_policy: jetstream::consumer::AckPolicy::Explicit,
                    ack_wait: Duration::from_secs(config.ack_wait_seconds),
                    filter_subject: config.subject.clone(),
                    ..Default::default()
                },
            )
            .await
            .unwrap();
        let mut taken = consumer.fetch().max_messages(1).messages().await.unwrap();
        let message = taken.next().await.expect("a message").expect("delivered");
        assert_eq!(message.payload.iter().filter(|&&b| b == b'\n').count(), 5);
        // Dropped here: never acknowledged.
    }

    let before = plays_stored(&fixture.config.db);
    let summary = consume_until(&fixture, &config, 5).await;
    assert_eq!(plays_stored(&fixture.config.db), before + 5);
    // Both messages were written and acknowledged; the second's events were duplicates.
    assert_eq!(summary.messages, 2);
    assert_eq!((summary.accepted, summary.duplicate), (5, 5));
    delete_stream(&config).await;
}
