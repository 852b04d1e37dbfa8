//! The engine against the real Docker engine: up, no-op up, a one-field change, down; two
//! projects side by side; a taken port refused before anything is created.

mod support;

use support::*;

/// PostgreSQL stand-in, a one-shot migration, an API with a published port and a healthcheck
/// that calls its own binary, and two replicas of a Dockerfile-built worker.
const STACK: &str = r#"
workspace: {workspace}
services:
  db:
    image: postgres:15
    environment:
      POSTGRES_USER: app
      POSTGRES_PASSWORD: ${DB_PASSWORD:-secret}
      POSTGRES_DB: app
    volumes: [data:/var/lib/postgresql/data]
    healthcheck:
      test: [CMD-SHELL, "pg_isready -h 127.0.0.1 -U $$POSTGRES_USER -d app"]
      interval: 500ms
  migrate:
    build: { crate: testsvc }
    command: [once]
    environment: { JOB: migrate }
    depends_on:
      db: { condition: healthy }
  api:
    build: { crate: testsvc }
    environment:
      PORT: "8080"
      GREETING: ${GREETING:-hello}
    ports: ["${API_PORT}:8080"]
    depends_on:
      db: { condition: healthy }
      migrate: { condition: completed }
    healthcheck:
      test: [testsvc, healthcheck]
      interval: 500ms
  worker:
    build: { dockerfile: Dockerfile, context: ./worker }
    depends_on: [api]
    replicas: 2
volumes:
  data: {}
"#;

const WORKER_DOCKERFILE: &str =
    "FROM debian:bookworm-slim\nCMD [\"sh\", \"-c\", \"echo worker up; exec sleep infinity\"]\n";

fn project(prefix: &str) -> (Project, u16) {
    let mut p = Project::new(prefix, STACK);
    p.file("worker/Dockerfile", WORKER_DOCKERFILE);
    let port = free_port();
    p.env.insert("API_PORT".into(), port.to_string());
    (p, port)
}

