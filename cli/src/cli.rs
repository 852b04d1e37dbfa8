//! Command-line arguments and what each command prints. Everything else lives in the library.

use crate::engine::{self, logs::LogsOptionsCli, up::UpOptions};
use crate::error::{Error, Result};
use crate::stack::{self, Stack};
use crate::ui::Ui;
use clap::{Parser, Subcommand, ValueEnum};
use console::style;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Instant;

#[derive(Debug, Parser)]
#[command(
    name = "msctl",
    version,
    about = "Run, test and load a microservice stack on the Docker Engine"
)]
pub struct Args {
    /// Stack file. Like compose's, it goes before the command (`logs -f` is follow).
    #[arg(short = 'f', long = "file", env = "MSCTL_FILE", default_value = stack::DEFAULT_FILE)]
    pub file: PathBuf,
    /// Project name, overriding the stack file's `name` (run two copies side by side).
    #[arg(short = 'p', long = "project", env = "MSCTL_PROJECT")]
    pub project: Option<String>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build what needs building and start the stack (or SERVICEs and what they depend on).
    Up {
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
    },
    /// Build or obtain every image the stack needs (stand-ins included); start nothing.
    Build {
        services: Vec<String>,
        #[arg(long = "profile")]
        profiles: Vec<String>,
    },
    /// Remove the project's containers and network (and volumes with --volumes).
    Down {
        #[arg(short = 'v', long)]
        volumes: bool,
        #[arg(long)]
        json: bool,
    },
    /// List the project's containers.
    Ps {
        #[arg(long)]
        json: bool,
    },
    /// Show the services' logs as one stream.
    Logs {
        services: Vec<String>,
        #[arg(short = 'f', long)]
        follow: bool,
        /// Only lines since this time (RFC 3339) or duration ago (10m).
        #[arg(long)]
        since: Option<String>,
        /// Only the last N lines of each container.
        #[arg(long)]
        tail: Option<usize>,
        /// Prefix each line with its time.
        #[arg(short = 't', long)]
        timestamps: bool,
    },
    /// Check what is installed and reachable, and what `up` would build.
    Doctor {
        #[arg(long)]
        json: bool,
    },
    /// Prove the running stack works: synthetic journeys (contracts and load come later).
    Test {
        #[command(subcommand)]
        what: TestCommand,
    },
    /// Print a JSON Schema, for editors.
    Schema {
        #[arg(value_enum, default_value_t = SchemaKind::Stack)]
        kind: SchemaKind,
    },
    /// Export the stack in another format.
    Export {
        #[command(subcommand)]
        format: ExportFormat,
    },
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SchemaKind {
    /// msctl.yaml
    Stack,
    /// scenarios/*.yaml
    Journey,
}

#[derive(Debug, Subcommand)]
pub enum TestCommand {
    /// Run the journeys in scenarios/ (or those named) against the running stack.
    Journeys(crate::journeys::session::JourneyArgs),
}

#[derive(Debug, Subcommand)]
pub enum ExportFormat {
    /// A docker compose file of the same stack.
    Compose {
        /// Write here instead of stdout.
        #[arg(short, long)]
        output: Option<PathBuf>,
    },
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(run(args));
    // A cargo build still running after Ctrl-C must not hold the exit.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            report(&e);
            ExitCode::from(e.exit_code())
        }
    }
}

fn report(e: &Error) {
    let prefix = style("error:").red().bold();
    match e {
        Error::Stack(errors) => report_file(&prefix, errors),
        Error::Files(files) => files.iter().for_each(|f| report_file(&prefix, f)),
        other => eprintln!("{prefix} {other}"),
    }
}

fn report_file(prefix: &impl std::fmt::Display, errors: &stack::StackErrors) {
    for d in &errors.diagnostics {
        let single = stack::StackErrors {
            file: errors.file.clone(),
            diagnostics: vec![d.clone()],
        };
        eprintln!("{prefix} {single}");
    }
}

