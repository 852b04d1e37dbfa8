//! `msctl new service NAME`: a service that runs behind the gateway and is contract-, journey-
//! and load-tested the moment it is created (docs/new-service.md).

use super::{print_json, StackArgs};
use crate::error::Result;
use crate::scaffold::{self, Options, Plan};

#[derive(Debug, clap::Subcommand)]
pub enum NewCommand {
    /// A new service: its crate, its block in the stack file, a contract, a journey, a load
    /// profile and its API page, from templates/service/.
    Service(ServiceArgs),
}

#[derive(Debug, clap::Args)]
pub struct ServiceArgs {
    /// The service's name: its crate, binary, container and DNS name (`billing`).
    name: String,
    /// Its database: its own PostgreSQL, or none.
    #[arg(long, value_parser = ["postgres", "none"], default_value = "postgres")]
    db: String,
    /// Events it consumes from RabbitMQ (`order.confirmed`): a consumer with manual ack,
    /// retries, a dead-letter queue and an inbox (repeatable).
    #[arg(long, value_name = "EVENT", num_args = 1..)]
    consumes: Vec<String>,
    /// Events it publishes (`billing.created`): an outbox and its relay (repeatable).
    #[arg(long, value_name = "EVENT", num_args = 1..)]
    publishes: Vec<String>,
    /// The gateway's path prefix for it (default: /NAME).
    #[arg(long, value_name = "/PREFIX")]
    route: Option<String>,
    /// Who may call it through the gateway.
    #[arg(long, value_parser = ["public", "user", "admin"], default_value = "user")]
    access: String,
    /// The port it listens on in the stack network (default: the first free from 8006).
    #[arg(long)]
    port: Option<u16>,
    /// List every file and stack-file change it would make; write nothing.
    #[arg(long)]
    dry_run: bool,
    /// Print what it did (or would do) as JSON.
    #[arg(long)]
    json: bool,
}

pub fn exec(command: &NewCommand, stack_args: &StackArgs) -> Result<()> {
    let NewCommand::Service(args) = command;
    let stack = stack_args.load()?;
    let options = Options {
        name: args.name.clone(),
        db: args.db == "postgres",
        consumes: args.consumes.clone(),
        publishes: args.publishes.clone(),
        route: args.route.clone(),
        access: args.access.clone(),
        port: args.port,
    };
    // The migration's name: YYYYMMDDHHMMSS, now, in UTC.
    let stamp: String = humantime::format_rfc3339_seconds(std::time::SystemTime::now())
        .to_string()
        .chars()
        .filter(char::is_ascii_digit)
        .collect();
    let plan = scaffold::plan(&options, &stack, &stamp)?;
    if !args.dry_run {
        scaffold::write::apply(&plan.changes())?;
        format_rust(&plan);
    }
    let gateway = gateway_url(&stack);
    let next = next_steps(&plan, &gateway);
    if args.json {
        print_json(&serde_json::json!({
            "dry_run": args.dry_run,
            "plan": plan,
            "next": next,
        }));
        return Ok(());
    }
    print!("{}", render(&plan, args.dry_run, &next));
    Ok(())
}

/// The listing: each file, the stack-file change, then what to run next.
pub fn render(plan: &Plan, dry_run: bool, next: &[String]) -> String {
    let verb = if dry_run { "would create" } else { "created" };
    let mut out = format!(
        "{} service `{}`: route {} ({}), port {}, {}{}{}\n",
        if dry_run {
            "msctl would add"
        } else {
            "msctl added"
        },
        plan.service,
        plan.route,
        plan.access,
        plan.port,
        if plan.db { "PostgreSQL" } else { "no database" },
        list(", consumes ", &plan.consumes),
        list(", publishes ", &plan.publishes),
    );
    for (path, text) in &plan.files {
        out.push_str(&format!(
            "  {verb} {path} ({} lines)\n",
            text.lines().count()
        ));
    }
    out.push_str(&format!(
        "  {} {}: services {}\n",
        if dry_run {
            "would append to"
        } else {
            "appended to"
        },
        plan.stack_file.display(),
        plan.stack_services.join(", ")
    ));
    out.push_str(if dry_run { "then:\n" } else { "next:\n" });
    for step in next {
        out.push_str(&format!("  {step}\n"));
    }
    out
}

/// rustfmt over the new Rust files, when it is installed: the templates are formatted for
/// names of common length, and a long name would wrap lines differently.
fn format_rust(plan: &Plan) {
    let files: Vec<std::path::PathBuf> = plan
        .files
        .iter()
        .filter(|(p, _)| p.ends_with(".rs"))
        .map(|(p, _)| plan.root.join(p))
        .collect();
    let ran = std::process::Command::new("rustfmt")
        .args(["--edition", "2021"])
        .args(&files)
        .stderr(std::process::Stdio::null())
        .status();
    if !matches!(ran, Ok(s) if s.success()) {
        eprintln!("msctl: rustfmt did not run on the new files; `cargo fmt` will format them");
    }
}

fn list(label: &str, items: &[String]) -> String {
    if items.is_empty() {
        String::new()
    } else {
        format!("{label}{}", items.join(" "))
    }
}

fn next_steps(plan: &Plan, gateway: &str) -> Vec<String> {
    let name = &plan.service;
    vec![
        format!("msctl up {name}"),
        format!("curl {gateway}{}   # access: {}", plan.route, plan.access),
        format!("msctl test journeys {name}-crud"),
        format!("msctl test contracts --provider {name}"),
        format!("msctl load {name}"),
    ]
}

/// Where the gateway answers on the host: the published port of the service that receives the
/// routing table.
fn gateway_url(stack: &crate::stack::Stack) -> String {
    stack
        .gateway()
        .and_then(|s| s.ports.first())
        .map(|p| format!("http://127.0.0.1:{}", p.host_port))
        .unwrap_or_else(|| "http://127.0.0.1:8000".into())
}
