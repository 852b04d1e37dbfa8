//! Real infrastructure for the services' tests, no mocks: one PostgreSQL container and one
//! RabbitMQ container (the same stand-in images `msctl up` runs) per test process, started with
//! [testcontainers], and a fresh database and a fresh virtual host for every test, so tests never
//! see each other's rows or messages. The containers are removed when the test process exits.
//!
//! No registry is needed: `postgres:15` and `rabbitmq:3-management` are msctl's Debian stand-ins,
//! built on this machine (`scripts/test.sh` builds them with `msctl -p shop build` before the
//! tests). When one is missing, testkit builds it once by running the msctl binary; it does not
//! link msctl.

pub mod events;
pub mod hostile;
pub mod identity;

use std::future::Future;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};
use testcontainers::bollard::models::PortBinding;
use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, ContainerRequest, GenericImage, ImageExt};
use tokio::sync::OnceCell;

pub const POSTGRES_IMAGE: &str = "postgres:15";
const PASSWORD: &str = "testkit";
/// Label on every container testkit starts (as before testcontainers, which adds its own).
const LABEL: (&str, &str) = ("msctl.test", "services");

/// The containers of this process. Kept here, never dropped (statics are not), so they live as
/// long as the process; [`remove_containers`] removes them at exit.
static CONTAINERS: Mutex<Vec<ContainerAsync<GenericImage>>> = Mutex::new(Vec::new());
static POSTGRES: OnceCell<String> = OnceCell::const_new();

extern "C" fn remove_containers() {
    let ids: Vec<String> = CONTAINERS
        .lock()
        .map(|c| c.iter().map(|c| c.id().to_owned()).collect())
        .unwrap_or_default();
    if !ids.is_empty() {
        let _ = Command::new("docker")
            .args(["rm", "--force", "--volumes"])
            .args(&ids)
            .output();
    }
}

/// The runtime the shared containers are started (and removed) on. Each `#[tokio::test]` has its
/// own runtime, which ends with the test; testcontainers' Docker client is shared by every
/// container of the process, so its connections must live on a runtime that lives as long.
fn infra() -> &'static tokio::runtime::Runtime {
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    RUNTIME.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("testkit-infra")
            .enable_all()
            .build()
            .expect("testkit's runtime")
    })
}

