//! Real infrastructure for the services' tests, no mocks: one PostgreSQL container and one
//! RabbitMQ container (the same stand-in images `msctl up` runs) per test process, and a fresh
//! database and a fresh virtual host for every test, so tests never see each other's rows or
//! messages. The containers are removed when the test process exits.

use bollard::models::{ContainerCreateBody, HostConfig, PortBinding};
use bollard::query_parameters::{CreateContainerOptions, RemoveContainerOptions};
use bollard::Docker;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};
use tokio::sync::OnceCell;

pub const POSTGRES_IMAGE: &str = "postgres:15";
const PASSWORD: &str = "testkit";

static CONTAINERS: Mutex<Vec<String>> = Mutex::new(Vec::new());
static POSTGRES: OnceCell<String> = OnceCell::const_new();

extern "C" fn remove_containers() {
    let ids = CONTAINERS.lock().map(|c| c.clone()).unwrap_or_default();
    if !ids.is_empty() {
        let _ = std::process::Command::new("docker")
            .args(["rm", "--force", "--volumes"])
            .args(&ids)
            .output();
    }
}

async fn docker() -> Docker {
    Docker::connect_with_defaults()
        .expect("docker client")
        .negotiate_version()
        .await
        .expect("the Docker engine must be reachable for these tests")
}

/// A container started by [`start`]: its id and the loopback ports its ports are published on.
pub struct Started {
    pub id: String,
    pub ports: Vec<u16>,
}

/// Starts `image` with `env`, publishing `port` on a random loopback port; returns that port.
/// Builds the Debian stand-in first when the image is missing (no registry needed).
pub async fn start_container(image: &str, env: &[(&str, &str)], port: u16) -> u16 {
    start(image, env, &[port]).await.ports[0]
}

/// Starts `image` with `env`, publishing each of `ports` on a random loopback port.
pub async fn start(image: &str, env: &[(&str, &str)], ports: &[u16]) -> Started {
    let docker = docker().await;
    if docker.inspect_image(image).await.is_err() {
        let recipe = msctl::images::standin::recipe_for(image).expect("a stand-in recipe");
        msctl::images::standin::ensure(&docker, image, &recipe, &indicatif::ProgressBar::hidden())
            .await
            .expect("stand-in image");
    }
    let keys: Vec<String> = ports.iter().map(|p| format!("{p}/tcp")).collect();
    let loopback = || {
        Some(vec![PortBinding {
            host_ip: Some("127.0.0.1".into()),
            host_port: Some(String::new()),
        }])
    };
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        env: Some(env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(HashMap::from([(
            "msctl.test".to_string(),
            "services".to_string(),
        )])),
        exposed_ports: Some(keys.clone()),
        host_config: Some(HostConfig {
            port_bindings: Some(keys.iter().map(|k| (k.clone(), loopback())).collect()),
            ..Default::default()
        }),
        tty: Some(false),
        ..Default::default()
    };
    let name = format!(
        "testkit-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    );
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(name),
                ..Default::default()
            }),
            body,
        )
        .await
        .expect("create test container");
    {
        let mut ids = CONTAINERS.lock().unwrap();
        if ids.is_empty() {
            unsafe { libc::atexit(remove_containers) };
        }
        ids.push(created.id.clone());
    }
    docker
        .start_container(&created.id, None)
        .await
        .expect("start test container");
    let info = docker
        .inspect_container(&created.id, None)
        .await
        .expect("inspect");
    let published = info
        .network_settings
        .and_then(|n| n.ports)
        .unwrap_or_default();
    let ports = keys
        .iter()
        .map(|key| {
            published
                .get(key)
                .cloned()
                .flatten()
                .and_then(|b| b.first().and_then(|b| b.host_port.clone()))
                .and_then(|p| p.parse().ok())
                .expect("published port")
        })
        .collect();
    Started {
        id: created.id,
        ports,
    }
}

/// Removes a container started by [`start_container`] now (tests that stop infrastructure).
pub async fn remove_container(id: &str) {
    let _ = docker()
        .await
        .remove_container(
            id,
            Some(RemoveContainerOptions {
                force: true,
                v: true,
                ..Default::default()
            }),
        )
        .await;
}

