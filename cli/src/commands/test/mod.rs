//! `msctl test`: checks against the running stack, one module per kind of check. The options
//! every kind shares (where the services are) are here.

mod contracts;
mod journeys;

use super::StackArgs;
use crate::error::Result;
use crate::journeys::run::Runner;
use crate::testing::targets::{Roles, Targets};
use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub struct TestArgs {
    #[command(subcommand)]
    what: TestCommand,
}

#[derive(Debug, Subcommand)]
enum TestCommand {
    /// Run the journeys in scenarios/ (or those named) against the running stack.
    Journeys(journeys::JourneyArgs),
    /// Write the consumers' pacts, verify every provider against them on real containers, and
    /// print who is verified against whom (or answer --can-i-deploy).
    Contracts(contracts::ContractArgs),
}

/// Where the services are, when not (only) through Docker.
#[derive(Debug, Clone, clap::Args)]
pub struct TargetArgs {
    /// Reach SERVICE at URL instead of asking Docker (repeatable).
    #[arg(long = "url", value_name = "SERVICE=URL")]
    pub urls: Vec<String>,
    /// The broker for `expect_message`, instead of the stack's `rabbitmq` service.
    #[arg(long, value_name = "URL", env = "MSCTL_AMQP_URL")]
    pub amqp_url: Option<String>,
}

impl TargetArgs {
    pub async fn connect(&self, project: String) -> Result<Targets> {
        Targets::connect(project, &self.urls, self.amqp_url.clone()).await
    }

    /// A journey runner for the stack, checked to be up (`what` names the checks if not). It
    /// sees the project's `.env` as `env`: what `msctl up` used (generated secrets included),
    /// so journeys log in with what the stack was given.
    /// Its gateway and broker are the stack file's ([`Roles::of`]), or those of the usual names
    /// when there is no file (`-p` for a stack started elsewhere).
    pub async fn runner(&self, stack: &StackArgs, what: &str) -> Result<Runner> {
        let roles = stack.load().map(|s| Roles::of(&s)).unwrap_or_default();
        let targets = self.connect(stack.project()?).await?.with_roles(roles);
        targets.check_up(what).await?;
        let dotenv = std::fs::read_to_string(stack.beside(".env"))
            .map(|text| crate::stack::parse_dotenv(&text))
            .unwrap_or_default();
        Ok(Runner::new(targets).with_env(dotenv))
    }
}

pub async fn exec(args: &TestArgs, stack: &StackArgs) -> Result<()> {
    match &args.what {
        TestCommand::Journeys(args) => journeys::exec(args, stack).await,
        TestCommand::Contracts(args) => contracts::exec(args, stack).await,
    }
}
