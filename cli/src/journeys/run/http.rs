//! A step's HTTP request: rendered once, sent through the [`Transport`] until its expectations
//! hold (once, or as `eventually` says), and its captures taken from the response that held.

use super::expect::{Expectations, Poll};
use super::transport::{Response, Transport};
use super::{Failed, RunIds, Runner};
use crate::diag::{pos, Pos, Spanned, SpannedMap};
use crate::journeys::model::{Capture, Node, Request, Step};
use crate::journeys::parse;
use crate::journeys::report::{Attempt, StepReport};
use crate::journeys::template::Scope;
use serde_json::Value;
use std::time::{Duration, Instant};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// A step's request with every template rendered: what each attempt sends.
struct Call {
    method: reqwest::Method,
    url: String,
    headers: Vec<(String, String)>,
    body: Option<String>,
    timeout: Duration,
}

impl Call {
    fn request(
        &self,
        client: &reqwest::Client,
        ids: &RunIds,
        timeout: Duration,
    ) -> reqwest::RequestBuilder {
        let mut request = client
            .request(self.method.clone(), &self.url)
            .timeout(timeout)
            .header("traceparent", ids.traceparent())
            .header("x-request-id", &ids.request_id);
        for (n, v) in &self.headers {
            request = request.header(n.as_str(), v.as_str());
        }
        if let Some(b) = &self.body {
            request = request.body(b.clone());
        }
        request
    }
}

impl Runner {
    pub(super) async fn http_step(
        &self,
        step: &Step,
        req: &Spanned<Request>,
        ids: &RunIds,
        scope: &mut Scope,
        report: &mut StepReport,
        out: &mut dyn Transport,
    ) -> Result<(), Failed> {
        let call = self.call(req, scope, report).await?;
        let default_expect = Default::default();
        let expect = self.expectations(step.expect.as_ref().unwrap_or(&default_expect), scope)?;
        let eventually = match &step.eventually {
            Some(ev) => Some(self.eventually(&ev.value, scope)?),
            None => None,
        };
        let step_start = Instant::now();
        // A floor, so that `interval: 0s` polls hard without starving the runtime.
        let mut pause = eventually
            .as_ref()
            .map(|e| e.interval.max(Duration::from_millis(1)))
            .unwrap_or_default();
        loop {
            let sent = Instant::now();
            // Polling: no single attempt outlives the deadline by more than a moment.
            let timeout = match &eventually {
                Some(ev) => call
                    .timeout
                    .min(ev.within.saturating_sub(step_start.elapsed()))
                    .max(Duration::from_millis(200)),
                None => call.timeout,
            };
            let request = call.request(out.client(), ids, timeout);
            let response = match out.send(&step.name.value, request).await {
                Ok(resp) => Response::read(resp).await,
                Err(e) => Err(e),
            };
            let mut attempt = Attempt {
                at_ms: sent.duration_since(step_start).as_millis() as u64,
                duration_ms: sent.elapsed().as_millis() as u64,
                status: response.as_ref().ok().map(|r| r.status),
                failures: Vec::new(),
            };
            let (first_at, fail_fast) = judge(
                &expect,
                eventually.as_ref(),
                &response,
                pos(req),
                &mut attempt,
                report,
            );
            let held = attempt.failures.is_empty();
            let failures = attempt.failures.clone();
            report.attempts.push(attempt);
            if held {
                out.passed(&step.name.value);
                let resp = response.as_ref().expect("held implies a response");
                report.received = None;
                return self.capture(&step.capture, resp, scope);
            }
            let Some(ev) = &eventually else {
                return Err(Failed(first_at, failures.join("; ")));
            };
            if fail_fast {
                let resp = response.as_ref().expect("checked");
                return Err(gave_up(ev, resp, &failures, report.attempts.len()));
            }
            let left = ev.within.saturating_sub(step_start.elapsed());
            if left.is_zero() {
                return Err(timed_out(ev, step_start, &failures, report.attempts.len()));
            }
            out.passed(&step.name.value);
            // The last attempt lands on the deadline rather than a pause before it.
            tokio::time::sleep(pause.min(left)).await;
            pause = pause.mul_f64(ev.backoff).min(ev.max_interval);
        }
    }

