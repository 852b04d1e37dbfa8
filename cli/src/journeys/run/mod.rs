//! Running one journey: variables, queues bound for its message steps, steps in order (the
//! rest skipped after a failure), `finally` always, and the stack's log lines after a failure.
//!
//! [`transport`] is where requests go out (straight, or through a goose user) and the response
//! as checks read it; [`ids`] the trace and request ids every request carries; [`http`] a
//! request step, tried again while `eventually` allows; [`expect`] its compiled expectations;
//! [`message`] an `expect_message` step; [`logs`] the log lines of a failed run.

mod expect;
mod http;
mod ids;
mod logs;
mod message;
mod transport;

pub use ids::RunIds;
pub use transport::Transport;

use super::model::Step;
use super::parse::Loaded;
use super::rabbitmq::{Inbox, Listener};
use super::report::{JourneyReport, Outcome, StepReport};
use super::template::{Scope, Templates};
use crate::diag::{pos, Pos, Spanned};
use crate::testing::targets::Targets;
use ids::builtins;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::time::{Instant, SystemTime};
use transport::Direct;

pub struct Runner {
    pub http: reqwest::Client,
    pub targets: Targets,
    pub templates: Templates,
    /// What journeys see as `env`: the process environment, unless [`Runner::with_env`].
    pub env: Map<String, Value>,
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
}
