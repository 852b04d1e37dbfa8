//! `msctl up --watch` against the real engine, on a workspace of its own: three std-only crates
//! (`kitlet`, a library both services use; `alpha`, with a published port; `beta`, two
//! replicas) and a `db` that is a plain image. The real msctl binary watches; the tests edit
//! files as an editor would and compare container ids before and after.

mod support;

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Condvar, Mutex};
use std::time::{Duration, Instant};
use support::*;

const STACK: &str = r#"
services:
  db:
    image: debian:bookworm-slim
    command: [sh, -c, "trap 'exit 0' TERM; sleep infinity & wait"]
  alpha:
    build: { crate: alpha }
    environment: { PORT: "8080" }
    ports: ["${ALPHA_PORT}:8080"]
    depends_on: [db]
    healthcheck:
      test: [alpha, healthcheck]
      interval: 5m
      start_interval: 200ms
  beta:
    build: { crate: beta }
    replicas: 2
    environment: { PORT: "8080", GREETING: hi }
    depends_on:
      alpha: { condition: healthy }
    healthcheck:
      test: [beta, healthcheck]
      interval: 5m
      start_interval: 200ms
"#;

const WORKSPACE: &str = r#"[workspace]
resolver = "2"
members = ["kitlet", "alpha", "beta"]
"#;

/// A service's crate: depends on kitlet; `/` answers `{TAG}/{LOCAL}`.
fn manifest(name: &str) -> String {
    format!(
        "[package]\nname = \"{name}\"\nversion = \"0.1.0\"\nedition = \"2021\"\n\n[dependencies]\nkitlet = {{ path = \"../kitlet\" }}\n"
    )
}

/// A std-only HTTP server with a `healthcheck` subcommand (the container's probe).
fn server(local: &str) -> String {
    format!(
        r#"use std::io::{{Read, Write}};
const LOCAL: &str = "{local}";
fn main() {{
    let port: u16 = std::env::var("PORT").ok().and_then(|p| p.parse().ok()).unwrap_or(8080);
    if std::env::args().nth(1).as_deref() == Some("healthcheck") {{
        let ok = std::net::TcpStream::connect(("127.0.0.1", port)).is_ok();
        std::process::exit(if ok {{ 0 }} else {{ 1 }});
    }}
    let listener = std::net::TcpListener::bind(("0.0.0.0", port)).unwrap();
    println!("listening as {{}}", LOCAL);
    for stream in listener.incoming().flatten() {{
        let mut stream = stream;
        // The whole request head: answering after the first read and closing with the rest
        // unread makes the kernel reset the connection, and docker-proxy then drops the
        // answer (an empty reply on the published port, seen once on a loaded machine).
        let mut head = Vec::new();
        let mut buf = [0u8; 1024];
        while !head.windows(4).any(|w| w == b"\r\n\r\n") {{
            match stream.read(&mut buf) {{
                Ok(0) | Err(_) => break,
                Ok(n) => head.extend_from_slice(&buf[..n]),
            }}
        }}
        let body = format!("{{}}/{{}}", kitlet::TAG, LOCAL);
        let _ = write!(
            stream,
            "HTTP/1.1 200 OK\r\ncontent-length: {{}}\r\nconnection: close\r\n\r\n{{}}",
            body.len(),
            body
        );
    }}
}}
"#
    )
}

fn kitlet(tag: &str) -> String {
    format!("pub const TAG: &str = \"{tag}\";\n")
}

/// A project with the three crates, its own target directory, and alpha's port.
fn project(prefix: &str) -> (Project, u16) {
    let mut p = Project::new(prefix, STACK);
    p.file("Cargo.toml", WORKSPACE);
    p.file(
        "kitlet/Cargo.toml",
        "[package]\nname = \"kitlet\"\nversion = \"0.1.0\"\nedition = \"2021\"\n",
    );
    p.file("kitlet/src/lib.rs", &kitlet("k1"));
    for name in ["alpha", "beta"] {
        p.file(&format!("{name}/Cargo.toml"), &manifest(name));
        p.file(&format!("{name}/src/main.rs"), &server("v1"));
    }
    let port = free_port();
    p.env.insert("ALPHA_PORT".into(), port.to_string());
    let target = p.dir.path().join("target");
    p.env
        .insert("CARGO_TARGET_DIR".into(), target.display().to_string());
    (p, port)
}

/// `msctl up --watch` running, its stderr collected line by line.
struct Watching {
    child: Option<Child>,
    lines: Arc<(Mutex<Vec<String>>, Condvar)>,
    /// Its stdout (`--logs`).
    stdout: tempfile::NamedTempFile,
}