    /// The request rendered: its service (the gateway unless the step names one), URL, headers,
    /// body and timeout. The report's action says where it goes.
    async fn call(
        &self,
        req: &Spanned<Request>,
        scope: &Scope,
        report: &mut StepReport,
    ) -> Result<Call, Failed> {
        let r = &req.value;
        let service = r
            .service
            .as_ref()
            .map(|s| s.value.clone())
            .unwrap_or_else(|| self.targets.roles.gateway.clone());
        let base = self
            .targets
            .http(&service)
            .await
            .map_err(|e| Failed(pos(req), e))?;
        let path = self.text(&r.path, scope)?;
        let url = format!("{base}{path}");
        report.action = format!("{} {url}", r.method.as_str());
        let mut headers = self.headers(&r.headers, scope)?;
        let body = match (&r.json, &r.body) {
            (Some(json), _) => {
                let value = self.templates.node(json, scope).map_err(Failed::from)?;
                if !headers
                    .iter()
                    .any(|(n, _)| n.eq_ignore_ascii_case("content-type"))
                {
                    headers.push(("content-type".into(), "application/json".into()));
                }
                Some(value.to_string())
            }
            (None, Some(raw)) => Some(self.text(raw, scope)?),
            _ => None,
        };
        let timeout = match &r.timeout {
            Some(t) => parse::duration(t).map_err(Failed::from)?,
            None => DEFAULT_TIMEOUT,
        };
        Ok(Call {
            method: reqwest::Method::from_bytes(r.method.as_str().as_bytes()).expect("method"),
            url,
            headers,
            body,
            timeout,
        })
    }

    fn headers(
        &self,
        headers: &SpannedMap<Spanned<Node>>,
        scope: &Scope,
    ) -> Result<Vec<(String, String)>, Failed> {
        let mut out = Vec::new();
        for (name, at, value) in headers.iter() {
            let value = self.templates.node(value, scope).map_err(Failed::from)?;
            let value = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Failed(at, format!("`{name}` is not a valid header name")))?;
            out.push((name.to_owned(), value));
        }
        Ok(out)
    }

    fn capture(
        &self,
        captures: &SpannedMap<Capture>,
        resp: &Response,
        scope: &mut Scope,
    ) -> Result<(), Failed> {
        for (name, at, c) in captures.iter() {
            let value = match (&c.json, &c.header) {
                (Some(path), _) => {
                    let found = resp.select(&path.value);
                    match found.as_slice() {
                        [one] => one.clone(),
                        [] => {
                            return Err(Failed(
                                pos(path),
                                format!(
                                    "capture `{name}`: {} selects nothing in the response",
                                    path.value
                                ),
                            ))
                        }
                        many => Value::Array(many.to_vec()),
                    }
                }
                (None, Some(header)) => match resp.header(&header.value) {
                    Some(v) => Value::String(v),
                    None => {
                        return Err(Failed(
                            pos(header),
                            format!(
                                "capture `{name}`: the response has no `{}` header",
                                header.value
                            ),
                        ))
                    }
                },
                _ => return Err(Failed(at, format!("capture `{name}` has no source"))),
            };
            scope.insert(name.to_owned(), value);
        }
        Ok(())
    }
}

/// One attempt's response checked: what did not hold goes on `attempt`. Returns where the first
/// failure is written (the request, for a transport failure) and whether one of `eventually`'s
/// `fail_fast` values was reached.
fn judge(
    expect: &Expectations,
    eventually: Option<&Poll>,
    response: &Result<Response, String>,
    request_at: Pos,
    attempt: &mut Attempt,
    report: &mut StepReport,
) -> (Pos, bool) {
    let mut fail_fast = false;
    let mut first_at = request_at;
    match response {
        Ok(resp) => {
            let failures = expect.check(resp);
            if let Some((at, _)) = failures.first() {
                first_at = *at;
            }
            attempt.failures = failures.into_iter().map(|(_, f)| f).collect();
            if let Some(ev) = eventually {
                fail_fast = !ev.fail_fast.is_empty()
                    && ev.fail_fast.iter().all(|c| c.check(resp).is_none());
            }
            report.received = Some(resp.excerpt());
        }
        Err(e) => attempt.failures.push(e.clone()),
    }
    (first_at, fail_fast)
}

/// A `fail_fast` value was reached: polling longer cannot help.
fn gave_up(ev: &Poll, resp: &Response, failures: &[String], attempts: usize) -> Failed {
    let why = ev
        .fail_fast
        .iter()
        .map(|c| c.describe(resp))
        .collect::<Vec<_>>()
        .join(", ");
    Failed(
        ev.fail_fast.first().map_or(ev.at, |c| c.at),
        format!(
            "gave up after attempt {attempts}: a terminal value was reached ({why}); {}",
            failures.join("; ")
        ),
    )
}

/// `eventually`'s deadline passed.
fn timed_out(ev: &Poll, step_start: Instant, failures: &[String], attempts: usize) -> Failed {
    Failed(
        ev.at,
        format!(
            "still not holding after {} ({attempts} attempts): {}",
            humantime::format_duration(Duration::from_millis(
                step_start.elapsed().as_millis() as u64
            )),
            failures.join("; ")
        ),
    )
}
