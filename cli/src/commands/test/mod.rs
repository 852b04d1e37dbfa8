//! `msctl test`: checks against the running stack, one module per kind of check.

mod journeys;

use super::StackArgs;
use crate::error::Result;
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
}

pub async fn exec(args: &TestArgs, stack: &StackArgs) -> Result<()> {
    match &args.what {
        TestCommand::Journeys(args) => journeys::exec(args, stack).await,
    }
}
