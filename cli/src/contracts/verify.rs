//! One provider verified against the pacts that name it, with pact_verifier, and its results
//! turned into what msctl reports: per interaction, passed, a mismatch (where in the body,
//! expected vs actual), a missing provider state, or an error.
//!
//! Provider states go through our own executor rather than pact's HTTP one: pact's keeps only
//! the status code of a failed state change, and a missing state (the consumer asks for
//! something the provider never set up) must read as that, not as a mismatch.

use super::pacts::{Kind, PactFile};
use pact_models::provider_states::ProviderState;
use pact_models::v4::http_parts::HttpRequest;
use pact_verifier::callback_executors::{
    ProviderStateError, ProviderStateExecutor, RequestFilterExecutor,
};
use pact_verifier::{
    FilterInfo, MismatchResult, PactSource, ProviderInfo, ProviderTransport, VerificationOptions,
};
use serde::Serialize;
use serde_json::Value;
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// Where a provider's state-change and message endpoints are (kit's `provider_states`).
pub const STATE_PATH: &str = "/_pact/state";
pub const MESSAGE_PATH: &str = "/_pact/message";
/// The problem type kit answers a state it does not know with.
const UNKNOWN_STATE: &str = "https://msctl.dev/problems/unknown-provider-state";

/// A provider running for verification: its name and where it listens.
#[derive(Debug, Clone, Serialize)]
pub struct Provider {
    pub name: String,
    pub host: String,
    pub port: u16,
}

