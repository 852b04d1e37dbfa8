//! What a run of journeys produced, and its three renderings: the readable report, JSON
//! (`--json`, the same structs serialized) and JUnit suites (`--junit`, written by
//! [`crate::testing::junit`]).

use crate::testing::junit::{Case, CaseOutcome, Suite};
use console::style;
use serde::Serialize;
use std::fmt::Write;

#[derive(Debug, Clone, Serialize)]
pub struct JourneyReport {
    pub name: String,
    pub file: String,
    pub passed: bool,
    pub duration_ms: u64,
    pub run_id: String,
    pub trace_id: String,
    pub request_id: String,
    pub steps: Vec<StepReport>,
    /// The stack's log lines carrying this run's trace or request id (only after a failure).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    Passed,
    Failed,
    Skipped,
}

#[derive(Debug, Clone, Serialize)]
pub struct StepReport {
    pub name: String,
    /// `file:line:column` of the step.
    pub at: String,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub finally: bool,
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// `POST http://127.0.0.1:8000/orders`, or `message shop.events order.confirmed`.
    pub action: String,
    /// Why the step failed (empty when it passed).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
    /// Every try of the step (one unless `eventually`).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub attempts: Vec<Attempt>,
    /// The last response body (or last messages seen), cut short, when the step failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub received: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Attempt {
    /// Since the step started.
    pub at_ms: u64,
    pub duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// What did not hold on this attempt (empty: all held).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub failures: Vec<String>,
}

impl StepReport {
    pub fn skipped(name: &str, at: String, finally: bool) -> Self {
        StepReport {
            name: name.to_owned(),
            at,
            finally,
            outcome: Outcome::Skipped,
            duration_ms: 0,
            action: String::new(),
            failures: Vec::new(),
            attempts: Vec::new(),
            received: None,
        }
    }
}

fn secs(ms: u64) -> String {
    if ms < 1000 {
        format!("{ms} ms")
    } else {
        format!("{:.2} s", ms as f64 / 1000.0)
    }
}

/// The readable report of one journey.
pub fn render(j: &JourneyReport) -> String {
    let mut out = String::new();
    let mark = if j.passed {
        style("PASS").green().bold()
    } else {
        style("FAIL").red().bold()
    };
    let _ = writeln!(
        out,
        "{mark} {}  ({}, {})",
        style(&j.name).bold(),
        secs(j.duration_ms),
        j.file
    );
    let label = |s: &StepReport| {
        if s.finally {
            format!("finally {}", s.name)
        } else {
            s.name.clone()
        }
    };
    let width = j
        .steps
        .iter()
        .map(|s| label(s).chars().count())
        .max()
        .unwrap_or(0);
    for s in &j.steps {
        let padded = format!("{:width$}", label(s), width = width);
        let (mark, name) = match s.outcome {
            Outcome::Passed => (style("ok  ").green(), style(padded)),
            Outcome::Failed => (style("FAIL").red(), style(padded).red()),
            Outcome::Skipped => (style("skip").dim(), style(padded).dim()),
        };
        if s.outcome == Outcome::Skipped {
            let _ = writeln!(out, "  {mark} {}", name.to_string().trim_end());
            continue;
        }
        let tries = match s.attempts.len() {
            0 | 1 => String::new(),
            n => format!(", {n} attempts"),
        };
        let _ = writeln!(
            out,
            "  {mark} {name}  {}  ({}{tries})",
            s.action,
            secs(s.duration_ms)
        );
        if s.outcome == Outcome::Failed {
            let _ = writeln!(out, "       at {}", s.at);
            for f in &s.failures {
                let _ = writeln!(out, "       {} {f}", style("✗").red());
            }
            if s.attempts.len() > 1 {
                let _ = writeln!(out, "       attempts:");
                for line in attempt_lines(&s.attempts) {
                    let _ = writeln!(out, "         {line}");
                }
            }
            if let Some(body) = &s.received {
                let _ = writeln!(out, "       received: {body}");
            }
        }
    }
    if !j.passed {
        let _ = writeln!(
            out,
            "  trace id {}, request id {}",
            j.trace_id, j.request_id
        );
        if j.logs.is_empty() {
            let _ = writeln!(out, "  (no log lines of the stack carry them)");
        } else {
            let _ = writeln!(out, "  the stack's log lines for this run:");
            for l in &j.logs {
                let _ = writeln!(out, "    {l}");
            }
        }
    }
    out
}

/// One line per run of attempts that came back the same (a flood of identical 404s is one
/// line, not thousands), each with its attempt numbers and times.
fn attempt_lines(attempts: &[Attempt]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut i = 0;
    while i < attempts.len() {
        let a = &attempts[i];
        let mut j = i;
        while j + 1 < attempts.len()
            && attempts[j + 1].status == a.status
            && attempts[j + 1].failures == a.failures
        {
            j += 1;
        }
        let status = a.status.map(|s| s.to_string()).unwrap_or("-".into());
        let what = if a.failures.is_empty() {
            "all held".to_string()
        } else {
            a.failures.join("; ")
        };
        let (which, when) = if i == j {
            (format!("#{}", i + 1), format!("+{}", secs(a.at_ms)))
        } else {
            (
                format!("#{}-{}", i + 1, j + 1),
                format!("+{}..{}", secs(a.at_ms), secs(attempts[j].at_ms)),
            )
        };
        lines.push(format!("{which:<10} {when:<20} {status:>3}  {what}"));
        i = j + 1;
    }
    lines
}

/// The JUnit suites of journey runs: one suite per run, one case per step.
pub fn junit_suites(journeys: &[JourneyReport]) -> Vec<Suite> {
    journeys
        .iter()
        .map(|j| Suite {
            name: j.name.clone(),
            file: j.file.clone(),
            duration_ms: j.duration_ms,
            cases: j.steps.iter().map(|s| junit_case(j, s)).collect(),
        })
        .collect()
}

fn junit_case(j: &JourneyReport, s: &StepReport) -> Case {
    let name = if s.finally {
        format!("finally: {}", s.name)
    } else {
        s.name.clone()
    };
    let outcome = match s.outcome {
        Outcome::Passed => CaseOutcome::Passed,
        Outcome::Skipped => CaseOutcome::Skipped,
        Outcome::Failed => {
            let mut detail = format!("{}\nat {}\n", s.action, s.at);
            for f in &s.failures {
                let _ = writeln!(detail, "{f}");
            }
            if let Some(r) = &s.received {
                let _ = writeln!(detail, "received: {r}");
            }
            let _ = writeln!(
                detail,
                "trace id {}, request id {}",
                j.trace_id, j.request_id
            );
            for l in &j.logs {
                let _ = writeln!(detail, "{l}");
            }
            CaseOutcome::Failed {
                message: s.failures.first().cloned().unwrap_or_default(),
                detail,
            }
        }
    };
    Case {
        classname: j.name.clone(),
        name,
        duration_ms: s.duration_ms,
        outcome,
    }
}
