//! `--publish URL`: the pacts and the verification results, sent to a Pact Broker over its
//! HTTP API, as the Pact tools do:
//!
//! 1. `PUT /pacts/provider/P/consumer/C/version/V` with the pact (the consumer's version);
//! 2. the pact resource's `pb:publish-verification-results` link (from the PUT's answer, else a
//!    GET of the same resource);
//! 3. `POST` there `{success, providerApplicationVersion, verifiedBy}`.
//!
//! Credentials as the Pact CLIs read them: `PACT_BROKER_TOKEN` (bearer), else
//! `PACT_BROKER_USERNAME` and `PACT_BROKER_PASSWORD` (basic). No broker runs on the machine this
//! was written on: the test checks these requests against a local recorder, not a broker
//! (docs/contracts.md says what that does and does not prove).

use super::matrix::Verification;
use super::pacts::PactFile;
use crate::error::{Error, Result};
use crate::testing::percent_encode;
use serde_json::Value;

pub struct Published {
    pub pacts: usize,
    pub results: usize,
}

fn authorised(request: reqwest::RequestBuilder) -> reqwest::RequestBuilder {
    if let Ok(token) = std::env::var("PACT_BROKER_TOKEN") {
        return request.bearer_auth(token);
    }
    match std::env::var("PACT_BROKER_USERNAME") {
        Ok(user) => request.basic_auth(user, std::env::var("PACT_BROKER_PASSWORD").ok()),
        Err(_) => request,
    }
}

pub async fn publish(
    base: &str,
    pacts: &[PactFile],
    results: &[Verification],
) -> Result<Published> {
    let client = reqwest::Client::new();
    let base = base.trim_end_matches('/');
    let broker = |what: String| move |e: reqwest::Error| Error::Environment(format!("{what}: {e}"));
    let mut published = Published {
        pacts: 0,
        results: 0,
    };
    for result in results {
        let Some(pact) = pacts
            .iter()
            .find(|p| p.consumer == result.consumer && p.provider == result.provider)
        else {
            continue;
        };
        let url = format!(
            "{base}/pacts/provider/{}/consumer/{}/version/{}",
            percent_encode(&pact.provider),
            percent_encode(&pact.consumer),
            percent_encode(&result.consumer_version)
        );
        let body = std::fs::read(&pact.path)
            .map_err(Error::io(format!("reading {}", pact.path.display())))?;
        let answer = authorised(client.put(&url))
            .header("content-type", "application/json")
            .header("accept", "application/hal+json")
            .body(body)
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(broker(format!(
                "publishing {} to {url}",
                pact.path.display()
            )))?;
        published.pacts += 1;
        let mut resource: Value = answer.json().await.unwrap_or(Value::Null);
        if link(&resource).is_none() {
            resource = authorised(client.get(&url))
                .header("accept", "application/hal+json")
                .send()
                .await
                .and_then(|r| r.error_for_status())
                .map_err(broker(format!("reading {url}")))?
                .json()
                .await
                .map_err(broker(format!("reading {url}")))?;
        }
        let Some(href) = link(&resource) else {
            return Err(Error::Environment(format!(
                "{url}: the broker's pact resource has no `pb:publish-verification-results` link"
            )));
        };
        authorised(client.post(&href))
            .json(&serde_json::json!({
                "success": result.success,
                "providerApplicationVersion": result.provider_version,
                "verifiedBy": {"implementation": "msctl", "version": env!("CARGO_PKG_VERSION")},
            }))
            .send()
            .await
            .and_then(|r| r.error_for_status())
            .map_err(broker(format!(
                "publishing the verification result to {href}"
            )))?;
        published.results += 1;
    }
    Ok(published)
}

fn link(resource: &Value) -> Option<String> {
    resource
        .pointer("/_links/pb:publish-verification-results/href")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::pacts::PactFile;
    use axum::extract::{Request, State};
    use axum::routing::any;
    use std::sync::{Arc, Mutex};

    type Seen = Arc<Mutex<Vec<(String, String, Value)>>>;

    /// Records every request and answers as a broker's pact resource does: with the link.
    async fn recorder(
        State((seen, base)): State<(Seen, String)>,
        request: Request,
    ) -> axum::Json<Value> {
        let method = request.method().to_string();
        let path = request.uri().path().to_owned();
        let bytes = axum::body::to_bytes(request.into_body(), 1 << 20)
            .await
            .unwrap();
        let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        seen.lock().unwrap().push((method, path, body));
        axum::Json(
            serde_json::json!({"_links": {"pb:publish-verification-results": {
                "href": format!("{base}/pacts/provider/product-service/consumer/order-service/pact-version/abc/verification-results")
            }}}),
        )
    }

    #[tokio::test]
    async fn the_pact_then_the_result_go_where_the_broker_api_says() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let seen: Seen = Arc::default();
        let app = axum::Router::new()
            .fallback(any(recorder))
            .with_state((seen.clone(), base.clone()));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("order-service-product-service.json");
        let text = r#"{"consumer": {"name": "order-service"}, "provider": {"name": "product-service"},
            "interactions": [{"type": "Synchronous/HTTP", "description": "x", "request": {"method": "GET", "path": "/"}, "response": {"status": 200}}]}"#;
        std::fs::write(&path, text).unwrap();
        let pact = PactFile::parse(&path, text.as_bytes()).unwrap();
        let result = Verification {
            consumer: "order-service".into(),
            consumer_version: "abc123".into(),
            provider: "product-service".into(),
            provider_version: "abc123".into(),
            pact_sha256: pact.sha256.clone(),
            success: true,
            interactions: 1,
            failed: 0,
            verified_at: "2026-11-30T00:00:00Z".into(),
        };
        let published = publish(&base, &[pact], &[result]).await.unwrap();
        assert_eq!((published.pacts, published.results), (1, 1));
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, "PUT");
        assert_eq!(
            seen[0].1,
            "/pacts/provider/product-service/consumer/order-service/version/abc123"
        );
        assert_eq!(seen[0].2["consumer"]["name"], "order-service");
        assert_eq!(seen[1].0, "POST");
        assert!(seen[1].1.ends_with("/verification-results"));
        assert_eq!(seen[1].2["success"], true);
        assert_eq!(seen[1].2["providerApplicationVersion"], "abc123");
    }
}
