//! Who is verified against whom: the recorded results (`contracts/results/`, one file per
//! consumer, provider, contract and provider version) and the answer to can-i-deploy, in a
//! Pact Broker's words.
//!
//! A version is the git commit of the workspace, plus `-dirty` when the tree has changes: in
//! a monorepo every service moves with every commit, so "the current version of everything it
//! talks to" is this tree. A result also names the exact pact (its SHA-256): a consumer test
//! that changed a contract makes the old result not count, as a broker would.

use super::pacts::PactFile;
use super::report::PactRun;
use serde::{Deserialize, Serialize};
use std::path::Path;

/// Next to the pacts; git-ignored.
pub const DIR: &str = "contracts/results";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Verification {
    pub consumer: String,
    pub consumer_version: String,
    pub provider: String,
    pub provider_version: String,
    pub pact_sha256: String,
    pub success: bool,
    pub interactions: usize,
    pub failed: usize,
    pub verified_at: String,
}

impl Verification {
    fn file_name(&self) -> String {
        format!(
            "{}--{}--{}--{}.json",
            self.consumer,
            self.provider,
            &self.pact_sha256[..12.min(self.pact_sha256.len())],
            self.provider_version
        )
    }
}

/// The workspace's version: `git rev-parse --short=12 HEAD`, `-dirty` when tracked files
/// changed. Outside git: `unversioned` (can-i-deploy then never says yes).
pub fn version(workspace: &Path) -> String {
    let git = |args: &[&str]| {
        std::process::Command::new("git")
            .args(args)
            .current_dir(workspace)
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
    };
    match git(&["rev-parse", "--short=12", "HEAD"]) {
        Some(commit) => {
            let dirty = git(&["status", "--porcelain", "--untracked-files=no"])
                .is_some_and(|s| !s.is_empty());
            if dirty {
                format!("{commit}-dirty")
            } else {
                commit
            }
        }
        None => "unversioned".into(),
    }
}

/// What a run verified, as results to record: one per pact, both sides at `version`.
pub fn results_of(runs: &[PactRun], pacts: &[PactFile], version: &str) -> Vec<Verification> {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    runs.iter()
        .filter_map(|r| {
            let pact = pacts
                .iter()
                .find(|p| p.consumer == r.consumer && p.provider == r.provider)?;
            Some(Verification {
                consumer: r.consumer.clone(),
                consumer_version: version.to_owned(),
                provider: r.provider.clone(),
                provider_version: version.to_owned(),
                pact_sha256: pact.sha256.clone(),
                success: r.passed(),
                interactions: r.interactions.len(),
                failed: r.failed(),
                verified_at: now.clone(),
            })
        })
        .collect()
}

/// Writes each result to its own file, through a temporary file and a rename, so that a
/// reader never sees half of one.
pub fn record(dir: &Path, results: &[Verification]) -> Result<(), crate::Error> {
    std::fs::create_dir_all(dir)
        .map_err(crate::Error::io(format!("creating {}", dir.display())))?;
    for r in results {
        let path = dir.join(r.file_name());
        let partial = path.with_extension("json.partial");
        let text = serde_json::to_string_pretty(r).expect("serializable");
        std::fs::write(&partial, text + "\n")
            .and_then(|()| std::fs::rename(&partial, &path))
            .map_err(crate::Error::io(format!("writing {}", path.display())))?;
    }
    Ok(())
}

/// Every recorded result (none when the directory does not exist yet). A result file that
/// cannot be read or parsed is an error naming it: can-i-deploy must not answer from part of
/// the record.
pub fn load(dir: &Path) -> Result<Vec<Verification>, crate::Error> {
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(crate::Error::io(format!("reading {}", dir.display()))(e)),
    };
    let mut paths: Vec<std::path::PathBuf> = entries
        .map(|e| e.map(|e| e.path()))
        .collect::<std::io::Result<_>>()
        .map_err(crate::Error::io(format!("reading {}", dir.display())))?;
    paths.retain(|p| p.extension().is_some_and(|e| e == "json"));
    paths.sort();
    let mut all = Vec::new();
    let mut broken = Vec::new();
    for path in paths {
        let bytes = std::fs::read(&path)
            .map_err(crate::Error::io(format!("reading {}", path.display())))?;
        match crate::diag::parse_json::<Verification>(
            &bytes,
            &path,
            "not a verification result",
            "msctl writes these files; delete it and run `msctl test contracts` again to record the result anew",
        ) {
            Ok(v) => all.push(v),
            Err(e) => broken.push(e),
        }
    }
    if !broken.is_empty() {
        return Err(crate::Error::Files(broken));
    }
    all.sort_by(|a, b| a.verified_at.cmp(&b.verified_at));
    Ok(all)
}

