//! Consumer-driven contracts with Pact: the library behind `msctl test contracts`.
//!
//! - [`consumers`] runs the consumer tests, which write `contracts/pacts/`.
//! - [`pacts`] reads those files (who they bind, which interactions and states).
//! - [`providers`] starts the providers for verification in a project of their own.
//! - [`verify`] verifies one provider with pact_verifier and explains each result.
//! - [`matrix`] records results per version and answers can-i-deploy.
//! - [`report`] is what users read: the matrix, failure reports, JUnit.
//! - [`pact_broker`] publishes pacts and results to a Pact Broker (`--publish`).
//! - [`run`](run()) is one whole run, from the consumer tests to the recorded results.

pub mod consumers;
pub mod matrix;
pub mod pact_broker;
pub mod pacts;
pub mod providers;
pub mod report;
mod run;
pub mod verify;

pub use report::Outcome;
pub use run::{run, Request};

use crate::error::{Error, Result};
use crate::stack::Stack;
use crate::testing::compact_log_line;
use crate::testing::targets::Targets;
use crate::ui::Ui;
use bollard::Docker;
use pacts::PactFile;
use report::PactRun;
use verify::InteractionResult;

/// Which pacts to verify.
#[derive(Debug, Default, Clone)]
pub struct Selection {
    pub consumers: Vec<String>,
    pub providers: Vec<String>,
}

impl Selection {
    pub fn keeps(&self, pact: &PactFile) -> bool {
        (self.consumers.is_empty() || self.consumers.contains(&pact.consumer))
            && (self.providers.is_empty() || self.providers.contains(&pact.provider))
    }

    /// The pacts selected, once every name given is known and every provider is a service of
    /// the stack (input errors, exit 2, before Docker is touched). No pact at all is a failure:
    /// a verification over nothing must not pass.
    pub fn choose(&self, all: Vec<PactFile>, stack: &Stack) -> Result<Vec<PactFile>> {
        if all.is_empty() {
            return Err(Error::NothingChecked(format!(
                "no pact files in {}: nothing to verify (the consumer tests in contracts/ write them; did they run?)",
                pacts::DIR
            )));
        }
        let names = |f: fn(&PactFile) -> &str| all.iter().map(f).collect::<Vec<_>>();
        for c in &self.consumers {
            check_name("consumer in the pacts", c, names(|p| p.consumer.as_str()))?;
        }
        for p in &self.providers {
            check_name("provider in the pacts", p, names(|p| p.provider.as_str()))?;
        }
        let pairs: Vec<String> = all
            .iter()
            .map(|p| format!("{} → {}", p.consumer, p.provider))
            .collect();
        let chosen: Vec<PactFile> = all.into_iter().filter(|p| self.keeps(p)).collect();
        if chosen.is_empty() {
            return Err(Error::Usage(format!(
                "no pact between {} and {}; the pacts bind: {}",
                self.consumers.join("/"),
                self.providers.join("/"),
                pairs.join(", ")
            )));
        }
        if let Some(p) = chosen.iter().find(|p| stack.service(&p.provider).is_none()) {
            return Err(Error::Usage(format!(
                "{}: the provider `{}` is not a service of {}",
                p.path.display(),
                p.provider,
                stack.file.display()
            )));
        }
        Ok(chosen)
    }
}

/// A name given on the command line must be one the pacts or the stack know.
pub fn check_name<'a>(
    what: &str,
    name: &str,
    known: impl IntoIterator<Item = &'a str>,
) -> Result<()> {
    let mut known: Vec<&str> = known.into_iter().collect();
    if known.contains(&name) {
        return Ok(());
    }
    known.sort_unstable();
    known.dedup();
    let hint = crate::diag::suggest(name, known.iter().copied())
        .map(|s| format!("; did you mean `{s}`?"))
        .unwrap_or_default();
    Err(Error::Usage(format!(
        "`{name}` is not a {what} (known: {}){hint}",
        known.join(", ")
    )))
}

/// Starts the providers of `pacts` from `stack` (already the verification stack, see
/// [`providers::stack_for`]), verifies each against its pacts, and gathers the provider's log
/// lines for every failed interaction. `raw_dir` keeps the verifier's own output per provider.
pub async fn verify_all(
    docker: &Docker,
    stack: &Stack,
    pacts: &[PactFile],
    ui: &Ui,
    raw_dir: &std::path::Path,
) -> Result<Verified> {
    let mut names: Vec<String> = pacts.iter().map(|p| p.provider.clone()).collect();
    names.sort();
    names.dedup();
    let (targets, running) = providers::start(docker, stack, &names, ui).await?;
    let mut runs = Vec::new();
    for provider in &running {
        let mine: Vec<&PactFile> = pacts
            .iter()
            .filter(|p| p.provider == provider.name)
            .collect();
        let count: usize = mine.iter().map(|p| p.interactions.len()).sum();
        let step = ui.step(&provider.name, &format!("verifying {count} interactions"));
        let since = now_secs() - 1;
        let raw = raw_dir.join(format!("{}.txt", provider.name));
        let mut results = verify::verify(provider, &mine, &raw).await?;
        attach_logs(&targets, &provider.name, since, &mut results).await;
        let failed = results.iter().filter(|r| !r.passed()).count();
        if failed == 0 {
            step.done(&format!("{count} verified"));
        } else {
            step.fail(&format!("{failed} of {count} failed"));
        }
        for pact in &mine {
            runs.push(PactRun {
                consumer: pact.consumer.clone(),
                provider: pact.provider.clone(),
                file: pact.path.display().to_string(),
                interactions: results
                    .iter()
                    .filter(|r| r.consumer == pact.consumer)
                    .cloned()
                    .collect(),
            });
        }
    }
    Ok(Verified {
        runs,
        providers: running,
    })
}

/// What a verification run found, and where the providers listened (a second verifier, such
/// as scripts/verify-pacts-with-pact-cli.sh, can check the same containers with `--keep`).
pub struct Verified {
    pub runs: Vec<PactRun>,
    pub providers: Vec<verify::Provider>,
}

fn now_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// The provider's lines that carry a failed interaction's request ids (kit logs the
/// `x-request-id` on every request's span); at most a dozen per interaction.
async fn attach_logs(
    targets: &Targets,
    provider: &str,
    since: i64,
    results: &mut [InteractionResult],
) {
    if results.iter().all(InteractionResult::passed) {
        return;
    }
    let containers = targets.containers().await;
    let mut lines = Vec::new();
    for c in containers.iter().filter(|c| c.service == provider) {
        lines.extend(targets.logs_since(&c.name, since).await);
    }
    for r in results.iter_mut().filter(|r| !r.passed()) {
        r.logs = lines
            .iter()
            .filter(|l| r.request_ids.iter().any(|id| contains_id(l, id)))
            .take(12)
            .map(|l| compact_log_line(l.split_once(' ').map_or(l.as_str(), |(_, rest)| rest)))
            .collect();
    }
}

/// `pact-1` must not match `pact-12`.
fn contains_id(line: &str, id: &str) -> bool {
    line.match_indices(id).any(|(at, _)| {
        !line[at + id.len()..]
            .chars()
            .next()
            .is_some_and(|c| c.is_ascii_digit())
    })
}

#[cfg(test)]
mod tests {
    #[test]
    fn a_request_id_does_not_match_a_longer_one() {
        assert!(super::contains_id("request_id=pact-1 status=200", "pact-1"));
        assert!(!super::contains_id(
            "request_id=pact-12 status=200",
            "pact-1"
        ));
    }
}
