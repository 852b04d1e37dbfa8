//! `checkout-faults [--gateway URL] [--project NAME] [--orders N] [--no-faults]`: concurrent
//! checkouts against the running stack while the order service and RabbitMQ are killed and
//! restarted; prints the invariants' counts and exits 1 if one does not hold.

use loadtests::faults::{run, FaultConfig};
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let mut config = FaultConfig::new("http://127.0.0.1:8000", "shop");
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = || args.next().unwrap_or_default();
        match arg.as_str() {
            "--gateway" => config.gateway = value(),
            "--project" => config.project = value(),
            "--orders" => config.orders = value().parse().unwrap_or(config.orders),
            "--no-faults" => config.no_faults = true,
            other => {
                eprintln!("checkout-faults: unknown argument {other:?}");
                return ExitCode::from(2);
            }
        }
    }
    match run(&config).await {
        Ok(report) => {
            report.print();
            if report.ok() {
                ExitCode::SUCCESS
            } else {
                ExitCode::FAILURE
            }
        }
        Err(e) => {
            eprintln!("checkout-faults: {e}");
            ExitCode::FAILURE
        }
    }
}
