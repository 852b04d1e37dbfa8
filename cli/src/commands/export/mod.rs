//! `msctl export`: the stack in another tool's format, one module per format.

mod compose;

use super::StackArgs;
use crate::error::Result;
use clap::Subcommand;

#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    #[command(subcommand)]
    format: ExportFormat,
}

#[derive(Debug, Subcommand)]
enum ExportFormat {
    /// A docker compose file of the same stack.
    Compose(compose::ComposeArgs),
}

pub fn exec(args: &ExportArgs, stack: &StackArgs) -> Result<()> {
    match &args.format {
        ExportFormat::Compose(args) => compose::exec(args, stack),
    }
}