/// Runs `work` on [`infra`] and waits for it; a panic in it is this caller's panic.
async fn on_infra<T: Send + 'static>(work: impl Future<Output = T> + Send + 'static) -> T {
    match infra().spawn(work).await {
        Ok(value) => value,
        Err(e) => std::panic::resume_unwind(e.into_panic()),
    }
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

/// Starts `image` with `env`, publishing each of `ports` on a random loopback port. Builds the
/// Debian stand-in first when the image is missing (no registry needed). Does not wait for what
/// runs in the container to be ready.
pub async fn start(image: &str, env: &[(&str, &str)], ports: &[u16]) -> Started {
    let mut request = ContainerRequest::from(generic(image, ports));
    for (key, value) in env {
        request = request.with_env_var(*key, *value);
    }
    run(image, request, ports).await
}

/// `reference` (`name:tag`) exposing `ports`.
fn generic(reference: &str, ports: &[u16]) -> GenericImage {
    let (name, tag) = reference
        .rsplit_once(':')
        .filter(|(_, tag)| !tag.contains('/')) // `registry:5000/name` has no tag
        .unwrap_or((reference, "latest"));
    ports.iter().fold(GenericImage::new(name, tag), |image, p| {
        image.with_exposed_port(p.tcp())
    })
}

/// Starts `request` (of `image`) with `ports` published on random loopback ports and keeps the
/// container until the process exits; returns when its wait conditions hold.
async fn run(image: &str, request: ContainerRequest<GenericImage>, ports: &[u16]) -> Started {
    ensure_image(image).await;
    let keys: Vec<String> = ports.iter().map(|p| format!("{p}/tcp")).collect();
    let request = request
        .with_container_name(format!(
            "testkit-{}-{}",
            std::process::id(),
            uuid::Uuid::new_v4().simple()
        ))
        .with_label(LABEL.0, LABEL.1)
        // testcontainers publishes every exposed port on all interfaces; these are test
        // databases with a known password, so loopback only.
        .with_host_config_modifier(move |host| {
            host.publish_all_ports = Some(false);
            host.port_bindings = Some(
                keys.iter()
                    .map(|k| {
                        let loopback = PortBinding {
                            host_ip: Some("127.0.0.1".into()),
                            host_port: Some(String::new()),
                        };
                        (k.clone(), Some(vec![loopback]))
                    })
                    .collect(),
            );
        })
        .with_startup_timeout(Duration::from_secs(120));
    let (image, ports) = (image.to_owned(), ports.to_vec());
    on_infra(async move {
        let container = request
            .start()
            .await
            .unwrap_or_else(|e| panic!("start a `{image}` test container: {e}"));
        let mut published = Vec::new();
        for port in &ports {
            published.push(
                container
                    .get_host_port_ipv4(port.tcp())
                    .await
                    .unwrap_or_else(|e| panic!("published port of {port}: {e}")),
            );
        }
        let id = container.id().to_owned();
        let mut containers = CONTAINERS.lock().unwrap();
        if containers.is_empty() {
            // SAFETY: registers a plain `extern "C" fn` with no arguments, as atexit(3) wants.
            unsafe { libc::atexit(remove_containers) };
        }
        containers.push(container);
        Started {
            id,
            ports: published,
        }
    })
    .await
}

/// Removes a container started by [`start_container`] now (tests that stop infrastructure).
pub async fn remove_container(id: &str) {
    let container = {
        let mut containers = CONTAINERS.lock().unwrap();
        let at = containers.iter().position(|c| c.id() == id);
        at.map(|at| containers.remove(at))
    };
    if let Some(container) = container {
        let _ = on_infra(container.rm()).await;
    }
}

/// Makes sure `image` exists locally: when it does not, builds msctl's stand-in for it by
/// running the msctl binary (nothing can be pulled here). Concurrent builds of one image, in this
/// process or others, wait for each other in msctl and build it once.
async fn ensure_image(image: &str) {
    let image = image.to_owned();
    on_infra(async move {
        let docker = testcontainers::core::client::docker_client_instance()
            .await
            .expect("the Docker engine must be reachable for these tests");
        if docker.inspect_image(&image).await.is_err() {
            tokio::task::spawn_blocking(move || build_standin(&image))
                .await
                .unwrap_or_else(|e| std::panic::resume_unwind(e.into_panic()));
        }
    })
    .await
}

/// Where the msctl binary is: `$MSCTL_BIN`, or next to this test binary's profile directory
/// (`target/debug/msctl` for `target/debug/deps/<test>`), or in `$CARGO_TARGET_DIR/debug`, or in
/// the workspace's `target/debug`. The places looked at, when it is in none.
fn msctl_binary() -> Result<PathBuf, Vec<PathBuf>> {
    if let Some(path) = std::env::var_os("MSCTL_BIN") {
        return Ok(path.into());
    }
    let mut candidates = Vec::new();
    if let Ok(exe) = std::env::current_exe() {
        // target/<profile>/deps/<test binary>
        if let Some(profile_dir) = exe.parent().and_then(Path::parent) {
            candidates.push(profile_dir.join("msctl"));
        }
    }
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        candidates.push(Path::new(&dir).join("debug/msctl"));
    }
    candidates.push(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/debug/msctl"));
    match candidates.iter().find(|p| p.is_file()) {
        Some(found) => Ok(found.clone()),
        None => Err(candidates),
    }
}

/// Builds the stand-in for `image` with `msctl build` of a one-service stack file. Blocking;
/// msctl's progress goes to this process's stderr.
fn build_standin(image: &str) {
    let msctl = msctl_binary().unwrap_or_else(|looked_in| {
        let looked_in: Vec<String> = looked_in.iter().map(|p| p.display().to_string()).collect();
        panic!(
            "the image `{image}` is missing and no msctl binary was found to build its stand-in \
             (looked for {}; MSCTL_BIN names another). From the workspace root, as root: \
             `bash scripts/bootstrap.sh && cargo build -p msctl && target/debug/msctl -p shop \
             build` builds msctl and the stand-ins once (or only `cargo build -p msctl`: the \
             tests then build the stand-ins they need)",
            looked_in.join(", ")
        )
    });
    let dir = std::env::temp_dir().join(format!(
        "testkit-standin-{}-{}",
        std::process::id(),
        uuid::Uuid::new_v4().simple()
    ));
    std::fs::create_dir_all(&dir).expect("a temporary directory");
    let stack = dir.join("msctl.yaml");
    std::fs::write(
        &stack,
        format!(
            "services:\n  standin:\n    image: {}\n",
            serde_json::json!(image)
        ),
    )
    .expect("write the stand-in's stack file");
    eprintln!(
        "testkit: `{image}` is missing; building msctl's stand-in for it with {} (once; a few \
         minutes the first time)",
        msctl.display()
    );
    let status = Command::new(&msctl)
        .arg("-f")
        .arg(&stack)
        .args(["-p", "testkit-standin", "build"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .status();
    let _ = std::fs::remove_dir_all(&dir);
    match status {
        Ok(s) if s.success() => {}
        Ok(s) => panic!(
            "`{} -f <stack file naming {image}> build` failed ({s}; its messages are above); \
             build the stand-ins as root with `bash scripts/bootstrap.sh && target/debug/msctl -p \
             shop build`",
            msctl.display()
        ),
        Err(e) => panic!(
            "run {}: {e} (build msctl with `cargo build -p msctl`, or name it in MSCTL_BIN)",
            msctl.display()
        ),
    }
}

/// The admin URL of this process's PostgreSQL, started on first use.
pub async fn postgres() -> &'static str {
    POSTGRES
        .get_or_init(|| async {
            // The entrypoint first runs a server for initdb's scripts, on the socket only,
            // logging to stdout; the real server logs to stderr.
            let ready =
                WaitFor::message_on_stderr("database system is ready to accept connections");
            let request = generic(POSTGRES_IMAGE, &[5432])
                .with_wait_for(ready)
                .with_env_var("POSTGRES_PASSWORD", PASSWORD);
            let port = run(POSTGRES_IMAGE, request, &[5432]).await.ports[0];
            let url = format!("postgres://postgres:{PASSWORD}@127.0.0.1:{port}/postgres");
            // The log says the server is ready; a TCP connection proves it.
            let deadline = Instant::now() + Duration::from_secs(30);
            loop {
                match sqlx::PgPool::connect(&url).await {
                    Ok(pool) => {
                        pool.close().await;
                        break;
                    }
                    Err(_) if Instant::now() < deadline => {
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
            let ports = [5672, 15672];
            // Logged once every boot step has run (the default user exists) and every plugin
            // (the management listener) has started.
            let request = generic(RABBITMQ_IMAGE, &ports)
                .with_wait_for(WaitFor::message_on_either_std("Server startup complete"))
                .with_env_var("RABBITMQ_DEFAULT_USER", RABBIT_USER)
                .with_env_var("RABBITMQ_DEFAULT_PASS", PASSWORD);
            let started = run(RABBITMQ_IMAGE, request, &ports).await;
            let rabbit = Rabbit {
                id: started.id,
                amqp_port: started.ports[0],
                management_port: started.ports[1],
            };
            // fresh_vhost needs the management API and the user: prove both answer.
            let client = reqwest::Client::new();
            let deadline = Instant::now() + Duration::from_secs(30);
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
                    "RabbitMQ's management API did not answer within 30 s of its startup"
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
/// Polls `check` every 50 ms until it gives a value; panics after `within`, naming `what`.
/// For what happens after a request returns: a consumer's effect, an outbox relay's message.
pub async fn eventually<T, F, Fut>(what: &str, within: Duration, mut check: F) -> T
where
    F: FnMut() -> Fut,
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + within;
    loop {
        if let Some(value) = check().await {
            return value;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {within:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

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

/// The root of the workspace whose tests are running: found from the package under test
/// (`CARGO_MANIFEST_DIR`, which `cargo test` sets when it runs a test binary), not from where
/// testkit was compiled. A copy of the repository at another path (scripts/scratch-copy.sh)
/// shares this tree's build of testkit, since cargo hashes paths relative to the workspace: a
/// compile-time path would point the copy's tests at the original tree (a new service's tests
/// in the copy read and wrote the original's `docs/api/` that way).
pub fn workspace_root() -> PathBuf {
    let start = std::env::var_os("CARGO_MANIFEST_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    start
        .ancestors()
        .find(|dir| {
            std::fs::read_to_string(dir.join("Cargo.toml"))
                .is_ok_and(|manifest| manifest.lines().any(|l| l.trim() == "[workspace]"))
        })
        .unwrap_or_else(|| panic!("no workspace Cargo.toml above {}", start.display()))
        .to_path_buf()
}

/// Snapshots a service's OpenAPI document as `docs/api/<service>.openapi.snap` (insta, as every
/// snapshot of this project: `cargo insta review`, or `INSTA_UPDATE=always`, to accept a change),
/// so the published API documentation cannot drift from the code.
pub fn assert_openapi_snapshot(service: &str, doc: &utoipa::openapi::OpenApi) {
    let rendered = doc.to_pretty_json().expect("the document serialises");
    let docs = workspace_root().join("docs/api");
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
pub async fn assert_every_documented_route_is_served(
    base_url: &str,
    doc: &utoipa::openapi::OpenApi,
) {
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
    assert_eq!(
        served,
        serde_json::to_value(doc).expect("the document serialises")
    );
}

/// Every migration of `migrator` as (version, hex of its checksum): what sqlx records for an
/// applied migration, so a test can pin the shipped files byte for byte (an edited one stops
/// every existing database).
pub fn migration_checksums(migrator: &sqlx::migrate::Migrator) -> Vec<(i64, String)> {
    migrator
        .iter()
        .map(|m| {
            let hex: String = m.checksum.iter().map(|b| format!("{b:02x}")).collect();
            (m.version, hex)
        })
        .collect()
}
