//! `msctl up`: reconcile the stack's containers with its file, then show them; with `--watch`,
//! keep them up to date as files change.

use super::{print_json, StackArgs};
use crate::engine::{self, plan::Action, up::UpOptions, up::UpReport};
use crate::error::{Error, Result};
use crate::ui::{self, Ui};
use std::time::Instant;

#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Only these services, and what they depend on (default: all).
    services: Vec<String>,
    /// Print what would change and why; change nothing.
    #[arg(long)]
    plan: bool,
    /// Also start services of this profile.
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Machine-readable report on stdout.
    #[arg(long)]
    json: bool,
    /// Then watch the workspace: each change rebuilds and replaces only the services it
    /// affects. Ctrl-C stops watching and leaves the stack up.
    #[arg(long, conflicts_with_all = ["plan", "json"])]
    watch: bool,
    /// With --watch: follow the services' logs on stdout.
    #[arg(long, requires = "watch")]
    logs: bool,
    /// Serve the dashboard (`msctl dashboard`) from before the first container starts, until
    /// Ctrl-C; with --watch, while watching.
    #[arg(long, conflicts_with_all = ["plan", "json"])]
    dashboard: bool,
    #[command(flatten, next_help_heading = "With --dashboard")]
    dashboard_args: super::dashboard::DashboardArgs,
}

pub async fn exec(args: &UpArgs, stack_args: &StackArgs) -> Result<()> {
    // The services are pointed at MSCTL_DASHBOARD_PORT (crate::otel): a dashboard elsewhere
    // would hear nothing.
    if args.dashboard && args.dashboard_args.port != crate::otel::port() {
        return Err(Error::Usage(format!(
            "`up --dashboard --port {}`: the services are pointed at port {}; set MSCTL_DASHBOARD_PORT={} instead, for both",
            args.dashboard_args.port,
            crate::otel::port(),
            args.dashboard_args.port
        )));
    }
    // The stack file's errors come before Docker is touched (exit 2).
    let stack = stack_args.load()?;
    let docker = crate::docker::connect().await?;
    // Before anything else: what `secrets:` lacks goes into .env. A plan only says what `up`
    // would generate.
    let source = stack_args.source();
    let (stack, secrets) = crate::secrets::prepare(&docker, &source, stack, args.plan).await?;
    for note in &secrets.notes {
        eprintln!("{note}");
    }
    if args.plan && !secrets.written.is_empty() {
        eprintln!(
            "msctl: `up` would generate {} into .env (`secrets:`); the plan shows them unset",
            secrets.written.join(", ")
        );
    }
    let opts = UpOptions {
        services: args.services.clone(),
        profiles: args.profiles.clone(),
        plan_only: args.plan,
        ..Default::default()
    };
    // Started first, so the services' first spans and log lines are seen.
    let dashboard = match args.dashboard {
        true => Some(super::dashboard::start(&args.dashboard_args, stack.clone()).await?),
        false => None,
    };
    let ui = Ui::new(args.json).with_names(stack.services.iter().map(|s| s.name.as_str()));
    let started = Instant::now();
    let applied = tokio::select! {
        r = engine::up::up(&docker, &stack, &opts, &ui) => r,
        _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
    };
    if args.watch {
        let watching = watch(args, source, docker, stack, applied);
        return match dashboard {
            // Watching ends with Ctrl-C, which ends the dashboard too.
            Some(d) => tokio::select! { r = watching => r, r = d.wait() => r },
            None => watching.await,
        };
    }
    let report = applied?;
    match (args.plan, args.json) {
        (true, true) => print_json(&report),
        (true, false) => print_plan(&report),
        (false, json) => {
            let rows = engine::ps::rows(&docker, &stack.name).await?;
            match json {
                true => print_json(
                    &serde_json::json!({ "project": report.project, "changes": report.changes, "containers": rows }),
                ),
                false => print_applied(&ui, &stack.name, &report, started, &rows),
            }
        }
    }
    match dashboard {
        Some(d) => d.wait().await,
        None => Ok(()),
    }
}

/// `--watch`: the stack as `up` left it, then every save applied. A build error or a service
/// that did not start does not stop it: the next good save applies the fix.
async fn watch(
    args: &UpArgs,
    source: crate::stack::Source,
    docker: bollard::Docker,
    stack: crate::stack::Stack,
    applied: Result<UpReport>,
) -> Result<()> {
    match applied {
        Ok(_) => print!(
            "{}",
            engine::ps::render(&engine::ps::rows(&docker, &stack.name).await?)
        ),
        Err(e @ (Error::Build { .. } | Error::NotReady { .. })) => {
            super::report(&e);
            eprintln!("msctl: watching anyway; the next save that fixes this applies it");
        }
        Err(e) => return Err(e),
    }
    let session = crate::watch::round::Session {
        docker,
        source,
        services: args.services.clone(),
        profiles: args.profiles.clone(),
    };
    crate::watch::run(session, stack, args.logs).await
}

/// What changed, then the containers: keeps, starts and creates show in the table; what was
/// replaced or removed would not.
fn print_applied(
    ui: &Ui,
    project: &str,
    report: &UpReport,
    started: Instant,
    rows: &[engine::ps::PsRow],
) {
    for c in report
        .changes
        .iter()
        .filter(|c| matches!(c.action, Action::Recreate { .. } | Action::Remove { .. }))
    {
        ui.line(format!("{}: {}", c.container, c.describe()));
    }
    let took = started.elapsed().as_secs_f64();
    if report.is_noop() {
        let n = report.changes.len();
        ui.line(format!(
            "nothing to do: {n} containers up to date ({took:.2}s)"
        ));
    } else {
        ui.line(format!("{project} is up ({took:.1}s)"));
    }
    print!("{}", engine::ps::render(rows));
}

fn print_plan(report: &UpReport) {
    let rows: Vec<Vec<String>> = report
        .changes
        .iter()
        .map(|c| vec![c.service.clone(), c.container.clone(), c.describe()])
        .collect();
    print!("{}", ui::table(&["SERVICE", "CONTAINER", "ACTION"], &rows));
    let todo = report
        .changes
        .iter()
        .filter(|c| c.action != Action::Keep)
        .count();
    println!("{todo} of {} containers would change", report.changes.len());
}
