//! Running one journey: variables, queues bound for its message steps, steps in order (the
//! rest skipped after a failure), `finally` always, and the stack's log lines after a failure.

use super::matcher::{self, show, Op};
use super::model::{Eventually, ExpectMessage, Node, Request, Step};
use super::parse::{self, Loaded, StatusRule};
use super::rabbitmq::{Inbox, Listener, Message};
use super::report::{Attempt, JourneyReport, Outcome, StepReport};
use super::template::{Scope, Templates};
use crate::diag::{pos, Pos, Spanned, SpannedMap};
use crate::testing::compact_log_line;
use crate::testing::targets::Targets;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::{Duration, Instant, SystemTime};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);
const LOG_LINES_PER_SERVICE: usize = 12;

pub struct Runner {
    pub http: reqwest::Client,
    pub targets: Targets,
    pub templates: Templates,
    /// What journeys see as `env`: the process environment, unless [`Runner::with_env`].
    pub env: Map<String, Value>,
}

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
struct Direct<'a>(&'a reqwest::Client);

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

/// The ids one run sends with every request.
#[derive(Debug, Clone)]
pub struct RunIds {
    pub run_id: String,
    pub trace_id: String,
    pub request_id: String,
}

impl RunIds {
    pub fn new() -> Self {
        let trace_id = format!("{:032x}", rand::random::<u128>());
        let run_id = trace_id[..10].to_owned();
        RunIds {
            request_id: format!("journey-{run_id}"),
            run_id,
            trace_id,
        }
    }

    /// W3C `traceparent`: the run's trace, a new span per request, sampled.
    fn traceparent(&self) -> String {
        format!(
            "00-{}-{:016x}-01",
            self.trace_id,
            rand::random::<u64>().max(1)
        )
    }
}

impl Default for RunIds {
    fn default() -> Self {
        Self::new()
    }
}

/// A failure with the place in the file it comes from.
struct Failed(Pos, String);

impl From<(Pos, String)> for Failed {
    fn from((at, message): (Pos, String)) -> Self {
        Failed(at, message)
    }
}

impl From<crate::diag::Diagnostic> for Failed {
    fn from(d: crate::diag::Diagnostic) -> Self {
        Failed(d.pos, d.message)
    }
}

impl Runner {
    pub fn new(targets: Targets) -> Self {
        Runner {
            http: reqwest::Client::builder()
                // Journeys check redirects themselves (a 201's Location, a 303).
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("HTTP client"),
            targets,
            templates: Templates::default(),
            env: std::env::vars().map(|(k, v)| (k, Value::from(v))).collect(),
        }
    }

    /// `env` for the journeys: `vars`, then the process environment over them (so the project's
    /// `.env` is seen, and a variable set for the run wins).
    pub fn with_env(mut self, vars: impl IntoIterator<Item = (String, String)>) -> Self {
        let mut env: Map<String, Value> =
            vars.into_iter().map(|(k, v)| (k, Value::from(v))).collect();
        env.extend(std::env::vars().map(|(k, v)| (k, Value::from(v))));
        self.env = env;
        self
    }

    pub async fn run(&self, loaded: &Loaded) -> JourneyReport {
        self.run_with(loaded, &mut Direct(&self.http)).await
    }

    /// One run of the journey, its HTTP requests sent through `out`.
    pub async fn run_with(&self, loaded: &Loaded, out: &mut dyn Transport) -> JourneyReport {
        let ids = RunIds::new();
        let started = Instant::now();
        let started_at = SystemTime::now();
        let journey = &loaded.journey;
        let mut scope = builtins(&ids, &self.env);
        let mut steps = Vec::new();
        let mut failed = false;

        let setup = self.setup(loaded, &mut scope).await;
        let (listeners, inboxes) = match setup {
            Ok(ok) => ok,
            Err(Failed(at, message)) => {
                failed = true;
                steps.push(StepReport {
                    name: "(set-up)".into(),
                    at: loaded.at(at),
                    finally: false,
                    outcome: Outcome::Failed,
                    duration_ms: started.elapsed().as_millis() as u64,
                    action: "variables and message queues".into(),
                    failures: vec![message],
                    attempts: Vec::new(),
                    received: None,
                });
                (Vec::new(), HashMap::new())
            }
        };
        let all = journey
            .steps
            .iter()
            .map(|s| (s, false))
            .chain(journey.finally.iter().map(|s| (s, true)));
        for (index, (step, finally)) in all.enumerate() {
            if failed && !finally {
                steps.push(StepReport::skipped(
                    &step.name.value,
                    loaded.at(pos(&step.name)),
                    false,
                ));
                continue;
            }
            let mut report = self
                .step(loaded, step, &ids, &mut scope, inboxes.get(&index), out)
                .await;
            report.finally = finally;
            failed |= report.outcome == Outcome::Failed;
            steps.push(report);
        }
        for listener in listeners {
            listener.close().await;
        }
        let logs = if failed {
            self.log_lines(&ids, started_at).await
        } else {
            Vec::new()
        };
        JourneyReport {
            name: journey.name.value.clone(),
            file: loaded.file.display().to_string(),
            passed: !failed,
            duration_ms: started.elapsed().as_millis() as u64,
            run_id: ids.run_id.clone(),
            trace_id: ids.trace_id.clone(),
            request_id: ids.request_id.clone(),
            steps,
            logs,
        }
    }

