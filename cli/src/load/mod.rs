//! `msctl load`: the journeys users already wrote, run as load on goose.
//!
//! Every simulated user runs a journey's steps in order, as one goose transaction, with the
//! journey runner of `msctl test journeys` (captures, templating, `eventually`, `finally`):
//! its requests go out through the goose user's own client ([`GooseTransport`]), so goose's
//! metrics, reports and thresholds see each one, named `journey / step`. A step whose
//! expectations fail marks its request failed and ends that journey run; the other users go on.
//!
//! - [`baseline`] keeps a run's figures and compares later runs with them.
//! - [`live`] is the progress line while it runs.
//! - [`profile`] reads load files (`loadtests/*.yaml`).
//! - [`rules`] maps k6-style thresholds onto goose's.
//! - [`run`](run()) is one whole run: the request checked, the attack observed, the verdict.
//! - [`sampler`] samples the services' CPU, memory and error lines during the run (the report's
//!   stack section).
//! - [`summary`] is the per-step table printed at the end.

pub mod baseline;
pub mod live;
pub mod profile;
pub mod rules;
mod run;
pub mod sampler;
pub mod summary;

pub use run::{prepare, run, Dirs, Prepared, Report, Request};

use crate::error::{Error, Result};
use crate::journeys::parse::Loaded;
use crate::journeys::run::{Runner, Transport};
use goose::config::GooseConfiguration;
use goose::goose::{GooseRequest, GooseUser, Scenario, Transaction, TransactionFunction};
use goose::metrics::{GooseMetrics, GooseRequestMetric};
use goose::{GooseAttack, GooseError};
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// What to run: journeys with weights, how many users, for how long.
pub struct Plan {
    pub journeys: Vec<(Arc<Loaded>, usize)>,
    pub users: usize,
    /// Time to start every user (they start evenly over it).
    pub ramp: Duration,
    /// Run this long once the users are started...
    pub duration: Option<Duration>,
    /// ...or until every user ran its journeys this many times.
    pub iterations: Option<usize>,
    /// Each user's think time between two journey runs (none: back to back).
    pub pause: Option<Duration>,
    /// k6-style rules ([`rules::to_goose`]).
    pub thresholds: Vec<String>,
    /// goose's own reports (`.html`, `.json`, `.md`), by extension.
    pub reports: Vec<String>,
    /// Where goose's console text goes (it prints on stdout, which is msctl's).
    pub console: std::path::PathBuf,
}

/// What a run measured, and how its thresholds came out.
pub struct Outcome {
    pub metrics: GooseMetrics,
    /// Journey runs (transactions) that completed and that failed.
    pub journeys_passed: usize,
    pub journeys_failed: usize,
    /// Whether every threshold held.
    pub passed: bool,
    /// Why steps failed, as the journey runner words it, and how often.
    pub errors: Vec<summary::ErrorCount>,
}

/// Failure reasons by (step, reason), counted by every user's transport.
type Reasons = Arc<Mutex<HashMap<(String, String), usize>>>;

/// The goose configuration of a plan; `host` is where relative paths would go (journeys build
/// full URLs, so it is only goose's required default).
fn configuration(plan: &Plan, host: &str) -> Result<GooseConfiguration> {
    let mut c = GooseConfiguration::default();
    c.host = Some(host.to_owned());
    c.users = Some(plan.users.max(1));
    let ramp = plan.ramp.as_secs_f64();
    c.increase_rate = Some(if ramp > 0.0 {
        format!("{:.3}", plan.users.max(1) as f64 / ramp)
    } else {
        plan.users.max(1).to_string()
    });
    c.run_time = plan.duration.map(|d| format!("{}s", d.as_secs().max(1)));
    c.iterations = plan.iterations;
    c.threshold = plan
        .thresholds
        .iter()
        .map(|r| rules::to_goose(r))
        .collect::<std::result::Result<_, _>>()
        .map_err(Error::Usage)?;
    c.report_file = plan.reports.clone();
    // msctl prints its own summary; no controllers listening on ports.
    c.no_print_metrics = true;
    c.no_telnet = true;
    c.quiet = 1;
    Ok(c)
}

/// Runs the plan as [`attack`] does, with the progress line on `bar` (redrawn every
/// [`live::TICK`]) and, when `sample_stack`, the stack section ([`sampler`]) of the run.
pub async fn run_observed(
    plan: &Plan,
    runner: Arc<Runner>,
    host: &str,
    bar: indicatif::ProgressBar,
    sample_stack: bool,
) -> Result<(Outcome, Vec<sampler::ServiceUsage>)> {
    let sampler = match sample_stack {
        true => Some(sampler::Sampler::start(&runner.targets).await),
        false => None,
    };
    let progress = Arc::new(live::Live::default());
    let ticker = tokio::spawn(redraw(bar, progress.clone(), plan.users));
    let outcome = attack(plan, runner.clone(), host, progress).await;
    ticker.abort();
    let usage = match sampler {
        Some(s) => s.finish(&runner.targets).await,
        None => Vec::new(),
    };
    Ok((outcome?, usage))
}

