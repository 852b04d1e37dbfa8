//! One whole `msctl load` run: the request checked (profile or journeys, thresholds, the
//! baseline to compare with) before anything is sent, the attack observed, then the figures,
//! the baseline kept or compared, and the verdict. The command only parses and prints.
//!
//! The verdict follows Locust rather than k6 where they differ: a run with failed journey runs
//! fails (exit 1) unless a threshold judges failures (`rate(failed) < 5%`) or the user allows
//! them (`--allow-failures`); a run in which no journey ran at all never passes.

use super::summary::{self, ErrorCount, RuleResult, StepFigures};
use super::{baseline, profile, rules, sampler, Outcome, Plan};
use crate::error::{Error, Result};
use crate::journeys::discover;
use crate::journeys::parse::Loaded;
use crate::journeys::run::Runner;
use crate::stack::Source;
use crate::testing::junit::{Case, CaseOutcome, Suite};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

/// What the user asked for; unset values come from the profile, then the defaults.
#[derive(Debug, Default, Clone)]
pub struct Request {
    /// A profile's name, or journey names or files (none: every journey).
    pub names: Vec<String>,
    pub users: Option<usize>,
    pub ramp: Option<Duration>,
    pub pause: Option<Duration>,
    pub duration: Option<Duration>,
    pub iterations: Option<usize>,
    pub thresholds: Vec<String>,
    pub reports: Vec<PathBuf>,
    pub save_baseline: Option<String>,
    pub baseline: Option<String>,
    pub max_regression: Option<f64>,
    /// Failed journey runs do not fail the run (thresholds still do).
    pub allow_failures: bool,
    /// Sample the services' CPU, memory and error lines during the run.
    pub sample_stack: bool,
}

/// Where a project keeps what `load` reads and writes, next to its stack file.
#[derive(Debug, Clone)]
pub struct Dirs {
    pub journeys: PathBuf,
    pub profiles: PathBuf,
    pub baselines: PathBuf,
    /// goose's console text (it prints on stdout, which is msctl's).
    pub console: PathBuf,
}

impl Dirs {
    pub fn beside(source: &Source) -> Dirs {
        Dirs {
            journeys: source.beside(crate::journeys::DIR),
            profiles: source.beside(profile::DIR),
            baselines: source.beside(baseline::DIR),
            console: source.beside("target/msctl-load/goose.txt"),
        }
    }
}

/// A request checked against the files: nothing has been sent yet.
pub struct Prepared {
    plan: Plan,
    before: Option<baseline::Baseline>,
    request: Request,
    dirs: Dirs,
}

impl Prepared {
    /// `10 users on 2 journeys, for 30s`.
    pub fn describe(&self) -> String {
        let length = match (self.plan.duration, self.plan.iterations) {
            (_, Some(n)) => format!("{n} iterations each"),
            (Some(d), _) => format!("for {}", humantime::format_duration(d)),
            _ => String::new(),
        };
        format!(
            "{} users on {} journeys, {length}",
            self.plan.users,
            self.plan.journeys.len()
        )
    }
}

/// Reads the profile or journeys, checks every threshold and finds the baseline to compare
/// with: every input problem is an error here (exit 2), before anything is sent.
pub fn prepare(request: Request, dirs: Dirs) -> Result<Prepared> {
    let (profile, journeys) = pick(&request.names, &dirs)?;
    let mut thresholds = profile
        .as_ref()
        .map(|p| p.thresholds.clone())
        .unwrap_or_default();
    thresholds.extend(request.thresholds.iter().cloned());
    for rule in &thresholds {
        rules::to_goose(rule).map_err(Error::Usage)?;
    }
    let from_profile = |f: fn(&profile::Checked) -> Option<Duration>| profile.as_ref().and_then(f);
    let (duration, iterations) = run_length(&request, profile.as_ref());
    let plan = Plan {
        journeys,
        users: request
            .users
            .or(profile.as_ref().and_then(|p| p.users))
            .unwrap_or(10),
        ramp: request
            .ramp
            .or(from_profile(|p| p.ramp))
            .unwrap_or_default(),
        pause: request.pause.or(from_profile(|p| p.pause)),
        duration,
        iterations,
        thresholds,
        reports: request
            .reports
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        console: dirs.console.clone(),
    };
    let before = match &request.baseline {
        Some(name) => Some(baseline::load(&dirs.baselines, name)?),
        None => None,
    };
    Ok(Prepared {
        plan,
        before,
        request,
        dirs,
    })
}

type Picked = (Option<profile::Checked>, Vec<(Arc<Loaded>, usize)>);

