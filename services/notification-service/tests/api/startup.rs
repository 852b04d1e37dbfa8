//! The real binary: config errors, healthcheck, consuming and serving, SIGTERM.

use kit::amqp::lapin::options::{BasicPublishOptions, ConfirmSelectOptions};
use kit::amqp::lapin::{BasicProperties, Connection, ConnectionProperties};
use notification_service::topology::{self, RetryPolicy};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};
use testkit::{free_port, healthcheck, stop_with_sigterm, wait_healthy};
use uuid::Uuid;

const BIN: &str = env!("CARGO_BIN_EXE_notification-service");
const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn healthcheck_exits_1_when_nothing_listens() {
    assert!(!healthcheck(BIN, free_port()));
}

#[test]
fn the_binary_reports_every_config_problem() {
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
        .env_remove("AMQP_URL")
        .env("AMQP_URL_FILE", "/nonexistent/amqp-url")
        .env("MAX_ATTEMPTS", "0")
        .env("RETRY_BASE_MS", "soon")
        .env("PREFETCH", "100000")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
        "DATABASE_URL is required",
        "AMQP_URL_FILE=/nonexistent/amqp-url",
        "MAX_ATTEMPTS",
        "RETRY_BASE_MS",
        "PREFETCH",
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
}

#[tokio::test]
async fn the_binary_consumes_serves_and_stops_on_sigterm() {
    let database_url = testkit::fresh_database().await;
    let amqp_url = testkit::fresh_vhost().await;
    let port = free_port();
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", &database_url)
        .env("IDENTITY_VERIFY_KEY", testkit::identity::VERIFY_KEY)
        .env("AMQP_URL", &amqp_url)
        .env("PORT", port.to_string())
        .env("MAX_ATTEMPTS", "2")
        .env("RETRY_BASE_MS", "100")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(BIN, port, &mut child).await;

    // Publish as the order service would, once the queues exist (same policy as the binary's).
    let connection = Connection::connect(&amqp_url, ConnectionProperties::default())
        .await
        .unwrap();
    let channel = connection.create_channel().await.unwrap();
    let policy = RetryPolicy {
        max_attempts: 2,
        base_delay: Duration::from_millis(100),
    };
    topology::declare(&channel, &policy).await.unwrap();
    channel
        .confirm_select(ConfirmSelectOptions::default())
        .await
        .unwrap();
    let (user, event_id) = (Uuid::new_v4(), Uuid::new_v4());
    let body = serde_json::json!({"id": event_id, "type": "order.created", "version": 1,
        "occurred_at": "2026-11-21T20:00:00Z",
        "data": {"order_id": Uuid::new_v4(), "user_id": user, "status": "PENDING",
            "total_amount": "5.00", "currency": "EUR", "items": []}});
    let confirmation = channel
        .basic_publish(
            kit::amqp::EVENTS_EXCHANGE.into(),
            "order.created".into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            body.to_string().as_bytes(),
            BasicProperties::default()
                .with_message_id(event_id.to_string().as_str().into())
                .with_content_type("application/json".into())
                .with_delivery_mode(2)
                .with_headers(kit::amqp::string_headers([
                    ("traceparent", TRACEPARENT),
                    ("request_id", "startup-test-request"),
                ])),
        )
        .await
        .unwrap()
        .await
        .unwrap();
    assert!(confirmation.is_ack() && confirmation.take_message().is_none());

    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let page: serde_json::Value = client
            .get(format!("{base}/notifications"))
            .header(
                kit::identity::TOKEN_HEADER,
                crate::helpers::identity(user, "user"),
            )
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        if page["total"] == 1 {
            assert_eq!(page["items"][0]["event_id"], event_id.to_string());
            break;
        }
        assert!(Instant::now() < deadline, "no notification in 20 s: {page}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("notification_messages_total{outcome=\"processed\"} 1"),
        "{metrics}"
    );

    let status = stop_with_sigterm(&mut child).await;
    assert!(status.success(), "{status}");

    // The consumer's log lines carry the trace and request of the event's origin.
    let mut logs = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().unwrap(), &mut logs).unwrap();
    let stored = logs
        .lines()
        .find(|l| l.contains("notification stored"))
        .unwrap_or_else(|| panic!("no consume log: {logs}"));
    assert!(stored.contains(TRACE_ID), "{stored}");
    assert!(stored.contains("startup-test-request"), "{stored}");
}
