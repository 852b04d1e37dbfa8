//! `msctl test journeys`: options, the checks before anything is sent (files valid, stack
//! up), rounds (`--repeat`, `--every`), and what is printed or written.

use crate::commands::targets::TargetArgs;
use crate::commands::{print_json, StackArgs};
use crate::error::Result;
use crate::journeys::parse::Loaded;
use crate::journeys::report::{self, JourneyReport};
use crate::journeys::rounds::{self, Runs, Schedule};
use crate::journeys::run::Runner;
use crate::journeys::{discover, render_tallies, round, Tallies};
use crate::testing::junit;
use indicatif::{ProgressBar, ProgressStyle};
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone, clap::Args)]
pub struct JourneyArgs {
    /// Journey names or files (default: every journey in scenarios/ next to the stack file).
    #[arg(value_name = "NAME|FILE")]
    pub journeys: Vec<String>,
    /// Print the full report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report here.
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Run the journeys this many times; prints pass rate and latency per journey.
    #[arg(long, default_value_t = 1, conflicts_with = "every")]
    pub repeat: u32,
    /// Run the journeys every DURATION (30s, 5m) until Ctrl-C: a synthetic monitor.
    #[arg(long, value_name = "DURATION", value_parser = humantime::parse_duration)]
    pub every: Option<Duration>,
    /// How many independent journeys run at once.
    #[arg(long, default_value_t = 4)]
    pub concurrency: usize,
    #[command(flatten)]
    pub targets: TargetArgs,
    /// List the journeys (checked, not run); with --json as JSON.
    #[arg(long)]
    pub list: bool,
}

#[derive(serde::Serialize)]
struct Listed<'a> {
    name: &'a str,
    file: String,
    description: Option<&'a str>,
    steps: usize,
    finally: usize,
    exclusive: bool,
}

fn list(journeys: &[Loaded], json: bool) {
    let rows: Vec<Listed> = journeys
        .iter()
        .map(|l| Listed {
            name: l.name(),
            file: l.file.display().to_string(),
            description: l.journey.description.as_deref(),
            steps: l.journey.steps.len(),
            finally: l.journey.finally.len(),
            exclusive: l.journey.exclusive,
        })
        .collect();
    if json {
        print_json(&rows);
        return;
    }
    let table: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.name.to_owned(),
                r.steps.to_string(),
                r.file.clone(),
                r.description.unwrap_or_default().to_owned(),
            ]
        })
        .collect();
    print!(
        "{}",
        crate::ui::table(&["JOURNEY", "STEPS", "FILE", "DESCRIPTION"], &table)
    );
}

pub async fn exec(args: &JourneyArgs, stack: &StackArgs) -> Result<()> {
    let dir = stack.beside(crate::journeys::DIR);
    let journeys = discover(&dir, &args.journeys)?;
    if args.list {
        list(&journeys, args.json);
        return Ok(());
    }
    let runner = args.targets.runner(stack, "the journeys").await?;
    let schedule = Schedule {
        repeat: args.repeat,
        every: args.every,
    };
    let runs = rounds::run(
        schedule,
        || with_progress(&runner, &journeys, args),
        |reports, runs| {
            if !args.json && args.every.is_some() {
                print_monitor_round(runs.rounds, reports, &runs.tallies);
            } else if !args.json {
                reports.iter().for_each(|r| print!("{}", report::render(r)));
            }
            // Rewritten every round, so a monitor's file is current when it is stopped.
            match &args.junit {
                Some(path) => {
                    junit::write(path, "msctl journeys", &report::junit_suites(&runs.all))
                }
                None => Ok(()),
            }
        },
    )
    .await?;
    crate::runs::record(&stack.beside(""), &runs.record());
    if args.json {
        print_json(&serde_json::json!({
            "passed": runs.verdict().is_ok(),
            "rounds": runs.rounds,
            "journeys": runs.tallies,
            "runs": runs.all,
        }));
    } else {
        print_verdict(&runs, args.every.is_some());
    }
    runs.verdict()
}

fn print_verdict(runs: &Runs, monitor: bool) {
    if runs.rounds > 1 && !monitor {
        print!("{}", render_tallies(&runs.tallies));
    }
    let (total, failed) = (runs.all.len(), runs.failed());
    let verdict = match runs.verdict() {
        Ok(()) => console::style("passed").green().bold(),
        Err(_) => console::style("FAILED").red().bold(),
    };
    println!(
        "{verdict}: {total} journey runs, {} passed, {failed} failed ({:.1} s){}",
        total - failed,
        runs.started.elapsed().as_secs_f64(),
        if runs.interrupted {
            ", stopped by Ctrl-C"
        } else {
            ""
        }
    );
}

async fn with_progress(
    runner: &Runner,
    journeys: &[Loaded],
    args: &JourneyArgs,
) -> Vec<JourneyReport> {
    // indicatif draws on stderr and hides itself when that is not a terminal (CI logs).
    let bar = ProgressBar::new(journeys.len() as u64).with_style(
        ProgressStyle::with_template("{spinner} journeys {pos}/{len} {msg} ({elapsed})")
            .expect("template"),
    );
    bar.enable_steady_tick(Duration::from_millis(120));
    let mut failed = 0;
    let reports = round(runner, journeys, args.concurrency, |r| {
        failed += !r.passed as usize;
        bar.inc(1);
        if failed > 0 {
            bar.set_message(format!("{failed} failed"));
        }
    })
    .await;
    bar.finish_and_clear();
    reports
}

fn print_monitor_round(round: u32, reports: &[JourneyReport], tallies: &Tallies) {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now());
    println!("round {round} at {now}:");
    for r in reports {
        if r.passed {
            println!("  ok   {} ({} ms)", r.name, r.duration_ms);
        } else {
            print!("{}", report::render(r));
        }
    }
    print!("{}", render_tallies(tallies));
}