impl Provider {
    fn url(&self, path: &str) -> String {
        format!("http://{}:{}{path}", self.host, self.port)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct InteractionResult {
    pub consumer: String,
    pub provider: String,
    pub description: String,
    pub kind: Kind,
    pub states: Vec<String>,
    /// `METHOD /path` for HTTP interactions.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub request: Option<String>,
    #[serde(flatten)]
    pub outcome: Outcome,
    pub duration_ms: u64,
    /// The provider's log lines for this interaction's requests (failures only).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub logs: Vec<String>,
    /// The `x-request-id`s msctl gave this interaction's requests.
    #[serde(skip)]
    pub request_ids: Vec<String>,
}

impl InteractionResult {
    pub fn passed(&self) -> bool {
        matches!(self.outcome, Outcome::Passed)
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "result", rename_all = "snake_case")]
pub enum Outcome {
    Passed,
    Mismatch { mismatches: Vec<MismatchLine> },
    MissingState { state: String, detail: String },
    Error { error: String },
}

/// One difference between what the consumer expects and what the provider did.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct MismatchLine {
    /// Pact's kind: BodyMismatch, StatusMismatch, HeaderMismatch, MetadataMismatch...
    pub kind: String,
    /// Where: a JSON path in the body (`$.stock`), a header or query name; empty for status.
    pub at: String,
    pub expected: String,
    pub actual: String,
    pub message: String,
}

impl MismatchLine {
    fn from_json(v: &Value) -> MismatchLine {
        let text = |key: &str| match v.get(key) {
            None | Some(Value::Null) => String::new(),
            Some(Value::String(s)) => s.clone(),
            Some(other) => other.to_string(),
        };
        let at = ["path", "key", "parameter"]
            .iter()
            .map(|k| text(k))
            .find(|s| !s.is_empty())
            .unwrap_or_default();
        MismatchLine {
            kind: text("type"),
            at,
            expected: text("expected"),
            actual: text("actual"),
            message: text("mismatch"),
        }
    }
}

/// Verifies `provider` against `pacts` (all of them name it). `raw_output` receives the
/// verifier's own text (it prints it; msctl keeps stdout for its report).
pub async fn verify(
    provider: &Provider,
    pacts: &[&PactFile],
    raw_output: &Path,
) -> Result<Vec<InteractionResult>, crate::Error> {
    let info = ProviderInfo {
        name: provider.name.clone(),
        host: provider.host.clone(),
        transports: vec![
            ProviderTransport {
                transport: "http".into(),
                port: Some(provider.port),
                path: None,
                scheme: Some("http".into()),
            },
            ProviderTransport {
                transport: "message".into(),
                port: Some(provider.port),
                path: Some(MESSAGE_PATH.into()),
                scheme: Some("http".into()),
            },
        ],
        ..ProviderInfo::default()
    };
    let sources = pacts
        .iter()
        .map(|p| PactSource::File(p.path.display().to_string()))
        .collect();
    let tagger = Arc::new(Tagger::default());
    let options = VerificationOptions {
        request_filter: Some(tagger.clone()),
        coloured_output: false,
        request_timeout: 10_000,
        ..VerificationOptions::default()
    };
    let states = Arc::new(StateSetter {
        url: provider.url(STATE_PATH),
        provider: provider.name.clone(),
        client: reqwest::Client::new(),
        tagger: tagger.clone(),
        failed: Mutex::new(HashMap::new()),
    });
    let verified = {
        // It prints its whole report on stdout, which is msctl's (and `--json`'s).
        let _quiet = crate::ui::StdoutTo::file(raw_output)?;
        pact_verifier::verify_provider_async(
            info,
            sources,
            FilterInfo::None,
            vec![],
            &options,
            None,
            &states,
            None,
        )
        .await
    };
    let verified = verified
        .map_err(|e| crate::Error::Environment(format!("verifying {}: {e:#}", provider.name)))?;
    // Interactions run one after the other, each sending its request once: the k-th result
    // with a given `METHOD /path` sent the k-th request tagged with it.
    let mut seen: HashMap<(String, String), usize> = HashMap::new();
    let mut results: Vec<InteractionResult> = verified
        .interaction_results
        .iter()
        .map(|r| {
            let pact = pacts.iter().find(|p| p.consumer == r.consumer);
            let known = pact.and_then(|p| p.interaction(&r.interaction_description));
            let request = known.and_then(|i| i.request.clone());
            let failed_states = states.failed.lock().expect("lock");
            let outcome = outcome(&r.result, &r.provider_states, &failed_states);
            InteractionResult {
                consumer: r.consumer.clone(),
                provider: r.provider.clone(),
                description: r.interaction_description.clone(),
                kind: known.map(|i| i.kind).unwrap_or(Kind::Http),
                states: r.provider_states.clone(),
                // A failed state change means the request was never sent.
                request_ids: request
                    .as_ref()
                    .filter(|_| matches!(outcome, Outcome::Passed | Outcome::Mismatch { .. }))
                    .and_then(|(m, p)| {
                        let k = seen.entry((m.clone(), p.clone())).or_default();
                        *k += 1;
                        tagger.ids_for(m, p).into_iter().nth(*k - 1)
                    })
                    .into_iter()
                    .collect(),
                request: request.map(|(m, p)| format!("{m} {p}")),
                outcome: outcome.clone(),
                duration_ms: r.duration.as_millis() as u64,
                logs: Vec::new(),
            }
        })
        .collect();
    // An interaction the verifier did not report on (a pact it could not load) is not a pass.
    for pact in pacts {
        for i in &pact.interactions {
            let reported = results
                .iter()
                .any(|r| r.consumer == pact.consumer && r.description == i.description);
            if !reported {
                results.push(InteractionResult {
                    consumer: pact.consumer.clone(),
                    provider: pact.provider.clone(),
                    description: i.description.clone(),
                    kind: i.kind,
                    states: i.states.clone(),
                    request: i.request.as_ref().map(|(m, p)| format!("{m} {p}")),
                    outcome: Outcome::Error {
                        error: format!(
                            "the verifier did not run this interaction; its output is in {}",
                            raw_output.display()
                        ),
                    },
                    duration_ms: 0,
                    logs: Vec::new(),
                    request_ids: Vec::new(),
                });
            }
        }
    }
    Ok(results)
}

/// What a result means. A failed state change comes back from the verifier as "one or more
/// state change handlers has failed": the state's own failure, as recorded, says which and why.
fn outcome(
    result: &Result<(), MismatchResult>,
    states: &[String],
    failed_states: &HashMap<String, Outcome>,
) -> Outcome {
    match result {
        Ok(()) => Outcome::Passed,
        Err(MismatchResult::Mismatches { mismatches, .. }) => Outcome::Mismatch {
            mismatches: mismatches
                .iter()
                .map(|m| MismatchLine::from_json(&m.to_json()))
                .collect(),
        },
        Err(MismatchResult::Error(message, _)) => states
            .iter()
            .find_map(|s| failed_states.get(s).cloned())
            .unwrap_or_else(|| Outcome::Error {
                error: message.clone(),
            }),
    }
}

/// Gives every request the verifier sends an `x-request-id` (kit puts it on the request's log
/// span), and remembers which, so a failure can show the provider's lines for it.
#[derive(Debug, Default)]
struct Tagger {
    next: AtomicUsize,
    sent: Mutex<Vec<(String, String, String)>>,
}

impl Tagger {
    fn tag(&self, method: &str, path: &str) -> String {
        let id = format!("pact-{}", self.next.fetch_add(1, Ordering::Relaxed) + 1);
        self.sent
            .lock()
            .expect("lock")
            .push((method.to_uppercase(), path.to_owned(), id.clone()));
        id
    }

