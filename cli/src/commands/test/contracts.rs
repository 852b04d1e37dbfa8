//! `msctl test contracts`: the consumer tests write the pacts, every provider is verified
//! against them on real containers, and the matrix says who may ship (`--can-i-deploy`).

use crate::commands::{print_json, StackArgs};
use crate::contracts::{self, matrix, pacts, report, Selection};
use crate::error::{Error, Result};
use crate::testing::junit;
use crate::ui::Ui;
use std::path::PathBuf;

#[derive(Debug, Clone, clap::Args)]
pub struct ContractArgs {
    /// Only the pacts of this consumer (repeatable).
    #[arg(long = "consumer", value_name = "NAME")]
    pub consumers: Vec<String>,
    /// Only the pacts of this provider (repeatable).
    #[arg(long = "provider", value_name = "NAME")]
    pub providers: Vec<String>,
    /// Verify the committed pacts as they are; do not run the consumer tests first.
    #[arg(long)]
    pub skip_consumers: bool,
    /// Print the full report as JSON on stdout.
    #[arg(long)]
    pub json: bool,
    /// Also write a JUnit XML report here (one suite per pact).
    #[arg(long, value_name = "FILE")]
    pub junit: Option<PathBuf>,
    /// Keep the providers' project (`<project>-contracts`) running afterwards.
    #[arg(long)]
    pub keep: bool,
    /// Also send the pacts and the verification results to this Pact Broker
    /// (PACT_BROKER_TOKEN, or PACT_BROKER_USERNAME and PACT_BROKER_PASSWORD).
    #[arg(long, value_name = "URL")]
    pub publish: Option<String>,
    /// Verify nothing: say whether SERVICE at this version is verified against everything it
    /// talks to (from contracts/results/), like a Pact Broker's can-i-deploy.
    #[arg(long, value_name = "SERVICE", conflicts_with_all = ["skip_consumers", "junit", "keep", "publish"])]
    pub can_i_deploy: Option<String>,
}

pub async fn exec(args: &ContractArgs, stack_args: &StackArgs) -> Result<()> {
    if let Some(service) = &args.can_i_deploy {
        return can_i_deploy(service, args.json, stack_args);
    }
    let request = contracts::Request {
        selection: Selection {
            consumers: args.consumers.clone(),
            providers: args.providers.clone(),
        },
        skip_consumers: args.skip_consumers,
        keep: args.keep,
        publish: args.publish.clone(),
    };
    let outcome = contracts::run(&stack_args.source(), &request, &Ui::new(args.json)).await?;
    crate::runs::record(&stack_args.beside(""), &outcome.record());
    if let Some(path) = &args.junit {
        junit::write(
            path,
            "msctl contracts",
            &report::junit_suites(&outcome.runs),
        )?;
    }
    if args.json {
        print_json(&report::json(&outcome));
    } else {
        print!("{}", report::render(&outcome, args.keep));
    }
    outcome.verdict()
}

/// `--can-i-deploy`: answered from the recorded results; nothing is verified.
fn can_i_deploy(service: &str, json: bool, stack_args: &StackArgs) -> Result<()> {
    let stack = stack_args.load()?;
    let all = pacts::discover(&stack_args.beside(pacts::DIR))?;
    contracts::check_name(
        "service of the stack",
        service,
        stack.services.iter().map(|s| s.name.as_str()),
    )?;
    let version = matrix::version(&stack.workspace);
    let recorded = matrix::load(&stack_args.beside(matrix::DIR))?;
    let answer = matrix::can_i_deploy(service, &version, &all, &recorded);
    if json {
        print_json(&answer);
    } else {
        print!("{}", matrix::render_answer(&answer));
    }
    match answer.deployable {
        true => Ok(()),
        false => Err(Error::CannotDeploy {
            service: service.to_owned(),
            version,
        }),
    }
}
