//! The bundled stack (msctl.yaml at the repo root), brought up by `msctl up` under a project of
//! its own and a free port, then used through the gateway the way a customer and an admin would.

mod support;

use serde_json::{json, Value};
use support::*;

struct Shop {
    name: String,
    port: u16,
    /// The stack's `secrets:`, given in the environment: `up` then generates nothing into the
    /// workspace's `.env`, whose admin password belongs to the developer's own `shop` stack.
    admin_password: String,
    identity: msctl::secrets::KeyPairText,
    /// `msctl dashboard`'s port: `up` points the services' exporters at it.
    dashboard_port: u16,
}

impl Shop {
    fn new() -> Shop {
        let rng = ring::rand::SystemRandom::new();
        Shop {
            name: format!("msctl-it-shop-{}", std::process::id()),
            port: free_port(),
            admin_password: msctl::secrets::password(&rng),
            identity: msctl::secrets::ed25519(&rng),
            dashboard_port: free_port(),
        }
    }
}

impl Drop for Shop {
    fn drop(&mut self) {
        let _ = std::process::Command::new(env!("CARGO_BIN_EXE_msctl"))
            .args(["-f", "msctl.yaml", "-p", &self.name, "down", "--volumes"])
            .current_dir(workspace())
            .output();
    }
}

fn msctl(shop: &Shop, args: &[&str]) -> std::process::Output {
    std::process::Command::new(env!("CARGO_BIN_EXE_msctl"))
        .args(["-f", "msctl.yaml", "-p", &shop.name])
        .args(args)
        .current_dir(workspace())
        .env("GATEWAY_PORT", shop.port.to_string())
        .env("ADMIN_PASSWORD", &shop.admin_password)
        .env("IDENTITY_SIGNING_KEY", &shop.identity.private)
        .env("IDENTITY_VERIFY_KEY", &shop.identity.public)
        .env("MSCTL_DASHBOARD_PORT", shop.dashboard_port.to_string())
        .env("NO_COLOR", "1")
        .output()
        .unwrap()
}

/// `msctl dashboard` for the shop, as a user runs it; killed on drop.
struct Dashboard(std::process::Child);

const DASHBOARD_TOKEN: &str = "e2e0e2e0e2e0e2e0e2e0e2e0e2e0e2e0";

impl Dashboard {
    fn start(shop: &Shop) -> Dashboard {
        let child = std::process::Command::new(env!("CARGO_BIN_EXE_msctl"))
            .args(["-f", "msctl.yaml", "-p", &shop.name, "dashboard"])
            .current_dir(workspace())
            .env("MSCTL_DASHBOARD_PORT", shop.dashboard_port.to_string())
            .env("MSCTL_DASHBOARD_TOKEN", DASHBOARD_TOKEN)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        Dashboard(child)
    }
}

