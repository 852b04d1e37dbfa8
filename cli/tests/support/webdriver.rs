//! A WebDriver client small enough to read: Debian's chromedriver driving Debian's chromium,
//! headless. The W3C protocol is JSON over HTTP; these are the few commands the dashboard's
//! browser test needs.
#![allow(dead_code)]

use serde_json::{json, Value};
use std::time::{Duration, Instant};

const ELEMENT: &str = "element-6066-11e4-a52e-4f735466cecf";

pub struct Browser {
    driver: std::process::Child,
    base: String,
    http: reqwest::Client,
}

impl Browser {
    /// Starts chromedriver on a free port and a headless session in it.
    pub async fn start() -> Browser {
        let port = testkit::free_port();
        let driver = std::process::Command::new("chromedriver")
            .arg(format!("--port={port}"))
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("chromedriver (Debian's chromium-driver; scripts/bootstrap.sh installs it)");
        let http = reqwest::Client::new();
        let root = format!("http://127.0.0.1:{port}");
        let deadline = Instant::now() + Duration::from_secs(20);
        while http.get(format!("{root}/status")).send().await.is_err() {
            assert!(
                Instant::now() < deadline,
                "chromedriver did not answer in 20 s"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let caps = json!({"capabilities": {"alwaysMatch": {
            "browserName": "chrome",
            "goog:chromeOptions": {
                "binary": "/usr/bin/chromium",
                // Root in a container: no sandbox; a fixed window so screenshots compare.
                "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,900"]
            }
        }}});
        let r: Value = http
            .post(format!("{root}/session"))
            .json(&caps)
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        let id = r["value"]["sessionId"]
            .as_str()
            .unwrap_or_else(|| panic!("no session: {r}"))
            .to_owned();
        Browser {
            driver,
            base: format!("{root}/session/{id}"),
            http,
        }
    }

    async fn call(&self, method: reqwest::Method, path: &str, body: Option<Value>) -> Value {
        let mut r = self.http.request(method, format!("{}{path}", self.base));
        if let Some(b) = body {
            r = r.json(&b);
        }
        let v: Value = r.send().await.unwrap().json().await.unwrap();
        if v["value"].get("error").is_some() {
            panic!("WebDriver {path}: {}", v["value"]);
        }
        v["value"].clone()
    }

    pub async fn goto(&self, url: &str) {
        self.call(reqwest::Method::POST, "/url", Some(json!({ "url": url })))
            .await;
    }

    pub async fn url(&self) -> String {
        self.call(reqwest::Method::GET, "/url", None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    pub async fn script(&self, script: &str) -> Value {
        self.call(
            reqwest::Method::POST,
            "/execute/sync",
            Some(json!({ "script": script, "args": [] })),
        )
        .await
    }

    async fn element(&self, css: &str) -> String {
        let v = self
            .call(
                reqwest::Method::POST,
                "/element",
                Some(json!({"using": "css selector", "value": css})),
            )
            .await;
        v[ELEMENT]
            .as_str()
            .unwrap_or_else(|| panic!("no element `{css}`: {v}"))
            .to_owned()
    }

    pub async fn count(&self, css: &str) -> usize {
        self.call(
            reqwest::Method::POST,
            "/elements",
            Some(json!({"using": "css selector", "value": css})),
        )
        .await
        .as_array()
        .map(Vec::len)
        .unwrap_or(0)
    }

    pub async fn text(&self, css: &str) -> String {
        let e = self.element(css).await;
        self.call(reqwest::Method::GET, &format!("/element/{e}/text"), None)
            .await
            .as_str()
            .unwrap_or_default()
            .to_owned()
    }

    /// An attribute of every element `css` selects.
    pub async fn attributes(&self, css: &str, name: &str) -> Vec<String> {
        let script = format!(
            "return Array.from(document.querySelectorAll({})).map(e => e.getAttribute({}))",
            json!(css),
            json!(name)
        );
        self.script(&script)
            .await
            .as_array()
            .unwrap()
            .iter()
            .map(|v| v.as_str().unwrap_or_default().to_owned())
            .collect()
    }

    pub async fn click(&self, css: &str) {
        let e = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/click"),
            Some(json!({})),
        )
        .await;
    }

    pub async fn type_into(&self, css: &str, text: &str) {
        let e = self.element(css).await;
        self.call(
            reqwest::Method::POST,
            &format!("/element/{e}/value"),
            Some(json!({ "text": text })),
        )
        .await;
    }

    /// Waits (10 s at most) until the text of `css` contains `wanted`.
    pub async fn wait_for_text(&self, css: &str, wanted: &str) {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let text = self.text(css).await;
            if text.contains(wanted) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "`{css}` never showed `{wanted}`; it shows: {text}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    pub async fn screenshot(&self, path: &std::path::Path) {
        use base64::Engine;
        let png = self.call(reqwest::Method::GET, "/screenshot", None).await;
        let bytes = base64::engine::general_purpose::STANDARD
            .decode(png.as_str().unwrap())
            .unwrap();
        std::fs::write(path, bytes).unwrap();
    }

    pub async fn quit(self) {
        let _ = self.http.delete(&self.base).send().await;
        // Drop kills chromedriver (its DELETE of the closed session is answered at once).
    }
}

impl Drop for Browser {
    /// A test that panics never reaches `quit`: the session is closed here, blocking, before
    /// chromedriver goes — killing chromedriver alone leaves its chromium running (seen: a
    /// dozen orphaned browsers after failed runs).
    fn drop(&mut self) {
        use std::io::{Read, Write};
        let rest = self.base.trim_start_matches("http://");
        if let Some((host, path)) = rest.split_once('/') {
            if let Ok(mut conn) = std::net::TcpStream::connect(host) {
                let _ = conn.set_read_timeout(Some(Duration::from_secs(10)));
                let request =
                    format!("DELETE /{path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n");
                // The answer's first bytes mean the session is closed (chromedriver may keep
                // the connection open: read once, not to the end).
                if conn.write_all(request.as_bytes()).is_ok() {
                    let _ = conn.read(&mut [0u8; 512]);
                }
            }
        }
        let _ = self.driver.kill();
        let _ = self.driver.wait();
    }
}
