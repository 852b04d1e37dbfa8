//! A service declares its own routes in the stack file; msctl hands the gateway the table
//! (`GATEWAY_ROUTES`). No list in the gateway's code or configuration names a service.

mod support;

use serde_json::Value;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::{free_port, workspace};

/// The bundled stack's table is the one the gateway's own tests run against
/// (services/gateway/tests/data/shop-routes.json): the two cannot drift apart.
#[test]
fn the_bundled_routing_table_is_the_one_the_gateways_tests_use() {
    let stack = msctl::stack::load(&workspace().join("msctl.yaml")).unwrap();
    let fixture = workspace().join("services/gateway/tests/data/shop-routes.json");
    let fixture: Value = serde_json::from_str(&std::fs::read_to_string(fixture).unwrap()).unwrap();
    assert_eq!(serde_json::to_value(&stack.routes).unwrap(), fixture);
    let gateway = stack.service("gateway").unwrap();
    let handed: Value = serde_json::from_str(&gateway.env["GATEWAY_ROUTES"]).unwrap();
    assert_eq!(handed, fixture);
}

const INVENTORY: &str = r#"
  inventory-service:
    build: { crate: testsvc }
    environment: { PORT: "9000" }
    routes:
      port: 9000
      paths:
        - prefix: /inventory
          rules:
            - { methods: [GET, HEAD], path: /inventory/**, access: public }
"#;

/// A service added to a copy of the bundled stack file with one `routes:` block is routed by
/// the real gateway binary, with its access rule applied: public reads pass, anything else
/// needs a token.
#[tokio::test]
async fn a_service_added_with_a_routes_block_is_routed_with_its_access_rule() {
    let dir = tempfile::tempdir().unwrap();
    let bundled = std::fs::read_to_string(workspace().join("msctl.yaml")).unwrap();
    let (services, volumes) = bundled.split_once("\nvolumes:").unwrap();
    let copy = dir.path().join("msctl.yaml");
    std::fs::write(&copy, format!("{services}{INVENTORY}\nvolumes:{volumes}")).unwrap();
    let stack = msctl::stack::load(&copy).unwrap();
    let table = &stack.service("gateway").unwrap().env["GATEWAY_ROUTES"];

    let inventory = upstream().await;
    let port = free_port();
    let _gateway = Gateway::start(&[
        ("GATEWAY_ROUTES", table.as_str()),
        ("UPSTREAM_INVENTORY_SERVICE", &inventory),
        ("PORT", &port.to_string()),
        // No user service in this test: an unreachable JWKS, tokens are never checked.
        ("JWKS_URL", "http://127.0.0.1:9/jwks.json"),
        ("WORKERS", "1"),
    ]);
    let base = format!("http://127.0.0.1:{port}");
    let http = reqwest::Client::new();
    wait_ready(&http, &base).await;

    let r = http
        .get(format!("{base}/inventory/items/7"))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 200, "routed to the new service");
    assert_eq!(r.text().await.unwrap(), "GET /inventory/items/7");
    let r = http
        .post(format!("{base}/inventory/items"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        r.status(),
        401,
        "a write needs a token (the default access)"
    );
    let problem: Value = r.json().await.unwrap();
    assert_eq!(problem["status"], 401);
    let r = http.get(format!("{base}/inventoryx")).send().await.unwrap();
    assert_eq!(
        r.status(),
        404,
        "a prefix is a path segment, not a string prefix"
    );
}

/// A local upstream answering `METHOD /path` to anything.
async fn upstream() -> String {
    let app = axum::Router::new().fallback(|req: axum::extract::Request| async move {
        format!("{} {}", req.method(), req.uri().path())
    });
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    url
}

async fn wait_ready(http: &reqwest::Client, base: &str) {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match http.get(format!("{base}/health/ready")).send().await {
            Ok(r) if r.status() == 200 => return,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("the gateway did not become ready: {other:?}"),
        }
    }
}

/// The workspace's gateway binary, killed when dropped.
struct Gateway(Child);

impl Gateway {
    fn start(env: &[(&str, &str)]) -> Gateway {
        let child = Command::new(gateway_binary())
            .envs(env.iter().copied())
            .env("IDENTITY_SIGNING_KEY", testkit::identity::SIGNING_KEY)
            .env_remove("GATEWAY_CONFIG")
            .env("RUST_LOG", "warn")
            .stdout(Stdio::null())
            .spawn()
            .expect("the gateway starts");
        Gateway(child)
    }
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// `target/debug/gateway` beside this test's own binary, built first if it is not there.
fn gateway_binary() -> PathBuf {
    let exe = std::env::current_exe().unwrap();
    let dir: &Path = exe.parent().and_then(Path::parent).unwrap();
    let binary = dir.join("gateway");
    if !binary.exists() {
        let built = Command::new(env!("CARGO"))
            .args(["build", "-p", "gateway", "--bin", "gateway"])
            .current_dir(workspace())
            .status()
            .unwrap();
        assert!(built.success(), "cargo build -p gateway");
    }
    binary
}
