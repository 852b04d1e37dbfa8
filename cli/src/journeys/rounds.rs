//! Rounds of journeys: once, `--repeat N` times, or `--every 30s` until Ctrl-C (a synthetic
//! monitor), with per-journey tallies and the verdict over every run.

use super::report::JourneyReport;
use super::Tallies;
use crate::error::{Error, Result};
use std::future::Future;
use std::time::{Duration, Instant};

/// How often the journeys run.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    /// Rounds to run back to back (without `every`).
    pub repeat: u32,
    /// Run a round every this long until Ctrl-C.
    pub every: Option<Duration>,
}

/// Every run of every round.
pub struct Runs {
    pub all: Vec<JourneyReport>,
    pub tallies: Tallies,
    pub rounds: u32,
    /// A monitor stopped by Ctrl-C.
    pub interrupted: bool,
    pub started: Instant,
}

impl Runs {
    /// The run as the dashboard's Runs page shows it: each journey run, linked to its trace
    /// (every request of a journey run carries the run's `traceparent`).
    pub fn record(&self) -> crate::runs::Run {
        let items = self
            .all
            .iter()
            .take(500)
            .map(|r| {
                let failed_step = r
                    .steps
                    .iter()
                    .find(|s| s.outcome == crate::journeys::report::Outcome::Failed);
                crate::runs::Item {
                    name: r.name.clone(),
                    passed: r.passed,
                    detail: match failed_step {
                        Some(s) => format!(
                            "step `{}` ({}): {}",
                            s.name,
                            s.action,
                            s.failures.join("; ")
                        ),
                        None => format!("{} steps, {} ms", r.steps.len(), r.duration_ms),
                    },
                    trace_id: Some(r.trace_id.clone()),
                }
            })
            .collect();
        let elapsed = self.started.elapsed();
        crate::runs::Run {
            kind: "journeys".into(),
            started_at: crate::runs::now().saturating_sub(elapsed.as_secs()),
            duration_ms: elapsed.as_millis() as u64,
            passed: self.verdict().is_ok(),
            summary: format!(
                "{} journey runs, {} failed, {} round(s)",
                self.all.len(),
                self.failed(),
                self.rounds
            ),
            items,
        }
    }

    pub fn failed(&self) -> usize {
        self.all.iter().filter(|r| !r.passed).count()
    }

    /// Passed only when journeys ran and none failed.
    pub fn verdict(&self) -> Result<()> {
        match (self.all.len(), self.failed()) {
            (0, _) => Err(Error::NothingChecked(
                "no journey run completed (stopped before the first round ended)".into(),
            )),
            (_, 0) => Ok(()),
            (total, failed) => Err(Error::JourneysFailed { failed, total }),
        }
    }
}

/// Runs `round` on `schedule`; after each, `after` sees the round's reports and every run so
/// far (to print, to rewrite a JUnit file). Ctrl-C ends a monitor with what it has, and any
/// other run with [`Error::Interrupted`].
pub async fn run<R, F>(
    schedule: Schedule,
    mut round: R,
    mut after: impl FnMut(&[JourneyReport], &Runs) -> Result<()>,
) -> Result<Runs>
where
    R: FnMut() -> F,
    F: Future<Output = Vec<JourneyReport>>,
{
    let mut runs = Runs {
        all: Vec::new(),
        tallies: Tallies::new(),
        rounds: 0,
        interrupted: false,
        started: Instant::now(),
    };
    // Registered once, before the first round: Ctrl-C stops a round or the wait between two.
    let ctrl_c = tokio::signal::ctrl_c();
    tokio::pin!(ctrl_c);
    loop {
        let round_start = Instant::now();
        let reports = tokio::select! {
            r = round() => r,
            _ = &mut ctrl_c => match schedule.every {
                Some(_) => { runs.interrupted = true; break; }
                None => return Err(Error::Interrupted),
            },
        };
        runs.rounds += 1;
        for r in &reports {
            runs.tallies.entry(r.name.clone()).or_default().add(r);
        }
        runs.all.extend(reports.iter().cloned());
        after(&reports, &runs)?;
        match schedule.every {
            Some(every) => {
                let wait = every.saturating_sub(round_start.elapsed());
                tokio::select! {
                    _ = tokio::time::sleep(wait) => {}
                    _ = &mut ctrl_c => { runs.interrupted = true; break; }
                }
            }
            None if runs.rounds >= schedule.repeat.max(1) => break,
            None => {}
        }
    }
    Ok(runs)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A monitor stopped by Ctrl-C before its first round ended printed "passed: 0 journey
    /// runs" and exited 0.
    #[test]
    fn no_run_at_all_is_not_a_pass() {
        let runs = Runs {
            all: Vec::new(),
            tallies: Tallies::new(),
            rounds: 0,
            interrupted: true,
            started: Instant::now(),
        };
        assert!(matches!(runs.verdict(), Err(Error::NothingChecked(_))));
    }
}
