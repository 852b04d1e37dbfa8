//! `msctl down`: remove what carries the project's label.

use super::{print_json, StackArgs};
use crate::error::Result;

#[derive(Debug, clap::Args)]
pub struct DownArgs {
    /// Also remove the project's volumes (their data is lost).
    #[arg(short = 'v', long)]
    volumes: bool,
    /// Machine-readable report on stdout.
    #[arg(long)]
    json: bool,
}

pub async fn exec(args: &DownArgs, stack: &StackArgs) -> Result<()> {
    let project = stack.project()?;
    let docker = crate::docker::connect().await?;
    let report = crate::engine::down::down(&docker, &project, args.volumes).await?;
    if args.json {
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
