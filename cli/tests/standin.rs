//! Stand-in images against the real Docker engine: recipes, the cache, and the environment
//! contracts of the PostgreSQL and RabbitMQ stand-ins.
//!
//! Needs root, debootstrap (scripts/bootstrap.sh) and a Docker engine. The first run builds the
//! stand-ins (minutes); later runs find them by their recipe label and take seconds.
//! Every container and volume is labelled `msctl.test=standin` and removed by a guard.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use bollard::exec::StartExecResults;
use bollard::models::{ContainerCreateBody, ExecConfig, HostConfig, PortBinding};
use bollard::query_parameters::{
    CreateContainerOptionsBuilder, LogsOptionsBuilder, RemoveContainerOptionsBuilder,
    RemoveVolumeOptionsBuilder, StopContainerOptionsBuilder, UploadToContainerOptionsBuilder,
};
use bollard::Docker;
use futures_util::StreamExt;
use indicatif::ProgressBar;
use msctl::images::standin::{self, recipe_for, LABEL_RECIPE};
use tokio::io::{AsyncReadExt, AsyncWriteExt};

const TEST_LABEL: (&str, &str) = ("msctl.test", "standin");

// ---------------------------------------------------------------------------------------------
// recipe_for

#[test]
fn recipes_match_repository_names_with_any_registry_prefix_and_tag() {
    for r in [
        "postgres",
        "postgres:15",
        "postgres:16-alpine",
        "library/postgres:latest",
        "docker.io/library/postgres:15",
        "docker.io/postgres:14",
        "registry.example.com:5000/postgres:15",
        "localhost/postgres",
    ] {
        let recipe = recipe_for(r).unwrap_or_else(|| panic!("no recipe for {r}"));
        assert!(
            recipe.describe().contains("postgresql-15"),
            "{r}: {}",
            recipe.describe()
        );
    }
    for r in [
        "rabbitmq",
        "rabbitmq:3",
        "rabbitmq:3-management",
        "docker.io/library/rabbitmq:3.10",
    ] {
        let recipe = recipe_for(r).unwrap_or_else(|| panic!("no recipe for {r}"));
        assert!(recipe.describe().contains("rabbitmq-server"), "{r}");
    }
    for r in [
        "debian",
        "debian:bookworm",
        "debian:bookworm-slim",
        "debian:12",
        "debian:latest",
        "docker.io/library/debian:12-slim",
    ] {
        let recipe = recipe_for(r).unwrap_or_else(|| panic!("no recipe for {r}"));
        assert!(recipe.describe().starts_with("Debian bookworm"), "{r}");
    }
    for r in [
        "redis:7",
        "postgresql:15",
        "bitnami/postgresql:15",
        "myorg/postgres:15",
        "ghcr.io/someone/rabbitmq:3",
        "debian-backports:12",
        "",
        "postgres:",
    ] {
        assert!(recipe_for(r).is_none(), "unexpected recipe for {r:?}");
    }
}

#[test]
fn recipe_hashes_follow_content_not_tags() {
    let h = |r: &str| recipe_for(r).unwrap().hash();
    assert_eq!(h("postgres:15"), h("docker.io/library/postgres:16"));
    assert_eq!(h("debian:bookworm"), h("debian:12-slim"));
    assert_eq!(h("rabbitmq:3"), h("rabbitmq:3.10"));
    assert_ne!(h("rabbitmq:3"), h("rabbitmq:3-management"));
    assert_ne!(h("postgres:15"), h("debian:bookworm"));
    assert_eq!(h("postgres:15").len(), 64);
    assert_eq!(h("postgres:15"), h("postgres:15"), "hash is deterministic");
}

#[test]
fn describe_says_what_stands_in_for_another_version() {
    let d = recipe_for("postgres:16").unwrap().describe();
    assert_eq!(
        d,
        "Debian bookworm + postgresql-15 (PostgreSQL 15, standing in for postgres:16)"
    );
    assert_eq!(
        recipe_for("postgres:15.4").unwrap().describe(),
        "Debian bookworm + postgresql-15"
    );
    assert!(recipe_for("rabbitmq:3-management")
        .unwrap()
        .describe()
        .contains("management plugin"));
    assert_eq!(
        recipe_for("debian:bookworm-slim").unwrap().describe(),
        "Debian bookworm (minbase)"
    );
}

