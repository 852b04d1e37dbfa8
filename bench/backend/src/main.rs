//! Answers every GET with the same small JSON body, over keep-alive connections, so a proxy
//! benchmark measures the proxy, not the backend. `bench-backend <port>`.

use axum::routing::get;
use axum::Router;

const BODY: &str = r#"{"id":"6f1c2a9e-3d4b-4c1a-9e2f-1a2b3c4d5e6f","name":"Benchmark product","price":"19.99","stock":42}"#;

#[tokio::main]
async fn main() {
    let port: u16 = std::env::args()
        .nth(1)
        .and_then(|p| p.parse().ok())
        .unwrap_or(9100);
    let app = Router::new().fallback(get(|| async {
        ([("content-type", "application/json")], BODY)
    }));
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port))
        .await
        .expect("bind");
    axum::serve(listener, app).await.expect("serve");
}
