//! `msctl load`: journeys as load (goose), thresholds that fail the command with exit 99 as
//! k6's do, and a per-step summary.

use super::{print_json, StackArgs};
use crate::commands::test::TargetArgs;
use crate::error::{Error, Result};
use crate::journeys::discover;
use crate::journeys::load::Loaded;
use crate::load::{self, profile, summary, Plan};
use crate::testing::junit::{self, Case, CaseOutcome, Suite};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

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
    let journeys_dir = stack.beside(crate::journeys::DIR);
    let profiles_dir = stack.beside(profile::DIR);
    if args.list {
        let all = discover(&journeys_dir, &[])?;
        let known: Vec<&str> = all.iter().map(|l| l.name()).collect();
        return list(&profiles_dir, &known, args.json);
    }
    // One name that is a file in loadtests/: a profile. Otherwise journeys.
    let profile_file = match args.journeys.as_slice() {
        [one] => Some(profiles_dir.join(format!("{one}.yaml"))).filter(|f| f.is_file()),
        _ => None,
    };
    let (profile, journeys): (Option<profile::Checked>, Vec<(Arc<Loaded>, usize)>) =
        match profile_file {
            Some(file) => {
                // Every journey is read once: its names check the profile, which then picks.
                let all: Vec<Arc<Loaded>> = discover(&journeys_dir, &[])?
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
                (Some(p), picked)
            }
            None => (
                None,
                discover(&journeys_dir, &args.journeys)?
                    .into_iter()
                    .map(|l| (Arc::new(l), 1))
                    .collect(),
            ),
        };
    let mut thresholds = profile
        .as_ref()
        .map(|p| p.thresholds.clone())
        .unwrap_or_default();
    thresholds.extend(args.thresholds.iter().cloned());
    // Every rule is checked before anything is sent.
    for rule in &thresholds {
        load::rules::to_goose(rule).map_err(Error::Usage)?;
    }
    let runner = Arc::new(args.targets.runner(stack, "the load test").await?);
    let host = runner
        .targets
        .http("gateway")
        .await
        .unwrap_or_else(|_| "http://127.0.0.1".into());
    let from_profile = |f: fn(&profile::Checked) -> Option<Duration>| profile.as_ref().and_then(f);
    let (duration, iterations) = run_length(args, profile.as_ref());
    let plan = Plan {
        journeys,
        users: args
            .users
            .or(profile.as_ref().and_then(|p| p.users))
            .unwrap_or(10),
        ramp: args.ramp.or(from_profile(|p| p.ramp)).unwrap_or_default(),
        pause: args.pause.or(from_profile(|p| p.pause)),
        duration,
        iterations,
        thresholds,
        reports: args
            .reports
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        console: stack.beside("target/msctl-load/goose.txt"),
    };
    let baselines = stack.beside(load::baseline::DIR);
    // A baseline named to compare with must exist before anything is sent.
    let before = match &args.baseline {
        Some(name) => Some(load::baseline::load(&baselines, name)?),
        None => None,
    };
    let started = Instant::now();
    if !args.json {
        eprintln!(
            "msctl: {} users on {} journeys, {}",
            plan.users,
            plan.journeys.len(),
            match (plan.duration, plan.iterations) {
                (_, Some(n)) => format!("{n} iterations each"),
                (Some(d), _) => format!("for {}", humantime::format_duration(d)),
                _ => String::new(),
            }
        );
    }
    // The progress line: live on a terminal, a plain line every 10 s otherwise, none for --json.
    let ui = crate::ui::Ui::new(args.json).with_names(["load"]);
    let step = ui.step("load", "starting users");
    let observed =
        load::run_observed(&plan, runner, &host, step.bar().clone(), !args.no_stack).await;
    let (outcome, stack_rows) = match observed {
        Ok(o) => o,
        Err(e) => {
            step.fail("the run failed");
            return Err(e);
        }
    };
    step.done(&format!(
        "{} requests in {} s",
        outcome
            .metrics
            .requests
            .values()
            .map(|r| r.success_count + r.fail_count)
            .sum::<usize>(),
        outcome.metrics.duration
    ));
    let steps = summary::steps(&outcome.metrics);
    let rules = summary::rules(&outcome.metrics);
    let errors = &outcome.errors;
    let deltas = before
        .as_ref()
        .map(|b| load::baseline::compare(b, &steps, args.max_regression))
        .unwrap_or_default();
    if let Some(name) = &args.save_baseline {
        let file = load::baseline::save(&baselines, name, &steps)?;
        eprintln!("msctl: baseline `{name}` saved in {}", file.display());
    }
    if let Some(path) = &args.junit {
        junit::write(path, "msctl load", &[junit_suite(&rules, started)])?;
    }
    if args.json {
        print_json(&serde_json::json!({
            "passed": outcome.passed,
            "seconds": outcome.metrics.duration,
            "journeys": {"passed": outcome.journeys_passed, "failed": outcome.journeys_failed},
            "steps": steps,
            "errors": errors,
            "thresholds": rules,
            "stack": stack_rows,
            "baseline": before.as_ref().map(|b| serde_json::json!({"name": b.name, "steps": deltas})),
        }));
    } else {
        print!("{}", summary::render(&steps, errors, &rules));
        print!("{}", load::stack::render(&stack_rows));
        if let Some(b) = &before {
            print!("{}", load::baseline::render(&b.name, &deltas));
        }
        println!(
            "{}: {} journey runs, {} failed, in {} s",
            if outcome.passed { "passed" } else { "FAILED" },
            outcome.journeys_passed + outcome.journeys_failed,
            outcome.journeys_failed,
            outcome.metrics.duration
        );
    }
    let mut failed: Vec<String> = rules
        .iter()
        .filter(|r| !r.passed)
        .map(|r| r.rule.clone())
        .collect();
    failed.extend(deltas.iter().filter(|d| d.regressed).map(|d| {
        format!(
            "{} regressed more than {}% against the baseline",
            d.name,
            args.max_regression.unwrap_or_default()
        )
    }));
    if !failed.is_empty() {
        return Err(Error::ThresholdsFailed { failed });
    }
    Ok(())
}

