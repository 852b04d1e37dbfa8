//! Provider states, for verifying a service against its consumers' pacts (docs/contracts.md).
//!
//! The Pact verifier asks the provider to put itself in the state an interaction names
//! ("a product with stock", with `{"product_id", "stock", "price"}`) before replaying the
//! request: it POSTs `{"state", "params", "action": "setup" | "teardown"}` to
//! [`STATE_PATH`]. Each service answers with its own [`StateHandler`]; kit mounts it, parses
//! the body and answers a state the service does not know with a 400 problem of type
//! [`UNKNOWN_STATE`]. Pact's own state executor keeps only the status code, so `msctl test
//! contracts` makes the state-change call itself and reports that type as a missing provider
//! state, not as a mismatch.
//!
//! Message pacts work the same way: the verifier POSTs `{"description", "providerStates"}` to
//! [`MESSAGE_PATH`] and takes the reply as the message, its body as the message body and the
//! `Pact-Message-Metadata` header (base64 JSON) as its metadata; the service's
//! [`MessageHandler`] builds it with the code that fills its outbox.
//!
//! The routes exist only when the service was started with `PACT_PROVIDER_STATES=true`
//! (off by default; the bundled stack never sets it), and the gateway has no route to it:
//! it writes to the database without any authentication.

use crate::Problem;
use axum::extract::State;
use axum::routing::post;
use axum::Router;
use serde::Deserialize;
use serde_json::{Map, Value};
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

/// Where the verifier sends state changes.
pub const STATE_PATH: &str = "/_pact/state";
/// Where the verifier asks for a message (message pacts).
pub const MESSAGE_PATH: &str = "/_pact/message";
/// The setting that mounts it: `PACT_PROVIDER_STATES=true`.
pub const SETTING: &str = "PACT_PROVIDER_STATES";

/// What the verifier asks for.
#[derive(Debug, Clone, Deserialize)]
pub struct StateChange {
    pub state: String,
    #[serde(default)]
    pub params: Map<String, Value>,
    /// `setup` (before the interaction) or `teardown` (after it).
    #[serde(default = "setup")]
    pub action: String,
}

fn setup() -> String {
    "setup".into()
}

impl StateChange {
    /// The parameter `name`, deserialized; a missing or mistyped one is the caller's error.
    pub fn param<T: serde::de::DeserializeOwned>(&self, name: &str) -> Result<T, StateError> {
        let value = self.params.get(name).cloned().unwrap_or(Value::Null);
        serde_json::from_value(value).map_err(|e| {
            StateError::BadParams(format!("state {:?}: param {name:?}: {e}", self.state))
        })
    }
}

/// Problem type of the answer to a state the service does not know (`msctl test contracts`
/// reports it as a missing provider state).
pub const UNKNOWN_STATE: &str = "https://msctl.dev/problems/unknown-provider-state";

#[derive(Debug, thiserror::Error)]
pub enum StateError {
    #[error("unknown provider state {0:?}")]
    Unknown(String),
    #[error("{0}")]
    BadParams(String),
    #[error("setting up the state failed: {0}")]
    Failed(String),
}

impl From<sqlx::Error> for StateError {
    fn from(e: sqlx::Error) -> StateError {
        StateError::Failed(e.to_string())
    }
}

impl axum::response::IntoResponse for StateError {
    fn into_response(self) -> axum::response::Response {
        match &self {
            // Its own problem type: a verifier tells "the provider lacks this state" (the
            // consumer asks for something no one set up) from a mismatch or bad parameters.
            StateError::Unknown(_) => Problem::bad_request(self.to_string())
                .kind(UNKNOWN_STATE)
                .into_response(),
            StateError::BadParams(_) => Problem::bad_request(self.to_string()).into_response(),
            StateError::Failed(_) => Problem::internal(&self).into_response(),
        }
    }
}

/// An async function from what the verifier asks (`I`) to what the service answers (`O`),
/// shareable by the routes.
pub type Handler<I, O> =
    Arc<dyn Fn(I) -> Pin<Box<dyn Future<Output = Result<O, StateError>> + Send>> + Send + Sync>;

fn wrap<I, O, F, Fut>(f: F) -> Handler<I, O>
where
    F: Fn(I) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<O, StateError>> + Send + 'static,
{
    Arc::new(move |input| Box::pin(f(input)))
}

/// A service's states: given the change, set it up (or tear it down) and say which values the
/// interaction may use (merged into the verifier's state context).
pub type StateHandler = Handler<StateChange, Value>;

/// Wraps an async function as a [`StateHandler`].
pub fn handler<F, Fut>(f: F) -> StateHandler
where
    F: Fn(StateChange) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Value, StateError>> + Send + 'static,
{
    wrap(f)
}

