//! What `msctl test contracts` prints and writes: the matrix (one row per pact), a report per
//! failed interaction a developer can act on, and the JUnit suites (one per pact).

use super::verify::{self, InteractionResult, Outcome as Verdict};
use crate::error::{Error, Result};
use crate::testing::junit::{Case, CaseOutcome, Suite};
use serde::Serialize;
use std::fmt::Write;

/// One pact's verification: the cell of the matrix.
#[derive(Debug, Clone, Serialize)]
pub struct PactRun {
    pub consumer: String,
    pub provider: String,
    pub file: String,
    pub interactions: Vec<InteractionResult>,
}

impl PactRun {
    pub fn failed(&self) -> usize {
        self.interactions.iter().filter(|i| !i.passed()).count()
    }
    pub fn passed(&self) -> bool {
        self.failed() == 0 && !self.interactions.is_empty()
    }
    fn duration_ms(&self) -> u64 {
        self.interactions.iter().map(|i| i.duration_ms).sum()
    }
}

/// What a run verified.
pub struct Outcome {
    /// The workspace's version the results were recorded for.
    pub version: String,
    /// The providers' project (`<project>-contracts`).
    pub project: String,
    pub runs: Vec<PactRun>,
    pub providers: Vec<verify::Provider>,
    pub seconds: f64,
}

impl Outcome {
    pub fn interactions(&self) -> usize {
        self.runs.iter().map(|r| r.interactions.len()).sum()
    }

    pub fn failed(&self) -> usize {
        self.runs.iter().map(|r| r.failed()).sum()
    }

    /// Passed only when something was verified and nothing failed.
    pub fn verdict(&self) -> Result<()> {
        let (total, failed) = (self.interactions(), self.failed());
        if total == 0 {
            return Err(Error::NothingChecked(
                "no interaction was verified: the selected pacts hold none".into(),
            ));
        }
        match failed {
            0 => Ok(()),
            failed => Err(Error::ContractsFailed { failed, total }),
        }
    }
}

impl Outcome {
    /// The run as the dashboard's Runs page shows it: each interaction, a failed one linked to
    /// the trace its provider logged the request under (when it logged one).
    pub fn record(&self) -> crate::runs::Run {
        let items = self
            .runs
            .iter()
            .flat_map(|run| run.interactions.iter().map(move |i| (run, i)))
            .map(|(run, i)| crate::runs::Item {
                name: format!("{} → {}: {}", run.consumer, run.provider, i.description),
                passed: i.passed(),
                detail: match &i.outcome {
                    crate::contracts::verify::Outcome::Passed => {
                        i.request.clone().unwrap_or_default()
                    }
                    other => serde_json::to_string(other).unwrap_or_default(),
                },
                trace_id: i.logs.iter().find_map(|l| trace_id_in(l)),
            })
            .collect();
        crate::runs::Run {
            kind: "contracts".into(),
            started_at: crate::runs::now().saturating_sub(self.seconds as u64),
            duration_ms: (self.seconds * 1000.0) as u64,
            passed: self.verdict().is_ok(),
            summary: format!(
                "{} interactions in {} pacts, {} failed",
                self.interactions(),
                self.runs.len(),
                self.failed()
            ),
            items,
        }
    }
}

/// The `trace_id` a kit service's JSON log line carries.
fn trace_id_in(line: &str) -> Option<String> {
    let at = line.find("\"trace_id\":\"")? + "\"trace_id\":\"".len();
    let id = line.get(at..at + 32)?;
    id.bytes()
        .all(|b| b.is_ascii_hexdigit())
        .then(|| id.to_owned())
}

/// The whole run as `--json` prints it.
pub fn json(outcome: &Outcome) -> serde_json::Value {
    serde_json::json!({
        "passed": outcome.verdict().is_ok(),
        "version": outcome.version,
        "seconds": outcome.seconds,
        "providers_project": outcome.project,
        "providers": outcome.providers.iter().map(|p| serde_json::json!({
            "name": p.name,
            "host": p.host,
            "port": p.port,
            "state_change_url": format!("http://{}:{}{}", p.host, p.port, verify::STATE_PATH),
            "message_path": verify::MESSAGE_PATH,
        })).collect::<Vec<_>>(),
        "pacts": outcome.runs,
    })
}

