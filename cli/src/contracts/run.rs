//! One whole `msctl test contracts` run: consumer tests, the providers started in a project of
//! their own, every pact verified, the providers removed again (unless kept), the results
//! recorded and, when asked, published. The command only parses and prints.

use super::report::Outcome;
use super::{consumers, matrix, pact_broker, pacts, providers, verify_all, Selection};
use crate::error::{Error, Result};
use crate::stack::Source;
use crate::ui::Ui;
use std::time::Instant;

/// What the user asked for.
#[derive(Debug, Default, Clone)]
pub struct Request {
    pub selection: Selection,
    /// Verify the committed pacts as they are; do not run the consumer tests first.
    pub skip_consumers: bool,
    /// Leave the providers' project running afterwards.
    pub keep: bool,
    /// A Pact Broker to send the pacts and results to.
    pub publish: Option<String>,
}

/// Runs the consumer tests (unless skipped), verifies the selected pacts against providers
/// started from `source`'s stack, and records the results in `contracts/results/`. Input is
/// checked before Docker is touched; no pact at all, or a selection that matches none, is an
/// error, never a pass over nothing.
pub async fn run(source: &Source, request: &Request, ui: &Ui) -> Result<Outcome> {
    let started = Instant::now();
    let stack = source.load()?;
    if !request.skip_consumers {
        let step = ui.step("consumers", "cargo test -p contracts");
        match consumers::run(&stack.workspace) {
            Ok(()) => step.done("pacts written"),
            Err(e) => {
                step.fail("failed");
                return Err(e);
            }
        }
    }
    let pacts_dir = source.beside(pacts::DIR);
    let chosen = request
        .selection
        .choose(pacts::discover(&pacts_dir)?, &stack)?;

    let docker = crate::docker::connect().await?;
    // The providers get the secrets `up` would give them (a signing key pair...).
    let (stack, _) = crate::secrets::prepare(&docker, source, stack, false).await?;
    let mut names: Vec<String> = chosen.iter().map(|p| p.provider.clone()).collect();
    names.sort();
    names.dedup();
    let verification = providers::stack_for(&stack, &names);
    let ui = ui
        .clone()
        .with_names(verification.services.iter().map(|s| s.name.as_str()));
    let raw_dir = stack.workspace.join("target/contracts");
    let verified = tokio::select! {
        r = verify_all(&docker, &verification, &chosen, &ui, &raw_dir) => r,
        _ = tokio::signal::ctrl_c() => Err(Error::Interrupted),
    };
    if !request.keep {
        let down = crate::engine::down::down(&docker, &verification.name, true).await;
        if let Err(e) = down {
            ui.line(format!("msctl: removing {} failed: {e}", verification.name));
        }
    }
    let super::Verified { runs, providers } = verified?;

    let version = matrix::version(&stack.workspace);
    let recorded = matrix::results_of(&runs, &chosen, &version);
    matrix::record(&source.beside(matrix::DIR), &recorded)?;
    if let Some(url) = &request.publish {
        let sent = pact_broker::publish(url, &chosen, &recorded).await?;
        ui.line(format!(
            "published {} pacts and {} verification results to {url}",
            sent.pacts, sent.results
        ));
    }
    Ok(Outcome {
        version,
        project: verification.name,
        runs,
        providers,
        seconds: started.elapsed().as_secs_f64(),
    })
}
