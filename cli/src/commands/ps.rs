//! `msctl ps`: the project's containers.

use super::{print_json, StackArgs};
use crate::engine::ps;
use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct PsArgs {
    /// Machine-readable list on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn exec(args: &PsArgs, stack: &StackArgs) -> Result<()> {
    let project = stack.project()?;
    let docker = crate::docker::connect().await?;
    let rows = ps::rows(&docker, &project).await?;
    if args.json {
        print_json(&rows);
    } else {
        print!("{}", ps::render(&rows));
    }
    Ok(())
}
