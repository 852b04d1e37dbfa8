//! The real binary: config errors, healthcheck, serving, SIGTERM.

use std::process::{Command, Stdio};
use testkit::{free_port, healthcheck, stop_with_sigterm, wait_healthy};

const BIN: &str = env!("CARGO_BIN_EXE_{{ name }}");

#[test]
fn healthcheck_exits_1_when_nothing_listens() {
    assert!(!healthcheck(BIN, free_port()));
}

#[tokio::test]
async fn the_binary_serves_and_stops_on_sigterm() {
{% if db %}
    let database_url = testkit::fresh_database().await;
{% endif %}
{% if amqp %}
    let amqp_url = testkit::fresh_vhost().await;
{% endif %}
    let port = free_port();
    let mut child = Command::new(BIN)
{% if db %}
        .env("DATABASE_URL", &database_url)
{% endif %}
{% if amqp %}
        .env("AMQP_URL", &amqp_url)
{% endif %}
        .env("IDENTITY_VERIFY_KEY", testkit::identity::VERIFY_KEY)
        .env("PORT", port.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    wait_healthy(BIN, port, &mut child).await;
    let base = format!("http://127.0.0.1:{port}");
    let r = reqwest::get(format!("{base}{{ route }}")).await.unwrap();
    assert_eq!(r.status(), reqwest::StatusCode::OK);
    let metrics = reqwest::get(format!("{base}/metrics"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("http_requests"), "{metrics}");

    let status = stop_with_sigterm(&mut child).await;
    assert!(status.success(), "{status}");
}

#[test]
fn the_binary_reports_every_config_problem() {
    let out = Command::new(BIN)
{% if db %}
        .env_remove("DATABASE_URL")
        .env_remove("DATABASE_URL_FILE")
{% endif %}
{% if amqp %}
        .env_remove("AMQP_URL")
        .env("AMQP_URL_FILE", "/nonexistent/amqp-url")
{% endif %}
        .env_remove("IDENTITY_VERIFY_KEY")
        .env("PORT", "not-a-port")
{% if consumes %}
        .env("MAX_ATTEMPTS", "0")
{% endif %}
        .output()
        .unwrap();
    assert!(!out.status.success());
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    for expected in [
{% if db %}
        "DATABASE_URL is required",
{% endif %}
{% if amqp %}
        "AMQP_URL_FILE=/nonexistent/amqp-url",
{% endif %}
        "IDENTITY_VERIFY_KEY",
        "PORT",
{% if consumes %}
        "MAX_ATTEMPTS",
{% endif %}
    ] {
        assert!(text.contains(expected), "{expected}: {text}");
    }
}
