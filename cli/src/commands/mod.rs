//! The command line: one module per command, each with its arguments and an `exec` that makes
//! one library call and prints what it returned. Adding a command is a module here and a
//! variant of [`Command`].
//!
//! What every command shares lives here once: the global options (the stack file and `-p`),
//! loading the stack with the project override, printing JSON, and reporting an [`Error`].

mod build;
mod dashboard;
mod doctor;
mod down;
mod export;
mod load;
mod logs;
mod new;
mod ps;
mod push;
mod routes;
mod schema;
mod targets;
mod test;
mod up;

use crate::error::{Error, Result};
use crate::stack::{self, Stack};
use clap::{Parser, Subcommand};
use console::style;
use std::path::PathBuf;
use std::process::ExitCode;

#[derive(Debug, Parser)]
#[command(
    name = "msctl",
    version,
    about = "Run and test a microservice stack on the Docker Engine"
)]
pub struct Args {
    #[command(flatten)]
    pub stack: StackArgs,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Build what needs building and start the stack (or SERVICEs and what they depend on).
    Up(up::UpArgs),
    /// Build or obtain every image the stack needs (stand-ins included); start nothing.
    Build(build::BuildArgs),
    /// Remove the project's containers and network (and volumes with --volumes).
    Down(down::DownArgs),
    /// List the project's containers.
    Ps(ps::PsArgs),
    /// Show the services' logs as one stream.
    Logs(logs::LogsArgs),
    /// Check what is installed and reachable, and what `up` would build.
    Doctor(doctor::DoctorArgs),
    /// Show the gateway's routing table, gathered from the services' `routes:`.
    Routes(routes::RoutesArgs),
    /// Prove the running stack works.
    Test(test::TestArgs),
    /// Run journeys as load (goose): many users, thresholds (exit 99), a per-step summary.
    Load(load::LoadArgs),
    /// Create something new in the project from templates (a service).
    #[command(subcommand)]
    New(new::NewCommand),
    /// Print a JSON Schema, for editors.
    Schema(schema::SchemaArgs),
    /// Export the stack in another format.
    Export(export::ExportArgs),
    /// Serve a web dashboard of the running stack: resources, logs, traces, metrics, runs.
    Dashboard(dashboard::DashboardArgs),
    /// Push the images msctl builds to a registry, recording their digests for `export k8s`.
    Push(push::PushArgs),
}

impl Command {
    pub async fn exec(&self, stack: &StackArgs) -> Result<()> {
        match self {
            Command::Up(args) => up::exec(args, stack).await,
            Command::Build(args) => build::exec(args, stack).await,
            Command::Down(args) => down::exec(args, stack).await,
            Command::Ps(args) => ps::exec(args, stack).await,
            Command::Dashboard(args) => dashboard::exec(args, stack).await,
            Command::Logs(args) => logs::exec(args, stack).await,
            Command::Doctor(args) => doctor::exec(args, stack).await,
            Command::Routes(args) => routes::exec(args, stack),
            Command::Test(args) => test::exec(args, stack).await,
            Command::Load(args) => load::exec(args, stack).await,
            Command::New(command) => new::exec(command, stack),
            Command::Schema(args) => schema::exec(args),
            Command::Export(args) => export::exec(args, stack),
            Command::Push(args) => push::exec(args, stack).await,
        }
    }
}

/// Which stack the command is about: global options, given before the command.
#[derive(Debug, clap::Args)]
pub struct StackArgs {
    /// Stack file. Like compose's, it goes before the command (`logs -f` is follow).
    #[arg(short = 'f', long = "file", env = "MSCTL_FILE", default_value = stack::DEFAULT_FILE)]
    pub file: PathBuf,
    /// Project name, overriding the stack file's `name` (run two copies side by side).
    #[arg(short = 'p', long = "project", env = "MSCTL_PROJECT")]
    pub project: Option<String>,
}

impl StackArgs {
    /// The stack file and project as the library takes them.
    pub fn source(&self) -> stack::Source {
        stack::Source {
            file: self.file.clone(),
            project: self.project.clone(),
        }
    }

    /// The stack file, loaded and checked, named by `-p` when given.
    pub fn load(&self) -> Result<Stack> {
        self.source().load()
    }

    /// The project name ([`stack::Source::project`]).
    pub fn project(&self) -> Result<String> {
        self.source().project()
    }

    /// A path next to the stack file ([`stack::Source::beside`]).
    pub fn beside(&self, rel: &str) -> PathBuf {
        self.source().beside(rel)
    }
}

/// `--json` output: pretty, on stdout.
pub fn print_json(value: &impl serde::Serialize) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("serializable")
    );
}

pub fn main() -> ExitCode {
    let args = Args::parse();
    // rustls panics on its first client when more than one crypto provider is compiled in and
    // none was chosen: pact brings ring, goose's reqwest aws-lc-rs. One, for the whole process.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("tokio runtime");
    let result = runtime.block_on(args.command.exec(&args.stack));
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

/// Prints an error on stderr; every problem of an input file gets a line of its own.
pub(crate) fn report(e: &Error) {
    let prefix = style("error:").red().bold();
    for line in e.lines() {
        eprintln!("{prefix} {line}");
    }
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