/// The whole run as text: a report per failed interaction, the matrix, the verdict line.
pub fn render(outcome: &Outcome, kept: bool) -> String {
    let mut out = String::new();
    for i in outcome
        .runs
        .iter()
        .flat_map(|r| &r.interactions)
        .filter(|i| !i.passed())
    {
        let _ = writeln!(out, "{}", render_failure(i));
    }
    out.push_str(&render_matrix(&outcome.runs));
    let verdict = match outcome.verdict() {
        Ok(()) => console::style("passed").green().bold(),
        Err(_) => console::style("FAILED").red().bold(),
    };
    let _ = writeln!(
        out,
        "{verdict}: {} pacts, {} interactions, {} failed ({:.1} s); results recorded for {}",
        outcome.runs.len(),
        outcome.interactions(),
        outcome.failed(),
        outcome.seconds,
        outcome.version
    );
    if kept {
        let _ = writeln!(
            out,
            "the providers keep running in project `{0}` (msctl -p {0} down --volumes removes them)",
            outcome.project
        );
    }
    out
}

pub fn render_matrix(runs: &[PactRun]) -> String {
    let rows: Vec<Vec<String>> = runs
        .iter()
        .map(|r| {
            let kinds: Vec<&str> = {
                let mut k: Vec<&str> = r
                    .interactions
                    .iter()
                    .map(|i| match i.kind {
                        super::pacts::Kind::Http => "http",
                        super::pacts::Kind::Message => "message",
                    })
                    .collect();
                k.dedup();
                k
            };
            vec![
                r.consumer.clone(),
                r.provider.clone(),
                kinds.join("+"),
                r.interactions.len().to_string(),
                r.failed().to_string(),
                if r.passed() {
                    "✓ verified"
                } else {
                    "✗ FAILED"
                }
                .to_owned(),
            ]
        })
        .collect();
    crate::ui::table(
        &[
            "CONSUMER",
            "PROVIDER",
            "KIND",
            "INTERACTIONS",
            "FAILED",
            "RESULT",
        ],
        &rows,
    )
}

/// Everything about one failed interaction, as a block of text.
pub fn render_failure(i: &InteractionResult) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "✗ {} → {}: {}", i.consumer, i.provider, i.description);
    if !i.states.is_empty() {
        let _ = writeln!(out, "  given:    {}", i.states.join(", "));
    }
    if let Some(request) = &i.request {
        let _ = writeln!(out, "  request:  {request}");
    }
    match &i.outcome {
        Verdict::Passed => {}
        Verdict::MissingState { state, detail } => {
            let _ = writeln!(out, "  missing provider state {state:?}: {detail}");
        }
        Verdict::Error { error } => {
            let _ = writeln!(out, "  error:    {error}");
        }
        Verdict::Mismatch { mismatches } => {
            for m in mismatches {
                let at = if m.at.is_empty() {
                    String::new()
                } else {
                    format!(" at {}", m.at)
                };
                let _ = writeln!(out, "  mismatch: {}{at}: {}", kind_word(&m.kind), m.message);
                if !m.expected.is_empty() || !m.actual.is_empty() {
                    let _ = writeln!(out, "            expected {}", shown(&m.expected));
                    let _ = writeln!(out, "            actual   {}", shown(&m.actual));
                }
            }
        }
    }
    if !i.logs.is_empty() {
        let _ = writeln!(out, "  {} log:", i.provider);
        for line in &i.logs {
            let _ = writeln!(out, "    {line}");
        }
    } else if !i.request_ids.is_empty() {
        let _ = writeln!(
            out,
            "  {} logged nothing for this request (x-request-id {})",
            i.provider,
            i.request_ids.join(", ")
        );
    }
    out
}

fn kind_word(kind: &str) -> &str {
    match kind {
        "BodyMismatch" => "body",
        "StatusMismatch" => "status",
        "HeaderMismatch" => "header",
        "QueryMismatch" => "query",
        "MetadataMismatch" => "message metadata",
        "BodyTypeMismatch" => "content type",
        "MethodMismatch" => "method",
        "PathMismatch" => "path",
        other => other,
    }
}

fn shown(value: &str) -> String {
    const MAX: usize = 200;
    match value {
        "" => "(nothing)".into(),
        v if v.chars().count() > MAX => format!("{}…", v.chars().take(MAX).collect::<String>()),
        v => v.to_owned(),
    }
}