    fn ids_for(&self, method: &str, path: &str) -> Vec<String> {
        self.sent
            .lock()
            .expect("lock")
            .iter()
            .filter(|(m, p, _)| m == method && p == path)
            .map(|(_, _, id)| id.clone())
            .collect()
    }
}

impl RequestFilterExecutor for Tagger {
    fn call(self: Arc<Self>, request: &HttpRequest) -> HttpRequest {
        let mut request = request.clone();
        let id = self.tag(&request.method, &request.path);
        request
            .headers
            .get_or_insert_with(HashMap::new)
            .insert("x-request-id".into(), vec![id]);
        request
    }

    fn call_non_http(
        &self,
        body: &pact_models::bodies::OptionalBody,
        metadata: &HashMap<String, itertools::Either<Value, bytes::Bytes>>,
    ) -> (
        pact_models::bodies::OptionalBody,
        HashMap<String, itertools::Either<Value, bytes::Bytes>>,
    ) {
        (body.clone(), metadata.clone())
    }
}

/// Sets provider states through the provider's state-change endpoint.
#[derive(Debug)]
struct StateSetter {
    url: String,
    provider: String,
    client: reqwest::Client,
    tagger: Arc<Tagger>,
    /// Failed state changes by state name: the verifier reports only that "one or more"
    /// failed, so msctl keeps what each one said.
    failed: Mutex<HashMap<String, Outcome>>,
}

#[async_trait::async_trait]
impl ProviderStateExecutor for StateSetter {
    async fn call(
        self: Arc<Self>,
        interaction_id: Option<String>,
        state: &ProviderState,
        setup: bool,
        _client: Option<&reqwest::Client>,
    ) -> anyhow::Result<HashMap<String, Value>> {
        let body = serde_json::json!({
            "state": state.name,
            "params": state.params,
            "action": if setup { "setup" } else { "teardown" },
        });
        let fail = |description: String| ProviderStateError {
            description,
            interaction_id: interaction_id.clone(),
        };
        let id = self.tagger.tag("POST", STATE_PATH);
        let response = self
            .client
            .post(&self.url)
            .header("x-request-id", id)
            .json(&body)
            .timeout(Duration::from_secs(30))
            .send()
            .await
            .map_err(|e| {
                let error = format!("state change {:?}: {e}", state.name);
                self.failed.lock().expect("lock").insert(
                    state.name.clone(),
                    Outcome::Error {
                        error: error.clone(),
                    },
                );
                fail(error)
            })?;
        let status = response.status();
        let reply: Value = response.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(match reply {
                Value::Object(map) => map.into_iter().collect(),
                _ => HashMap::new(),
            });
        }
        let detail = reply
            .get("detail")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned();
        let outcome = match reply.get("type").and_then(Value::as_str) {
            Some(UNKNOWN_STATE) => Outcome::MissingState {
                state: state.name.clone(),
                detail: format!(
                    "{} has no such state ({detail}); add it to the provider's provider_states module, or fix the consumer test's `given`",
                    self.provider
                ),
            },
            _ if status == reqwest::StatusCode::NOT_FOUND => Outcome::Error {
                error: format!(
                    "state change {:?}: {} does not serve {STATE_PATH} (is it started with PACT_PROVIDER_STATES=true?)",
                    state.name, self.provider
                ),
            },
            _ => Outcome::Error {
                error: format!("state change {:?} failed with {status}: {detail}", state.name),
            },
        };
        let description = match &outcome {
            Outcome::MissingState { state, detail } => {
                format!("missing provider state {state:?}: {detail}")
            }
            Outcome::Error { error } => error.clone(),
            _ => unreachable!("only failures are recorded"),
        };
        self.failed
            .lock()
            .expect("lock")
            .insert(state.name.clone(), outcome);
        Err(fail(description).into())
    }

    fn teardown(&self) -> bool {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_failed_state_change_is_reported_as_what_the_provider_said() {
        let missing = Outcome::MissingState {
            state: "product P has 5 in stock".into(),
            detail: "product-service has no such state".into(),
        };
        let failed = HashMap::from([("product P has 5 in stock".to_owned(), missing.clone())]);
        let verifier_says = Err(MismatchResult::Error(
            "One or more of the setup state change handlers has failed".into(),
            None,
        ));
        let states = ["product P has 5 in stock".to_owned()];
        assert_eq!(outcome(&verifier_says, &states, &failed), missing);
        // Not a state's failure: the verifier's words.
        assert!(matches!(
            outcome(&verifier_says, &["another state".to_owned()], &failed),
            Outcome::Error { .. }
        ));
    }

    #[test]
    fn a_body_mismatch_keeps_its_path_and_values() {
        let line = MismatchLine::from_json(&serde_json::json!({
            "type": "BodyMismatch", "path": "$.stock", "expected": "5", "actual": null,
            "mismatch": "Expected stock but was missing"
        }));
        assert_eq!(line.at, "$.stock");
        assert_eq!(line.expected, "5");
        assert_eq!(line.actual, "");
    }
}