/// The admin URL of this process's PostgreSQL, started on first use.
pub async fn postgres() -> &'static str {
    POSTGRES
        .get_or_init(|| async {
            let port =
                start_container(POSTGRES_IMAGE, &[("POSTGRES_PASSWORD", PASSWORD)], 5432).await;
            let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres");
            // The entrypoint's init server listens on the socket only, so a TCP answer means
            // the real server is up.
            let deadline = Instant::now() + Duration::from_secs(90);
            loop {
                match sqlx::PgPool::connect(&url).await {
                    Ok(pool) => {
                        pool.close().await;
                        break;
                    }
                    Err(e) if Instant::now() < deadline => {
                        let _ = e;
                        tokio::time::sleep(Duration::from_millis(200)).await;
                    }
                    Err(e) => panic!("PostgreSQL did not come up: {e}"),
                }
            }
            url
        })
        .await
}

/// A new, empty database on the shared server; returns its URL.
pub async fn fresh_database() -> String {
    let admin = postgres().await;
    let name = format!("test_{}", uuid::Uuid::new_v4().simple());
    let pool = sqlx::PgPool::connect(admin)
        .await
        .expect("admin connection");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&pool)
        .await
        .expect("create database");
    pool.close().await;
    admin
        .rsplit_once('/')
        .map(|(base, _)| format!("{base}/{name}"))
        .expect("url has a database")
}

pub const RABBITMQ_IMAGE: &str = "rabbitmq:3-management";
const RABBIT_USER: &str = "testkit";

/// This process's RabbitMQ: AMQP and management ports on loopback, and its container.
pub struct Rabbit {
    pub id: String,
    pub amqp_port: u16,
    pub management_port: u16,
}

static RABBITMQ: OnceCell<Rabbit> = OnceCell::const_new();

impl Rabbit {
    fn management(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}/api/{path}", self.management_port)
    }

    /// The AMQP URL of `vhost`.
    pub fn url(&self, vhost: &str) -> String {
        format!(
            "amqp://{RABBIT_USER}:{PASSWORD}@127.0.0.1:{}/{vhost}",
            self.amqp_port
        )
    }
}

/// This process's RabbitMQ, started on first use; ready when this returns.
pub async fn rabbitmq() -> &'static Rabbit {
    RABBITMQ
        .get_or_init(|| async {
            let started = start(
                RABBITMQ_IMAGE,
                &[
                    ("RABBITMQ_DEFAULT_USER", RABBIT_USER),
                    ("RABBITMQ_DEFAULT_PASS", PASSWORD),
                ],
                &[5672, 15672],
            )
            .await;
            let rabbit = Rabbit {
                id: started.id,
                amqp_port: started.ports[0],
                management_port: started.ports[1],
            };
            // The management API answers only once the broker has booted (and the default user
            // exists), so it is the readiness probe.
            let client = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(120);
            loop {
                let ok = client
                    .get(rabbit.management("overview"))
                    .basic_auth(RABBIT_USER, Some(PASSWORD))
                    .send()
                    .await
                    .is_ok_and(|r| r.status().is_success());
                if ok {
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "RabbitMQ did not come up in 120 s"
                );
                tokio::time::sleep(Duration::from_millis(250)).await;
            }
            rabbit
        })
        .await
}

/// A new, empty virtual host on this process's RabbitMQ; returns its AMQP URL.
pub async fn fresh_vhost() -> String {
    let rabbit = rabbitmq().await;
    let vhost = format!("test_{}", uuid::Uuid::new_v4().simple());
    let client = reqwest::Client::new();
    let put = |path: String, body: serde_json::Value| {
        client
            .put(rabbit.management(&path))
            .basic_auth(RABBIT_USER, Some(PASSWORD))
            .json(&body)
            .send()
    };
    let created = put(format!("vhosts/{vhost}"), serde_json::json!({}))
        .await
        .expect("create vhost");
    assert!(
        created.status().is_success(),
        "create vhost: {}",
        created.status()
    );
    let granted = put(
        format!("permissions/{vhost}/{RABBIT_USER}"),
        serde_json::json!({"configure": ".*", "write": ".*", "read": ".*"}),
    )
    .await
    .expect("grant vhost");
    assert!(
        granted.status().is_success(),
        "grant vhost: {}",
        granted.status()
    );
    rabbit.url(&vhost)
}