pub fn junit_suites(runs: &[PactRun]) -> Vec<Suite> {
    runs.iter()
        .map(|r| Suite {
            name: format!("{} → {}", r.consumer, r.provider),
            file: r.file.clone(),
            duration_ms: r.duration_ms(),
            cases: r
                .interactions
                .iter()
                .map(|i| Case {
                    classname: format!("{}.{}", r.consumer, r.provider),
                    name: i.description.clone(),
                    duration_ms: i.duration_ms,
                    outcome: match &i.outcome {
                        Verdict::Passed => CaseOutcome::Passed,
                        Verdict::MissingState { state, .. } => CaseOutcome::Failed {
                            message: format!("missing provider state {state:?}"),
                            detail: render_failure(i),
                        },
                        Verdict::Mismatch { mismatches } => CaseOutcome::Failed {
                            message: mismatches
                                .first()
                                .map(|m| format!("{} {}: {}", kind_word(&m.kind), m.at, m.message))
                                .unwrap_or_default(),
                            detail: render_failure(i),
                        },
                        Verdict::Error { error } => CaseOutcome::Failed {
                            message: error.clone(),
                            detail: render_failure(i),
                        },
                    },
                })
                .collect(),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::contracts::pacts::Kind;
    use crate::contracts::verify::MismatchLine;

    fn interaction(description: &str, outcome: Verdict) -> InteractionResult {
        InteractionResult {
            consumer: "order-service".into(),
            provider: "product-service".into(),
            description: description.into(),
            kind: Kind::Http,
            states: vec!["a product with stock".into()],
            request: Some("GET /products/5eed0000-0000-4000-8000-000000000001".into()),
            outcome,
            duration_ms: 12,
            logs: vec![],
            request_ids: vec![],
        }
    }

    fn runs() -> Vec<PactRun> {
        let mut broken = interaction(
            "the price of a product",
            Verdict::Mismatch {
                mismatches: vec![MismatchLine {
                    kind: "BodyMismatch".into(),
                    at: "$.price".into(),
                    expected: "\"19.99\"".into(),
                    actual: String::new(),
                    message: "Actual map is missing the following keys: price".into(),
                }],
            },
        );
        broken.logs = vec![
            "2026-11-30T22:50:01Z INFO request{method=GET path=/products/5eed… request_id=pact-7}: status=200".into(),
        ];
        let mut missing = interaction(
            "the price of an unknown product",
            Verdict::MissingState {
                state: "product P was discontinued".into(),
                detail: "product-service has no such state".into(),
            },
        );
        missing.states = vec!["product P was discontinued".into()];
        vec![
            PactRun {
                consumer: "order-service".into(),
                provider: "product-service".into(),
                file: "contracts/pacts/order-service-product-service.json".into(),
                interactions: vec![
                    interaction("a reservation within the stock", Verdict::Passed),
                    broken,
                    missing,
                ],
            },
            PactRun {
                consumer: "notification-service".into(),
                provider: "order-service".into(),
                file: "contracts/pacts/notification-service-order-service.json".into(),
                interactions: vec![InteractionResult {
                    kind: Kind::Message,
                    consumer: "notification-service".into(),
                    provider: "order-service".into(),
                    request: None,
                    ..interaction("order.created", Verdict::Passed)
                }],
            },
        ]
    }

    #[test]
    fn the_matrix_has_a_row_per_pact() {
        insta::assert_snapshot!(render_matrix(&runs()));
    }

    #[test]
    fn a_failure_report_says_where_what_and_why() {
        let failures: String = runs()
            .iter()
            .flat_map(|r| &r.interactions)
            .filter(|i| !i.passed())
            .map(render_failure)
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(failures);
    }

    #[test]
    fn junit_has_a_suite_per_pact_and_a_case_per_interaction() {
        let suites = junit_suites(&runs());
        assert_eq!(suites.len(), 2);
        assert_eq!(suites[0].cases.len(), 3);
        let failed: Vec<_> = suites[0]
            .cases
            .iter()
            .filter_map(|c| match &c.outcome {
                CaseOutcome::Failed { message, .. } => Some(message.as_str()),
                _ => None,
            })
            .collect();
        assert_eq!(
            failed,
            [
                "body $.price: Actual map is missing the following keys: price",
                "missing provider state \"product P was discontinued\""
            ]
        );
    }
}