/// Redraws the progress line until aborted.
async fn redraw(bar: indicatif::ProgressBar, progress: Arc<live::Live>, users: usize) {
    let mut window = live::Window::default();
    loop {
        tokio::time::sleep(live::TICK).await;
        bar.set_message(window.tick(&progress, live::TICK).line(users));
    }
}

/// Runs the plan against the stack `runner` reaches; every request is also told to `live`.
pub async fn attack(
    plan: &Plan,
    runner: Arc<Runner>,
    host: &str,
    live: Arc<live::Live>,
) -> Result<Outcome> {
    let passed = Arc::new(AtomicUsize::new(0));
    let failed = Arc::new(AtomicUsize::new(0));
    let reasons: Reasons = Arc::default();
    let mut attack = GooseAttack::initialize_with_config(configuration(plan, host)?)
        .map_err(|e| Error::Usage(format!("load plan: {e}")))?;
    for (loaded, weight) in &plan.journeys {
        let transaction = transaction(
            runner.clone(),
            loaded.clone(),
            passed.clone(),
            failed.clone(),
            reasons.clone(),
            live.clone(),
        );
        let refused = |e: GooseError| Error::Usage(format!("{}: {e}", loaded.name()));
        let mut scenario = Scenario::new(loaded.name())
            .set_weight((*weight).max(1))
            .map_err(refused)?
            .register_transaction(transaction);
        if let Some(pause) = plan.pause {
            scenario = scenario.set_wait_time(pause, pause).map_err(refused)?;
        }
        attack = attack.register_scenario(scenario);
    }
    let executed = {
        let _quiet = crate::ui::StdoutTo::file(&plan.console)?;
        attack.execute().await
    };
    let (metrics, all_held) = match executed {
        Ok(metrics) => (metrics, true),
        Err(GooseError::ThresholdsFailed { metrics, .. }) => (*metrics.0, false),
        Err(e) => return Err(Error::Environment(format!("the load run failed: {e}"))),
    };
    let errors = summary::counted(&reasons.lock().expect("lock"));
    Ok(Outcome {
        metrics,
        journeys_passed: passed.load(Ordering::Relaxed),
        journeys_failed: failed.load(Ordering::Relaxed),
        passed: all_held,
        errors,
    })
}

/// One journey run per call: the runner with the user's transport.
fn transaction(
    runner: Arc<Runner>,
    loaded: Arc<Loaded>,
    passed: Arc<AtomicUsize>,
    failed: Arc<AtomicUsize>,
    reasons: Reasons,
    live: Arc<live::Live>,
) -> Transaction {
    let name = loaded.name().to_owned();
    let function: TransactionFunction = Arc::new(move |user: &mut GooseUser| {
        let runner = runner.clone();
        let loaded = loaded.clone();
        let passed = passed.clone();
        let failed = failed.clone();
        let reasons = reasons.clone();
        let live = live.clone();
        Box::pin(async move {
            let mut out = GooseTransport {
                journey: loaded.name().to_owned(),
                user,
                last: None,
                reasons,
                live,
            };
            let report = runner.run_with(&loaded, &mut out).await;
            let counter = if report.passed { &passed } else { &failed };
            counter.fetch_add(1, Ordering::Relaxed);
            Ok(())
        })
    });
    Transaction::new(function).set_name(&name)
}

/// A journey's requests through a goose user: each is a goose request named `journey / step`.
struct GooseTransport<'u> {
    journey: String,
    user: &'u mut GooseUser,
    /// The last request's metric, to mark failed when the step's expectations fail.
    last: Option<GooseRequestMetric>,
    reasons: Reasons,
    live: Arc<live::Live>,
}

#[async_trait::async_trait]
impl Transport for GooseTransport<'_> {
    fn client(&self) -> &reqwest::Client {
        &self.user.client
    }

    async fn send(
        &mut self,
        step: &str,
        request: reqwest::RequestBuilder,
    ) -> std::result::Result<reqwest::Response, String> {
        let name = format!("{} / {step}", self.journey);
        let goose_request = GooseRequest::builder()
            .name(name.as_str())
            .set_request_builder(request)
            .build();
        match self.user.request(goose_request).await {
            Ok(response) => {
                self.live.request(
                    self.user.weighted_users_index,
                    response.request.response_time_micros(),
                );
                self.last = Some(response.request);
                response.response.map_err(|e| e.to_string())
            }
            Err(e) => Err(e.to_string()),
        }
    }

    fn passed(&mut self, _step: &str) {
        if let Some(metric) = self.last.as_mut() {
            let _ = self.user.set_success(metric);
        }
    }

    fn failed(&mut self, step: &str, why: &str) {
        self.live.failure();
        *self
            .reasons
            .lock()
            .expect("lock")
            .entry((format!("{} / {step}", self.journey), why.to_owned()))
            .or_default() += 1;
        if let Some(mut metric) = self.last.take() {
            // It returns the error a transaction would pass up; the journey already stopped.
            let _ = self.user.set_failure(why, &mut metric, None, None);
        }
    }
}
