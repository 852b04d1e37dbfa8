//! Where a journey's HTTP requests go out ([`Transport`]: straight, or through a goose user),
//! and the response as the checks read it.

use serde_json::Value;

/// Where a journey's HTTP requests go out. `msctl test journeys` sends them itself (`Direct`);
/// `msctl load` sends them through a goose user, so goose's metrics, reports and thresholds see
/// every request, named by its step.
#[async_trait::async_trait]
pub trait Transport: Send {
    /// The client requests are built with (goose's, under load: its cookies and settings).
    fn client(&self) -> &reqwest::Client;
    /// Sends one attempt of step `step`; an `Err` is the transport failure in words.
    async fn send(
        &mut self,
        step: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String>;
    /// The last attempt is not a failure: it met the step's expectations (a 401 a step expects
    /// is a success, though goose counts only 2xx), or it was an `eventually` attempt that will
    /// be tried again.
    fn passed(&mut self, _step: &str) {}
    /// The step failed after its last attempt (an expectation, or the transport): under load,
    /// that request counts as failed.
    fn failed(&mut self, _step: &str, _why: &str) {}
}

/// Requests sent straight through the runner's own client.
pub(super) struct Direct<'a>(pub(super) &'a reqwest::Client);

#[async_trait::async_trait]
impl Transport for Direct<'_> {
    fn client(&self) -> &reqwest::Client {
        self.0
    }
    async fn send(
        &mut self,
        _step: &str,
        request: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, String> {
        request.send().await.map_err(|e| transport(&e))
    }
}

/// Every node `path` selects in `json`.
pub(super) fn select(path: &serde_json_path::JsonPath, json: &Value) -> Vec<Value> {
    path.query(json).all().into_iter().cloned().collect()
}

fn transport(e: &reqwest::Error) -> String {
    let mut text = if e.is_timeout() {
        "no response before the request's timeout".to_string()
    } else if e.is_connect() {
        "could not connect".to_string()
    } else {
        "request failed".to_string()
    };
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        text.push_str(&format!(": {s}"));
        source = s.source();
    }
    text
}

pub(super) struct Response {
    pub(super) status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    pub(super) json: Option<Value>,
}

impl Response {
    pub(super) async fn read(resp: reqwest::Response) -> Result<Self, String> {
        let status = resp.status().as_u16();
        let headers = resp.headers().clone();
        let bytes = resp.bytes().await.map_err(|e| transport(&e))?;
        let text = String::from_utf8_lossy(&bytes).into_owned();
        let json = serde_json::from_slice(&bytes).ok();
        Ok(Response {
            status,
            headers,
            text,
            json,
        })
    }

    pub(super) fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    pub(super) fn select(&self, path: &str) -> Vec<Value> {
        match (serde_json_path::JsonPath::parse(path), &self.json) {
            (Ok(p), Some(json)) => select(&p, json),
            _ => Vec::new(),
        }
    }

    pub(super) fn excerpt(&self) -> String {
        let body: String = self.text.chars().take(300).collect();
        let more = if self.text.chars().count() > 300 {
            "…"
        } else {
            ""
        };
        format!("{} {body}{more}", self.status)
    }
}