/// Asserts an RFC 9457 problem response with `status` (status line, content type, and the
/// body's `status`); returns the body.
pub async fn problem(r: reqwest::Response, status: u16) -> serde_json::Value {
    assert_eq!(r.status().as_u16(), status, "status of {}", r.url());
    let ct = r
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(ct, "application/problem+json");
    let body: serde_json::Value = r.json().await.unwrap();
    assert_eq!(body["status"], status);
    body
}

/// A loopback port nothing listens on (at the time of asking).
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// Whether `<bin> healthcheck` (the services' self-probe, used by their image healthchecks)
/// says the service on `port` is healthy. Panics if it exits with anything but 0 or 1.
pub fn healthcheck(bin: &str, port: u16) -> bool {
    let status = std::process::Command::new(bin)
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap();
    match status.code() {
        Some(0) => true,
        Some(1) => false,
        other => panic!("{bin} healthcheck exited with {other:?}"),
    }
}

/// Waits until `bin`, started as `child`, answers its healthcheck on `port`. Panics if it exits
/// first or is not ready within 60 s; returns how long it took.
pub async fn wait_healthy(bin: &str, port: u16, child: &mut std::process::Child) -> Duration {
    let started = Instant::now();
    while !healthcheck(bin, port) {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the service exited: {status}");
        }
        assert!(
            started.elapsed() < Duration::from_secs(60),
            "not ready in 60 s"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    started.elapsed()
}

/// Sends SIGTERM (what `docker stop` sends) and waits up to 15 s for the process to end;
/// returns its exit status. Kills it and panics if it does not stop.
pub async fn stop_with_sigterm(child: &mut std::process::Child) -> std::process::ExitStatus {
    // SAFETY: kill(2) on a child process id we own; no memory is involved.
    assert_eq!(unsafe { libc::kill(child.id() as i32, libc::SIGTERM) }, 0);
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("did not stop on SIGTERM");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Snapshots a service's OpenAPI document as `docs/api/<service>.openapi.snap` (insta, as every
/// snapshot of this project: `cargo insta review`, or `INSTA_UPDATE=always`, to accept a change),
/// so the published API documentation cannot drift from the code.
pub fn assert_openapi_snapshot(service: &str, doc: &utoipa::openapi::OpenApi) {
    let rendered = doc.to_pretty_json().expect("the document serialises");
    let docs = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/api");
    insta::with_settings!({
        snapshot_path => docs,
        prepend_module_to_snapshot => false,
        omit_expression => true,
    }, {
        insta::assert_snapshot!(format!("{service}.openapi"), rendered);
    });
}

/// Sends every operation `doc` lists to the service at `base_url` (path parameters filled with
/// a nil UUID, no body) and fails on any the router does not serve: the kit's "no such route"
/// 404 or a 405. The document comes from the router's own handler list, so this proves the
/// two agree end to end.
pub async fn assert_every_documented_route_is_served(base_url: &str, doc: &utoipa::openapi::OpenApi) {
    let json = serde_json::to_value(doc).expect("the document serialises");
    let client = reqwest::Client::new();
    let mut checked = 0;
    for (path, operations) in json["paths"].as_object().expect("paths") {
        let concrete = path
            .split('/')
            .map(|segment| {
                if segment.starts_with('{') {
                    "00000000-0000-0000-0000-000000000000"
                } else {
                    segment
                }
            })
            .collect::<Vec<_>>()
            .join("/");
        for method in operations.as_object().expect("operations").keys() {
            let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes())
                .expect("an HTTP method");
            let r = client
                .request(method.clone(), format!("{base_url}{concrete}"))
                .send()
                .await
                .expect("the service answers");
            let status = r.status().as_u16();
            let body = r.text().await.unwrap_or_default();
            assert_ne!(status, 405, "{method} {path}: the router lacks this method");
            assert!(
                !(status == 404 && body.contains("no such route")),
                "{method} {path}: the router lacks this route"
            );
            checked += 1;
        }
    }
    assert!(checked > 0, "the document lists no operation");
}

/// The document the service at `base_url` serves at `/openapi.json` is `doc`.
pub async fn assert_served_openapi(base_url: &str, doc: &utoipa::openapi::OpenApi) {
    let served: serde_json::Value = reqwest::get(format!("{base_url}/openapi.json"))
        .await
        .expect("GET /openapi.json")
        .json()
        .await
        .expect("JSON");
    assert_eq!(served, serde_json::to_value(doc).expect("the document serialises"));
}
