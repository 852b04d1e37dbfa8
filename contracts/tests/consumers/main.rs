//! Consumer tests: each drives a consumer's real client code against Pact's mock server (HTTP)
//! or through Pact's message builder (events), and so writes `contracts/pacts/CONSUMER-PROVIDER.json`.
//!
//! One test per consumer → provider pair, each with one builder holding all its interactions:
//! the file is written whole (`PACT_OVERWRITE`), in the same order every run, so CI can compare
//! it with the committed one. Requests differ in their ids, so the mock server can tell the
//! interactions of one pair apart. Provider states are plain words with the values as params;
//! the providers set them up (docs/contracts.md). A request with a JSON body names its
//! `Content-Type` (`content_type` before `json_body`): the clients send it, and the verifier
//! sends only the headers a pact records, so without it every provider answers 415.

mod gateway_user;
mod notification_order;
mod order_payment;
mod order_product;

use pact_consumer::prelude::*;
use std::sync::Once;

/// A V4 pact between `consumer` and `provider`, written to `contracts/pacts/` when its mock
/// server (or message iterator) is dropped without a mismatch.
pub fn pact(consumer: &str, provider: &str) -> PactBuilder {
    static SETTINGS: Once = Once::new();
    SETTINGS.call_once(|| {
        // Pact sends usage metrics unless told not to; and a file is replaced, not merged with
        // what an earlier run wrote (stale interactions would stay).
        std::env::set_var("PACT_DO_NOT_TRACK", "true");
        std::env::set_var("PACT_OVERWRITE", "true");
    });
    let mut builder = PactBuilder::new_v4(consumer, provider);
    builder.with_output_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/pacts"));
    builder
}

/// Rewrites the pact file of `consumer` → `provider` with its object keys sorted: Pact writes
/// them in hash order, which differs from run to run, and CI compares the files with the
/// committed ones. Call it once the mock server (or message iterator) has been dropped.
pub fn normalise(consumer: &str, provider: &str) {
    fn sorted(value: serde_json::Value) -> serde_json::Value {
        match value {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
                )
            }
            serde_json::Value::Array(items) => items.into_iter().map(sorted).collect(),
            other => other,
        }
    }
    let path = format!(
        "{}/pacts/{consumer}-{provider}.json",
        env!("CARGO_MANIFEST_DIR")
    );
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{path}: {e}"));
    let value: serde_json::Value = serde_json::from_str(&text).expect("a pact file is JSON");
    let mut out = serde_json::to_string_pretty(&sorted(value)).expect("serialises");
    out.push('\n');
    std::fs::write(&path, out).unwrap_or_else(|e| panic!("{path}: {e}"));
}

/// Ids of the examples: fixed, so the pact files are the same on every run.
pub mod ids {
    use uuid::Uuid;
    pub fn id(n: u8) -> Uuid {
        Uuid::from_u128(0x5eed_0000_0000_4000_8000_0000_0000_0000 | n as u128)
    }
}

/// An `application/problem+json` refusal with `status`: the consumers read its `title` (and
/// `detail` when there is one) into their logs and the order's reason, nothing else.
pub fn problem(status: u16) -> JsonPattern {
    json_pattern!({
        "status": status,
        "title": like!("A refusal"),
    })
}

pub const PROBLEM_JSON: &str = "application/problem+json";