#[test]
fn this_machine_can_build_stand_ins() {
    // Root, debootstrap, unshare, chroot, tar: scripts/bootstrap.sh installs what is missing.
    if let Err(e) = standin::can_build() {
        panic!("{e}");
    }
}

// ---------------------------------------------------------------------------------------------
// Helpers

async fn docker() -> Docker {
    Docker::connect_with_local_defaults()
        .expect("docker socket")
        .negotiate_version()
        .await
        .expect("docker version negotiation")
}

fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    let nanos = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .subsec_nanos();
    format!(
        "msctl-test-{prefix}-{}-{nanos:x}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

async fn ensure(docker: &Docker, image: &str) -> String {
    let recipe = recipe_for(image).unwrap();
    let started = Instant::now();
    let id = standin::ensure(docker, image, &recipe, &ProgressBar::hidden())
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    eprintln!("ensure({image}) = {id} in {:.1?}", started.elapsed());
    id
}

/// Removes what a test created, even when it fails (containers with their anonymous volumes,
/// then named volumes).
struct Cleanup {
    containers: Vec<String>,
    volumes: Vec<String>,
}

impl Cleanup {
    fn new() -> Self {
        Cleanup {
            containers: vec![],
            volumes: vec![],
        }
    }
}

impl Drop for Cleanup {
    fn drop(&mut self) {
        let containers = std::mem::take(&mut self.containers);
        let volumes = std::mem::take(&mut self.volumes);
        // Drop may run inside a runtime: do the async work on a thread of its own.
        std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            rt.block_on(async {
                let docker = docker().await;
                for c in containers {
                    let _ = docker
                        .remove_container(
                            &c,
                            Some(
                                RemoveContainerOptionsBuilder::new()
                                    .force(true)
                                    .v(true)
                                    .build(),
                            ),
                        )
                        .await;
                }
                for v in volumes {
                    let _ = docker
                        .remove_volume(
                            &v,
                            Some(RemoveVolumeOptionsBuilder::new().force(true).build()),
                        )
                        .await;
                }
            });
        })
        .join()
        .unwrap();
    }
}

async fn create(
    docker: &Docker,
    cleanup: &mut Cleanup,
    name: &str,
    image: &str,
    env: &[&str],
    cmd: &[&str],
    host_config: HostConfig,
) -> String {
    cleanup.containers.push(name.to_owned());
    let body = ContainerCreateBody {
        image: Some(image.to_owned()),
        cmd: (!cmd.is_empty()).then(|| cmd.iter().map(|s| s.to_string()).collect()),
        env: Some(env.iter().map(|s| s.to_string()).collect()),
        labels: Some(HashMap::from([(
            TEST_LABEL.0.to_owned(),
            TEST_LABEL.1.to_owned(),
        )])),
        host_config: Some(host_config),
        ..Default::default()
    };
    docker
        .create_container(
            Some(CreateContainerOptionsBuilder::new().name(name).build()),
            body,
        )
        .await
        .expect("create container")
        .id
}

struct ExecResult {
    code: i64,
    output: String,
}

async fn exec(docker: &Docker, container: &str, cmd: &[&str], env: &[&str]) -> ExecResult {
    let created = docker
        .create_exec(
            container,
            ExecConfig {
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                cmd: Some(cmd.iter().map(|s| s.to_string()).collect()),
                env: Some(env.iter().map(|s| s.to_string()).collect()),
                ..Default::default()
            },
        )
        .await
        .expect("create exec");
    let mut output = String::new();
    if let StartExecResults::Attached {
        output: mut stream, ..
    } = docker
        .start_exec(&created.id, None)
        .await
        .expect("start exec")
    {
        while let Some(Ok(chunk)) = stream.next().await {
            output.push_str(&chunk.to_string());
        }
    }
    let code = docker
        .inspect_exec(&created.id)
        .await
        .expect("inspect exec")
        .exit_code
        .unwrap_or(-1);
    ExecResult { code, output }
}