impl Drop for Dashboard {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

async fn get_json(c: &reqwest::Client, url: String) -> Value {
    c.get(url).send().await.unwrap().json().await.unwrap()
}

async fn login(c: &reqwest::Client, base: &str, email: &str, password: &str) -> String {
    let body: Value = c
        .post(format!("{base}/users/login"))
        .json(&json!({"email": email, "password": password}))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    body["access_token"].as_str().expect("a token").to_owned()
}

#[tokio::test(flavor = "multi_thread")]
async fn customer_and_admin_flows_through_the_gateway() {
    let shop = Shop::new();
    // Before `up`, as `up --dashboard` does: the first spans are heard.
    let _dashboard = Dashboard::start(&shop);
    let up = msctl(&shop, &["up"]);
    let stderr = String::from_utf8_lossy(&up.stderr);
    assert!(up.status.success(), "msctl up failed:\n{stderr}");
    assert!(
        !stderr.contains("msctl: generated"),
        "every secret was given: {stderr}"
    );

    let ps: Value = serde_json::from_slice(&msctl(&shop, &["ps", "--json"]).stdout).unwrap();
    for row in ps.as_array().unwrap() {
        assert_eq!(row["state"], "running", "{row}");
        assert_eq!(row["health"], "healthy", "{row}");
        let published = !row["ports"].as_array().unwrap().is_empty();
        assert_eq!(
            published,
            row["service"] == "gateway",
            "only the gateway publishes a port: {row}"
        );
    }

    let base = format!("http://127.0.0.1:{}", shop.port);
    let c = reqwest::Client::new();

    // A new customer registers and logs in.
    let email = format!("ada-{}@example.com", std::process::id());
    let r = c
        .post(format!("{base}/users"))
        .json(&json!({"email": email, "name": "Ada", "password": "correct-horse-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let token = login(&c, &base, &email, "correct-horse-9").await;
    let me: Value = c
        .get(format!("{base}/users/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(me["email"], email.as_str());

    // Contract verification's provider states are never reachable through the stack's gateway
    // (no route leads there, and the stack does not switch them on), whatever the prefix.
    for path in [
        "/_pact/state",
        "/products/_pact/state",
        "/payments/_pact/state",
    ] {
        let r = c
            .post(format!("{base}{path}"))
            .bearer_auth(&token)
            .json(&json!({"state": "a product with stock", "params": {}}))
            .send()
            .await
            .unwrap();
        // Under a service's prefix the access rules may answer first (403 for a user).
        let expected: &[u16] = if path == "/_pact/state" {
            &[404]
        } else {
            &[403, 404]
        };
        assert!(
            expected.contains(&r.status().as_u16()),
            "POST {path}: {}",
            r.status()
        );
    }

    // They browse and search the demo catalogue.
    let page: Value = get_json(&c, format!("{base}/products?per_page=5")).await;
    assert!(page["total"].as_u64().unwrap() >= 50, "{page}");
    assert_eq!(page["items"].as_array().unwrap().len(), 5);
    let category = page["items"][0]["category"].as_str().unwrap().to_owned();
    let in_category: Value = get_json(&c, format!("{base}/products?category={category}")).await;
    assert!(in_category["items"]
        .as_array()
        .unwrap()
        .iter()
        .all(|p| p["category"] == category.as_str()));
    let word = page["items"][0]["name"]
        .as_str()
        .unwrap()
        .split_whitespace()
        .last()
        .unwrap()
        .to_owned();
    let found: Value = get_json(&c, format!("{base}/products/search?q={word}")).await;
    assert!(
        !found["items"].as_array().unwrap().is_empty(),
        "search for {word}: {found}"
    );

    // A customer may not write the catalogue; an admin may.
    let product = json!({"name": "Msctl mug", "description": "Holds coffee", "price": "12.50", "stock": 5, "category": "kitchen", "tags": ["mug"], "images": []});
    let r = c
        .post(format!("{base}/products"))
        .bearer_auth(&token)
        .json(&product)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 403);
    let r = c
        .post(format!("{base}/products"))
        .json(&product)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    let admin_token = login(&c, &base, "admin@shop.local", &shop.admin_password).await;
    let r = c
        .post(format!("{base}/products"))
        .bearer_auth(&admin_token)
        .json(&product)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let mugs: Value = get_json(&c, format!("{base}/products/search?q=mug")).await;
    assert!(
        mugs["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|p| p["name"] == "Msctl mug"),
        "{mugs}"
    );

    // Unknown routes and bad JSON get problems, not 5xx.
    let r = c.get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(r.status(), 404);
    assert_eq!(r.headers()["content-type"], "application/problem+json");
    let r = c
        .post(format!("{base}/users"))
        .header("content-type", "application/json")
        .body("{broken")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);

    // An order through the whole saga: confirmed, its event consumed into a notification.
    let mug = r#"{"name":"Saga mug","price":"12.50","stock":3,"category":"kitchen"}"#;
    let created: Value = c
        .post(format!("{base}/products"))
        .bearer_auth(&admin_token)
        .header("content-type", "application/json")
        .body(mug)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let r = c
        .post(format!("{base}/orders"))
        .bearer_auth(&token)
        .json(&json!({"items": [{"product_id": created["id"], "quantity": 2}], "payment": {"token": "tok_visa"}}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 202);
    let traceparent = r.headers()["traceparent"].to_str().unwrap().to_owned();
    let order: Value = r.json().await.unwrap();
    let id = order["id"].as_str().unwrap().to_owned();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    let notified = loop {
        let notes: Value = c
            .get(format!("{base}/notifications?order_id={id}"))
            .bearer_auth(&token)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let confirmed = notes["items"].as_array().and_then(|items| {
            items
                .iter()
                .find(|n| n["event_type"] == "order.confirmed")
                .cloned()
        });
        if let Some(note) = confirmed {
            break note;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "no notification: {notes}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    };
    assert!(
        notified["body"].as_str().unwrap().contains("25.00"),
        "{notified}"
    );
    let order: Value = c
        .get(format!("{base}/orders/{id}"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(order["status"], "CONFIRMED");

    // The dashboard shows the checkout as one trace: the gateway, the order service and its
    // saga's calls, and the payment's event through RabbitMQ to the notification service.
    let trace_id = traceparent.split('-').nth(1).unwrap().to_owned();
    let dashboard = format!("http://127.0.0.1:{}", shop.dashboard_port);
    let cookie = format!("msctl_dashboard={DASHBOARD_TOKEN}");
    let wanted = [
        "gateway",
        "order-service",
        "product-service",
        "payment-service",
        "notification-service",
    ];
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    loop {
        let html = match c
            .get(format!("{dashboard}/traces/{trace_id}"))
            .header("cookie", &cookie)
            .send()
            .await
        {
            Ok(r) => r.text().await.unwrap_or_default(),
            Err(_) => String::new(),
        };
        let missing: Vec<&str> = wanted
            .iter()
            .copied()
            .filter(|s| !html.contains(&format!("data-service=\"{s}\"")))
            .collect();
        // Spans come in batches from each service: done when all are there and linked.
        let orphans = html.contains("(parent missing)");
        if missing.is_empty() && !orphans {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "after 20 s, trace {trace_id} lacks spans of {missing:?} or has spans whose parent never came ({orphans}):\n{html}"
        );
        tokio::time::sleep(std::time::Duration::from_millis(250)).await;
    }

    // A deleted account's token stops working at the gateway (issue #12, item 6): the user
    // service publishes user.deleted, the gateway refuses the token within seconds, not when it
    // expires 15 minutes later.
    let email = format!("gone-{}@example.com", std::process::id());
    let r = c
        .post(format!("{base}/users"))
        .json(&json!({"email": email, "name": "Gone", "password": "correct-horse-9"}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 201, "{}", r.text().await.unwrap());
    let user: Value = r.json().await.unwrap();
    let gone = login(&c, &base, &email, "correct-horse-9").await;
    let place = || {
        c.post(format!("{base}/orders"))
            .bearer_auth(&gone)
            .json(&json!({"items": [{"product_id": created["id"], "quantity": 1}], "payment": {"token": "tok_visa"}}))
            .send()
    };
    assert_eq!(place().await.unwrap().status(), 202);
    let r = c
        .delete(format!("{base}/users/{}", user["id"].as_str().unwrap()))
        .bearer_auth(&gone)
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 204, "{}", r.text().await.unwrap());
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    loop {
        let r = place().await.unwrap();
        if r.status() == 401 {
            assert_eq!(
                r.headers()["www-authenticate"],
                "Bearer error=\"invalid_token\""
            );
            let body: Value = r.json().await.unwrap();
            assert_eq!(body["detail"], "the account no longer exists", "{body}");
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the deleted account's token still places orders 5 s after the deletion: {}",
            r.status()
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    // The fault scenario (issue #4): 300 concurrent checkouts while the order service is
    // killed and restarted and RabbitMQ restarted; its invariants must all hold.
    let mut faults = loadtests::faults::FaultConfig::new(&base, &shop.name);
    faults.orders = 300;
    faults.admin_password = shop.admin_password.clone();
    let report = loadtests::faults::run(&faults)
        .await
        .expect("fault scenario ran");
    report.print();
    assert!(
        report.ok(),
        "an invariant failed under faults (report above)"
    );
}

/// The README's table of services is the bundled stack's: every service built from a crate of
/// the workspace has a row with its port (from its `routes:` block, the gateway's from its
/// published port) and a link to its docs page, which exists, as does its OpenAPI snapshot.
#[test]
fn the_readme_lists_every_service_of_the_bundled_stack() {
    let stack = msctl::stack::load(&workspace().join("msctl.yaml")).unwrap();
    let readme = std::fs::read_to_string(workspace().join("README.md")).unwrap();
    let rows: Vec<&str> = readme.lines().filter(|l| l.starts_with("| `")).collect();
    let mut documented = Vec::new();
    for service in &stack.services {
        let msctl::stack::ImageSource::Crate { krate, .. } = &service.image else {
            continue;
        };
        let row = rows
            .iter()
            .find(|r| r.starts_with(&format!("| `{}` |", service.name)))
            .unwrap_or_else(|| panic!("README.md has no row for `{}`", service.name));
        let port = match stack.routes.upstreams.get(&service.name) {
            Some(upstream) => upstream.urls[0].rsplit(':').next().unwrap().to_owned(),
            None => service.ports[0].container_port.to_string(),
        };
        assert!(row.contains(&format!("| {port}")), "port {port} in: {row}");
        let page = if service.name == "gateway" {
            "docs/gateway.md".to_owned()
        } else {
            format!("docs/api/{krate}.md")
        };
        assert!(
            row.contains(&format!("]({page})")),
            "a link to {page} in: {row}"
        );
        assert!(workspace().join(&page).exists(), "{page}");
        let snapshot = format!("docs/api/{krate}.openapi.snap");
        assert!(workspace().join(&snapshot).exists(), "{snapshot}");
        documented.push(service.name.clone());
    }
    let services = std::fs::read_dir(workspace().join("services"))
        .unwrap()
        .count();
    assert_eq!(
        documented.len(),
        services,
        "every crate in services/ runs in the bundled stack: {documented:?}"
    );
}