fn load(args: &Args) -> Result<Stack> {
    let mut stack = stack::load(&args.file)?;
    if let Some(project) = checked_project(args)? {
        stack.name = project;
    }
    Ok(stack)
}

/// `-p` names containers, networks and image tags, so it obeys the stack file's naming rule.
fn checked_project(args: &Args) -> Result<Option<String>> {
    match &args.project {
        Some(p) if !stack::valid_name(p) => Err(Error::Usage(format!(
            "invalid project name `{p}`: use lowercase letters, digits, `-` and `_`, starting with a letter or digit"
        ))),
        other => Ok(other.clone()),
    }
}

/// The project name for commands that need no more of the stack file than that.
fn project(args: &Args) -> Result<String> {
    match checked_project(args)? {
        Some(p) => Ok(p),
        None => Ok(load(args)?.name),
    }
}

fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializable")
    );
}

pub async fn run(args: Args) -> Result<()> {
    match &args.command {
        Command::Up {
            services,
            plan,
            profiles,
            json,
        } => {
            let stack = load(&args)?;
            let docker = crate::docker::connect().await?;
            let opts = UpOptions {
                services: services.clone(),
                profiles: profiles.clone(),
                plan_only: *plan,
            };
            let ui = Ui::new(*json).with_names(stack.services.iter().map(|s| s.name.as_str()));
            let started = Instant::now();
            let report = tokio::select! {
                r = engine::up::up(&docker, &stack, &opts, &ui) => r?,
                _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
            };
            if *plan {
                if *json {
                    print_json(&report);
                } else {
                    print_plan(&report);
                }
                return Ok(());
            }
            let rows = engine::ps::rows(&docker, &stack.name).await?;
            if *json {
                print_json(
                    &serde_json::json!({ "project": report.project, "changes": report.changes, "containers": rows }),
                );
                return Ok(());
            }
            for c in report.changes.iter().filter(|c| {
                matches!(
                    c.action,
                    engine::plan::Action::Recreate { .. } | engine::plan::Action::Remove { .. }
                )
            }) {
                ui.line(format!("{}: {}", c.container, c.describe()));
            }
            if report.is_noop() {
                ui.line(format!(
                    "nothing to do: {} containers up to date ({:.2}s)",
                    report.changes.len(),
                    started.elapsed().as_secs_f64()
                ));
            } else {
                ui.line(format!(
                    "{} is up ({:.1}s)",
                    stack.name,
                    started.elapsed().as_secs_f64()
                ));
            }
            print!("{}", engine::ps::render(&rows));
            Ok(())
        }
        Command::Build { services, profiles } => {
            let stack = load(&args)?;
            let selected =
                crate::graph::select(&stack, services, profiles).map_err(Error::Usage)?;
            let docker = crate::docker::connect().await?;
            let ui = Ui::new(false).with_names(stack.services.iter().map(|s| s.name.as_str()));
            let problems = crate::images::preflight(&docker, &selected, true, &ui).await;
            if !problems.is_empty() {
                return Err(Error::Preflight { problems });
            }
            let images = tokio::select! {
                r = crate::images::ensure(&docker, &stack, &selected, &ui) => r?,
                _ = tokio::signal::ctrl_c() => return Err(Error::Interrupted),
            };
            let mut rows: Vec<Vec<String>> = images
                .into_iter()
                .map(|(service, image)| {
                    vec![service, image.reference, engine::plan::short_id(&image.id)]
                })
                .collect();
            rows.sort();
            print!("{}", crate::ui::table(&["SERVICE", "IMAGE", "ID"], &rows));
            Ok(())
        }
        Command::Down { volumes, json } => {
            let project = project(&args)?;
            let docker = crate::docker::connect().await?;
            let report = engine::down::down(&docker, &project, *volumes).await?;
            if *json {
                print_json(&report);
            } else {
                eprintln!(
                    "removed {} containers, {} networks, {} volumes of `{project}`",
                    report.containers.len(),
                    report.networks.len(),
                    report.volumes.len()
                );
            }
            Ok(())
        }
        Command::Ps { json } => {
            let project = project(&args)?;
            let docker = crate::docker::connect().await?;
            let rows = engine::ps::rows(&docker, &project).await?;
            if *json {
                print_json(&rows);
            } else {
                print!("{}", engine::ps::render(&rows));
            }
            Ok(())
        }
        Command::Logs {
            services,
            follow,
            since,
            tail,
            timestamps,
        } => {
            let project = project(&args)?;
            let since = match since {
                Some(s) => engine::logs::parse_since(s).map_err(Error::Usage)?,
                None => 0,
            };
            let docker = crate::docker::connect().await?;
            let existing = engine::existing(&docker, &project).await?;
            if let Some(unknown) = services
                .iter()
                .find(|s| !existing.iter().any(|e| &e.service == *s))
            {
                return Err(Error::Usage(format!(
                    "no container of service `{unknown}` in project `{project}`"
                )));
            }
            let containers: Vec<String> = existing
                .into_iter()
                .filter(|e| services.is_empty() || services.contains(&e.service))
                .map(|e| e.name)
                .collect();
            let opts = LogsOptionsCli {
                follow: *follow,
                since,
                tail: *tail,
                timestamps: *timestamps,
            };
            tokio::select! {
                r = engine::logs::logs(&docker, &containers, &opts) => r,
                _ = tokio::signal::ctrl_c() => Ok(()),
            }
        }
        Command::Doctor { json } => {
            let stack = load(&args);
            let checks = crate::doctor::run(stack.as_ref().map_err(|e| e.to_string())).await;
            if *json {
                print_json(&checks);
            } else {
                print!("{}", crate::doctor::render(&checks));
            }
            let problems = checks.iter().filter(|c| !c.ok).count();
            if problems > 0 {
                return Err(Error::Environment(format!(
                    "doctor found {problems} problem(s), marked PROBLEM above"
                )));
            }
            Ok(())
        }
        Command::Test {
            what: TestCommand::Journeys(opts),
        } => {
            let project = project(&args)?;
            // Next to the stack file; relative paths stay relative (they are printed).
            let dir = match args.file.parent() {
                Some(p) if !p.as_os_str().is_empty() => p.join(crate::journeys::DIR),
                _ => std::path::PathBuf::from(crate::journeys::DIR),
            };
            crate::journeys::session::run(opts, &dir, project).await
        }
        Command::Schema { kind } => {
            match kind {
                SchemaKind::Stack => print_json(&stack::json_schema()),
                SchemaKind::Journey => print_json(&crate::journeys::json_schema()),
            }
            Ok(())
        }
        Command::Export {
            format: ExportFormat::Compose { output },
        } => {
            let stack = load(&args)?;
            let yaml = crate::compose::to_yaml(&stack);
            match output {
                Some(path) => std::fs::write(path, yaml)
                    .map_err(Error::io(format!("writing {}", path.display())))?,
                None => print!("{yaml}"),
            }
            Ok(())
        }
    }
}

fn print_plan(report: &engine::up::UpReport) {
    let rows: Vec<Vec<String>> = report
        .changes
        .iter()
        .map(|c| vec![c.service.clone(), c.container.clone(), c.describe()])
        .collect();
    print!(
        "{}",
        crate::ui::table(&["SERVICE", "CONTAINER", "ACTION"], &rows)
    );
    let todo = report
        .changes
        .iter()
        .filter(|c| c.action != engine::plan::Action::Keep)
        .count();
    println!("{todo} of {} containers would change", report.changes.len());
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    /// `logs -f` once collided with a global `-f/--file`: clap only noticed at run time, and
    /// every `msctl logs` panicked.
    #[test]
    fn short_flags_do_not_collide_between_global_and_command_options() {
        Args::command().debug_assert();
    }
}
