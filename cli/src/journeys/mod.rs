//! Synthetic journeys (`msctl test journeys`): multi-step HTTP and message checks, written in
//! YAML under `scenarios/`, run against the running stack.
//!
//! [`model`] is the file as written; [`parse`] parses and checks it before anything is sent
//! (templates, matchers, paths, durations: `file:line:column`); [`run`] executes one journey
//! with [`template`], [`matcher`], [`rabbitmq`] (temporary queues for `expect_message`) and
//! [`Targets`](crate::testing::targets::Targets) (where services are, through Docker);
//! [`report`] renders the outcome as text, JSON or JUnit suites. This module finds the journeys
//! and runs one round of them; [`rounds`] repeats rounds (`--repeat`, `--every`) and judges them.

pub mod matcher;
pub mod model;
pub mod parse;
pub mod rabbitmq;
pub mod report;
pub mod rounds;
pub mod run;
pub mod template;

use crate::diag::{did_you_mean, pos, Diagnostic, FileErrors};
use crate::error::{Error, Result};
use futures_util::stream::{self, StreamExt};
use parse::Loaded;
use report::JourneyReport;
use run::Runner;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// The directory of journeys, next to the stack file.
pub const DIR: &str = "scenarios";

/// JSON Schema of a journey file, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::Journey)).expect("schema serializes")
}

/// The journeys to run: every file in `dir`, or those named by `selectors` (a file path, or a
/// journey's name). Every file is checked; all problems of all files are reported at once.
pub fn discover(dir: &Path, selectors: &[String]) -> Result<Vec<Loaded>> {
    let files = crate::diag::yaml_files(dir);
    let explicit: Vec<PathBuf> = selectors
        .iter()
        .map(PathBuf::from)
        .filter(|p| crate::diag::is_yaml(p) || p.is_file())
        .collect();
    let names: Vec<&String> = selectors
        .iter()
        .filter(|s| !explicit.contains(&PathBuf::from(s)))
        .collect();
    // Named journeys are looked up in the directory; files given by path are read as given.
    let candidates = if names.is_empty() && !explicit.is_empty() {
        explicit.clone()
    } else {
        let mut all = files;
        all.extend(explicit.iter().cloned());
        all
    };
    let canonical = |p: &Path| std::fs::canonicalize(p).unwrap_or_else(|_| p.to_path_buf());
    // A file named on the command line may also be in the directory: read it once.
    let mut seen = std::collections::HashSet::new();
    let candidates: Vec<PathBuf> = candidates
        .into_iter()
        .filter(|f| seen.insert(canonical(f)))
        .collect();
    let same = |a: &Path, b: &Path| canonical(a) == canonical(b);
    let mut loaded = Vec::new();
    let mut errors = Vec::new();
    for file in &candidates {
        match parse::load(file) {
            Ok(l) => loaded.push(l),
            Err(e) => errors.push(e),
        }
    }
    for (i, l) in loaded.iter().enumerate() {
        if let Some(first) = loaded[..i].iter().find(|o| o.name() == l.name()) {
            errors.push(FileErrors::one(
                &l.file,
                Diagnostic::new(
                    pos(&l.journey.name),
                    format!(
                        "journey `{}` is also defined in {}",
                        l.name(),
                        first.file.display()
                    ),
                ),
            ));
        }
    }
    if !errors.is_empty() {
        return Err(Error::Files(errors));
    }
    if candidates.is_empty() {
        return Err(Error::Usage(format!(
            "no journeys: {} has no .yaml files (docs/journeys.md shows how to write one)",
            dir.display()
        )));
    }
    if names.is_empty() {
        return Ok(if explicit.is_empty() {
            loaded
        } else {
            loaded
                .into_iter()
                .filter(|l| explicit.iter().any(|e| same(e, &l.file)))
                .collect()
        });
    }
    for n in &names {
        if !loaded.iter().any(|l| l.name() == n.as_str()) {
            let known: Vec<&str> = loaded.iter().map(Loaded::name).collect();
            let help = did_you_mean(n, known.iter().copied(), || {
                format!("journeys: {}", known.join(", "))
            });
            return Err(Error::Usage(format!(
                "no journey named `{n}` in {} (nor a file of that name); {help}",
                dir.display()
            )));
        }
    }
    Ok(loaded
        .into_iter()
        .filter(|l| {
            names.iter().any(|n| n.as_str() == l.name())
                || explicit.iter().any(|e| same(e, &l.file))
        })
        .collect())
}

/// Runs every journey once: the independent ones `concurrency` at a time, then the exclusive
/// ones alone. Reports come back in the journeys' order.
pub async fn round(
    runner: &Runner,
    journeys: &[Loaded],
    concurrency: usize,
    mut done: impl FnMut(&JourneyReport),
) -> Vec<JourneyReport> {
    let mut reports: Vec<Option<JourneyReport>> = vec![None; journeys.len()];
    let shared: Vec<usize> = (0..journeys.len())
        .filter(|&i| !journeys[i].journey.exclusive)
        .collect();
    let mut running = stream::iter(shared)
        .map(|i| async move { (i, runner.run(&journeys[i]).await) })
        .buffer_unordered(concurrency.max(1));
    while let Some((i, r)) = running.next().await {
        done(&r);
        reports[i] = Some(r);
    }
    for (i, j) in journeys.iter().enumerate() {
        if j.journey.exclusive {
            let r = runner.run(j).await;
            done(&r);
            reports[i] = Some(r);
        }
    }
    reports.into_iter().flatten().collect()
}

/// Per-journey tallies over rounds (`--repeat`, `--every`).
#[derive(Debug, Default, serde::Serialize)]
pub struct Tally {
    pub runs: usize,
    pub passed: usize,
    #[serde(skip)]
    durations: Vec<u64>,
    pub p50_ms: u64,
    pub p95_ms: u64,
}

impl Tally {
    pub fn add(&mut self, r: &JourneyReport) {
        self.runs += 1;
        self.passed += r.passed as usize;
        self.durations.push(r.duration_ms);
        self.durations.sort_unstable();
        self.p50_ms = percentile(&self.durations, 0.50);
        self.p95_ms = percentile(&self.durations, 0.95);
    }
    pub fn pass_rate(&self) -> f64 {
        if self.runs == 0 {
            0.0
        } else {
            100.0 * self.passed as f64 / self.runs as f64
        }
    }
}

/// Nearest-rank percentile of sorted values.
fn percentile(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    let rank = (p * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub type Tallies = BTreeMap<String, Tally>;

/// The monitor's table: one row per journey.
pub fn render_tallies(tallies: &Tallies) -> String {
    let rows: Vec<Vec<String>> = tallies
        .iter()
        .map(|(name, t)| {
            vec![
                name.clone(),
                t.runs.to_string(),
                format!("{:.1}%", t.pass_rate()),
                format!("{} ms", t.p50_ms),
                format!("{} ms", t.p95_ms),
            ]
        })
        .collect();
    crate::ui::table(&["JOURNEY", "RUNS", "PASS", "P50", "P95"], &rows)
}