/// Runs `cmd` until it exits 0, for up to `timeout`.
async fn wait_for(docker: &Docker, container: &str, cmd: &[&str], timeout: Duration) {
    let started = Instant::now();
    loop {
        let r = exec(docker, container, cmd, &[]).await;
        if r.code == 0 {
            eprintln!("{container}: {cmd:?} ok after {:.1?}", started.elapsed());
            return;
        }
        if started.elapsed() > timeout {
            panic!(
                "{container}: {cmd:?} did not succeed within {timeout:?}: {}\n--- logs ---\n{}",
                r.output,
                logs(docker, container).await
            );
        }
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
}

async fn logs(docker: &Docker, container: &str) -> String {
    let mut out = String::new();
    let mut stream = docker.logs(
        container,
        Some(LogsOptionsBuilder::new().stdout(true).stderr(true).build()),
    );
    while let Some(Ok(chunk)) = stream.next().await {
        out.push_str(&chunk.to_string());
    }
    out
}

async fn container_ip(docker: &Docker, container: &str) -> String {
    let info = docker.inspect_container(container, None).await.unwrap();
    let networks = info
        .network_settings
        .and_then(|n| n.networks)
        .unwrap_or_default();
    networks
        .values()
        .find_map(|n| n.ip_address.clone().filter(|ip| !ip.is_empty()))
        .expect("container has an IP address")
}

async fn host_port(docker: &Docker, container: &str, port: &str) -> u16 {
    let info = docker.inspect_container(container, None).await.unwrap();
    info.network_settings
        .and_then(|n| n.ports)
        .and_then(|p| p.get(port).cloned().flatten())
        .and_then(|b| b.into_iter().find_map(|b| b.host_port))
        .and_then(|p| p.parse().ok())
        .unwrap_or_else(|| panic!("{port} is not published"))
}

/// Stops the container (its image's stop signal) and returns (seconds taken, exit code).
async fn stop(docker: &Docker, container: &str) -> (f64, i64) {
    let started = Instant::now();
    docker
        .stop_container(
            container,
            Some(StopContainerOptionsBuilder::new().t(30).build()),
        )
        .await
        .unwrap();
    let took = started.elapsed().as_secs_f64();
    let info = docker.inspect_container(container, None).await.unwrap();
    (took, info.state.and_then(|s| s.exit_code).unwrap_or(-1))
}

fn tar_of(files: &[(&str, u32, &str)]) -> Vec<u8> {
    let mut b = tar::Builder::new(Vec::new());
    for (name, mode, content) in files {
        let mut h = tar::Header::new_gnu();
        h.set_size(content.len() as u64);
        h.set_mode(*mode);
        h.set_cksum();
        b.append_data(&mut h, name, content.as_bytes()).unwrap();
    }
    b.into_inner().unwrap()
}

// ---------------------------------------------------------------------------------------------
// The cache

#[tokio::test]
async fn ensure_is_cached_by_recipe_and_debian_stand_in_runs() {
    let docker = docker().await;
    let first = ensure(&docker, "debian:bookworm-slim").await;

    let started = Instant::now();
    let second = ensure(&docker, "debian:bookworm-slim").await;
    assert_eq!(first, second);
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "second ensure rebuilt: {:?}",
        started.elapsed()
    );

    // Same recipe under another tag: re-tagged, not rebuilt.
    let started = Instant::now();
    let other = ensure(&docker, "debian:12").await;
    assert_eq!(first, other);
    assert!(started.elapsed() < Duration::from_secs(5));

    let image = docker.inspect_image("debian:bookworm-slim").await.unwrap();
    let labels = image.config.unwrap().labels.unwrap();
    assert_eq!(
        labels.get(LABEL_RECIPE),
        Some(&recipe_for("debian:bookworm-slim").unwrap().hash())
    );

    let mut cleanup = Cleanup::new();
    let name = unique("debian");
    create(
        &docker,
        &mut cleanup,
        &name,
        "debian:bookworm-slim",
        &[],
        &["sleep", "infinity"],
        HostConfig::default(),
    )
    .await;
    docker.start_container(&name, None).await.unwrap();
    let r = exec(
        &docker,
        &name,
        &["bash", "-c", ". /etc/os-release && echo $VERSION_CODENAME && ls /usr/share/doc | wc -l && test ! -s /etc/resolv.conf -o -s /etc/resolv.conf"],
        &[],
    )
    .await;
    assert_eq!(r.code, 0, "{}", r.output);
    assert!(r.output.starts_with("bookworm"), "{}", r.output);
}

