//! `msctl export k8s`: the stack as Kubernetes manifests in a directory, for `kubectl apply -k`.

use crate::commands::StackArgs;
use crate::diag::{location, FileErrors};
use crate::error::{Error, Result};
use crate::export::k8s::{self, input, Options};
use crate::images::pushed::{record_path, Pushed};
use std::path::PathBuf;

/// Options shared by `export k8s` and `export helm`: what the objects are built from.
#[derive(Debug, clap::Args)]
pub struct ClusterArgs {
    /// The Kubernetes version the objects are for: 1.25 or later (every API used is stable
    /// there; CI validates against 1.30 and 1.37).
    #[arg(long, default_value = "1.33", value_name = "MAJOR.MINOR")]
    k8s_version: String,
    /// Services of this profile too (as `up --profile`).
    #[arg(long = "profile")]
    profiles: Vec<String>,
    /// Where a cluster pulls the images msctl builds (`msctl push --registry` puts them there;
    /// pushed images are named by digest).
    #[arg(long)]
    registry: Option<String>,
    /// The host name the gateway's Ingress (and HTTPRoute) answers for. Default: any.
    #[arg(long)]
    host: Option<String>,
    /// The Ingress class (`ingressClassName`). Default: the cluster's default class.
    #[arg(long)]
    ingress_class: Option<String>,
    /// The namespace of the ingress controller: the NetworkPolicies let it, and only it, call
    /// the gateway from outside the stack.
    #[arg(long, default_value = "ingress-nginx")]
    ingress_namespace: String,
    /// Also a Gateway API HTTPRoute, attached to this Gateway (`NAME` or `NAMESPACE/NAME`).
    #[arg(long, value_name = "[NAMESPACE/]GATEWAY")]
    gateway_api: Option<String>,
    /// Write the secrets' values into a Secret (from the environment or `.env`, else the
    /// stack file's defaults; what `secrets:` generates and is missing is generated for this
    /// export only). For a throwaway cluster: the files then hold credentials.
    #[arg(long)]
    with_secrets: bool,
    /// Fail (exit 2) when anything of the stack cannot be carried over, instead of warning.
    #[arg(long)]
    strict: bool,
}

#[derive(Debug, clap::Args)]
pub struct K8sArgs {
    /// The directory to write (created; files an earlier export wrote there are replaced).
    #[arg(short, long, default_value = "k8s")]
    output: PathBuf,
    /// Put every object in this namespace (and create it).
    #[arg(long)]
    namespace: Option<String>,
    #[command(flatten)]
    cluster: ClusterArgs,
}

/// An export and what it was made of.
pub struct Built {
    pub input: input::Input,
    pub export: k8s::Export,
    /// The services exported (`--profile`), in stack order.
    pub services: Vec<String>,
    pub registry: Option<String>,
    pub pushed: Option<Pushed>,
}

/// The stack, exported with `namespace`, warnings printed (or, with `--strict`, the error).
pub fn build(args: &ClusterArgs, namespace: Option<String>, stack: &StackArgs) -> Result<Built> {
    check_version(&args.k8s_version)?;
    if let Some(ns) = &namespace {
        if !k8s::valid_k8s_name(ns) {
            return Err(Error::Usage(format!(
                "`{ns}` is not a Kubernetes namespace name"
            )));
        }
    }
    let input = input::read(&stack.source())?;
    let services = crate::graph::select(&input.stack, &[], &args.profiles).map_err(Error::Usage)?;
    let pushed = Pushed::read(&record_path(&input.stack.dir))?;
    let secret_values = args.with_secrets.then(|| {
        let (values, generated) = k8s::secrets::values(&input.vars, &input.secret, &input.raw);
        for name in generated {
            eprintln!("generated {name} for this export only (not written to .env)");
        }
        values
    });
    let opts = Options {
        namespace,
        registry: args.registry.clone(),
        host: args.host.clone(),
        ingress_class: args.ingress_class.clone(),
        ingress_namespace: args.ingress_namespace.clone(),
        gateway_api: args.gateway_api.clone(),
        pushed: pushed.clone(),
        secret_values,
    };
    let export = k8s::export(&input.stack, &services, &input.raw, &input.secret, &opts)?;
    if args.strict && !export.warnings.is_empty() {
        return Err(Error::Stack(FileErrors {
            file: input.stack.file.clone(),
            diagnostics: export.warnings,
        }));
    }
    for w in &export.warnings {
        eprintln!(
            "warning: {}: {}",
            location(&input.stack.file, w.pos),
            w.message
        );
        if let Some(help) = &w.help {
            eprintln!("  help: {help}");
        }
    }
    let services = services.iter().map(|s| s.name.clone()).collect();
    Ok(Built {
        input,
        export,
        services,
        registry: args.registry.clone(),
        pushed,
    })
}

fn check_version(v: &str) -> Result<()> {
    let minor = v
        .strip_prefix("1.")
        .and_then(|m| m.split('.').next())
        .and_then(|m| m.parse::<u32>().ok());
    match minor {
        Some(m) if m >= 25 => Ok(()),
        Some(_) => Err(Error::Usage(format!(
            "Kubernetes {v} is too old: the export uses policy/v1 PodDisruptionBudgets and startup probes as they are from 1.25"
        ))),
        None => Err(Error::Usage(format!("`{v}` is not a Kubernetes version (MAJOR.MINOR, e.g. 1.33)"))),
    }
}

pub fn exec(args: &K8sArgs, stack: &StackArgs) -> Result<()> {
    let Built { input, export, .. } = build(&args.cluster, args.namespace.clone(), stack)?;
    let files = export.files(&input.stack.file);
    crate::export::write_tree(&args.output, &files)?;
    let dir = args.output.display();
    println!(
        "wrote {} objects for {} services to {dir}: kubectl apply -k {dir}",
        export.docs.len(),
        input.stack.services.len()
    );
    if export.secrets_example.is_some() && !args.cluster.with_secrets {
        println!(
            "the pods read Secrets it does not hold: fill in {dir}/secrets.example.yaml and kubectl apply -f it first"
        );
    }
    Ok(())
}