/// One name that is a file in loadtests/: a profile, which picks its journeys. Otherwise
/// journeys; a profile among journeys is refused by name.
fn pick(names: &[String], dirs: &Dirs) -> Result<Picked> {
    let profile_of =
        |name: &str| Some(dirs.profiles.join(format!("{name}.yaml"))).filter(|f| f.is_file());
    if let [one] = names {
        if let Some(file) = profile_of(one) {
            // Every journey is read once: its names check the profile, which then picks.
            let all: Vec<Arc<Loaded>> = discover(&dirs.journeys, &[])?
                .into_iter()
                .map(Arc::new)
                .collect();
            let known: Vec<&str> = all.iter().map(|l| l.name()).collect();
            let p = profile::load(&file, &known)?;
            let picked = p
                .journeys
                .iter()
                .filter_map(|(name, weight)| {
                    let l = all.iter().find(|l| l.name() == name)?;
                    Some((l.clone(), *weight))
                })
                .collect();
            return Ok((Some(p), picked));
        }
    }
    if let Some(name) = names.iter().find(|n| profile_of(n).is_some()) {
        let others: Vec<&str> = names
            .iter()
            .filter(|n| *n != name)
            .map(String::as_str)
            .collect();
        return Err(Error::Usage(format!(
            "`{name}` is a load profile ({}), which picks its own journeys: it cannot be mixed with journeys ({}); run `msctl load {name}`, or name journeys only",
            dirs.profiles.join(format!("{name}.yaml")).display(),
            others.join(", ")
        )));
    }
    let journeys = discover(&dirs.journeys, names)?
        .into_iter()
        .map(|l| (Arc::new(l), 1))
        .collect();
    Ok((None, journeys))
}

/// How long the users run: the command line first, then the profile, else 30 s. A duration
/// and a number of iterations exclude each other.
fn run_length(
    request: &Request,
    profile: Option<&profile::Checked>,
) -> (Option<Duration>, Option<usize>) {
    match (request.duration, request.iterations, profile) {
        (Some(d), _, _) => (Some(d), None),
        (None, Some(n), _) => (None, Some(n)),
        (None, None, Some(p)) if p.iterations.is_some() => (None, p.iterations),
        (None, None, Some(p)) if p.duration.is_some() => (p.duration, None),
        _ => (Some(Duration::from_secs(30)), None),
    }
}

/// What a run measured and how it is judged.
pub struct Report {
    pub outcome: Outcome,
    pub steps: Vec<StepFigures>,
    pub rules: Vec<RuleResult>,
    pub usage: Vec<sampler::ServiceUsage>,
    pub baseline: Option<(String, Vec<baseline::Delta>)>,
    /// Where `--save-baseline` kept this run's figures.
    pub saved: Option<PathBuf>,
    allow_failures: bool,
    failures_judged: bool,
    max_regression: Option<f64>,
    started: Instant,
}

/// Runs the prepared plan against the stack `runner` reaches, with the progress line on `bar`.
pub async fn run(
    prepared: Prepared,
    runner: Arc<Runner>,
    bar: indicatif::ProgressBar,
) -> Result<Report> {
    let Prepared {
        plan,
        before,
        request,
        dirs,
    } = prepared;
    let started = Instant::now();
    // Journeys build full URLs; goose only needs a default host.
    let host = runner
        .targets
        .gateway()
        .await
        .unwrap_or_else(|_| "http://127.0.0.1".into());
    let (outcome, usage) =
        super::run_observed(&plan, runner, &host, bar, request.sample_stack).await?;
    let steps = summary::steps(&outcome.metrics);
    let saved = match &request.save_baseline {
        Some(name) => Some(baseline::save(&dirs.baselines, name, &steps)?),
        None => None,
    };
    let baseline = before.map(|b| {
        let deltas = baseline::compare(&b, &steps, request.max_regression);
        (b.name, deltas)
    });
    Ok(Report {
        rules: summary::rules(&outcome.metrics),
        outcome,
        steps,
        usage,
        baseline,
        saved,
        allow_failures: request.allow_failures,
        failures_judged: plan.thresholds.iter().any(|r| rules::judges_failures(r)),
        max_regression: request.max_regression,
        started,
    })
}

impl Report {
    pub fn journey_runs(&self) -> usize {
        self.outcome.journeys_passed + self.outcome.journeys_failed
    }

    pub fn requests(&self) -> usize {
        let r = self.outcome.metrics.requests.values();
        r.map(|r| r.success_count + r.fail_count).sum()
    }

    pub fn errors(&self) -> &[ErrorCount] {
        &self.outcome.errors
    }

