//! `msctl dashboard`: serve the dashboard for the stack until Ctrl-C.

use super::StackArgs;
use crate::dashboard::{self, store::Limits, Options};
use crate::error::Result;

#[derive(Debug, Clone, clap::Args)]
pub struct DashboardArgs {
    /// Port of the pages and the OTLP receiver, on 127.0.0.1 and (OTLP only, for the project's
    /// containers) on the engine's host gateway. `msctl up` points services at the same
    /// variable's value.
    #[arg(long, env = "MSCTL_DASHBOARD_PORT", default_value_t = crate::otel::DEFAULT_PORT)]
    pub port: u16,
    /// Spans kept; past it the oldest go, and the pages say "limit reached".
    #[arg(long, default_value_t = Limits::default().spans)]
    pub max_spans: u64,
    /// Log lines kept.
    #[arg(long, default_value_t = Limits::default().logs)]
    pub max_logs: u64,
    /// Metric points kept.
    #[arg(long, default_value_t = Limits::default().points)]
    pub max_points: u64,
    /// The login token (default: a new random one each start).
    #[arg(long, env = "MSCTL_DASHBOARD_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Receive OTLP and serve pages only: no log following, no scraping (for benchmarks).
    #[arg(long, hide = true)]
    pub receive_only: bool,
}

impl DashboardArgs {
    pub fn options(&self) -> Options {
        Options {
            port: self.port,
            token: self.token.clone(),
            limits: Limits {
                spans: self.max_spans,
                logs: self.max_logs,
                points: self.max_points,
            },
            scrape_every: std::time::Duration::from_secs(5),
            receive_only: self.receive_only,
        }
    }
}

/// Starts the dashboard and prints how to open it (the caller waits on it).
pub async fn start(args: &DashboardArgs, stack: crate::stack::Stack) -> Result<dashboard::Running> {
    // Without an engine the receiver and the pages still work (telemetry from loopback).
    let docker = match crate::docker::connect().await {
        Ok(d) => Some(d),
        Err(e) => {
            eprintln!("msctl dashboard: {e}; showing telemetry only");
            None
        }
    };
    let running = dashboard::start(stack, docker, &args.options()).await?;
    eprintln!("msctl dashboard: open {}", running.login_url);
    match running.otlp_gateway {
        Some(a) => eprintln!(
            "msctl dashboard: OTLP/HTTP on {}/v1/… and {a} (the project's containers, as {}:{})",
            running.url,
            crate::otel::DASHBOARD_HOST,
            a.port()
        ),
        None => eprintln!("msctl dashboard: OTLP/HTTP on {}/v1/…", running.url),
    }
    Ok(running)
}

pub async fn exec(args: &DashboardArgs, stack_args: &StackArgs) -> Result<()> {
    let stack = stack_args.load()?;
    let running = start(args, stack).await?;
    if args.port != crate::otel::port() {
        eprintln!(
            "msctl dashboard: services started by `msctl up` send to port {}; to send here, start them with MSCTL_DASHBOARD_PORT={} msctl up",
            crate::otel::port(),
            args.port
        );
    }
    running.wait().await
}
