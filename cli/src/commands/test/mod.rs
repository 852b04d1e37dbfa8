//! `msctl test`: checks against the running stack, one module per kind of check.

mod contracts;
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
    /// Write the consumers' pacts, verify every provider against them on real containers, and
    /// print who is verified against whom (or answer --can-i-deploy).
    Contracts(contracts::ContractArgs),
}

pub async fn exec(args: &TestArgs, stack: &StackArgs) -> Result<()> {
    match &args.what {
        TestCommand::Journeys(args) => journeys::exec(args, stack).await,
        TestCommand::Contracts(args) => contracts::exec(args, stack).await,
    }
}