    /// Renders the variables and binds a queue for every message step (indexed like the
    /// steps, `finally` after `steps`).
    async fn setup(
        &self,
        loaded: &Loaded,
        scope: &mut Scope,
    ) -> Result<(Vec<Listener>, HashMap<usize, Inbox>), Failed> {
        let journey = &loaded.journey;
        for (name, _, node) in journey.variables.iter() {
            let value = self.templates.node(node, scope).map_err(Failed::from)?;
            scope.insert(name.to_owned(), value);
        }
        let mut listeners: HashMap<String, Listener> = HashMap::new();
        let mut inboxes = HashMap::new();
        for (index, step) in journey.steps.iter().chain(&journey.finally).enumerate() {
            let Some(m) = &step.expect_message else {
                continue;
            };
            let m = &m.value;
            let exchange = self.text(&m.exchange, scope)?;
            let key = self.text(&m.routing_key, scope)?;
            let broker = m
                .broker
                .as_ref()
                .map(|b| b.value.clone())
                .unwrap_or_else(|| self.targets.roles.broker.clone());
            if !listeners.contains_key(&broker) {
                let at = pos(&m.exchange);
                let url = self
                    .targets
                    .amqp(&broker)
                    .await
                    .map_err(|e| Failed(at, e))?;
                let listener = Listener::connect(&url).await.map_err(|e| Failed(at, e))?;
                listeners.insert(broker.clone(), listener);
            }
            let inbox = listeners[&broker]
                .bind(&exchange, &key)
                .await
                .map_err(|e| Failed(pos(&m.exchange), e))?;
            inboxes.insert(index, inbox);
        }
        Ok((listeners.into_values().collect(), inboxes))
    }

    fn text(&self, s: &Spanned<String>, scope: &Scope) -> Result<String, Failed> {
        self.templates.text(s, scope).map_err(Failed::from)
    }

    async fn step(
        &self,
        loaded: &Loaded,
        step: &Step,
        ids: &RunIds,
        scope: &mut Scope,
        inbox: Option<&Inbox>,
        out: &mut dyn Transport,
    ) -> StepReport {
        let started = Instant::now();
        let mut report = StepReport {
            name: step.name.value.clone(),
            at: loaded.at(pos(&step.name)),
            finally: false,
            outcome: Outcome::Passed,
            duration_ms: 0,
            action: String::new(),
            failures: Vec::new(),
            attempts: Vec::new(),
            received: None,
        };
        let result = match (&step.request, &step.expect_message, inbox) {
            (Some(req), _, _) => {
                let result = self
                    .http_step(step, req, ids, scope, &mut report, out)
                    .await;
                if let Err(Failed(_, why)) = &result {
                    out.failed(&step.name.value, why);
                }
                result
            }
            (_, Some(m), Some(inbox)) => {
                self.message_step(&m.value, inbox, scope, &mut report).await
            }
            _ => Err(Failed(
                pos(&step.name),
                "no queue was bound for this step (the set-up failed)".into(),
            )),
        };
        if let Err(Failed(at, message)) = result {
            report.outcome = Outcome::Failed;
            report.at = loaded.at(at);
            // The headline first; details a step added go after it.
            report.failures.insert(0, message);
        }
        report.duration_ms = started.elapsed().as_millis() as u64;
        report
    }

