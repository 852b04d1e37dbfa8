//! The journey runner against a small local HTTP server (axum on loopback) and, for
//! `expect_message`, a real RabbitMQ: every assertion kind passing and failing with the
//! sentence a user reads, `eventually` (deadline, fail-fast, every attempt reported),
//! templating, trace headers, and load-time errors at `file:line:column`.

mod support;

use axum::extract::{Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use axum::{Json, Router};
use msctl::journeys::parse::{self, Loaded};
use msctl::journeys::report::{JourneyReport, Outcome};
use msctl::journeys::run::Runner;
use msctl::testing::targets::Targets;
use serde_json::{json, Value};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
struct App {
    polls: Arc<Mutex<HashMap<String, u32>>>,
    amqp_url: Option<String>,
    hits: Arc<AtomicU32>,
}

async fn doc() -> impl IntoResponse {
    (
        [("x-custom", "hello"), ("content-type", "application/json")],
        Json(json!({
            "id": "3f2c1a9e-0000-4000-8000-000000000001",
            "n": 3,
            "price": "12.50",
            "status": "PENDING",
            "items": [{"id": 1, "sku": "a-1"}, {"id": 2, "sku": "b-2"}],
            "tags": ["red", "blue"],
            "nothing": null
        })),
    )
}

/// Echoes the JSON body and the ids the runner sends.
async fn echo(headers: HeaderMap, Json(body): Json<Value>) -> Json<Value> {
    let h = |n: &str| headers.get(n).map(|v| v.to_str().unwrap().to_owned());
    Json(json!({
        "body": body,
        "traceparent": h("traceparent"),
        "request_id": h("x-request-id"),
        "content_type": h("content-type"),
    }))
}

/// PENDING for `after` polls of `key`, then `then`.
async fn poll(
    State(app): State<App>,
    UrlPath(key): UrlPath<String>,
    Query(q): Query<HashMap<String, String>>,
) -> Json<Value> {
    let after: u32 = q.get("after").and_then(|a| a.parse().ok()).unwrap_or(2);
    let mut polls = app.polls.lock().unwrap();
    let n = polls.entry(key).or_default();
    *n += 1;
    let status = if *n > after {
        q.get("then").cloned().unwrap_or("CONFIRMED".into())
    } else {
        "PENDING".into()
    };
    Json(json!({ "status": status, "poll": *n }))
}

/// A channel on the test's vhost with the test exchange declared.
async fn test_exchange(url: &str) -> (lapin::Connection, lapin::Channel) {
    let conn = lapin::Connection::connect(url, Default::default())
        .await
        .unwrap();
    let ch = conn.create_channel().await.unwrap();
    ch.exchange_declare(
        "journey.test".into(),
        lapin::ExchangeKind::Topic,
        Default::default(),
        Default::default(),
    )
    .await
    .unwrap();
    (conn, ch)
}

async fn publish(State(app): State<App>, Json(body): Json<Value>) -> StatusCode {
    let (conn, ch) = test_exchange(app.amqp_url.as_deref().expect("amqp")).await;
    let mut headers = lapin::types::FieldTable::default();
    headers.insert(
        "event_type".into(),
        lapin::types::AMQPValue::LongString(
            body["type"].as_str().unwrap().as_bytes().to_vec().into(),
        ),
    );
    ch.basic_publish(
        "journey.test".into(),
        body["type"].as_str().unwrap().into(),
        Default::default(),
        body.to_string().as_bytes(),
        lapin::BasicProperties::default().with_headers(headers),
    )
    .await
    .unwrap()
    .await
    .unwrap();
    let _ = conn.close(200, "bye".into()).await;
    StatusCode::ACCEPTED
}

async fn serve(app: App) -> String {
    let hits = app.hits.clone();
    let router = Router::new()
        .route("/doc", get(doc))
        .route("/echo", post(echo))
        .route("/poll/{key}", get(poll))
        .route("/publish", post(publish))
        .route("/text", get(|| async { "plain words" }))
        .route(
            "/count",
            get(move || {
                let hits = hits.clone();
                async move { Json(json!({ "hits": hits.fetch_add(1, Ordering::SeqCst) + 1 })) }
            }),
        )
        .with_state(app);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await.unwrap() });
    format!("http://{addr}")
}