    /// Thresholds and regressions decide first (exit 99); then failed journey runs fail the run
    /// (exit 1) unless a threshold judged failures or they were allowed; a run of nothing fails.
    pub fn verdict(&self) -> Result<()> {
        let mut failed: Vec<String> = self
            .rules
            .iter()
            .filter(|r| !r.passed)
            .map(|r| r.rule.clone())
            .collect();
        let deltas = self.baseline.iter().flat_map(|(_, d)| d);
        failed.extend(deltas.filter(|d| d.regressed).map(|d| {
            format!(
                "{} regressed more than {}% against the baseline",
                d.name,
                self.max_regression.unwrap_or_default()
            )
        }));
        if !failed.is_empty() {
            return Err(Error::ThresholdsFailed { failed });
        }
        if self.journey_runs() == 0 {
            return Err(Error::NothingChecked(
                "no journey run completed: the run measured nothing (a longer --duration, or fewer --users?)".into(),
            ));
        }
        let failed = self.outcome.journeys_failed;
        if failed > 0 && !self.allow_failures && !self.failures_judged {
            return Err(Error::JourneysFailed {
                failed,
                total: self.journey_runs(),
            });
        }
        Ok(())
    }

    /// One test case per threshold, and one for the journey runs.
    pub fn junit(&self) -> Suite {
        let mut cases: Vec<Case> = self
            .rules
            .iter()
            .map(|r| {
                case(
                    &r.rule,
                    r.passed,
                    format!("{} (observed {})", r.rule, r.observed),
                )
            })
            .collect();
        let runs = self.journey_runs();
        let failed = self.outcome.journeys_failed;
        let judged = self.allow_failures || self.failures_judged;
        cases.push(case(
            "journey runs",
            runs > 0 && (failed == 0 || judged),
            format!("{failed} of {runs} journey runs failed"),
        ));
        Suite {
            name: "thresholds".into(),
            file: String::new(),
            duration_ms: self.started.elapsed().as_millis() as u64,
            cases,
        }
    }

    /// The run as the dashboard's Runs page shows it: each threshold, then each step with its
    /// figures (a load run's requests are too many to link each to a trace: the reasons of
    /// failures are counted per step instead).
    pub fn record(&self) -> crate::runs::Run {
        let mut items: Vec<crate::runs::Item> = self
            .rules
            .iter()
            .map(|r| crate::runs::Item {
                name: format!("threshold {}", r.rule),
                passed: r.passed,
                detail: format!("observed {}", r.observed),
                trace_id: None,
            })
            .collect();
        items.extend(self.steps.iter().map(|s| {
            let reasons: Vec<String> = self
                .outcome
                .errors
                .iter()
                .filter(|e| e.step == s.name)
                .map(|e| format!("{} ×{}", e.error, e.count))
                .collect();
            crate::runs::Item {
                name: s.name.clone(),
                passed: s.failed == 0,
                detail: format!(
                    "{} requests, {} failed, p50 {:.1} ms, p95 {:.1} ms, {:.1}/s{}",
                    s.count,
                    s.failed,
                    s.p50_ms,
                    s.p95_ms,
                    s.rps,
                    if reasons.is_empty() {
                        String::new()
                    } else {
                        format!(": {}", reasons.join("; "))
                    }
                ),
                trace_id: None,
            }
        }));
        let elapsed = self.started.elapsed();
        crate::runs::Run {
            kind: "load".into(),
            started_at: crate::runs::now().saturating_sub(elapsed.as_secs()),
            duration_ms: elapsed.as_millis() as u64,
            passed: self.verdict().is_ok(),
            summary: format!(
                "{} requests, {} journey runs ({} failed)",
                self.requests(),
                self.journey_runs(),
                self.outcome.journeys_failed
            ),
            items,
        }
    }

    /// The whole run as `--json` prints it.
    pub fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "passed": self.verdict().is_ok(),
            "seconds": self.outcome.metrics.duration,
            "journeys": {"passed": self.outcome.journeys_passed, "failed": self.outcome.journeys_failed},
            "steps": self.steps,
            "errors": self.outcome.errors,
            "thresholds": self.rules,
            "stack": self.usage,
            "baseline": self.baseline.as_ref().map(|(name, steps)| serde_json::json!({"name": name, "steps": steps})),
        })
    }

    /// The per-step table, thresholds, the stack section, the baseline and the verdict line.
    pub fn render(&self) -> String {
        let mut out = summary::render(&self.steps, &self.outcome.errors, &self.rules);
        out.push_str(&sampler::render(&self.usage));
        if let Some((name, deltas)) = &self.baseline {
            out.push_str(&baseline::render(name, deltas));
        }
        out.push_str(&format!(
            "{}: {} journey runs, {} failed, in {} s\n",
            if self.verdict().is_ok() {
                "passed"
            } else {
                "FAILED"
            },
            self.journey_runs(),
            self.outcome.journeys_failed,
            self.outcome.metrics.duration
        ));
        out
    }
}

fn case(name: &str, passed: bool, message: String) -> Case {
    Case {
        classname: "msctl.load".into(),
        name: name.to_owned(),
        duration_ms: 0,
        outcome: match passed {
            true => CaseOutcome::Passed,
            false => CaseOutcome::Failed {
                message,
                detail: String::new(),
            },
        },
    }
}