impl Watching {
    /// Starts watching and waits until the first `up` is done and the watch has begun.
    fn start(p: &Project, more: &[&str]) -> Watching {
        let stdout = tempfile::NamedTempFile::new().unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_msctl"))
            .args(["-p", &p.name, "up", "--watch"])
            .args(more)
            .current_dir(p.dir.path())
            .envs(&p.env)
            .env("NO_COLOR", "1")
            .env_remove("MSCTL_FILE")
            .stdout(stdout.reopen().unwrap())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let lines = Arc::new((Mutex::new(Vec::new()), Condvar::new()));
        let stderr = child.stderr.take().unwrap();
        let shared = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                let (lock, ready) = &*shared;
                lock.lock().unwrap().push(line);
                ready.notify_all();
            }
        });
        let w = Watching {
            child: Some(child),
            lines,
            stdout,
        };
        w.wait_for("watching", |l| l.starts_with("watching "), 300);
        w
    }

    fn stdout(&self) -> String {
        std::fs::read_to_string(self.stdout.path()).unwrap()
    }

    fn all(&self) -> String {
        self.lines.0.lock().unwrap().join("\n")
    }

    /// The first line (from the start) that satisfies `pred`, waiting up to `secs`.
    #[track_caller]
    fn wait_for(&self, what: &str, pred: impl Fn(&str) -> bool, secs: u64) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        let (lock, ready) = &*self.lines;
        let mut lines = lock.lock().unwrap();
        loop {
            if let Some(l) = lines.iter().find(|l| pred(l)) {
                return l.clone();
            }
            let left = deadline.saturating_duration_since(Instant::now());
            assert!(
                !left.is_zero(),
                "no line for {what} within {secs}s; stderr so far:\n{}",
                lines.join("\n")
            );
            lines = ready.wait_timeout(lines, left).unwrap().0;
        }
    }

    /// The line that ends round `n` (it is printed when the round is done).
    #[track_caller]
    fn round(&self, n: u32) -> String {
        let head = format!(" round {n}: ");
        self.wait_for(&format!("round {n}"), |l| l.contains(&head), 180)
    }

    fn count(&self, pred: impl Fn(&str) -> bool) -> usize {
        self.lines
            .0
            .lock()
            .unwrap()
            .iter()
            .filter(|l| pred(l))
            .count()
    }

    /// Ctrl-C: watching stops with exit 0 and the stack stays up.
    fn stop(mut self) -> String {
        let mut child = self.child.take().unwrap();
        // What Ctrl-C sends.
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        let status = child.wait().unwrap();
        let all = self.all();
        assert_eq!(status.code(), Some(0), "{all}");
        assert!(all.contains("the stack is still up"), "{all}");
        all
    }
}

impl Drop for Watching {
    fn drop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}

/// Container name → id.
async fn ids(p: &Project) -> std::collections::HashMap<String, String> {
    identities(&docker().await, &p.name)
        .await
        .into_iter()
        .map(|(name, (id, _))| (name, id))
        .collect()
}

fn name(p: &Project, container: &str) -> String {
    format!("{}-{container}", p.name)
}

/// An editor's save as JetBrains IDEs do it: the new text written to a temporary file that is
/// renamed over the original.
fn save(p: &Project, rel: &str, text: &str) {
    let path = p.dir.path().join(rel);
    let temp = path.with_file_name(format!(
        "{}___jb_tmp___",
        path.file_name().unwrap().to_str().unwrap()
    ));
    std::fs::write(&temp, text).unwrap();
    std::fs::rename(&temp, &path).unwrap();
}

