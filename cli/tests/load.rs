//! `msctl load` against a small local HTTP server (axum on loopback), not the stack:
//! thresholds pass (exit 0) and fail (exit 99) as written, a failed expectation counts as a
//! failed request, the duration is honoured, and a rule that is not one exits 2 before
//! anything is sent.

mod support;

use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

const JOURNEYS: &[(&str, &str)] = &[
    (
        "fast",
        "name: fast\nsteps:\n  - name: fetch\n    request: { path: /fast }\n    expect: { status: 200 }\n",
    ),
    (
        "slow",
        "name: slow\nsteps:\n  - name: fetch\n    request: { path: /slow }\n    expect: { status: 200 }\n",
    ),
    (
        "broken",
        "name: broken\nsteps:\n  - name: fetch\n    request: { path: /broken }\n    expect: { status: 200 }\n  - name: never reached\n    request: { path: /fast }\n",
    ),
];

/// The server on its own runtime thread (the test body blocks on the msctl process); its hit
/// counter, and the base URL.
fn server() -> (Arc<AtomicU32>, String) {
    let hits = Arc::new(AtomicU32::new(0));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    let counted = hits.clone();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async move {
            let app = Router::new()
                .route("/fast", get(|| async { "ok" }))
                .route(
                    "/slow",
                    get(|| async {
                        tokio::time::sleep(Duration::from_millis(60)).await;
                        "ok"
                    }),
                )
                .route("/broken", get(|| async { StatusCode::INTERNAL_SERVER_ERROR }))
                .layer(axum::middleware::from_fn_with_state(
                    counted,
                    |State(hits): State<Arc<AtomicU32>>, req, next: axum::middleware::Next| async move {
                        hits.fetch_add(1, Ordering::Relaxed);
                        next.run(req).await
                    },
                ));
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            axum::serve(listener, app).await.unwrap();
        });
    });
    (hits, url)
}

fn project() -> support::Project {
    let p = support::Project::new(
        "msctl-it-load",
        "services:\n  gateway:\n    image: debian:bookworm-slim\n",
    );
    for (name, text) in JOURNEYS {
        p.file(&format!("scenarios/{name}.yaml"), text);
    }
    p
}

fn load(p: &support::Project, url: &str, args: &[&str]) -> (support::Output, Duration) {
    let target = format!("gateway={url}");
    let mut all = vec!["load", "--url", &target, "--users", "4", "--json"];
    all.extend_from_slice(args);
    let started = Instant::now();
    let out = p.msctl(&all);
    (out, started.elapsed())
}

fn step<'a>(report: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    report["steps"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"].as_str().unwrap().ends_with(name))
        .unwrap_or_else(|| panic!("no step {name}: {report}"))
}

