//! `msctl export helm`: the objects of `export k8s` as a Helm chart.

use super::k8s::{build, Built, ClusterArgs};
use crate::commands::StackArgs;
use crate::error::Result;
use std::path::PathBuf;

#[derive(Debug, clap::Args)]
pub struct HelmArgs {
    /// The chart's directory (created; files an earlier export wrote there are replaced).
    /// Default: `helm/<project>` (Helm wants the directory named as the chart).
    #[arg(short, long)]
    output: Option<PathBuf>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

pub fn exec(args: &HelmArgs, stack: &StackArgs) -> Result<()> {
    let Built {
        input,
        export,
        services,
        registry,
        pushed,
    } = build(&args.cluster, None, stack)?;
    let selected: Vec<_> = input
        .stack
        .services
        .iter()
        .filter(|s| services.contains(&s.name))
        .collect();
    let files = crate::export::helm::chart(
        &input.stack,
        &selected,
        &export,
        registry.as_deref(),
        pushed.as_ref(),
    );
    let dir = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from("helm").join(&input.stack.name));
    crate::export::write_tree(&dir, &files)?;
    println!(
        "wrote the chart `{}` ({} files) to {}: helm install {} {}",
        input.stack.name,
        files.len(),
        dir.display(),
        input.stack.name,
        dir.display()
    );
    Ok(())
}
