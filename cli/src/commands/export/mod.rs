//! `msctl export`: the stack in another tool's format, one module per format.

mod compose;
mod helm;
mod k8s;

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
    /// Kubernetes manifests, one folder per service, for `kubectl apply -k DIR`.
    K8s(k8s::K8sArgs),
    /// A Helm chart of the same objects, with values for images, replicas, ingress and
    /// resources.
    Helm(helm::HelmArgs),
}

pub fn exec(args: &ExportArgs, stack: &StackArgs) -> Result<()> {
    match &args.format {
        ExportFormat::Compose(args) => compose::exec(args, stack),
        ExportFormat::K8s(args) => k8s::exec(args, stack),
        ExportFormat::Helm(args) => helm::exec(args, stack),
    }
}