#[test]
fn thresholds_that_hold_pass_and_the_duration_is_honoured() {
    let (_, url) = server();
    let p = project();
    let (out, took) = load(
        &p,
        &url,
        &[
            "fast",
            "--duration",
            "3s",
            "--threshold",
            "p(95) < 500ms",
            "--threshold",
            "rate(failed) < 1%",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let fetch = step(&report, "fast / fetch");
    assert!(fetch["count"].as_u64().unwrap() > 20, "{report}");
    assert_eq!(fetch["failed"], 0);
    assert!(report["thresholds"]
        .as_array()
        .unwrap()
        .iter()
        .all(|t| t["passed"] == true));
    assert!(
        took >= Duration::from_secs(3) && took < Duration::from_secs(15),
        "ran {took:?} for --duration 3s"
    );
}

#[test]
fn a_threshold_that_fails_exits_99_naming_the_rule_and_what_was_observed() {
    let (_, url) = server();
    let p = project();
    let (out, _) = load(
        &p,
        &url,
        &["slow", "--duration", "2s", "--threshold", "p(95) < 10ms"],
    );
    assert_eq!(out.code, 99, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let rule = &report["thresholds"][0];
    assert_eq!(rule["rule"], "p95<10ms");
    assert_eq!(rule["passed"], false);
    assert!(
        step(&report, "slow / fetch")["p95_ms"].as_f64().unwrap() >= 50.0,
        "{report}"
    );
}

#[test]
fn a_failed_expectation_counts_as_a_failed_request_and_ends_that_journey_run() {
    let (_, url) = server();
    let p = project();
    let (out, _) = load(
        &p,
        &url,
        &[
            "broken",
            "--iterations",
            "3",
            "--threshold",
            "rate(failed) < 1%",
        ],
    );
    assert_eq!(out.code, 99, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let fetch = step(&report, "broken / fetch");
    assert_eq!(fetch["count"], fetch["failed"], "{report}");
    assert_eq!(
        report["journeys"]["failed"], 12,
        "4 users x 3 iterations: {report}"
    );
    assert!(
        !report["steps"]
            .as_array()
            .unwrap()
            .iter()
            .any(|s| s["name"].as_str().unwrap().ends_with("never reached")),
        "a failed step ends the journey run: {report}"
    );
}

#[test]
fn a_rule_that_is_not_one_exits_2_before_anything_is_sent() {
    let (hits, url) = server();
    let p = project();
    let (out, _) = load(
        &p,
        &url,
        &["fast", "--duration", "2s", "--threshold", "latency < 2s"],
    );
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("unknown metric `latency`"),
        "{}",
        out.stderr
    );
    assert_eq!(hits.load(Ordering::Relaxed), 0);
}

#[test]
fn a_load_profile_runs_its_journeys_users_and_iterations() {
    let (_, url) = server();
    let p = project();
    p.file(
        "loadtests/quick.yaml",
        "name: quick\njourneys:\n  - { journey: fast, weight: 1 }\nusers: 2\niterations: 3\nthresholds: [\"rate(failed) < 1%\"]\n",
    );
    let target = format!("gateway={url}");
    let out = p.msctl(&["load", "quick", "--url", &target, "--json"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    assert_eq!(
        report["journeys"]["passed"], 6,
        "2 users x 3 iterations: {report}"
    );
    assert_eq!(report["thresholds"][0]["rule"], "error-rate<1%");
}

#[test]
fn a_load_file_with_problems_exits_2_at_their_line_and_column_before_anything_is_sent() {
    let (hits, url) = server();
    let p = project();
    p.file(
        "loadtests/bad.yaml",
        "name: bad\njourneys:\n  - journey: fats\nduration: soon\n",
    );
    let target = format!("gateway={url}");
    let out = p.msctl(&["load", "bad", "--url", &target]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("loadtests/bad.yaml:3:14: no journey `fats`"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("did you mean `fast`?"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("loadtests/bad.yaml:4:11"),
        "{}",
        out.stderr
    );
    assert_eq!(hits.load(Ordering::Relaxed), 0);
}

#[test]
fn a_saved_baseline_is_compared_with_and_a_missing_one_exits_2_before_anything_is_sent() {
    let (hits, url) = server();
    let p = project();
    let (out, _) = load(
        &p,
        &url,
        &["fast", "--iterations", "5", "--save-baseline", "main"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert!(p.dir.path().join("loadtests/baselines/main.json").is_file());

    let (out, _) = load(
        &p,
        &url,
        &[
            "fast",
            "--iterations",
            "5",
            "--baseline",
            "main",
            "--max-regression",
            "100000%",
        ],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    let report = out.json();
    let delta = &report["baseline"]["steps"][0];
    assert!(
        delta["name"].as_str().unwrap().ends_with("fast / fetch"),
        "{report}"
    );
    assert_eq!(delta["regressed"], false);
    assert!(delta["p95_before_ms"].as_f64().is_some());

    let sent = hits.load(Ordering::Relaxed);
    let (out, _) = load(
        &p,
        &url,
        &["fast", "--iterations", "5", "--baseline", "nope"],
    );
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("--save-baseline nope"),
        "{}",
        out.stderr
    );
    assert_eq!(
        hits.load(Ordering::Relaxed),
        sent,
        "nothing sent for a missing baseline"
    );
}

#[test]
fn users_start_over_the_ramp() {
    let (_, url) = server();
    let p = project();
    // 4 users over 3 s, one journey run each: the last one starts about 3 s in.
    let (out, took) = load(&p, &url, &["fast", "--ramp", "3s", "--iterations", "1"]);
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["journeys"]["passed"], 4);
    assert!(
        took >= Duration::from_millis(2200),
        "4 users over a 3 s ramp took {took:?}"
    );
}

/// Without thresholds, "12 journey runs, 12 failed" exited 0. As Locust's, a run with failed
/// journey runs fails (exit 1) unless a failure-rate threshold judges it or failures are
/// allowed; a latency rule alone does not judge failures.
#[test]
fn failed_journey_runs_exit_1_unless_a_failure_threshold_decides_or_they_are_allowed() {
    let (_, url) = server();
    let p = project();
    let (out, _) = load(&p, &url, &["broken", "--iterations", "1"]);
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("4 of 4 journey runs failed"),
        "{}",
        out.stderr
    );
    assert_eq!(out.json()["passed"], false);

    let (out, _) = load(
        &p,
        &url,
        &["broken", "--iterations", "1", "--threshold", "p(95) < 10s"],
    );
    assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);

    let (out, _) = load(
        &p,
        &url,
        &[
            "broken",
            "--iterations",
            "1",
            "--threshold",
            "rate(failed) <= 100%",
        ],
    );
    assert_eq!(
        out.code, 0,
        "a failure-rate rule decides: {}\n{}",
        out.stdout, out.stderr
    );

    let (out, _) = load(
        &p,
        &url,
        &["broken", "--iterations", "1", "--allow-failures"],
    );
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    assert_eq!(out.json()["journeys"]["failed"], 4);
}

/// `msctl load smoke extra.yaml` said "no journey named `smoke`" although `smoke` is a
/// profile.
#[test]
fn a_profile_mixed_with_journeys_is_refused_naming_the_profile() {
    let (hits, url) = server();
    let p = project();
    p.file(
        "loadtests/quick.yaml",
        "name: quick\njourneys:\n  - { journey: fast, weight: 1 }\nusers: 2\niterations: 1\n",
    );
    let (out, _) = load(&p, &url, &["quick", "slow"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("`quick` is a load profile")
            && out.stderr.contains("cannot be mixed with journeys (slow)"),
        "{}",
        out.stderr
    );
    assert_eq!(hits.load(Ordering::Relaxed), 0);
}