fn parse(yaml: &str) -> Loaded {
    parse::parse(yaml, Path::new("scenarios/test.yaml")).unwrap_or_else(|e| panic!("{e}"))
}

async fn run_with(yaml: &str, app: App) -> JourneyReport {
    let url = serve(app.clone()).await;
    let targets = Targets::new(
        "unused".into(),
        None,
        HashMap::from([("gateway".to_string(), url)]),
        app.amqp_url.clone(),
    );
    Runner::new(targets).run(&parse(yaml)).await
}

async fn run(yaml: &str) -> JourneyReport {
    run_with(yaml, App::default()).await
}

fn step<'a>(r: &'a JourneyReport, name: &str) -> &'a msctl::journeys::report::StepReport {
    r.steps
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("no step {name} in {r:#?}"))
}

/// The one failure of step `name`.
fn failure(r: &JourneyReport, name: &str) -> String {
    let s = step(r, name);
    assert_eq!(s.outcome, Outcome::Failed, "{name} should fail: {s:#?}");
    s.failures.join(" | ")
}

#[tokio::test]
async fn every_operator_passes_on_a_matching_response() {
    let r = run(r#"
name: all-pass
steps:
  - name: doc
    request: { path: /doc }
    expect:
      status: 200
      headers:
        X-Custom: hello
        content-type: { matches: "^application/json" }
      json:
        $.n: 3
        $.price: { equals: "12.50", gt: 12, lte: 12.5 }
        $.status: { one_of: [PENDING, CONFIRMED], not_equals: CANCELLED }
        $.id: { matches: "^[0-9a-f-]{36}$" }
        $.items[*].id: { gte: 1, lt: 3 }
        $.items: { length: 2 }
        $.tags: { contains: blue }
        $.nothing: { equals: null }
        $.missing: { exists: false }
        $.items[?@.sku == 'b-2'].id: 2
"#)
    .await;
    assert!(r.passed, "{}", msctl::journeys::report::render(&r));
}

#[tokio::test]
async fn each_failing_assertion_says_what_was_expected_and_what_came_back() {
    let cases = [
        ("status: 201", "status: expected 201, got 200"),
        (
            "status: [201, \"4xx\"]",
            "status: expected 201 or 4xx, got 200",
        ),
        (
            "headers: { x-custom: bye }",
            "header x-custom: expected \"bye\", got \"hello\"",
        ),
        (
            "headers: { x-absent: { exists: true } }",
            "header x-absent: expected it to exist, but there is nothing there",
        ),
        ("json: { $.n: 4 }", "$.n: expected 4, got 3"),
        (
            "json: { $.status: { one_of: [CONFIRMED, CANCELLED] } }",
            "$.status: expected one of \"CONFIRMED\", \"CANCELLED\", got \"PENDING\"",
        ),
        (
            "json: { $.id: { matches: '^order-' } }",
            "$.id: expected a match for /^order-/, got \"3f2c1a9e-0000-4000-8000-000000000001\"",
        ),
        (
            "json: { $.price: { gt: 20 } }",
            "$.price: expected a number > 20, got \"12.50\"",
        ),
        (
            "json: { $.n: { lte: 2 } }",
            "$.n: expected a number <= 2, got 3",
        ),
        (
            "json: { $.tags: { contains: green } }",
            "$.tags: expected something containing \"green\", got [\"red\",\"blue\"]",
        ),
        (
            "json: { $.items: { length: 3 } }",
            "$.items: expected length 3, got",
        ),
        (
            "json: { $.missing: { exists: true } }",
            "$.missing: expected it to exist, but there is nothing there",
        ),
        (
            "json: { $.nothing: { exists: false } }",
            "$.nothing: expected nothing there, got null",
        ),
        (
            "json: { $.missing: 1 }",
            "$.missing: expected 1, but there is nothing there",
        ),
        (
            "json: { \"$.items[*].id\": 1 }",
            "$.items[*].id: expected 1, got 2",
        ),
        (
            "json: { $.status: { not_equals: PENDING } }",
            "$.status: expected anything but \"PENDING\", got \"PENDING\"",
        ),
    ];
    for (expect, message) in cases {
        let r = run(&format!(
            "name: t\nsteps:\n  - name: doc\n    request: {{ path: /doc }}\n    expect: {{ {expect} }}\n"
        ))
        .await;
        let got = failure(&r, "doc");
        assert!(
            got.contains(message),
            "for `{expect}`:\n  wanted {message}\n  got    {got}"
        );
    }
}

#[tokio::test]
async fn a_body_that_is_not_json_is_reported_as_such() {
    let r = run("name: t\nsteps:\n  - name: text\n    request: { path: /text }\n    expect: { json: { $.a: 1 } }\n").await;
    assert!(
        failure(&r, "text").contains("$.a: the response body is not JSON (200 plain words)"),
        "{r:#?}"
    );
}

#[tokio::test]
async fn templates_render_variables_captures_and_keep_types_and_every_request_carries_the_run_ids()
{
    let r = run(r#"
name: templating
variables:
  who: "ada-{{ run_id }}"
  qty: 2
steps:
  - name: read
    request: { path: /doc }
    capture:
      n: { json: $.n }
      custom: { header: x-custom }
      ids: { json: "$.items[*].id" }
  - name: echo
    request:
      method: POST
      path: /echo
      json: { who: "{{ who }}", n: "{{ n }}", twice: "{{ n * qty }}", text: "n={{ n }}", h: "{{ custom | upper }}", ids: "{{ ids }}" }
    expect:
      json:
        $.body.who: "ada-{{ run_id }}"
        $.body.n: 3
        $.body.twice: 6
        $.body.text: "n=3"
        $.body.h: HELLO
        $.body.ids: [1, 2]
        $.content_type: application/json
        $.traceparent: { matches: "^00-{{ trace_id }}-[0-9a-f]{16}-01$" }
        $.request_id: "{{ request_id }}"
"#)
    .await;
    assert!(r.passed, "{}", msctl::journeys::report::render(&r));
    assert_eq!(r.request_id, format!("journey-{}", r.run_id));
    assert_eq!(r.trace_id.len(), 32);
}

#[tokio::test]
async fn eventually_polls_until_the_expectation_holds_and_reports_each_attempt() {
    let r = run(r#"
name: eventually
steps:
  - name: wait
    request: { path: "/poll/{{ run_id }}?after=3" }
    eventually: { within: 5s, interval: 10ms, backoff: 1 }
    expect: { json: { $.status: CONFIRMED } }
"#)
    .await;
    assert!(r.passed, "{}", msctl::journeys::report::render(&r));
    let attempts = &step(&r, "wait").attempts;
    assert_eq!(attempts.len(), 4);
    assert_eq!(
        attempts[0].failures,
        vec!["$.status: expected \"CONFIRMED\", got \"PENDING\""]
    );
    assert!(attempts[3].failures.is_empty());
}

#[tokio::test]
async fn eventually_fails_at_its_deadline_with_every_attempt_in_the_report() {
    let started = std::time::Instant::now();
    let r = run(r#"
name: deadline
steps:
  - name: wait
    request: { path: "/poll/{{ run_id }}?after=1000" }
    eventually: { within: 400ms, interval: 50ms, backoff: 2, max_interval: 100ms }
    expect: { json: { $.status: CONFIRMED } }
  - name: after
    request: { path: /doc }
"#)
    .await;
    let elapsed = started.elapsed();
    let message = failure(&r, "wait");
    assert!(message.contains("still not holding after"), "{message}");
    assert!(
        message.contains("$.status: expected \"CONFIRMED\", got \"PENDING\""),
        "{message}"
    );
    assert!(elapsed < std::time::Duration::from_secs(2), "{elapsed:?}");
    let s = step(&r, "wait");
    assert!(s.attempts.len() >= 4, "{:?}", s.attempts);
    assert!(
        s.at.starts_with("scenarios/test.yaml:6:"),
        "points at `within`: {}",
        s.at
    );
    assert_eq!(step(&r, "after").outcome, Outcome::Skipped);
    let text = msctl::journeys::report::render(&r);
    assert!(text.contains("attempts:") && text.contains("#1"), "{text}");
}

#[tokio::test]
async fn eventually_fails_fast_on_a_terminal_value() {
    let started = std::time::Instant::now();
    let r = run(r#"
name: fail-fast
steps:
  - name: wait
    request: { path: "/poll/{{ run_id }}?after=1&then=CANCELLED" }
    eventually:
      within: 30s
      interval: 10ms
      fail_fast: { $.status: { one_of: [CANCELLED] } }
    expect: { json: { $.status: CONFIRMED } }
"#)
    .await;
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    let message = failure(&r, "wait");
    assert!(
        message.contains(
            "gave up after attempt 2: a terminal value was reached ($.status is \"CANCELLED\")"
        ),
        "{message}"
    );
    let at = &step(&r, "wait").at;
    assert!(
        at.starts_with("scenarios/test.yaml:9:"),
        "points at fail_fast: {at}"
    );
}

#[tokio::test]
async fn finally_runs_after_a_failure_and_the_steps_between_are_skipped() {
    let r = run(r#"
name: finally
steps:
  - name: fails
    request: { path: /doc }
    expect: { status: 500 }
  - name: skipped
    request: { path: /count }
finally:
  - name: clean up
    request: { path: /count }
    expect: { json: { $.hits: 1 } }
"#)
    .await;
    assert!(!r.passed);
    assert_eq!(step(&r, "skipped").outcome, Outcome::Skipped);
    let cleanup = step(&r, "clean up");
    assert_eq!(cleanup.outcome, Outcome::Passed, "{cleanup:#?}");
    assert!(cleanup.finally);
}

#[tokio::test]
async fn a_capture_that_finds_nothing_fails_its_step_and_points_at_it() {
    let r = run(r#"
name: capture
steps:
  - name: read
    request: { path: /doc }
    capture:
      order: { json: $.order_id }
"#)
    .await;
    let message = failure(&r, "read");
    assert!(
        message.contains("capture `order`: $.order_id selects nothing"),
        "{message}"
    );
    assert_eq!(step(&r, "read").at, "scenarios/test.yaml:7:22");
}

#[tokio::test]
async fn a_refused_connection_is_a_failed_step_not_a_crash() {
    let port = support::free_port();
    let targets = Targets::new(
        "unused".into(),
        None,
        HashMap::from([("gateway".to_string(), format!("http://127.0.0.1:{port}"))]),
        None,
    );
    let r = Runner::new(targets)
        .run(&parse(
            "name: t\nsteps:\n  - name: down\n    request: { path: /doc }\n",
        ))
        .await;
    assert!(failure(&r, "down").contains("could not connect"), "{r:#?}");
}

fn load_error(yaml: &str) -> String {
    parse::parse(yaml, Path::new("scenarios/bad.yaml"))
        .map(|_| panic!("loaded without an error:\n{yaml}"))
        .unwrap_err()
        .to_string()
}

#[test]
fn an_unknown_name_in_a_template_is_reported_at_its_line_and_column_before_anything_runs() {
    let err = load_error(
        "name: t\nvariables:\n  email: a@b.c\nsteps:\n  - name: s\n    request:\n      path: /x\n      json: { to: \"{{ emial }}\" }\n",
    );
    assert_eq!(
        err,
        "scenarios/bad.yaml:8:19: `emial` is not defined here\n  help: did you mean `email`?"
    );
}

#[test]
fn a_capture_used_before_the_step_that_makes_it_is_an_error() {
    let err = load_error(
        "name: t\nsteps:\n  - name: a\n    request: { path: \"/orders/{{ order_id }}\" }\n  - name: b\n    request: { path: /orders }\n    capture: { order_id: { json: $.id } }\n",
    );
    assert!(
        err.starts_with("scenarios/bad.yaml:4:22: `order_id` is not defined here"),
        "{err}"
    );
}

#[test]
fn a_template_syntax_error_points_at_the_string() {
    let err = load_error("name: t\nsteps:\n  - name: a\n    request: { path: \"/x/{{ id \" }\n");
    assert!(
        err.starts_with("scenarios/bad.yaml:4:22: template error: syntax error"),
        "{err}"
    );
}

#[test]
fn yaml_and_shape_errors_have_positions_and_suggestions() {
    let cases = [
        (
            "name: t\nsteps:\n  - name: a\n    requst: { path: /x }\n",
            "scenarios/bad.yaml:4:5: unknown key `requst`\n  help: did you mean `request`?",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    request: { path: /x }\n    expect: { json: { $.a: { equal: 1 } } }\n",
            "scenarios/bad.yaml:5:30: unknown operator `equal`\n  help: did you mean `equals`?",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    request: { path: /x }\n    expect: { json: { $.a: { matches: '(' } } }\n",
            "scenarios/bad.yaml:5:39: invalid regular expression `(`: unclosed group",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    request: { path: /x }\n    expect: { json: { \"$..[\": 1 } }\n",
            "scenarios/bad.yaml:5:23: invalid JSONPath `$..[`",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    request: { path: /x }\n    eventually: { within: soon }\n",
            "scenarios/bad.yaml:5:27: `soon` is not a duration",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    request: { path: /x }\n    expect: { status: 2000 }\n",
            "scenarios/bad.yaml:5:23: expected a status code",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    request: { path: /x }\n  - name: a\n    request: { path: /y }\n",
            "scenarios/bad.yaml:5:11: another step is already named `a`",
        ),
        (
            "name: t\nsteps:\n  - name: a\n    expect_message: { exchange: x, routing_key: \"k.{{ id }}\" }\n    capture: { id: { json: $.id } }\n",
            "only the journey's variables and built-in names",
        ),
    ];
    for (yaml, wanted) in cases {
        let err = load_error(yaml);
        assert!(err.contains(wanted), "wanted {wanted}\n   got {err}");
    }
}

#[tokio::test]
async fn expect_message_sees_an_event_published_by_the_step_before_it() {
    let vhost = testkit::fresh_vhost().await;
    // The exchange must exist before the queue binds (the services declare theirs at start).
    let (conn, _channel) = test_exchange(&vhost).await;
    conn.close(200, "bye".into()).await.unwrap();
    let app = App {
        amqp_url: Some(vhost),
        ..Default::default()
    };
    let r = run_with(
        r#"
name: messages
steps:
  - name: trigger
    request:
      method: POST
      path: /publish
      json: { type: order.confirmed, data: { order_id: "o-{{ run_id }}" } }
    expect: { status: 202 }
  - name: published
    expect_message:
      exchange: journey.test
      routing_key: order.*
      within: 5s
      json: { $.data.order_id: "o-{{ run_id }}" }
      headers: { event_type: order.confirmed }
  - name: not published
    expect_message:
      exchange: journey.test
      routing_key: order.*
      within: 300ms
      json: { $.data.order_id: "somebody-else" }
"#,
        app,
    )
    .await;
    assert_eq!(step(&r, "published").outcome, Outcome::Passed, "{r:#?}");
    let message = failure(&r, "not published");
    assert!(
        message.contains(
            "no matching message on `journey.test` (order.*) within 300ms (1 messages arrived)"
        ),
        "{message}"
    );
    assert!(
        message.contains("$.data.order_id: expected \"somebody-else\", got"),
        "{message}"
    );
}

// The command itself: exit codes, one-sentence errors, JUnit, JSON, repeat, and the report a
// user reads (snapshot, with times and ports filtered out).

const STACK: &str = "name: journeys\nservices:\n  web:\n    image: nginx\n";

const PASSING: &str = r#"name: passes
steps:
  - name: read
    request: { path: /doc }
    expect: { status: 200, json: { $.n: 3 } }
"#;

const FAILING: &str = r#"name: fails
steps:
  - name: read
    request: { path: /doc }
    expect:
      status: 200
      json:
        $.status: CONFIRMED
        $.items: { length: 2 }
  - name: never runs
    request: { path: /doc }
finally:
  - name: clean up
    request: { path: /doc }
"#;

async fn msctl(
    project: support::Project,
    args: Vec<String>,
) -> (support::Project, support::Output) {
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = project.msctl(&args);
        (project, out)
    })
    .await
    .unwrap()
}

fn project_with(journeys: &[(&str, &str)]) -> support::Project {
    let p = support::Project::new("journeys", STACK);
    for (name, yaml) in journeys {
        p.file(&format!("scenarios/{name}.yaml"), yaml);
    }
    p
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

#[tokio::test]
async fn the_command_exits_0_when_all_pass_and_1_with_a_readable_report_and_junit_when_one_fails() {
    let url = serve(App::default()).await;
    let p = project_with(&[("passes", PASSING), ("fails", FAILING)]);
    let junit = p.dir.path().join("journeys.xml");
    let gateway = format!("gateway={url}");
    let (p, ok) = msctl(p, args(&["test", "journeys", "passes", "--url", &gateway])).await;
    assert_eq!(ok.code, 0, "{}\n{}", ok.stdout, ok.stderr);
    assert!(ok.stdout.contains("PASS passes"), "{}", ok.stdout);

    let (p, failed) = msctl(
        p,
        args(&[
            "test",
            "journeys",
            "--url",
            &gateway,
            "--junit",
            junit.to_str().unwrap(),
        ]),
    )
    .await;
    assert_eq!(failed.code, 1, "{}\n{}", failed.stdout, failed.stderr);
    let report = failed.stdout.replace(&url, "http://SERVER");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\d+(\.\d+)? (ms|s)\b", "[time]");
    settings.add_filter(
        r"trace id [0-9a-f]{32}, request id journey-[0-9a-f]{10}",
        "trace id [trace], request id [request]",
    );
    settings.bind(|| insta::assert_snapshot!(report));
    assert!(
        failed.stderr.contains("error: 1 of 2 journey runs failed"),
        "{}",
        failed.stderr
    );

    let xml = std::fs::read_to_string(&junit).unwrap();
    assert!(
        xml.contains(r#"<testsuite name="fails" tests="3" failures="1" skipped="1""#),
        "{xml}"
    );
    assert!(xml.contains(r#"<failure message="$.status: expected &quot;CONFIRMED&quot;, got &quot;PENDING&quot;">"#), "{xml}");
    assert!(
        xml.contains(r#"<testcase classname="passes" name="read""#),
        "{xml}"
    );
    drop(p);
}

#[tokio::test]
async fn json_and_repeat_report_every_run_and_a_tally_per_journey() {
    let url = serve(App::default()).await;
    let p = project_with(&[("passes", PASSING)]);
    let gateway = format!("gateway={url}");
    let (_p, out) = msctl(
        p,
        args(&[
            "test", "journeys", "--url", &gateway, "--repeat", "3", "--json",
        ]),
    )
    .await;
    assert_eq!(out.code, 0, "{}", out.stderr);
    let json = out.json();
    assert_eq!(json["passed"], true);
    assert_eq!(json["rounds"], 3);
    assert_eq!(json["runs"].as_array().unwrap().len(), 3);
    assert_eq!(json["journeys"]["passes"]["runs"], 3);
    assert_eq!(json["journeys"]["passes"]["passed"], 3);
    assert_eq!(json["runs"][0]["steps"][0]["outcome"], "passed");
}

#[tokio::test]
async fn an_invalid_journey_exits_2_with_every_problem_at_file_line_column() {
    let p = project_with(&[
        ("passes", PASSING),
        ("typo", "name: typo\nsteps:\n  - name: a\n    request: { path: \"/x/{{ idd }}\" }\n    expect: { status: 99 }\n"),
    ]);
    let (_p, out) = msctl(
        p,
        args(&["test", "journeys", "--url", "gateway=http://127.0.0.1:9"]),
    )
    .await;
    assert_eq!(out.code, 2, "{}", out.stderr);
    assert_eq!(
        out.stderr,
        "error: scenarios/typo.yaml:4:22: `idd` is not defined here\n  help: define it under `variables`, or capture it in an earlier step\n\
         error: scenarios/typo.yaml:5:23: expected a status code (201), a class (\"2xx\") or a list of them\n"
    );
    assert_eq!(out.stdout, "", "nothing ran");
}

#[tokio::test]
async fn an_unknown_journey_name_is_a_usage_error_with_a_suggestion() {
    let p = project_with(&[("passes", PASSING)]);
    let (_p, out) = msctl(p, args(&["test", "journeys", "pases"])).await;
    assert_eq!(out.code, 2);
    assert!(
        out.stderr.contains("no journey named `pases`")
            && out.stderr.contains("did you mean `passes`?"),
        "{}",
        out.stderr
    );
}

#[tokio::test]
async fn against_a_stack_that_is_not_up_it_says_so_in_one_sentence() {
    let p = project_with(&[("passes", PASSING)]);
    let name = p.name.clone();
    let (_p, out) = msctl(p, args(&["test", "journeys"])).await;
    assert_eq!(out.code, 3);
    assert_eq!(
        out.stderr,
        format!("error: the stack `{name}` is not up (none of its containers is running): start it with `msctl up`, then run the journeys again\n")
    );
}

#[test]
fn schema_journey_is_a_json_schema_of_the_file() {
    let p = support::Project::new("journeys", STACK);
    let out = p.msctl(&["schema", "journey"]).ok();
    let schema = out.json();
    assert_eq!(schema["title"], "Journey");
    for key in ["name", "variables", "steps", "finally", "exclusive"] {
        assert!(schema["properties"].get(key).is_some(), "{key}: {schema}");
    }
    let step = &schema["$defs"]["Step"]["properties"];
    for key in [
        "request",
        "expect",
        "capture",
        "eventually",
        "expect_message",
    ] {
        assert!(step.get(key).is_some(), "{key}: {step}");
    }
}

#[tokio::test]
async fn every_runs_rounds_as_a_monitor_until_ctrl_c_and_prints_pass_rate_and_latency() {
    let url = serve(App::default()).await;
    let p = project_with(&[("passes", PASSING)]);
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_msctl"))
        .args(["-p", &p.name, "test", "journeys", "--every", "200ms"])
        .args(["--url", &format!("gateway={url}")])
        .current_dir(p.dir.path())
        .env("NO_COLOR", "1")
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    tokio::time::sleep(std::time::Duration::from_millis(1500)).await;
    // What Ctrl-C sends.
    unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
    let out = tokio::task::spawn_blocking(move || child.wait_with_output().unwrap())
        .await
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let rounds = stdout.matches("round ").count();
    assert!(
        (3..=9).contains(&rounds),
        "about one round per 200 ms: {stdout}"
    );
    assert!(
        stdout.contains("JOURNEY") && stdout.contains("PASS") && stdout.contains("P95"),
        "{stdout}"
    );
    assert!(stdout.contains("100.0%"), "{stdout}");
    assert!(stdout.contains(", stopped by Ctrl-C"), "{stdout}");
}

/// A name and a path of a file in scenarios/ loaded that file twice, and the duplicate-name
/// check then refused to run anything (exit 2).
#[tokio::test]
async fn a_name_and_a_path_together_run_each_journey_once() {
    let url = serve(App::default()).await;
    let p = project_with(&[("passes", PASSING), ("fails", FAILING)]);
    let gateway = format!("gateway={url}");
    let (_p, out) = msctl(
        p,
        args(&[
            "test",
            "journeys",
            "passes",
            "scenarios/fails.yaml",
            "--url",
            &gateway,
            "--json",
        ]),
    )
    .await;
    assert_eq!(out.code, 1, "{}", out.stderr);
    let names: Vec<String> = out.json()["runs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(names.contains(&"passes".into()) && names.contains(&"fails".into()));
}

#[test]
fn list_shows_the_journeys_without_docker_or_a_stack() {
    let p = project_with(&[("passes", PASSING), ("fails", FAILING)]);
    let out = p.msctl(&["test", "journeys", "--list", "--json"]).ok();
    let rows = out.json();
    let names: Vec<&str> = rows
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["fails", "passes"]);
    assert_eq!(rows[0]["steps"], 2);
    assert_eq!(rows[0]["finally"], 1);
    assert_eq!(rows[0]["file"], "scenarios/fails.yaml");
}

/// `env` is the project's `.env` (where `msctl up` generated the stack's secrets) under the
/// process environment: a journey logs in with the password the stack was given.
#[tokio::test]
async fn journeys_see_the_projects_env_file_and_the_environment_wins() {
    let url = serve(App::default()).await;
    let mut p = project_with(&[(
        "env",
        r#"name: env
steps:
  - name: echo
    request:
      method: POST
      path: /echo
      json: { a: "{{ env.MSCTL_IT_FROM_DOTENV }}", b: "{{ env.MSCTL_IT_BOTH }}" }
    expect: { status: 200, json: { $.body.a: from-dotenv, $.body.b: from-process } }
"#,
    )]);
    p.file(
        ".env",
        "MSCTL_IT_FROM_DOTENV=from-dotenv\nMSCTL_IT_BOTH=from-dotenv\n",
    );
    p.env
        .insert("MSCTL_IT_BOTH".to_string(), "from-process".to_string());
    let gateway = format!("gateway={url}");
    let (_p, out) = msctl(p, args(&["test", "journeys", "--url", &gateway])).await;
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
}
