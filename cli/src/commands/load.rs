//! `msctl load`: journeys as load (goose), thresholds that fail the command with exit 99 as
//! k6's do, failed journey runs that fail it with exit 1 as Locust's do, and a per-step
//! summary. The run itself is [`load::run`].

use super::targets::TargetArgs;
use super::{print_json, StackArgs};
use crate::error::{Error, Result};
use crate::journeys::discover;
use crate::load::{self, profile};
use crate::testing::junit;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// A load profile in loadtests/ (by name), or journey names or files to run as load
    /// (default: every journey in scenarios/).
    #[arg(value_name = "PROFILE|JOURNEY")]
    journeys: Vec<String>,
    /// Simulated users (default: the profile's, else 10).
    #[arg(long)]
    users: Option<usize>,
    /// Time to start them all (30s, 1m; default: the profile's, else 0).
    #[arg(long, value_parser = humantime::parse_duration)]
    ramp: Option<Duration>,
    /// Each user's think time between two journey runs (default: the profile's, else none).
    #[arg(long, value_parser = humantime::parse_duration)]
    pause: Option<Duration>,
    /// How long to run once every user started.
    #[arg(long, value_parser = humantime::parse_duration, conflicts_with = "iterations")]
    duration: Option<Duration>,
    /// Instead of a duration: every user runs its journey this many times.
    #[arg(long)]
    iterations: Option<usize>,
    /// Pass/fail rule in k6's words (`p(95) < 200ms`, `rate(failed) < 1%`, `rps >= 50`,
    /// `… for STEP`); a failed rule exits 99 (repeatable).
    #[arg(long = "threshold", value_name = "RULE")]
    thresholds: Vec<String>,
    /// Also write goose's report here (.html, .json or .md, by extension; repeatable).
    #[arg(long = "report", value_name = "FILE")]
    reports: Vec<PathBuf>,
    /// Print the summary as JSON on stdout.
    #[arg(long)]
    json: bool,
    /// Also write a JUnit XML report: one test case per threshold.
    #[arg(long, value_name = "FILE")]
    junit: Option<PathBuf>,
    /// Keep this run's per-step figures as baseline NAME (loadtests/baselines/NAME.json).
    #[arg(long, value_name = "NAME")]
    save_baseline: Option<String>,
    /// Print the delta of every step's figures against baseline NAME.
    #[arg(long, value_name = "NAME")]
    baseline: Option<String>,
    /// With --baseline: exit 99 when a step's p95 or throughput is more than this worse (10%).
    #[arg(long, value_name = "PERCENT", requires = "baseline", value_parser = load::baseline::parse_percent)]
    max_regression: Option<f64>,
    /// Failed journey runs do not fail the run (exit 0 unless a threshold fails). Without it,
    /// and without a `rate(failed)` threshold, any failed journey run exits 1.
    #[arg(long)]
    allow_failures: bool,
    /// List the load profiles in loadtests/ (checked, not run); with --json as JSON.
    #[arg(long)]
    list: bool,
    /// Leave out the stack section (the services' CPU, memory and error lines during the run).
    #[arg(long)]
    no_stack: bool,
    #[command(flatten)]
    targets: TargetArgs,
}

pub async fn exec(args: &LoadArgs, stack: &StackArgs) -> Result<()> {
    let dirs = load::Dirs::beside(&stack.source());
    if args.list {
        return list(&dirs, args.json);
    }
    let prepared = load::prepare(args.request(), dirs)?;
    let runner = Arc::new(args.targets.runner(stack, "the load test").await?);
    if !args.json {
        eprintln!("msctl: {}", prepared.describe());
    }
    // The progress line: live on a terminal, a plain line every 10 s otherwise, none for --json.
    let ui = crate::ui::Ui::new(args.json).with_names(["load"]);
    let step = ui.step("load", "starting users");
    let report = match load::run(prepared, runner, step.bar().clone()).await {
        Ok(report) => report,
        Err(e) => {
            step.fail("the run failed");
            return Err(e);
        }
    };
    step.done(&format!(
        "{} requests in {} s",
        report.requests(),
        report.outcome.metrics.duration
    ));
    if let (Some(name), Some(file)) = (&args.save_baseline, &report.saved) {
        eprintln!("msctl: baseline `{name}` saved in {}", file.display());
    }
    if let Some(path) = &args.junit {
        junit::write(path, "msctl load", &[report.junit()])?;
    }
    crate::runs::record(&stack.beside(""), &report.record());
    if args.json {
        print_json(&report.json());
    } else {
        print!("{}", report.render());
    }
    report.verdict()
}

impl LoadArgs {
    fn request(&self) -> load::Request {
        load::Request {
            names: self.journeys.clone(),
            users: self.users,
            ramp: self.ramp,
            pause: self.pause,
            duration: self.duration,
            iterations: self.iterations,
            thresholds: self.thresholds.clone(),
            reports: self.reports.clone(),
            save_baseline: self.save_baseline.clone(),
            baseline: self.baseline.clone(),
            max_regression: self.max_regression,
            allow_failures: self.allow_failures,
            sample_stack: !self.no_stack,
        }
    }
}

#[derive(serde::Serialize)]
struct Listed {
    name: String,
    file: String,
    description: Option<String>,
    journeys: Vec<(String, usize)>,
    users: Option<usize>,
    duration: Option<String>,
    iterations: Option<usize>,
    thresholds: Vec<String>,
}

/// Every profile, checked (a broken one fails the listing with its `file:line:column`).
fn list(dirs: &load::Dirs, json: bool) -> Result<()> {
    let all = discover(&dirs.journeys, &[])?;
    let journeys: Vec<&str> = all.iter().map(|l| l.name()).collect();
    let mut rows = Vec::new();
    let mut broken = Vec::new();
    for file in profile::files(&dirs.profiles) {
        match profile::load(&file, &journeys) {
            Ok(p) => rows.push(Listed {
                name: p.name,
                file: file.display().to_string(),
                description: p.description,
                journeys: p.journeys,
                users: p.users,
                duration: p
                    .duration
                    .map(|d| humantime::format_duration(d).to_string()),
                iterations: p.iterations,
                thresholds: p.thresholds,
            }),
            Err(e) => broken.push(e),
        }
    }
    if !broken.is_empty() {
        return Err(Error::Files(broken));
    }
    if json {
        print_json(&rows);
        return Ok(());
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.clone(),
                r.journeys
                    .iter()
                    .map(|(j, w)| format!("{j}×{w}"))
                    .collect::<Vec<_>>()
                    .join(" "),
                r.users.map(|u| u.to_string()).unwrap_or_default(),
                r.duration
                    .clone()
                    .or(r.iterations.map(|i| format!("{i} iterations")))
                    .unwrap_or_default(),
                r.thresholds.len().to_string(),
                r.file.clone(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::ui::table(
            &[
                "PROFILE",
                "JOURNEYS",
                "USERS",
                "RUNS FOR",
                "THRESHOLDS",
                "FILE"
            ],
            &table
        )
    );
    Ok(())
}
