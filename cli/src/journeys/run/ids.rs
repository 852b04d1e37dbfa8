//! The ids one run sends with every request (a W3C trace, a request id), and the built-in
//! variables a journey sees.

use crate::journeys::template::Scope;
use serde_json::{Map, Value};

/// The ids one run sends with every request.
#[derive(Debug, Clone)]
pub struct RunIds {
    pub run_id: String,
    pub trace_id: String,
    pub request_id: String,
}

impl RunIds {
    pub fn new() -> Self {
        let trace_id = format!("{:032x}", rand::random::<u128>());
        let run_id = trace_id[..10].to_owned();
        RunIds {
            request_id: format!("journey-{run_id}"),
            run_id,
            trace_id,
        }
    }

    /// W3C `traceparent`: the run's trace, a new span per request, sampled.
    pub(super) fn traceparent(&self) -> String {
        format!(
            "00-{}-{:016x}-01",
            self.trace_id,
            rand::random::<u64>().max(1)
        )
    }
}

impl Default for RunIds {
    fn default() -> Self {
        Self::new()
    }
}

/// `run_id`, `trace_id`, `request_id` and `env`.
pub(super) fn builtins(ids: &RunIds, env: &Map<String, Value>) -> Scope {
    let mut scope = Scope::new();
    scope.insert("run_id".into(), Value::from(ids.run_id.clone()));
    scope.insert("trace_id".into(), Value::from(ids.trace_id.clone()));
    scope.insert("request_id".into(), Value::from(ids.request_id.clone()));
    scope.insert("env".into(), Value::Object(env.clone()));
    scope
}
