//! `msctl test contracts`: the consumer tests write the pacts, every provider is verified
//! against them on real containers, and the matrix says who may ship (`--can-i-deploy`).

use crate::commands::{print_json, StackArgs};
use crate::contracts::{self, consumers, matrix, pacts, providers, report, Selection};
use crate::error::{Error, Result};
use crate::testing::junit;
use crate::ui::Ui;
use std::path::PathBuf;
use std::time::Instant;

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
    let started = Instant::now();
    let mut stack = stack_args.load()?;
    let pacts_dir = stack_args.beside(pacts::DIR);
    let results_dir = stack_args.beside(matrix::DIR);
    let version = matrix::version(&stack.workspace);

    if let Some(service) = &args.can_i_deploy {
        let all = pacts::discover(&pacts_dir)?;
        contracts::check_name(
            "service of the stack",
            service,
            stack.services.iter().map(|s| s.name.as_str()),
        )?;
        let answer = matrix::can_i_deploy(service, &version, &all, &matrix::load(&results_dir));
        if args.json {
            print_json(&answer);
        } else {
            print!("{}", matrix::render_answer(&answer));
        }
        return match answer.deployable {
            true => Ok(()),
            false => Err(Error::CannotDeploy {
                service: service.clone(),
                version,
            }),
        };
    }

    let ui = Ui::new(args.json);
    if !args.skip_consumers {
        let step = ui.step("consumers", "cargo test -p contracts");
        match consumers::run(&stack.workspace) {
            Ok(()) => step.done("pacts written"),
            Err(e) => {
                step.fail("failed");
                return Err(e);
            }
        }
    }
    let selection = Selection {
        consumers: args.consumers.clone(),
        providers: args.providers.clone(),
    };
    let chosen = selection.choose(pacts::discover(&pacts_dir)?, &stack)?;

    let docker = crate::docker::connect().await?;
    // The providers get the secrets `up` would give them (a signing key pair...).
    if !crate::secrets::ensure(&docker, &stack, false)
        .await?
        .written
        .is_empty()
    {
        stack = stack_args.load()?;
    }
    let mut provider_names: Vec<String> = chosen.iter().map(|p| p.provider.clone()).collect();
    provider_names.sort();
    provider_names.dedup();
    let verification = providers::stack_for(&stack, &provider_names);
    let ui = ui.with_names(verification.services.iter().map(|s| s.name.as_str()));
    let raw_dir = stack.workspace.join("target/contracts");
    let verified = tokio::select! {
        r = contracts::verify_all(&docker, &verification, &chosen, &ui, &raw_dir) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    };
    if !args.keep {
        let down = crate::engine::down::down(&docker, &verification.name, true).await;
        if let Err(e) = down {
            ui.line(format!("msctl: removing {} failed: {e}", verification.name));
        }
    }
    let contracts::Verified { runs, providers } = verified?;

    let recorded = matrix::results_of(&runs, &chosen, &version);
    matrix::record(&results_dir, &recorded)?;
    if let Some(url) = &args.publish {
        let sent = contracts::pact_broker::publish(url, &chosen, &recorded).await?;
        ui.line(format!(
            "published {} pacts and {} verification results to {url}",
            sent.pacts, sent.results
        ));
    }
    if let Some(path) = &args.junit {
        junit::write(path, "msctl contracts", &report::junit_suites(&runs))?;
    }

    let total: usize = runs.iter().map(|r| r.interactions.len()).sum();
    let failed: usize = runs.iter().map(|r| r.failed()).sum();
    let seconds = started.elapsed().as_secs_f64();
    if args.json {
        print_json(&serde_json::json!({
            "passed": failed == 0,
            "version": version,
            "seconds": seconds,
            "providers_project": verification.name,
            "providers": providers.iter().map(|p| serde_json::json!({
                "name": p.name,
                "host": p.host,
                "port": p.port,
                "state_change_url": format!("http://{}:{}{}", p.host, p.port, contracts::verify::STATE_PATH),
                "message_path": contracts::verify::MESSAGE_PATH,
            })).collect::<Vec<_>>(),
            "pacts": runs,
        }));
    } else {
        for i in runs
            .iter()
            .flat_map(|r| &r.interactions)
            .filter(|i| !i.passed())
        {
            println!("{}", report::render_failure(i));
        }
        print!("{}", report::render_matrix(&runs));
        let verdict = if failed == 0 {
            console::style("passed").green().bold()
        } else {
            console::style("FAILED").red().bold()
        };
        println!(
            "{verdict}: {} pacts, {total} interactions, {failed} failed ({seconds:.1} s); results recorded for {version}",
            runs.len()
        );
        if args.keep {
            println!("the providers keep running in project `{}` (msctl -p {} down --volumes removes them)", verification.name, verification.name);
        }
    }
    if failed > 0 {
        return Err(Error::ContractsFailed { failed, total });
    }
    Ok(())
}
