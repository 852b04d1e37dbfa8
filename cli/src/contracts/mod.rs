//! Consumer-driven contracts with Pact: the library behind `msctl test contracts`.
//!
//! - [`consumers`] runs the consumer tests, which write `contracts/pacts/`.
//! - [`pacts`] reads those files (who they bind, which interactions and states).
//! - [`providers`] starts the providers for verification in a project of their own.
//! - [`verify`] verifies one provider with pact_verifier and explains each result.
//! - [`matrix`] records results per version and answers can-i-deploy.
//! - [`report`] is what users read: the matrix, failure reports, JUnit.
//! - [`broker`] publishes pacts and results to a Pact Broker (`--publish`).

pub mod broker;
pub mod consumers;
pub mod matrix;
pub mod pacts;
pub mod providers;
pub mod report;
pub mod verify;

use crate::error::Result;
use crate::stack::Stack;
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
}

/// rustls needs one crypto provider when more than one is compiled in (pact: ring; other
/// crates: aws-lc-rs), or it panics on the first TLS client. Installing twice is harmless.
pub fn install_crypto_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
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
    install_crypto_provider();
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
            .map(|l| readable(l))
            .collect();
    }
}

/// A log line as a person reads it: kit's JSON lines (after Docker's timestamp) become
/// `time LEVEL message key=value… (METHOD /path)`; other lines stay as they are.
fn readable(line: &str) -> String {
    let text = line.split_once(' ').map(|(_, rest)| rest).unwrap_or(line);
    let Ok(serde_json::Value::Object(v)) = serde_json::from_str::<serde_json::Value>(text) else {
        return text.to_owned();
    };
    let str_of = |v: Option<&serde_json::Value>| match v {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(other) => other.to_string(),
        None => String::new(),
    };
    let mut out = format!("{} {}", str_of(v.get("timestamp")), str_of(v.get("level")));
    if let Some(serde_json::Value::Object(fields)) = v.get("fields") {
        out.push(' ');
        out.push_str(&str_of(fields.get("message")));
        for (k, value) in fields.iter().filter(|(k, _)| *k != "message") {
            out.push_str(&format!(" {k}={}", str_of(Some(value))));
        }
    }
    if let Some(span) = v.get("span") {
        let (method, path) = (str_of(span.get("method")), str_of(span.get("path")));
        if !method.is_empty() {
            out.push_str(&format!(" ({method} {path})"));
        }
    }
    out
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

    #[test]
    fn a_json_log_line_reads_as_one_short_line() {
        let line = r#"2026-11-30T22:53:59.379Z {"timestamp":"2026-11-30T22:53:59.378Z","level":"INFO","fields":{"message":"handled","status":415,"elapsed_ms":0},"span":{"method":"POST","path":"/payments","request_id":"pact-2","name":"request"}}"#;
        assert_eq!(
            super::readable(line),
            "2026-11-30T22:53:59.378Z INFO handled status=415 elapsed_ms=0 (POST /payments)"
        );
        assert_eq!(
            super::readable("2026-11-30T22:53:59Z plain text"),
            "plain text"
        );
    }
}