fn junit_suite(rules: &[summary::RuleResult], started: Instant) -> Suite {
    Suite {
        name: "thresholds".into(),
        file: String::new(),
        duration_ms: started.elapsed().as_millis() as u64,
        cases: rules
            .iter()
            .map(|r| Case {
                classname: "msctl.load".into(),
                name: r.rule.clone(),
                duration_ms: 0,
                outcome: if r.passed {
                    CaseOutcome::Passed
                } else {
                    CaseOutcome::Failed {
                        message: format!("{} (observed {})", r.rule, r.observed),
                        detail: String::new(),
                    }
                },
            })
            .collect(),
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

/// How long the users run: the command line first, then the profile, else 30 s. A duration
/// and a number of iterations exclude each other.
fn run_length(
    args: &LoadArgs,
    profile: Option<&profile::Checked>,
) -> (Option<Duration>, Option<usize>) {
    match (args.duration, args.iterations, profile) {
        (Some(d), _, _) => (Some(d), None),
        (None, Some(n), _) => (None, Some(n)),
        (None, None, Some(p)) if p.iterations.is_some() => (None, p.iterations),
        (None, None, Some(p)) if p.duration.is_some() => (p.duration, None),
        _ => (Some(Duration::from_secs(30)), None),
    }
}

/// Every profile, checked (a broken one fails the listing with its `file:line:column`).
fn list(dir: &std::path::Path, journeys: &[&str], json: bool) -> Result<()> {
    let mut rows = Vec::new();
    let mut broken = Vec::new();
    for file in profile::files(dir) {
        match profile::load(&file, journeys) {
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
