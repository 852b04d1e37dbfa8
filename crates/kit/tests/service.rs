//! The kit's promises over real HTTP: problem+json for every error path, request and trace ids
//! in and out, metrics by route, readiness from a real PostgreSQL, OTLP export when configured.

use axum::routing::{get, post};
use axum::Router;
use kit::{FieldError, Json, Problem, Service};
use serde_json::Value;

async fn spawn(service: Service) -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, service.router()).await.unwrap() });
    format!("http://{addr}")
}

#[derive(serde::Deserialize)]
struct Item {
    #[allow(dead_code)]
    name: String,
    quantity: u32,
}

fn routes() -> Router {
    Router::new()
        .route(
            "/items",
            post(|Json(item): Json<Item>| async move {
                if item.quantity == 0 {
                    return Err(Problem::validation(vec![FieldError::new(
                        "quantity",
                        "must be at least 1",
                    )]));
                }
                Ok(Json(serde_json::json!({"ok": true})))
            }),
        )
        .route(
            "/items/{id}",
            get(|| async { Problem::not_found("no item 7") }),
        )
        .route(
            "/boom",
            get(|| async { panic!("handler bug") as &'static str }),
        )
        .route(
            "/whoami",
            get(|| async {
                let ctx = kit::trace::current().unwrap();
                let out = kit::trace::outgoing_headers();
                axum::Json(serde_json::json!({
                    "trace_id": ctx.trace.trace_id,
                    "request_id": ctx.request_id,
                    "outgoing": out.get("traceparent").unwrap().to_str().unwrap(),
                }))
            }),
        )
}

fn is_problem(r: &reqwest::Response) -> bool {
    r.headers()["content-type"] == "application/problem+json"
}

#[tokio::test]
async fn every_error_path_is_problem_json() {
    let base = spawn(Service::new("kit-test", routes())).await;
    let c = reqwest::Client::new();

    let r = c.get(format!("{base}/nowhere")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert!(is_problem(&r));

    let r = c.delete(format!("{base}/items")).send().await.unwrap();
    assert_eq!(r.status(), 405);
    assert!(is_problem(&r));

    let r = c
        .post(format!("{base}/items"))
        .header("content-type", "application/json")
        .body("{not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    assert!(is_problem(&r));

    let r = c
        .post(format!("{base}/items"))
        .body("{}")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 415);

    let r = c
        .post(format!("{base}/items"))
        .json(&serde_json::json!({"name": "x", "quantity": "many"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert!(
        body["detail"].as_str().unwrap().contains("quantity"),
        "{body}"
    );

    let r = c
        .post(format!("{base}/items"))
        .json(&serde_json::json!({"name": "x", "quantity": 0}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 422);
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["errors"][0]["field"], "quantity");

    let r = c.get(format!("{base}/boom")).send().await.unwrap();
    assert_eq!(r.status(), 500);
    assert!(is_problem(&r));
    let body: Value = r.json().await.unwrap();
    assert!(
        !body.to_string().contains("handler bug"),
        "the cause stays in the log: {body}"
    );
}

#[tokio::test]
async fn trace_and_request_ids_flow_in_and_out() {
    let base = spawn(Service::new("kit-test", routes())).await;
    let c = reqwest::Client::new();
    let parent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let r = c
        .get(format!("{base}/whoami"))
        .header("traceparent", parent)
        .header("x-request-id", "req-42")
        .send()
        .await
        .unwrap();
    assert_eq!(r.headers()["x-request-id"], "req-42");
    let back = r.headers()["traceparent"].to_str().unwrap().to_owned();
    assert!(back.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
    let body: Value = r.json().await.unwrap();
    assert_eq!(body["trace_id"], "4bf92f3577b34da6a3ce929d0e0e4736");
    assert_eq!(body["request_id"], "req-42");
    let outgoing = body["outgoing"].as_str().unwrap();
    assert!(
        outgoing.starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"),
        "same trace downstream"
    );
    assert_ne!(outgoing, parent, "a new span id downstream");

    let r = c.get(format!("{base}/whoami")).send().await.unwrap();
    assert!(
        r.headers().contains_key("x-request-id"),
        "a request id is made when none came"
    );
    assert!(
        kit::trace::TraceContext::parse(r.headers()["traceparent"].to_str().unwrap()).is_some()
    );
}

#[tokio::test]
async fn metrics_count_by_route_pattern_and_status() {
    let base = spawn(Service::new("kit-test", routes())).await;
    let c = reqwest::Client::new();
    for id in ["1", "2", "3"] {
        c.get(format!("{base}/items/{id}")).send().await.unwrap();
    }
    let text = c
        .get(format!("{base}/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        text.contains(r#"http_requests_total{method="GET",route="/items/{id}",status="404"} 3"#),
        "{text}"
    );
    assert!(
        text.contains("http_request_duration_seconds_bucket"),
        "{text}"
    );
}

#[tokio::test]
async fn readiness_follows_the_database() {
    let url = testkit::fresh_database().await;
    let pool = kit::db::connect(&url, std::time::Duration::from_secs(10))
        .await
        .unwrap();
    let base =
        spawn(Service::new("kit-test", routes()).ready(kit::health::database(pool.clone()))).await;
    let c = reqwest::Client::new();
    assert_eq!(
        c.get(format!("{base}/health/ready"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        c.get(format!("{base}/health/live"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    // The `healthcheck` subcommand's probe agrees with the endpoint, by address and by a name
    // to resolve (another pod's init container probes `HEALTHCHECK_HOST=<service>`).
    let port: u16 = base.rsplit(':').next().unwrap().parse().unwrap();
    let probe =
        |host: &'static str| tokio::task::spawn_blocking(move || kit::health::probe(host, port));
    assert_eq!(
        probe("localhost").await.unwrap(),
        std::process::ExitCode::SUCCESS
    );
    pool.close().await;
    let r = c.get(format!("{base}/health/ready")).send().await.unwrap();
    assert_eq!(r.status(), 503);
    assert!(is_problem(&r));
    assert_eq!(
        probe("127.0.0.1").await.unwrap(),
        std::process::ExitCode::FAILURE
    );
}

/// The outbox table is kit's (`kit::outbox::TABLE`): created where a service's migrations did
/// not create it, left alone (and checked) where they did, safe for replicas starting at once.
#[tokio::test]
async fn the_outbox_table_is_created_once_and_an_existing_one_is_kept() {
    use kit::outbox::{create_table, enqueue, Outgoing, TableError};
    let fresh = kit::db::connect(
        &testkit::fresh_database().await,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    let (a, b) = tokio::join!(create_table(&fresh), create_table(&fresh));
    a.unwrap();
    b.unwrap();
    create_table(&fresh).await.unwrap();
    let id = uuid::Uuid::new_v4();
    let mut tx = fresh.begin().await.unwrap();
    enqueue(
        &mut tx,
        &Outgoing::new(
            id,
            "thing.happened",
            chrono::Utc::now(),
            serde_json::json!({}),
        ),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let unsent: i64 = sqlx::query_scalar("SELECT count(*) FROM outbox WHERE sent_at IS NULL")
        .fetch_one(&fresh)
        .await
        .unwrap();
    assert_eq!(unsent, 1);

    // A database whose own migration created the table (the user service's, as shipped).
    let migrated = kit::db::connect(
        &testkit::fresh_database().await,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    sqlx::raw_sql(include_str!(
        "../../../services/user-service/migrations/20240101000003_create_outbox.sql"
    ))
    .execute(&migrated)
    .await
    .unwrap();
    create_table(&migrated).await.unwrap();

    // A table of another shape is reported, not used.
    let other = kit::db::connect(
        &testkit::fresh_database().await,
        std::time::Duration::from_secs(10),
    )
    .await
    .unwrap();
    sqlx::query("CREATE TABLE outbox (seq bigserial PRIMARY KEY, event_id uuid, payload jsonb)")
        .execute(&other)
        .await
        .unwrap();
    let err = create_table(&other).await.unwrap_err();
    assert!(matches!(err, TableError::MissingColumns(_)), "{err}");
    let text = err.to_string();
    assert!(
        text.contains("event_type") && text.contains("last_error"),
        "{text}"
    );
}