/// Service images built FROM a stand-in inherit its recipe label. `ensure` once re-tagged
/// "the same recipe under another tag" onto *any* image with that label, so `debian:12` ended
/// up naming a freshly built service image. Only an image tagged as a stand-in counts.
#[tokio::test]
async fn an_image_built_from_a_stand_in_is_not_taken_for_the_stand_in() {
    let docker = docker().await;
    let base = ensure(&docker, "debian:bookworm-slim").await;
    let derived_tag = format!("{}:latest", unique("derived"));
    let context = tar_of(&[(
        "Dockerfile",
        0o644,
        "FROM debian:bookworm-slim\nLABEL msctl.test=derived\n",
    )]);
    let options = bollard::query_parameters::BuildImageOptionsBuilder::default()
        .t(&derived_tag)
        .rm(true)
        .build();
    let mut build = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    while let Some(item) = build.next().await {
        match item {
            Ok(info) => assert!(info.error_detail.is_none(), "{:?}", info.error_detail),
            Err(e) if e.to_string().contains("bytes remaining on stream") => break,
            Err(e) => panic!("build: {e}"),
        }
    }
    let derived = docker.inspect_image(&derived_tag).await.unwrap();
    let derived_id = derived.id.clone().unwrap();
    assert_ne!(derived_id, base);
    // The derived image carries the recipe label: the situation of the bug.
    assert_eq!(
        derived.config.unwrap().labels.unwrap().get(LABEL_RECIPE),
        Some(&recipe_for("debian:bookworm-slim").unwrap().hash())
    );
    // `debian:stable` is the same recipe; this test is the only one that uses that tag.
    let _ = docker
        .remove_image(
            "debian:stable",
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
    let stable = ensure(&docker, "debian:stable").await;
    let after = docker.inspect_image(&derived_tag).await.unwrap();
    let _ = docker
        .remove_image(
            &derived_tag,
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await;
    assert_eq!(stable, base, "debian:stable must name the stand-in");
    assert!(
        !after
            .repo_tags
            .unwrap_or_default()
            .iter()
            .any(|t| t == "debian:stable"),
        "debian:stable was tagged onto the derived image"
    );
}

// ---------------------------------------------------------------------------------------------
// PostgreSQL

const PG_USER: &str = "app";
const PG_PASSWORD: &str = "s3cret pw'\"$";
const PG_DB: &str = "appdb";

#[tokio::test]
async fn postgres_stand_in_honours_the_official_environment_contract() {
    let docker = docker().await;
    let id = ensure(&docker, "postgres:15").await;
    let started = Instant::now();
    assert_eq!(ensure(&docker, "postgres:15").await, id);
    assert!(started.elapsed() < Duration::from_secs(2));

    let image = docker.inspect_image("postgres:15").await.unwrap();
    let config = image.config.unwrap();
    assert_eq!(config.stop_signal.as_deref(), Some("SIGINT"));
    assert_eq!(
        config.entrypoint,
        Some(vec!["docker-entrypoint.sh".to_owned()])
    );
    assert_eq!(config.cmd, Some(vec!["postgres".to_owned()]));

    let mut cleanup = Cleanup::new();

    // Without a password, the container refuses to initialise, with the official message.
    let bare = unique("pg-nopw");
    create(
        &docker,
        &mut cleanup,
        &bare,
        "postgres:15",
        &[],
        &[],
        HostConfig::default(),
    )
    .await;
    docker.start_container(&bare, None).await.unwrap();
    let mut waits = docker.wait_container(&bare, None);
    let _ = waits.next().await;
    let info = docker.inspect_container(&bare, None).await.unwrap();
    assert_eq!(info.state.and_then(|s| s.exit_code), Some(1));
    let out = logs(&docker, &bare).await;
    assert!(out.contains("superuser password is not specified"), "{out}");

    let name = unique("pg");
    create(
        &docker,
        &mut cleanup,
        &name,
        "postgres:15",
        &[
            &format!("POSTGRES_USER={PG_USER}"),
            &format!("POSTGRES_PASSWORD={PG_PASSWORD}"),
            &format!("POSTGRES_DB={PG_DB}"),
            "POSTGRES_INITDB_ARGS=--data-checksums",
        ],
        &[],
        HostConfig::default(),
    )
    .await;
    // Init scripts: SQL, a sourced shell script and an executed one, in name order.
    let scripts = tar_of(&[
        (
            "01-schema.sql",
            0o644,
            "CREATE TABLE init_runs (id serial PRIMARY KEY, at timestamptz DEFAULT now());\n\
             INSERT INTO init_runs DEFAULT VALUES;\n",
        ),
        (
            "02-sourced.sh",
            0o644,
            "psql -v ON_ERROR_STOP=1 --username \"$POSTGRES_USER\" --dbname \"$POSTGRES_DB\" \
             -c \"CREATE TABLE from_sh AS SELECT current_user::text AS who, count(*) AS runs_seen FROM init_runs\"\n",
        ),
        (
            "03-executed.sh",
            0o755,
            "#!/bin/bash\nset -e\npsql -v ON_ERROR_STOP=1 -U \"$POSTGRES_USER\" -d \"$POSTGRES_DB\" \
             -c \"CREATE TABLE from_exec (ok boolean); INSERT INTO from_exec VALUES (true)\"\n",
        ),
    ]);
    docker
        .upload_to_container(
            &name,
            Some(
                UploadToContainerOptionsBuilder::new()
                    .path("/docker-entrypoint-initdb.d")
                    .build(),
            ),
            bollard::body_full(scripts.into()),
        )
        .await
        .unwrap();
    docker.start_container(&name, None).await.unwrap();
    let ready = ["pg_isready", "-h", "127.0.0.1", "-U", PG_USER];
    wait_for(&docker, &name, &ready, Duration::from_secs(120)).await;

    // Over TCP to the container's own address (not loopback, which initdb trusts): the user,
    // the password and the database exist, and the init scripts ran once, in order.
    let ip = container_ip(&docker, &name).await;
    let query = "SELECT current_user, current_database(), (SELECT count(*) FROM init_runs), \
                 (SELECT who || ':' || runs_seen FROM from_sh), (SELECT ok FROM from_exec), \
                 current_setting('data_checksums')";
    let psql = |password: &str| {
        let env = format!("PGPASSWORD={password}");
        let docker = &docker;
        let name = &name;
        let ip = &ip;
        async move {
            exec(
                docker,
                name,
                &["psql", "-h", ip, "-U", PG_USER, "-d", PG_DB, "-tAc", query],
                &[&env],
            )
            .await
        }
    };
    let ok = psql(PG_PASSWORD).await;
    assert_eq!(ok.code, 0, "{}", ok.output);
    assert_eq!(ok.output.trim(), "app|appdb|1|app:1|t|on");

    let wrong = psql("not-the-password").await;
    assert_ne!(
        wrong.code, 0,
        "a wrong password was accepted: {}",
        wrong.output
    );
    assert!(
        wrong.output.contains("password authentication failed"),
        "{}",
        wrong.output
    );

    // SIGINT (the image's stop signal) is a fast, clean shutdown.
    let (took, code) = stop(&docker, &name).await;
    assert_eq!(code, 0, "postgres did not exit cleanly");
    assert!(took < 10.0, "stopping took {took:.1} s");

    // A restart finds the database and does not initialise again.
    docker.start_container(&name, None).await.unwrap();
    wait_for(&docker, &name, &ready, Duration::from_secs(60)).await;
    let again = psql(PG_PASSWORD).await;
    assert_eq!(again.code, 0, "{}", again.output);
    assert_eq!(again.output.trim(), "app|appdb|1|app:1|t|on");
    let out = logs(&docker, &name).await;
    assert!(out.contains("Skipping initialization"), "{out}");
    assert_eq!(
        out.matches("PostgreSQL init process complete").count(),
        1,
        "{out}"
    );
}

// ---------------------------------------------------------------------------------------------
// RabbitMQ

const RMQ_USER: &str = "app";
const RMQ_PASSWORD: &str = "s3cret#pw\"\\";

#[tokio::test]
async fn rabbitmq_stand_in_honours_default_user_and_keeps_data() {
    let docker = docker().await;
    ensure(&docker, "rabbitmq:3-management").await;

    let mut cleanup = Cleanup::new();
    let volume = unique("rmq-data");
    cleanup.volumes.push(volume.clone());
    docker
        .create_volume(bollard::models::VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(HashMap::from([(
                TEST_LABEL.0.to_owned(),
                TEST_LABEL.1.to_owned(),
            )])),
            ..Default::default()
        })
        .await
        .unwrap();
    let host_config = || HostConfig {
        binds: Some(vec![format!("{volume}:/var/lib/rabbitmq")]),
        port_bindings: Some(HashMap::from([(
            "15672/tcp".to_owned(),
            Some(vec![PortBinding {
                host_ip: Some("127.0.0.1".to_owned()),
                host_port: Some(String::new()),
            }]),
        )])),
        ..Default::default()
    };
    let env = [
        format!("RABBITMQ_DEFAULT_USER={RMQ_USER}"),
        format!("RABBITMQ_DEFAULT_PASS={RMQ_PASSWORD}"),
    ];
    let env: Vec<&str> = env.iter().map(String::as_str).collect();

    let first = unique("rmq");
    create(
        &docker,
        &mut cleanup,
        &first,
        "rabbitmq:3-management",
        &env,
        &[],
        host_config(),
    )
    .await;
    docker.start_container(&first, None).await.unwrap();
    wait_for(
        &docker,
        &first,
        &["rabbitmq-diagnostics", "-q", "ping"],
        Duration::from_secs(120),
    )
    .await;
    let r = exec(&docker, &first, &["rabbitmqctl", "await_startup"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.output);

    let auth = exec(
        &docker,
        &first,
        &["rabbitmqctl", "authenticate_user", RMQ_USER, RMQ_PASSWORD],
        &[],
    )
    .await;
    assert_eq!(auth.code, 0, "{}", auth.output);
    let bad = exec(
        &docker,
        &first,
        &["rabbitmqctl", "authenticate_user", RMQ_USER, "wrong"],
        &[],
    )
    .await;
    assert_ne!(bad.code, 0, "a wrong password was accepted: {}", bad.output);
    let guest = exec(
        &docker,
        &first,
        &["rabbitmqctl", "authenticate_user", "guest", "guest"],
        &[],
    )
    .await;
    assert_ne!(
        guest.code, 0,
        "guest exists although another default user was set"
    );

    // The management API, from the host through the published port (not from loopback inside
    // the container): the user may log in remotely, a wrong password may not.
    let port = host_port(&docker, &first, "15672/tcp").await;
    assert_eq!(
        http_get_status(port, "/api/whoami", RMQ_USER, RMQ_PASSWORD).await,
        200
    );
    assert_eq!(
        http_get_status(port, "/api/whoami", RMQ_USER, "wrong").await,
        401
    );

    let r = exec(&docker, &first, &["rabbitmqctl", "add_vhost", "kept"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.output);

    // SIGTERM stops the node cleanly.
    let (took, code) = stop(&docker, &first).await;
    assert_eq!(
        code,
        0,
        "rabbitmq did not exit cleanly:\n{}",
        logs(&docker, &first).await
    );
    assert!(took < 25.0, "stopping took {took:.1} s");

    // A new container (another hostname) on the same volume finds the node's data.
    let second = unique("rmq2");
    create(
        &docker,
        &mut cleanup,
        &second,
        "rabbitmq:3-management",
        &[],
        &[],
        host_config(),
    )
    .await;
    docker.start_container(&second, None).await.unwrap();
    wait_for(
        &docker,
        &second,
        &["rabbitmq-diagnostics", "-q", "ping"],
        Duration::from_secs(120),
    )
    .await;
    let r = exec(&docker, &second, &["rabbitmqctl", "await_startup"], &[]).await;
    assert_eq!(r.code, 0, "{}", r.output);
    let vhosts = exec(&docker, &second, &["rabbitmqctl", "-q", "list_vhosts"], &[]).await;
    assert!(
        vhosts.output.lines().any(|l| l.trim() == "kept"),
        "{}",
        vhosts.output
    );
    let auth = exec(
        &docker,
        &second,
        &["rabbitmqctl", "authenticate_user", RMQ_USER, RMQ_PASSWORD],
        &[],
    )
    .await;
    assert_eq!(auth.code, 0, "{}", auth.output);
}

/// GET with basic auth on 127.0.0.1:`port`; returns the status code.
async fn http_get_status(port: u16, path: &str, user: &str, password: &str) -> u16 {
    let mut stream = tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .unwrap();
    let credentials = base64(format!("{user}:{password}").as_bytes());
    let request = format!(
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nAuthorization: Basic {credentials}\r\nConnection: close\r\n\r\n"
    );
    stream.write_all(request.as_bytes()).await.unwrap();
    let mut response = Vec::new();
    tokio::time::timeout(Duration::from_secs(20), stream.read_to_end(&mut response))
        .await
        .expect("management API answered")
        .unwrap();
    let text = String::from_utf8_lossy(&response);
    text.split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {text}"))
}

fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}