/// Whether the container passes its healthcheck now. This engine (API 1.41) ignores
/// `start_interval` and reports `healthy` only after the first `interval` (5 minutes here), so
/// the check is run as msctl's own start probe runs it: `docker exec <container> <bin>
/// healthcheck`.
fn answers(container: &str) -> bool {
    let bin = if container.contains("-alpha-") {
        "alpha"
    } else {
        "beta"
    };
    Command::new("docker")
        .args(["exec", container, bin, "healthcheck"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

fn healthy(p: &Project, container: &str) -> bool {
    answers(&name(p, container))
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_replaces_exactly_the_containers_built_from_what_changed() {
    let (p, port) = project("msctl-watch-edit");
    let w = Watching::start(&p, &["--logs"]);
    let before = ids(&p).await;
    assert_eq!(before.len(), 4, "{before:?}");

    // Editors' temporary files and build output are not changes.
    p.file("alpha/src/.main.rs.swp", "swap");
    p.file("alpha/src/4913", "");
    p.file("alpha/src/main.rs~", "backup");
    p.file("alpha/tests/it.rs", "#[test] fn t() {}");
    std::thread::sleep(Duration::from_secs(2));
    assert_eq!(w.count(|l| l.contains(" round ")), 0, "{}", w.all());

    // alpha's own source: alpha alone is rebuilt and replaced.
    save(&p, "alpha/src/main.rs", &server("v2"));
    let line = w.round(1);
    assert!(line.contains("alpha/src/main.rs → alpha →"), "{line}");
    assert!(line.contains("replaced 1/1"), "{line}");
    let after = ids(&p).await;
    assert_ne!(before[&name(&p, "alpha-1")], after[&name(&p, "alpha-1")]);
    for kept in ["db-1", "beta-1", "beta-2"] {
        assert_eq!(before[&name(&p, kept)], after[&name(&p, kept)], "{kept}");
    }
    assert!(healthy(&p, "alpha-1"));
    assert_eq!(http_get(port, "/"), "k1/v2");
    // --logs follows the new container.
    let deadline = Instant::now() + Duration::from_secs(10);
    while !w.stdout().contains("listening as v2") && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(w.stdout().contains("listening as v2"), "{}", w.stdout());

    // The crate both use: both services, every replica; never the database. beta is replaced
    // one replica at a time, so two healthy betas answer throughout.
    let sampling = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let sampler = {
        let (project, sampling) = (p.name.clone(), sampling.clone());
        tokio::spawn(async move {
            let docker = docker().await;
            let running = || async {
                let filter = std::collections::HashMap::from([(
                    "label".to_string(),
                    vec![
                        format!("msctl.project={project}"),
                        "msctl.service=beta".to_string(),
                    ],
                )]);
                let list = docker
                    .list_containers(Some(bollard::query_parameters::ListContainersOptions {
                        filters: Some(filter),
                        ..Default::default()
                    }))
                    .await
                    .unwrap();
                let mut names: Vec<String> = list
                    .iter()
                    .filter_map(|c| c.names.as_ref()?.first().cloned())
                    .map(|n| n.trim_start_matches('/').to_owned())
                    .collect();
                names.sort();
                names
            };
            let mut fewest = (usize::MAX, Vec::new());
            while sampling.load(std::sync::atomic::Ordering::SeqCst) {
                let names = running().await;
                let probed = names.clone();
                let sample = tokio::task::spawn_blocking(move || {
                    probed
                        .into_iter()
                        .map(|n| {
                            let ok = answers(&n);
                            (n, ok)
                        })
                        .collect::<Vec<_>>()
                })
                .await
                .unwrap();
                // Probing takes a while: a sample during which a container came or went is
                // not a snapshot (a successor may have become ready and its predecessor gone
                // between the listing and its probe).
                if running().await != names {
                    continue;
                }
                let ready = sample.iter().filter(|(_, ok)| *ok).count();
                if ready < fewest.0 {
                    fewest = (ready, sample);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            fewest
        })
    };
    let before = after;
    save(&p, "kitlet/src/lib.rs", &kitlet("k2"));
    let line = w.round(2);
    sampling.store(false, std::sync::atomic::Ordering::SeqCst);
    assert!(line.contains("→ alpha, beta →"), "{line}");
    assert!(line.contains("replaced 3/3"), "{line}");
    let after = ids(&p).await;
    for replaced in ["alpha-1", "beta-1", "beta-2"] {
        assert_ne!(
            before[&name(&p, replaced)],
            after[&name(&p, replaced)],
            "{replaced}"
        );
    }
    assert_eq!(before[&name(&p, "db-1")], after[&name(&p, "db-1")]);
    assert_eq!(after.len(), 4, "no container left aside: {after:?}");
    assert_eq!(http_get(port, "/"), "k2/v2");
    let (fewest, sample) = sampler.await.unwrap();
    assert!(fewest != usize::MAX, "no consistent sample was taken");
    assert!(
        fewest >= 2,
        "two betas answer their healthcheck throughout the replace: {sample:?}\n{}",
        w.all()
    );

    w.stop();
    assert_eq!(ids(&p).await.len(), 4, "Ctrl-C leaves the stack up");
}

#[tokio::test(flavor = "multi_thread")]
async fn an_edit_that_does_not_compile_keeps_the_old_container_and_the_next_good_save_recovers() {
    let (p, port) = project("msctl-watch-broken");
    let w = Watching::start(&p, &[]);
    let before = ids(&p).await;

    let broken = server("v2").replace("fn main() {", "fn broken( {\nfn main() {");
    save(&p, "alpha/src/main.rs", &broken);
    let line = w.round(1);
    assert!(
        line.contains("build failed") && line.contains("running containers unchanged"),
        "{line}"
    );
    // The compiler's own message follows the round's line: wait for it, do not race it (a
    // count taken the moment the line arrived found none on a loaded machine).
    w.wait_for(
        "the compiler's own message",
        |l| l.contains("--> alpha/src/main.rs"),
        30,
    );
    assert_eq!(ids(&p).await, before, "nothing replaced");
    assert_eq!(
        http_get(port, "/"),
        "k1/v1",
        "the old container still answers"
    );

    // The same errors again are not printed again.
    save(&p, "alpha/src/main.rs", &broken);
    let line = w.round(2);
    assert!(line.contains("still the same errors"), "{line}");

    save(&p, "alpha/src/main.rs", &server("v3"));
    let line = w.round(3);
    // Nothing of the compiler's between round 2's line and round 3's: not printed again.
    let all = w.all();
    let after_2 = &all[all.find(" round 2: ").unwrap()..all.find(" round 3: ").unwrap()];
    assert!(!after_2.contains("--> alpha/src/main.rs"), "{all}");
    assert!(line.contains("replaced 1/1"), "{line}");
    assert!(healthy(&p, "alpha-1"));
    assert_eq!(http_get(port, "/"), "k1/v3");
    w.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn saves_during_a_build_cause_one_more_round_not_one_each_and_the_last_save_runs() {
    let (mut p, port) = project("msctl-watch-slow");
    // alpha's build script sleeps: saves land while round 1 builds.
    p.file(
        "alpha/build.rs",
        r#"fn main() {
    println!("cargo:rerun-if-changed=src/main.rs");
    println!("cargo:rerun-if-env-changed=SLOW_BUILD");
    let secs: f64 = std::env::var("SLOW_BUILD").ok().and_then(|s| s.parse().ok()).unwrap_or(0.0);
    std::thread::sleep(std::time::Duration::from_secs_f64(secs));
}
"#,
    );
    p.env.insert("SLOW_BUILD".into(), "4".into());
    let w = Watching::start(&p, &[]);

    save(&p, "alpha/src/main.rs", &server("v2"));
    std::thread::sleep(Duration::from_millis(1500));
    save(&p, "alpha/src/main.rs", &server("v3"));
    std::thread::sleep(Duration::from_millis(500));
    save(&p, "alpha/src/main.rs", &server("v4"));
    w.round(1);
    let second = w.round(2);
    assert!(second.contains("alpha/src/main.rs → alpha"), "{second}");
    std::thread::sleep(Duration::from_secs(6));
    assert_eq!(
        w.count(|l| l.contains(" round 3: ")),
        0,
        "one round for both saves: {}",
        w.all()
    );
    assert!(healthy(&p, "alpha-1"));
    assert_eq!(http_get(port, "/"), "k1/v4", "the last save runs");
    w.stop();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_stack_file_edit_applies_as_up_would_and_a_broken_one_changes_nothing() {
    let (p, _port) = project("msctl-watch-stack");
    let w = Watching::start(&p, &[]);
    let before = ids(&p).await;
    let stack_file = p.dir.path().join("msctl.yaml");
    let original = std::fs::read_to_string(&stack_file).unwrap();

    std::fs::write(
        &stack_file,
        original.replace("GREETING: hi", "GREETING: hello"),
    )
    .unwrap();
    let line = w.round(1);
    assert!(line.contains("msctl.yaml →"), "{line}");
    assert!(line.contains("environment.GREETING"), "{line}");
    let after = ids(&p).await;
    for replaced in ["beta-1", "beta-2"] {
        assert_ne!(before[&name(&p, replaced)], after[&name(&p, replaced)]);
    }
    for kept in ["db-1", "alpha-1"] {
        assert_eq!(before[&name(&p, kept)], after[&name(&p, kept)], "{kept}");
    }

    // A stack file with an error: reported with its place, nothing touched.
    std::fs::write(
        &stack_file,
        original.replace("replicas: 2", "replicas: two"),
    )
    .unwrap();
    let line = w.round(2);
    assert!(line.contains("the stack file has errors"), "{line}");
    w.wait_for("file:line:column", |l| l.contains("msctl.yaml:"), 5);
    assert_eq!(ids(&p).await, after);
    w.stop();
}
