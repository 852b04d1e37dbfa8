//! The binary and the docs: healthcheck, the OpenAPI document, serving and SIGTERM.

use crate::helpers::*;

#[test]
fn healthcheck_fails_when_nothing_listens() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let status = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .status()
        .unwrap();
    assert_eq!(status.code(), Some(1));
}

#[test]
fn the_openapi_document_in_docs_is_current() {
    let config = gateway::Config::from_json(SHOP_ROUTES).unwrap();
    let doc = kit::openapi::with_problems(gateway::openapi::doc(&config));
    testkit::assert_openapi_snapshot("gateway", &doc);
}

/// The binary as the stack runs it: configuration from the environment, worker threads, and a
/// graceful stop on SIGTERM.
#[tokio::test]
async fn the_binary_proxies_and_stops_on_sigterm() {
    let products = upstream("products").await;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let mut child = tokio::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .env("PORT", port.to_string())
        .env("GATEWAY_ROUTES", SHOP_ROUTES)
        .env("UPSTREAM_PRODUCT_SERVICE", &products.url)
        .env("IDENTITY_SIGNING_KEY", testkit::identity::SIGNING_KEY)
        .env("WORKERS", "2")
        .env("RUST_LOG", "warn")
        .env_remove("GATEWAY_CONFIG")
        .kill_on_drop(true)
        .stdout(std::process::Stdio::null())
        .spawn()
        .unwrap();
    let url = format!("http://127.0.0.1:{port}");
    let http = client();
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        match http.get(format!("{url}/health/ready")).send().await {
            Ok(r) if r.status() == StatusCode::OK => break,
            _ if Instant::now() < deadline => tokio::time::sleep(Duration::from_millis(50)).await,
            other => panic!("the gateway did not become ready: {other:?}"),
        }
    }
    let ready = std::process::Command::new(env!("CARGO_BIN_EXE_gateway"))
        .arg("healthcheck")
        .env("PORT", port.to_string())
        .status()
        .unwrap();
    assert!(ready.success());
    for _ in 0..4 {
        let e = echoed(http.get(format!("{url}/products/9")).send().await.unwrap()).await;
        assert_eq!(e["uri"], "/products/9");
    }
    assert_eq!(products.hits(), 4);
    problem(http.get(format!("{url}/orders")).send().await.unwrap(), 401).await;

    let pid = child.id().unwrap().to_string();
    let killed = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .unwrap();
    assert!(killed.success());
    let status = tokio::time::timeout(Duration::from_secs(10), child.wait())
        .await
        .expect("stops within 10 s")
        .unwrap();
    assert!(status.success(), "{status:?}");
}
