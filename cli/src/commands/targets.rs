//! Where the services are, for every command that talks to a running stack (`test journeys`,
//! `load`): through Docker, or at URLs given on the command line.

use super::StackArgs;
use crate::error::Result;
use crate::journeys::run::Runner;
use crate::testing::targets::{Roles, Targets};

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
    /// so journeys log in with what the stack was given. Its gateway and broker are the stack
    /// file's ([`Roles::of`]), or those of the usual names when there is no file (`-p` for a
    /// stack started elsewhere); a stack file with errors is an error.
    pub async fn runner(&self, stack: &StackArgs, what: &str) -> Result<Runner> {
        let dotenv = crate::stack::read_dotenv(&stack.beside(".env"))?;
        let roles = match stack.load() {
            Ok(s) => Roles::of(&s),
            Err(_) if !stack.file.exists() => Roles::default(),
            Err(e) => return Err(e),
        };
        let targets = self.connect(stack.project()?).await?.with_roles(roles);
        targets.check_up(what).await?;
        Ok(Runner::new(targets).with_env(dotenv))
    }
}