/// What the verifier asks for a message pact: the interaction's description and states.
#[derive(Debug, Clone, Deserialize)]
pub struct MessageRequest {
    pub description: String,
    #[serde(default, rename = "providerStates")]
    pub provider_states: Vec<ProviderState>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ProviderState {
    pub name: String,
    #[serde(default)]
    pub params: Map<String, Value>,
}

impl ProviderState {
    /// The state as a [`StateChange`], to read its params the same way.
    pub fn change(&self) -> StateChange {
        StateChange {
            state: self.name.clone(),
            params: self.params.clone(),
            action: setup(),
        }
    }
}

/// A message as the service would publish it: body and metadata (exchange, routing key,
/// content type, headers).
#[derive(Debug, Clone, PartialEq)]
pub struct Message {
    pub body: Value,
    pub metadata: Map<String, Value>,
}

/// A service's messages: the one the request's description and states call for.
pub type MessageHandler = Handler<MessageRequest, Message>;

/// Wraps an async function as a [`MessageHandler`].
pub fn message_handler<F, Fut>(f: F) -> MessageHandler
where
    F: Fn(MessageRequest) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Message, StateError>> + Send + 'static,
{
    wrap(f)
}

/// The routes, for [`crate::Service::provider_states`]: state changes, and messages when the
/// service publishes any.
pub fn routes(states: StateHandler, messages: Option<MessageHandler>) -> Router {
    let router = Router::new()
        .route(STATE_PATH, post(change))
        .with_state(states);
    match messages {
        Some(messages) => router.merge(
            Router::new()
                .route(MESSAGE_PATH, post(message))
                .with_state(messages),
        ),
        None => router,
    }
}

async fn change(
    State(handler): State<StateHandler>,
    crate::Json(change): crate::Json<StateChange>,
) -> Result<axum::Json<Value>, StateError> {
    tracing::info!(state = %change.state, action = %change.action, "provider state");
    if change.action == "teardown" {
        // Every state is set up from scratch, so nothing needs undoing.
        return Ok(axum::Json(Value::Object(Map::new())));
    }
    handler(change).await.map(axum::Json)
}

async fn message(
    State(handler): State<MessageHandler>,
    crate::Json(request): crate::Json<MessageRequest>,
) -> Result<axum::response::Response, StateError> {
    use axum::response::IntoResponse;
    use base64::Engine;
    tracing::info!(description = %request.description, "provider message");
    let message = handler(request).await?;
    let metadata = base64::engine::general_purpose::STANDARD
        .encode(serde_json::to_vec(&message.metadata).expect("JSON serialises"));
    Ok((
        [("pact-message-metadata", metadata)],
        axum::Json(message.body),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::http::{Request, StatusCode};
    use tower::ServiceExt;

    fn app() -> Router {
        let states = handler(|change: StateChange| async move {
            match change.state.as_str() {
                "a thing exists" => {
                    let id: u32 = change.param("id")?;
                    Ok(serde_json::json!({ "id": id }))
                }
                other => Err(StateError::Unknown(other.into())),
            }
        });
        let messages = message_handler(|request: MessageRequest| async move {
            let state = request.provider_states.first().map(ProviderState::change);
            let id: u32 = state
                .ok_or(StateError::BadParams("no state".into()))?
                .param("id")?;
            let mut metadata = Map::new();
            metadata.insert("routing_key".into(), "thing.created".into());
            Ok(Message {
                body: serde_json::json!({"id": id, "description": request.description}),
                metadata,
            })
        });
        routes(states, Some(messages))
    }

    async fn post(body: &str) -> (StatusCode, Value) {
        let (status, _, body) = post_to(STATE_PATH, body).await;
        (status, body)
    }

    async fn post_to(path: &str, body: &str) -> (StatusCode, axum::http::HeaderMap, Value) {
        let response = app()
            .oneshot(
                Request::post(path)
                    .header("content-type", "application/json")
                    .body(Body::from(body.to_owned()))
                    .unwrap(),
            )
            .await
            .unwrap();
        let status = response.status();
        let headers = response.headers().clone();
        let bytes = axum::body::to_bytes(response.into_body(), 1 << 16)
            .await
            .unwrap();
        (
            status,
            headers,
            serde_json::from_slice(&bytes).unwrap_or(Value::Null),
        )
    }

    #[tokio::test]
    async fn a_message_comes_back_as_the_body_with_its_metadata_in_a_header() {
        use base64::Engine;
        let (status, headers, body) = post_to(
            MESSAGE_PATH,
            r#"{"description":"a thing was made","providerStates":[{"name":"a thing exists","params":{"id":3}}]}"#,
        )
        .await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(
            body,
            serde_json::json!({"id": 3, "description": "a thing was made"})
        );
        let metadata = base64::engine::general_purpose::STANDARD
            .decode(headers["pact-message-metadata"].as_bytes())
            .unwrap();
        let metadata: Value = serde_json::from_slice(&metadata).unwrap();
        assert_eq!(
            metadata,
            serde_json::json!({"routing_key": "thing.created"})
        );
    }

    #[tokio::test]
    async fn a_known_state_is_set_up_with_its_params() {
        let (status, body) =
            post(r#"{"state":"a thing exists","params":{"id":7},"action":"setup"}"#).await;
        assert_eq!(status, StatusCode::OK);
        assert_eq!(body, serde_json::json!({"id": 7}));
    }

    #[tokio::test]
    async fn an_unknown_state_or_a_bad_param_is_a_400_that_says_so() {
        let (status, body) = post(r#"{"state":"a thing is missing","params":{}}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"]
            .as_str()
            .unwrap()
            .contains("unknown provider state"));
        // Its own type: the verifier reports a missing state, not a failed one.
        assert_eq!(body["type"], UNKNOWN_STATE);
        let (status, body) = post(r#"{"state":"a thing exists","params":{"id":"x"}}"#).await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert!(body["detail"].as_str().unwrap().contains("param \"id\""));
        assert_ne!(body["type"], UNKNOWN_STATE);
    }

    #[tokio::test]
    async fn teardown_is_a_no_op() {
        let (status, _) = post(r#"{"state":"anything","action":"teardown"}"#).await;
        assert_eq!(status, StatusCode::OK);
    }
}
