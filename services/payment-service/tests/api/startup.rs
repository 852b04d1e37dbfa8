//! The real binary: config errors, healthcheck, serving, SIGTERM.

use std::process::{Command, Stdio};
use testkit::{free_port, healthcheck, stop_with_sigterm, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_payment-service");

#[test]
fn healthcheck_exits_1_when_nothing_listens() {
    assert!(!healthcheck(BIN, free_port()));
}

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
    let url = testkit::fresh_database().await;
    let port = free_port();
    let mut child = Command::new(BIN)
        .env("DATABASE_URL", &url)
        .env("IDENTITY_VERIFY_KEY", testkit::identity::VERIFY_KEY)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(BIN, port, &mut child).await;
    let base = format!("http://127.0.0.1:{port}");
    let r = reqwest::Client::new()
        .post(format!("{base}/payments"))
        .json(
            &serde_json::json!({"order_id": uuid::Uuid::new_v4(), "amount": "1.00",
            "currency": "EUR", "token": "tok_visa"}),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::CREATED);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("payments_total{outcome=\"succeeded\"} 1"),
        "{metrics}"
    );

    let status = stop_with_sigterm(&mut child).await;
    assert!(status.success(), "{status}");
}

#[test]
fn the_binary_reports_every_config_problem() {
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
        .env("PAYMENT_FAILURE_RATE", "1.5")
        .env("PAYMENT_LATENCY_MS", "soon")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(text.contains("DATABASE_URL is required"), "{text}");
    assert!(text.contains("PAYMENT_FAILURE_RATE"), "{text}");
    assert!(text.contains("PAYMENT_LATENCY_MS"), "{text}");
}

/// The whole output of a run, with JSON log lines' escaped quotes undone.
fn output_text(out: &std::process::Output) -> String {
    format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
    .replace("\\\"", "\"")
}

/// `kit::serve::main`'s own variables are checked like the service's: a bad `PORT` or
/// `WORKER_THREADS` is named with its value in the one message that lists every problem (it
/// once fell back to a default without a word).
#[test]
fn a_bad_port_or_worker_threads_is_reported_with_the_other_problems() {
    let out = Command::new(BIN)
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
        .env("PORT", "eighty")
        .env("WORKER_THREADS", "many")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = output_text(&out);
    let report = text
        .lines()
        .find(|l| l.contains("invalid configuration"))
        .unwrap_or_else(|| panic!("no configuration report: {text}"));
    for expected in [
        "PORT=\"eighty\" is invalid",
        "WORKER_THREADS=\"many\" is invalid",
        "DATABASE_URL is required",
    ] {
        assert!(report.contains(expected), "{expected}: {report}");
    }
    assert_eq!(report.matches("PORT=\"eighty\"").count(), 1, "{report}");
}

/// `healthcheck` with a bad `PORT` says so (it once probed the default port instead).
#[test]
fn healthcheck_names_a_bad_port() {
    let out = Command::new(BIN)
        .arg("healthcheck")
        .env("PORT", "eighty")
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = output_text(&out);
    assert!(text.contains("PORT=\"eighty\" is invalid"), "{text}");
}
