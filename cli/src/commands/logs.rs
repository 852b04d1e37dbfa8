//! `msctl logs`: the selected services' output as one stream.

use super::StackArgs;
use crate::engine::{self, logs::LogsOptionsCli};
use crate::error::{Error, Result};

#[derive(Debug, clap::Args)]
pub struct LogsArgs {
    /// Only these services' containers (default: all).
    services: Vec<String>,
    /// Keep printing new lines until Ctrl-C.
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
}

pub async fn exec(args: &LogsArgs, stack: &StackArgs) -> Result<()> {
    let project = stack.project()?;
    let since = match &args.since {
        Some(s) => engine::logs::parse_since(s).map_err(Error::Usage)?,
        None => 0,
    };
    let docker = crate::docker::connect().await?;
    let containers = engine::logs::containers(&docker, &project, &args.services).await?;
    let opts = LogsOptionsCli {
        follow: args.follow,
        since,
        tail: args.tail,
        timestamps: args.timestamps,
    };
    // Ctrl-C is how `--follow` ends: a success.
    tokio::select! {
        r = engine::logs::logs(&docker, &containers, &opts) => r,
        _ = tokio::signal::ctrl_c() => Ok(()),
    }
}