/// One integration of the service asked about, and what is known of it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    pub consumer: String,
    pub provider: String,
    pub version: String,
    /// The latest result for this exact pact at this version, if any.
    pub result: Option<Verification>,
}

impl Row {
    pub fn ok(&self) -> bool {
        self.result.as_ref().is_some_and(|r| r.success)
    }
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Answer {
    pub service: String,
    pub version: String,
    pub deployable: bool,
    pub rows: Vec<Row>,
    pub reasons: Vec<String>,
}

/// Can `service` at `version` be deployed: is every pact it is part of (as consumer or
/// provider) verified, successfully, for this exact contract, with both sides at `version`?
pub fn can_i_deploy(
    service: &str,
    version: &str,
    pacts: &[PactFile],
    results: &[Verification],
) -> Answer {
    let mut rows = Vec::new();
    let mut reasons = Vec::new();
    for pact in pacts
        .iter()
        .filter(|p| p.consumer == service || p.provider == service)
    {
        let result = results
            .iter()
            .rfind(|r| {
                r.consumer == pact.consumer
                    && r.provider == pact.provider
                    && r.pact_sha256 == pact.sha256
                    && r.provider_version == version
                    && r.consumer_version == version
            })
            .cloned();
        match &result {
            None => reasons.push(format!(
                "There is no verified pact between {} ({version}) and {} ({version})",
                pact.consumer, pact.provider
            )),
            Some(r) if !r.success => reasons.push(format!(
                "The verification for the pact between {} ({version}) and {} ({version}) failed ({} of {} interactions)",
                pact.consumer, pact.provider, r.failed, r.interactions
            )),
            Some(_) => {}
        }
        rows.push(Row {
            consumer: pact.consumer.clone(),
            provider: pact.provider.clone(),
            version: version.to_owned(),
            result,
        });
    }
    if version.ends_with("-dirty") || version == "unversioned" {
        // Said, not refused: a dirty tree is what a developer checks before committing.
        reasons.push(format!(
            "Note: {version} is not a commit; results for it describe this working tree only"
        ));
    }
    Answer {
        service: service.to_owned(),
        version: version.to_owned(),
        deployable: rows.iter().all(Row::ok),
        rows,
        reasons,
    }
}

pub fn render_answer(answer: &Answer) -> String {
    let rows: Vec<Vec<String>> = answer
        .rows
        .iter()
        .map(|r| {
            let (success, at) = match &r.result {
                Some(v) => (v.success.to_string(), v.verified_at.clone()),
                None => ("???".into(), String::new()),
            };
            vec![
                r.consumer.clone(),
                r.version.clone(),
                r.provider.clone(),
                r.version.clone(),
                success,
                at,
            ]
        })
        .collect();
    let mut out = String::new();
    if rows.is_empty() {
        out.push_str(&format!(
            "No pact in contracts/pacts names {} as consumer or provider.\n",
            answer.service
        ));
    } else {
        out.push_str(&crate::ui::table(
            &[
                "CONSUMER",
                "C.VERSION",
                "PROVIDER",
                "P.VERSION",
                "SUCCESS?",
                "VERIFIED AT",
            ],
            &rows,
        ));
    }
    out.push('\n');
    out.push_str(if answer.deployable {
        "Computer says yes \\o/\n"
    } else {
        "Computer says no ¯\\_(ツ)_/¯\n"
    });
    out.push('\n');
    if answer.deployable && answer.reasons.iter().all(|r| r.starts_with("Note:")) {
        out.push_str("All required verification results are published and successful\n");
    }
    for reason in &answer.reasons {
        out.push_str(reason);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::pacts::{Interaction, Kind};
    use std::path::PathBuf;

    fn pact(consumer: &str, provider: &str, sha: &str) -> PactFile {
        PactFile {
            path: PathBuf::from(format!("{consumer}-{provider}.json")),
            consumer: consumer.into(),
            provider: provider.into(),
            interactions: vec![Interaction {
                description: "x".into(),
                states: vec![],
                kind: Kind::Http,
                request: None,
            }],
            sha256: sha.into(),
        }
    }

    fn verified(
        consumer: &str,
        provider: &str,
        sha: &str,
        version: &str,
        success: bool,
    ) -> Verification {
        Verification {
            consumer: consumer.into(),
            consumer_version: version.into(),
            provider: provider.into(),
            provider_version: version.into(),
            pact_sha256: sha.into(),
            success,
            interactions: 3,
            failed: if success { 0 } else { 1 },
            verified_at: "2026-11-30T00:00:00Z".into(),
        }
    }

    fn pacts() -> Vec<PactFile> {
        vec![
            pact("order-service", "product-service", "aaa"),
            pact("order-service", "payment-service", "bbb"),
            pact("gateway", "user-service", "ccc"),
        ]
    }

    #[test]
    fn yes_when_every_pact_of_the_service_is_verified_at_this_version_in_both_directions() {
        let results = vec![
            verified("order-service", "product-service", "aaa", "v2", true),
            verified("order-service", "payment-service", "bbb", "v2", true),
        ];
        let a = can_i_deploy("order-service", "v2", &pacts(), &results);
        assert!(a.deployable, "{a:?}");
        assert_eq!(a.rows.len(), 2, "only the service's own integrations");
        assert!(render_answer(&a).contains("Computer says yes \\o/"));
        // As a provider: product-service is verified against its one consumer.
        assert!(can_i_deploy("product-service", "v2", &pacts(), &results).deployable);
    }

    #[test]
    fn no_when_an_integration_has_no_result_at_this_version() {
        let results = vec![
            verified("order-service", "product-service", "aaa", "v2", true),
            // Verified, but by an older version of the provider.
            verified("order-service", "payment-service", "bbb", "v1", true),
        ];
        let a = can_i_deploy("order-service", "v2", &pacts(), &results);
        assert!(!a.deployable);
        let text = render_answer(&a);
        assert!(text.contains("Computer says no"), "{text}");
        assert!(
            text.contains(
                "There is no verified pact between order-service (v2) and payment-service (v2)"
            ),
            "{text}"
        );
    }

    #[test]
    fn no_when_the_contract_changed_since_it_was_verified() {
        let results = vec![verified("gateway", "user-service", "old-sha", "v2", true)];
        assert!(!can_i_deploy("user-service", "v2", &pacts(), &results).deployable);
    }

    #[test]
    fn no_when_the_latest_result_failed_and_the_failure_is_said() {
        let mut results = vec![verified("gateway", "user-service", "ccc", "v2", true)];
        let mut failed = verified("gateway", "user-service", "ccc", "v2", false);
        failed.verified_at = "2026-11-30T01:00:00Z".into();
        results.push(failed);
        let a = can_i_deploy("gateway", "v2", &pacts(), &results);
        assert!(!a.deployable);
        assert!(
            a.reasons[0].contains("failed (1 of 3 interactions)"),
            "{:?}",
            a.reasons
        );
    }

    #[test]
    fn a_service_in_no_pact_may_deploy() {
        let a = can_i_deploy("notification-service", "v2", &pacts(), &[]);
        assert!(a.deployable && a.rows.is_empty());
    }

    #[test]
    fn results_round_trip_through_their_folder() {
        let dir = tempfile::tempdir().unwrap();
        let r = verified("order-service", "product-service", "aaa", "v2", true);
        record(dir.path(), std::slice::from_ref(&r)).unwrap();
        assert_eq!(load(dir.path()).unwrap(), vec![r]);
        assert_eq!(load(&dir.path().join("none yet")).unwrap(), vec![]);
    }

    /// A result file that did not parse was skipped, and can-i-deploy answered from the rest.
    #[test]
    fn a_result_file_that_does_not_parse_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        let r = verified("order-service", "product-service", "aaa", "v2", true);
        record(dir.path(), std::slice::from_ref(&r)).unwrap();
        std::fs::write(dir.path().join("broken.json"), "{\n  \"consumer\": 1,\n").unwrap();
        let err = load(dir.path()).unwrap_err().to_string();
        assert!(err.contains("broken.json:"), "{err}");
        assert!(err.contains("not a verification result"), "{err}");
    }
}
