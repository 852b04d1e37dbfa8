//! `msctl load`: journeys as load (goose), thresholds that fail the command with exit 99 as
//! k6's do, and a per-step summary.

use super::{print_json, StackArgs};
use crate::commands::test::TargetArgs;
use crate::error::{Error, Result};
use crate::journeys::discover;
use crate::journeys::run::Runner;
use crate::load::{self, summary, Plan};
use crate::testing::junit::{self, Case, CaseOutcome, Suite};
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Journey names or files to run as load (default: every journey in scenarios/).
    #[arg(value_name = "JOURNEY")]
    journeys: Vec<String>,
    /// Simulated users.
    #[arg(long, default_value_t = 10)]
    users: usize,
    /// Time to start them all (30s, 1m).
    #[arg(long, value_parser = humantime::parse_duration, default_value = "0s")]
    ramp: Duration,
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
    #[command(flatten)]
    targets: TargetArgs,
}

pub async fn exec(args: &LoadArgs, stack: &StackArgs) -> Result<()> {
    let project = stack.project()?;
    let journeys = discover(&stack.beside(crate::journeys::DIR), &args.journeys)?;
    // Every rule is checked before anything is sent.
    for rule in &args.thresholds {
        load::rules::to_goose(rule).map_err(Error::Usage)?;
    }
    let targets = args.targets.connect(project).await?;
    targets.check_up("the load test").await?;
    let host = targets
        .http("gateway")
        .await
        .unwrap_or_else(|_| "http://127.0.0.1".into());
    let dotenv = std::fs::read_to_string(stack.beside(".env"))
        .map(|text| crate::stack::parse_dotenv(&text))
        .unwrap_or_default();
    let runner = Arc::new(Runner::new(targets).with_env(dotenv));
    let plan = Plan {
        journeys: journeys.into_iter().map(|l| (Arc::new(l), 1)).collect(),
        users: args.users,
        ramp: args.ramp,
        duration: match (args.duration, args.iterations) {
            (None, None) => Some(Duration::from_secs(30)),
            (d, _) => d,
        },
        iterations: args.iterations,
        thresholds: args.thresholds.clone(),
        reports: args
            .reports
            .iter()
            .map(|p| p.display().to_string())
            .collect(),
        console: stack.beside("target/msctl-load/goose.txt"),
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
    let outcome = load::run(&plan, runner, &host).await?;
    let steps = summary::steps(&outcome.metrics);
    let rules = summary::rules(&outcome.metrics);
    if let Some(path) = &args.junit {
        junit::write(path, "msctl load", &[junit_suite(&rules, started)])?;
    }
    if args.json {
        print_json(&serde_json::json!({
            "passed": outcome.passed,
            "seconds": outcome.metrics.duration,
            "journeys": {"passed": outcome.journeys_passed, "failed": outcome.journeys_failed},
            "steps": steps,
            "thresholds": rules,
        }));
    } else {
        print!("{}", summary::render(&steps, &rules));
        println!(
            "{}: {} journey runs, {} failed, in {} s",
            if outcome.passed { "passed" } else { "FAILED" },
            outcome.journeys_passed + outcome.journeys_failed,
            outcome.journeys_failed,
            outcome.metrics.duration
        );
    }
    if !outcome.passed {
        return Err(Error::ThresholdsFailed {
            failed: rules
                .iter()
                .filter(|r| !r.passed)
                .map(|r| r.rule.clone())
                .collect(),
        });
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
