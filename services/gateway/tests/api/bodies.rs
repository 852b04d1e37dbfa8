//! Bodies: the size limit, declared and chunked.

use crate::helpers::*;

#[tokio::test]
async fn bodies_over_the_limit_are_413_problems() {
    let s = stack(json!({"max_body_bytes": 1024})).await;
    let big = "x".repeat(2048);
    let r = s
        .http
        .post(format!("{}/users", s.url))
        .body(big.clone())
        .send()
        .await
        .unwrap();
    problem(r, 413).await;
    let r = s
        .http
        .post(format!("{}/users", s.url))
        .body("x".repeat(1000))
        .send()
        .await
        .unwrap();
    assert_eq!(echoed(r).await["body_len"], 1000);

    // Chunked bodies have no Content-Length; they are cut off at the limit.
    for (method, path, token) in [
        ("POST", "/users", None),
        ("PUT", "/products/1", Some(admin_token())),
    ] {
        let status = raw_chunked(&s.url, method, path, token.as_deref(), 2048).await;
        assert_eq!(status, 413, "{method} {path}");
        let status = raw_chunked(&s.url, method, path, token.as_deref(), 512).await;
        assert_eq!(status, 200, "{method} {path}");
    }
    assert_eq!(
        s.products.hits(),
        1,
        "the oversized PUT never reached the upstream"
    );
}

/// Sends a chunked request by hand (chunks of 256 bytes) and returns the response status.
async fn raw_chunked(url: &str, method: &str, path: &str, token: Option<&str>, len: usize) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr: SocketAddr = url.trim_start_matches("http://").parse().unwrap();
    let mut tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let auth = token
        .map(|t| format!("authorization: Bearer {t}\r\n"))
        .unwrap_or_default();
    let head = format!(
        "{method} {path} HTTP/1.1\r\nhost: gw\r\ntransfer-encoding: chunked\r\n{auth}connection: close\r\n\r\n"
    );
    tcp.write_all(head.as_bytes()).await.unwrap();
    let mut sent = 0;
    while sent < len {
        let n = 256.min(len - sent);
        // The gateway may answer (and close) before it has read everything.
        if tcp
            .write_all(format!("{n:x}\r\n{}\r\n", "y".repeat(n)).as_bytes())
            .await
            .is_err()
        {
            break;
        }
        sent += n;
    }
    let _ = tcp.write_all(b"0\r\n\r\n").await;
    let mut response = Vec::new();
    let _ = tcp.read_to_end(&mut response).await;
    let text = String::from_utf8_lossy(&response);
    text.split(' ')
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0)
}