#[tokio::test(flavor = "multi_thread")]
async fn up_noop_change_one_field_down() {
    let docker = docker().await;
    let (mut p, port) = project("msctl-it-life");

    // up: everything starts and is healthy (or completed, for the one-shot).
    p.msctl(&["up"]).ok();
    let ps = p.msctl(&["ps", "--json"]).ok().json();
    let rows = ps.as_array().unwrap();
    assert_eq!(rows.len(), 5, "db, migrate, api, 2 workers: {ps:#}");
    let row = |name: &str| {
        rows.iter()
            .find(|r| r["container"] == format!("{}-{name}", p.name))
            .unwrap()
            .clone()
    };
    assert_eq!(row("db-1")["health"], "healthy");
    assert_eq!(row("api-1")["health"], "healthy");
    assert_eq!(row("migrate-1")["state"], "exited");
    assert_eq!(row("worker-2")["state"], "running");
    assert_eq!(
        row("api-1")["urls"][0],
        format!("http://127.0.0.1:{port}"),
        "published on loopback only"
    );
    assert!(http_get(port, "/").contains("\"greeting\":\"hello\""));

    // up again: a no-op, proven by ids and start times.
    let before = identities(&docker, &p.name).await;
    let again = p.msctl(&["up"]).ok();
    assert!(again.stderr.contains("nothing to do"), "{}", again.stderr);
    assert_eq!(
        identities(&docker, &p.name).await,
        before,
        "a no-op up must not touch containers"
    );

    // --plan names the one container and the field that changed, and changes nothing.
    p.env.insert("GREETING".into(), "bonjour".into());
    let plan = p.msctl(&["up", "--plan", "--json"]).ok().json();
    let changes: Vec<&serde_json::Value> = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["action"] != "keep")
        .collect();
    assert_eq!(changes.len(), 1, "{plan:#}");
    assert_eq!(changes[0]["container"], format!("{}-api-1", p.name));
    assert_eq!(changes[0]["reasons"][0], "environment.GREETING");
    assert_eq!(
        identities(&docker, &p.name).await,
        before,
        "--plan must not change anything"
    );

    // One env change recreates exactly that container.
    let changed = p.msctl(&["up"]).ok();
    assert!(
        changed.stderr.contains("environment.GREETING"),
        "{}",
        changed.stderr
    );
    let after = identities(&docker, &p.name).await;
    let api = format!("{}-api-1", p.name);
    for (name, identity) in &before {
        if *name == api {
            assert_ne!(after[name].0, identity.0, "api must be recreated");
        } else {
            assert_eq!(&after[name], identity, "{name} must be untouched");
        }
    }
    assert!(http_get(port, "/").contains("\"greeting\":\"bonjour\""));

    // A rebuilt image recreates only its service: here the Dockerfile worker's.
    let before = identities(&docker, &p.name).await;
    p.file(
        "worker/Dockerfile",
        &format!("{WORKER_DOCKERFILE}ENV REBUILT=1\n"),
    );
    let rebuilt = p.msctl(&["up"]).ok();
    assert!(
        rebuilt.stderr.contains("image changed"),
        "{}",
        rebuilt.stderr
    );
    let after = identities(&docker, &p.name).await;
    for (name, identity) in &before {
        let is_worker = name.contains("-worker-");
        assert_eq!(
            after[name] != *identity,
            is_worker,
            "{name}: recreated iff it is a worker"
        );
    }

    // Logs: one stream, each line prefixed with its container (padded to one width).
    let logs = p.msctl(&["logs", "--tail", "20"]).ok();
    let has_line = |container: &str, text: &str| {
        logs.stdout.lines().any(|l| {
            l.split_once(" | ").is_some_and(|(prefix, body)| {
                prefix.trim_end() == format!("{}-{container}", p.name) && body.contains(text)
            })
        })
    };
    assert!(
        has_line("api-1", "testsvc listening on port 8080"),
        "{}",
        logs.stdout
    );
    assert!(has_line("worker-2", "worker up"), "{}", logs.stdout);
    assert!(
        has_line("migrate-1", "one-shot job ran: migrate"),
        "{}",
        logs.stdout
    );
    let only_db = p.msctl(&["logs", "db"]).ok();
    assert!(
        only_db
            .stdout
            .lines()
            .all(|l| l.starts_with(&format!("{}-db-1 |", p.name))),
        "{}",
        only_db.stdout
    );

    // down --volumes leaves nothing labelled.
    p.msctl(&["down", "--volumes"]).ok();
    assert_eq!(labelled(&docker, &p.name).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn two_projects_side_by_side_do_not_touch_each_other() {
    let docker = docker().await;
    let (a, port_a) = project("msctl-it-side");
    let (b, port_b) = project("msctl-it-side");
    a.msctl(&["up", "api"]).ok();
    b.msctl(&["up", "api"]).ok();
    let b_before = identities(&docker, &b.name).await;
    assert_eq!(b_before.len(), 3, "api and its dependencies: {b_before:?}");

    a.msctl(&["down", "--volumes"]).ok();
    assert_eq!(labelled(&docker, &a.name).await, (0, 0, 0));
    assert_eq!(
        identities(&docker, &b.name).await,
        b_before,
        "b must be untouched by a's down"
    );
    assert!(http_get(port_b, "/health/live").contains("ok"));
    assert!(std::net::TcpStream::connect(("127.0.0.1", port_a)).is_err());
    b.msctl(&["down", "--volumes"]).ok();
    assert_eq!(labelled(&docker, &b.name).await, (0, 0, 0));
}

#[tokio::test(flavor = "multi_thread")]
async fn taken_port_is_refused_before_anything_is_created() {
    let docker = docker().await;
    let (p, port) = project("msctl-it-port");
    let _holder = std::net::TcpListener::bind(("127.0.0.1", port)).unwrap();
    let out = p.msctl(&["up"]);
    assert_eq!(out.code, 3, "{}", out.stderr);
    assert!(
        out.stderr.contains(&format!(
            "port 127.0.0.1:{port} for `api` is taken by process"
        )),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("engine-"),
        "names the holding process: {}",
        out.stderr
    );
    assert_eq!(
        labelled(&docker, &p.name).await,
        (0, 0, 0),
        "nothing created"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn unhealthy_service_fails_the_command_with_its_last_log_lines() {
    let p = Project::new(
        "msctl-it-sick",
        r#"
workspace: {workspace}
services:
  sick:
    build: { crate: testsvc }
    healthcheck:
      test: [CMD-SHELL, "echo probe-says-no; exit 1"]
      interval: 200ms
      retries: 3
    up_timeout: 20s
"#,
    );
    let out = p.msctl(&["up"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("`sick` did not become healthy"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("probe-says-no"),
        "the failing probe's output: {}",
        out.stderr
    );
    assert!(
        out.stderr.contains("testsvc listening on port 8080"),
        "the service's last log lines: {}",
        out.stderr
    );
}

/// A long `interval` keeps probes from eating the machine; `start_interval` keeps `up` quick.
/// On engines before API 1.44 (Debian's 20.10 here) the engine would first probe after the whole
/// interval: msctl probes itself while it waits, and `ps` probes a container the engine has not.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_interval_with_a_start_interval_neither_slows_up_nor_misleads_ps() {
    let p = Project::new(
        "msctl-it-startint",
        r#"
workspace: {workspace}
services:
  api:
    build: { crate: testsvc }
    healthcheck:
      test: [testsvc, healthcheck]
      interval: 5m
      start_interval: 200ms
      retries: 3
    up_timeout: 60s
  web:
    build: { crate: testsvc }
    depends_on:
      api: { condition: healthy }
"#,
    );
    // Built first: what is timed is `up` waiting for health, not cargo (which may have a crate
    // to compile when the test harness's environment differs from the last build's).
    p.msctl(&["build"]).ok();
    let started = std::time::Instant::now();
    p.msctl(&["up"]).ok();
    let took = started.elapsed();
    assert!(
        took < std::time::Duration::from_secs(30),
        "up took {took:?}"
    );
    let ps = p.msctl(&["ps", "--json"]).ok().json();
    let api = ps
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["service"] == "api")
        .unwrap()
        .clone();
    assert_eq!(api["health"], "healthy", "{ps:#}");
    p.msctl(&["down"]).ok();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_start_probe_times_out_with_what_the_probe_said() {
    let p = Project::new(
        "msctl-it-startsick",
        r#"
workspace: {workspace}
services:
  sick:
    build: { crate: testsvc }
    healthcheck:
      test: [CMD-SHELL, "echo start-probe-says-no; exit 1"]
      interval: 5m
      start_interval: 200ms
    up_timeout: 3s
"#,
    );
    let out = p.msctl(&["up"]);
    assert_eq!(out.code, 1, "{}", out.stderr);
    assert!(
        out.stderr.contains("start-probe-says-no"),
        "the failing probe's output: {}",
        out.stderr
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_up_stops_cleanly_and_the_next_up_continues() {
    let docker = docker().await;
    let (p, port) = project("msctl-it-intr");
    let child = std::process::Command::new(env!("CARGO_BIN_EXE_msctl"))
        .args(["-p", &p.name, "up"])
        .current_dir(p.dir.path())
        .envs(&p.env)
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // Interrupt once the first container exists: the database is then waiting for health.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(120);
    while labelled(&docker, &p.name).await.0 == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "up never created a container"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        identities(&docker, &p.name).await.len() < 5,
        "up stopped before finishing"
    );

    p.msctl(&["up"]).ok();
    let ps = p.msctl(&["ps", "--json"]).ok().json();
    assert_eq!(ps.as_array().unwrap().len(), 5, "{ps:#}");
    assert!(http_get(port, "/health/live").contains("ok"));
}

#[test]
fn exported_compose_file_is_accepted_by_docker_compose() {
    let (p, port) = project("msctl-it-compose");
    let out = p.msctl(&["export", "compose", "-o", "compose.yaml"]).ok();
    assert!(out.stderr.is_empty(), "{}", out.stderr);
    let text = std::fs::read_to_string(p.dir.path().join("compose.yaml")).unwrap();
    assert!(
        text.contains(&format!("127.0.0.1:{port}:8080/tcp")),
        "{text}"
    );
    assert!(text.contains("service_completed_successfully"), "{text}");
    assert!(
        text.contains("-U $$POSTGRES_USER"),
        "a literal $ stays literal for compose: {text}"
    );
    let check = std::process::Command::new("docker-compose")
        .args(["-f", "compose.yaml", "config", "-q"])
        .current_dir(p.dir.path())
        .output()
        .expect("docker-compose is installed (Debian package docker-compose)");
    assert!(
        check.status.success(),
        "{}\n{text}",
        String::from_utf8_lossy(&check.stderr)
    );
}

#[test]
fn doctor_reports_engine_tools_and_images() {
    let (p, _) = project("msctl-it-doctor");
    let checks = p.msctl(&["doctor", "--json"]).json();
    let check = |name: &str| {
        checks
            .as_array()
            .unwrap()
            .iter()
            .find(|c| c["check"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(check("docker")["ok"], true, "{checks:#}");
    assert_eq!(check("stack file")["ok"], true, "{checks:#}");
    assert!(check("image of api")["detail"]
        .as_str()
        .unwrap()
        .contains("crate `testsvc`"));
    assert!(check("image of worker")["detail"]
        .as_str()
        .unwrap()
        .contains("Dockerfile"));
}

/// A gateway (`gateway: true`) and one routed service; `{extra}` adds services.
const ROUTED: &str = r#"
workspace: {workspace}
services:
  edge:
    build: { crate: testsvc }
    gateway: true
    environment: { PORT: "8080" }
    healthcheck: { test: [testsvc, healthcheck], interval: 500ms }
  a:
    build: { crate: testsvc }
    environment: { PORT: "9000" }
    routes:
      port: 9000
      paths:
        - prefix: /a
"#;

const ROUTED_B: &str = r#"  b:
    build: { crate: testsvc }
    environment: { PORT: "9000" }
    routes:
      port: 9000
      paths:
        - prefix: /b
"#;

async fn env_of(docker: &bollard::Docker, container: &str, name: &str) -> String {
    let info = docker.inspect_container(container, None).await.unwrap();
    let env = info.config.unwrap().env.unwrap_or_default();
    let prefix = format!("{name}=");
    env.iter()
        .find_map(|e| e.strip_prefix(&prefix).map(str::to_owned))
        .unwrap_or_default()
}

/// `msctl new service audit --route /audit` then `msctl up audit` (the step it prints) left
/// the gateway with the old table: `/audit` answered 404 until a full `up`. Routes belong to
/// the gateway, so `up SERVICE` applies a changed table to it too, and says so in the plan.
#[tokio::test(flavor = "multi_thread")]
async fn up_of_a_newly_routed_service_gives_the_gateway_its_new_routing_table() {
    let docker = docker().await;
    let p = Project::new("msctl-it-routes", ROUTED);
    p.msctl(&["up"]).ok();
    let edge = format!("{}-edge-1", p.name);
    assert!(!env_of(&docker, &edge, "GATEWAY_ROUTES")
        .await
        .contains("/b"));
    let before = identities(&docker, &p.name).await;

    p.file(
        "msctl.yaml",
        &format!(
            "{}{ROUTED_B}",
            ROUTED.replace("{workspace}", &workspace().display().to_string())
        ),
    );
    let plan = p.msctl(&["up", "b", "--plan", "--json"]).ok().json();
    let gateway = plan["changes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["service"] == "edge")
        .unwrap_or_else(|| panic!("the plan leaves the gateway out: {plan:#}"));
    assert_eq!(gateway["action"], "recreate", "{plan:#}");
    assert_eq!(
        gateway["reasons"][0], "environment.GATEWAY_ROUTES",
        "{plan:#}"
    );

    let out = p.msctl(&["up", "b"]).ok();
    assert!(
        out.stderr.contains("edge: its routing table changed"),
        "{}",
        out.stderr
    );
    assert!(env_of(&docker, &edge, "GATEWAY_ROUTES")
        .await
        .contains("/b"));
    let after = identities(&docker, &p.name).await;
    assert_ne!(after[&edge].0, before[&edge].0, "the gateway was recreated");
    let a = format!("{}-a-1", p.name);
    assert_eq!(
        after[&a], before[&a],
        "the other routed service is untouched"
    );

    // Applied once: the next `up b` has nothing to do.
    let again = p.msctl(&["up", "b", "--json"]).ok().json();
    assert!(
        again["changes"]
            .as_array()
            .unwrap()
            .iter()
            .all(|c| c["action"] == "keep"),
        "{again:#}"
    );
}