    async fn http_step(
        &self,
        step: &Step,
        req: &Spanned<Request>,
        ids: &RunIds,
        scope: &mut Scope,
        report: &mut StepReport,
        out: &mut dyn Transport,
    ) -> Result<(), Failed> {
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
        let mut headers = Vec::new();
        for (name, at, value) in r.headers.iter() {
            let value = self.templates.node(value, scope).map_err(Failed::from)?;
            let value = match value {
                Value::String(s) => s,
                other => other.to_string(),
            };
            reqwest::header::HeaderName::from_bytes(name.as_bytes())
                .map_err(|_| Failed(at, format!("`{name}` is not a valid header name")))?;
            headers.push((name.to_owned(), value));
        }
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
            let mut request = out
                .client()
                .request(
                    reqwest::Method::from_bytes(r.method.as_str().as_bytes()).expect("method"),
                    &url,
                )
                // Polling: no single attempt outlives the deadline by more than a moment.
                .timeout(match &eventually {
                    Some(ev) => timeout
                        .min(ev.within.saturating_sub(step_start.elapsed()))
                        .max(Duration::from_millis(200)),
                    None => timeout,
                })
                .header("traceparent", ids.traceparent())
                .header("x-request-id", &ids.request_id);
            for (n, v) in &headers {
                request = request.header(n.as_str(), v.as_str());
            }
            if let Some(b) = &body {
                request = request.body(b.clone());
            }
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
            let mut fail_fast = false;
            let mut first_at = pos(req);
            match &response {
                Ok(resp) => {
                    let failures = expect.check(resp);
                    if let Some((at, _)) = failures.first() {
                        first_at = *at;
                    }
                    attempt.failures = failures.into_iter().map(|(_, f)| f).collect();
                    if let Some(ev) = &eventually {
                        fail_fast = !ev.fail_fast.is_empty()
                            && ev.fail_fast.iter().all(|c| c.check(resp).is_none());
                    }
                    report.received = Some(resp.excerpt());
                }
                Err(e) => attempt.failures.push(e.clone()),
            }
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
                let why = ev
                    .fail_fast
                    .iter()
                    .map(|c| c.describe(response.as_ref().expect("checked")))
                    .collect::<Vec<_>>()
                    .join(", ");
                return Err(Failed(
                    ev.fail_fast.first().map_or(ev.at, |c| c.at),
                    format!(
                        "gave up after attempt {}: a terminal value was reached ({why}); {}",
                        report.attempts.len(),
                        failures.join("; ")
                    ),
                ));
            }
            let left = ev.within.saturating_sub(step_start.elapsed());
            if left.is_zero() {
                return Err(Failed(
                    ev.at,
                    format!(
                        "still not holding after {} ({} attempts): {}",
                        humantime::format_duration(Duration::from_millis(
                            step_start.elapsed().as_millis() as u64
                        )),
                        report.attempts.len(),
                        failures.join("; ")
                    ),
                ));
            }
            out.passed(&step.name.value);
            // The last attempt lands on the deadline rather than a pause before it.
            tokio::time::sleep(pause.min(left)).await;
            pause = pause.mul_f64(ev.backoff).min(ev.max_interval);
        }
    }

    fn capture(
        &self,
        captures: &SpannedMap<super::model::Capture>,
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

    fn expectations(
        &self,
        expect: &super::model::Expect,
        scope: &Scope,
    ) -> Result<Expectations, Failed> {
        let status = match &expect.status {
            Some(s) => (pos(s), parse::status_spec(s).map_err(Failed::from)?),
            None => (Pos::default(), Vec::new()),
        };
        let mut checks = Vec::new();
        for (name, at, m) in expect.headers.iter() {
            checks.push(Check::header(name, at, self.ops(m, scope)?));
        }
        checks.extend(self.json_checks(&expect.json, scope)?);
        Ok(Expectations { status, checks })
    }

    fn json_checks(
        &self,
        map: &SpannedMap<Spanned<Node>>,
        scope: &Scope,
    ) -> Result<Vec<Check>, Failed> {
        let mut checks = Vec::new();
        for (path, at, m) in map.iter() {
            let parsed = serde_json_path::JsonPath::parse(path)
                .map_err(|e| Failed(at, format!("invalid JSONPath `{path}`: {e}")))?;
            checks.push(Check {
                at,
                what: path.to_owned(),
                source: Source::Json(parsed),
                ops: self.ops(m, scope)?,
            });
        }
        Ok(checks)
    }

    fn ops(&self, m: &Spanned<Node>, scope: &Scope) -> Result<Vec<Op>, Failed> {
        matcher::compile(m, &self.templates, scope).map_err(|(at, e)| Failed(at, e))
    }

    fn eventually(&self, ev: &Eventually, scope: &Scope) -> Result<Poll, Failed> {
        let d = |s: &Option<Spanned<String>>, default: Duration| match s {
            Some(s) => parse::duration(s).map_err(|d| Failed(d.pos, d.message)),
            None => Ok(default),
        };
        Ok(Poll {
            at: pos(&ev.within),
            within: parse::duration(&ev.within).map_err(Failed::from)?,
            interval: d(&ev.interval, Duration::from_millis(100))?,
            max_interval: d(&ev.max_interval, Duration::from_secs(1))?,
            backoff: ev.backoff.unwrap_or(1.5),
            fail_fast: self.json_checks(&ev.fail_fast, scope)?,
        })
    }

    async fn message_step(
        &self,
        m: &ExpectMessage,
        inbox: &Inbox,
        scope: &Scope,
        report: &mut StepReport,
    ) -> Result<(), Failed> {
        let exchange = self.text(&m.exchange, scope)?;
        let key = self.text(&m.routing_key, scope)?;
        report.action = format!("message on {exchange} ({key})");
        let within = match &m.within {
            Some(w) => parse::duration(w).map_err(Failed::from)?,
            None => Duration::from_secs(10),
        };
        let body_checks = self.json_checks(&m.json, scope)?;
        let mut header_checks = Vec::new();
        for (name, _, matcher) in m.headers.iter() {
            header_checks.push((name.to_owned(), self.ops(matcher, scope)?));
        }
        // What a message misses; it is the one when nothing is missed.
        let misses = |msg: &Message| -> Vec<String> {
            let mut why: Vec<String> = body_checks
                .iter()
                .filter_map(|c| c.check_json(&msg.body).map(|p| format!("{}: {p}", c.what)))
                .collect();
            for (name, ops) in &header_checks {
                let found: Vec<Value> = msg.headers.get(name).cloned().into_iter().collect();
                if let Some(p) = matcher::check(ops, &found) {
                    why.push(format!("header {name}: {p}"));
                }
            }
            why
        };
        match inbox.wait(within, |m| misses(m).is_empty()).await {
            Ok(_) => Ok(()),
            Err(seen) => {
                let messages = inbox.snapshot().await;
                // The closest miss tells most: what the last message had at each path.
                if let Some(last) = messages.last() {
                    let why = misses(last);
                    report.received = Some(format!(
                        "last of {} ({}): {}",
                        messages.len(),
                        last.routing_key,
                        show(&last.body)
                    ));
                    report
                        .failures
                        .push(format!("the last message differs: {}", why.join("; ")));
                }
                Err(Failed(
                    pos(&m.routing_key),
                    format!(
                        "no matching message on `{exchange}` ({key}) within {} ({seen} messages arrived)",
                        humantime::format_duration(within)
                    ),
                ))
            }
        }
    }

    /// Log lines of the project's containers since the run started that carry its trace or
    /// request id, in time order, the last few of each service (a flood of identical requests
    /// must not hide the one line that explains the failure).
    async fn log_lines(&self, ids: &RunIds, since: SystemTime) -> Vec<String> {
        let containers = self.targets.containers().await;
        let since = since
            .duration_since(SystemTime::UNIX_EPOCH)
            .unwrap_or_default()
            .as_secs()
            .saturating_sub(1) as i64;
        let mut lines: Vec<(String, String)> = Vec::new();
        for c in containers {
            let all = self.targets.logs_since(&c.name, since).await;
            let mine: Vec<(&str, &str)> = all
                .iter()
                .filter(|l| l.contains(&ids.trace_id) || l.contains(&ids.request_id))
                .map(|l| l.split_once(' ').unwrap_or(("", l)))
                .collect();
            let cut = mine.len().saturating_sub(LOG_LINES_PER_SERVICE);
            if let (true, Some((stamp, _))) = (cut > 0, mine.get(cut)) {
                lines.push((
                    stamp.to_string(),
                    format!("{} | ({cut} earlier lines)", c.service),
                ));
            }
            for (stamp, l) in &mine[cut..] {
                lines.push((
                    stamp.to_string(),
                    format!("{} | {}", c.service, compact_log_line(l)),
                ));
            }
        }
        // RFC 3339 stamps of fixed width sort as text; stable, so a marker stays first.
        lines.sort_by(|a, b| a.0.cmp(&b.0));
        lines.into_iter().map(|(_, l)| l).collect()
    }
}

fn builtins(ids: &RunIds, env: &Map<String, Value>) -> Scope {
    let mut scope = Scope::new();
    scope.insert("run_id".into(), Value::from(ids.run_id.clone()));
    scope.insert("trace_id".into(), Value::from(ids.trace_id.clone()));
    scope.insert("request_id".into(), Value::from(ids.request_id.clone()));
    scope.insert("env".into(), Value::Object(env.clone()));
    scope
}

/// Every node `path` selects in `json`.
fn select(path: &serde_json_path::JsonPath, json: &Value) -> Vec<Value> {
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

struct Response {
    status: u16,
    headers: reqwest::header::HeaderMap,
    text: String,
    json: Option<Value>,
}

impl Response {
    async fn read(resp: reqwest::Response) -> Result<Self, String> {
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

    fn header(&self, name: &str) -> Option<String> {
        self.headers
            .get(name)
            .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned())
    }

    fn select(&self, path: &str) -> Vec<Value> {
        match (serde_json_path::JsonPath::parse(path), &self.json) {
            (Ok(p), Some(json)) => select(&p, json),
            _ => Vec::new(),
        }
    }

    fn excerpt(&self) -> String {
        let body: String = self.text.chars().take(300).collect();
        let more = if self.text.chars().count() > 300 {
            "…"
        } else {
            ""
        };
        format!("{} {body}{more}", self.status)
    }
}

struct Expectations {
    status: (Pos, Vec<StatusRule>),
    checks: Vec<Check>,
}

impl Expectations {
    /// What did not hold, each with where it is written.
    fn check(&self, resp: &Response) -> Vec<(Pos, String)> {
        let mut failures = Vec::new();
        let (at, rules) = &self.status;
        if !rules.is_empty() && !rules.iter().any(|r| r.holds(resp.status)) {
            let wanted: Vec<String> = rules.iter().map(|r| r.to_string()).collect();
            failures.push((
                *at,
                format!(
                    "status: expected {}, got {}",
                    wanted.join(" or "),
                    resp.status
                ),
            ));
        }
        failures.extend(
            self.checks
                .iter()
                .filter_map(|c| c.check(resp).map(|f| (c.at, f))),
        );
        failures
    }
}

enum Source {
    Header(String),
    Json(serde_json_path::JsonPath),
}

struct Check {
    at: Pos,
    what: String,
    source: Source,
    ops: Vec<Op>,
}

impl Check {
    fn header(name: &str, at: Pos, ops: Vec<Op>) -> Self {
        Check {
            at,
            what: format!("header {name}"),
            source: Source::Header(name.to_owned()),
            ops,
        }
    }

    fn values(&self, resp: &Response) -> Result<Vec<Value>, String> {
        match &self.source {
            Source::Header(name) => Ok(resp.header(name).map(Value::String).into_iter().collect()),
            Source::Json(path) => match &resp.json {
                Some(json) => Ok(select(path, json)),
                None => Err(format!(
                    "{}: the response body is not JSON ({})",
                    self.what,
                    resp.excerpt()
                )),
            },
        }
    }

    fn check(&self, resp: &Response) -> Option<String> {
        match self.values(resp) {
            Ok(found) => matcher::check(&self.ops, &found).map(|p| format!("{}: {p}", self.what)),
            Err(e) => Some(e),
        }
    }

    fn check_json(&self, json: &Value) -> Option<String> {
        let Source::Json(path) = &self.source else {
            return None;
        };
        let found = select(path, json);
        matcher::check(&self.ops, &found)
    }

    /// What the response has at this check's place, for "gave up because …".
    fn describe(&self, resp: &Response) -> String {
        match self.values(resp) {
            Ok(found) => format!(
                "{} is {}",
                self.what,
                found.iter().map(show).collect::<Vec<_>>().join(", ")
            ),
            Err(e) => e,
        }
    }
}

struct Poll {
    at: Pos,
    within: Duration,
    interval: Duration,
    max_interval: Duration,
    backoff: f64,
    fail_fast: Vec<Check>,
}
