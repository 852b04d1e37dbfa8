//! Hostile input from a service's OpenAPI document (issue #12): for every operation in
//! `docs/api/<service>.openapi.snap`, every string parameter (path, query, header) and every
//! string field of the JSON body (nested ones included) is sent, one at a time, with values a
//! careless or hostile client sends — NUL and other control characters, very long strings,
//! invalid percent-escapes, bytes that are not UTF-8, invalid JSON escapes — while everything
//! else in the request stays valid. The service must answer a 4xx problem+json or a 2xx/3xx:
//! never a 5xx, never a plain-text error.
//!
//! The document is the one the docs publish (a test elsewhere holds it equal to the code's), so a
//! new route or field is covered the day it is documented.

use serde_json::{json, Map, Value};
use std::collections::BTreeMap;

/// Real values by parameter or field name (an existing product's id), so requests get past
/// "not found" into the handlers' deeper code.
type Fixtures<'a> = BTreeMap<&'a str, String>;

/// String values that must never make a service fail.
pub const HOSTILE_STRINGS: &[&str] = &[
    "\u{0}",
    "a\u{0}b",
    "\u{1}",
    "\u{1b}[31m",
    "\u{7f}",
    "\u{85}",
    "line\nbreak",
    "\u{202e}reversed",
    "\u{feff}",
    "\u{fffd}\u{ffff}",
    "'; DROP TABLE x; --",
    "%00",
    "",
    " ",
];

/// Raw query/path values: percent-escapes that decode to NUL, controls or non-UTF-8 bytes, and
/// escapes that are not escapes.
pub const HOSTILE_ESCAPES: &[&str] = &[
    "%00", "a%00", "%01", "%1B", "%7F", "%C2%85", "%FF", "%C3%28", "%", "%zz", "%E2%80",
];

/// A very long string: longer than any index entry PostgreSQL can hold (~2.7 kB).
pub fn long_string() -> String {
    "x".repeat(20_000)
}

/// The document `docs/api/<service>.openapi.snap` holds.
pub fn published_document(service: &str) -> Value {
    let file = crate::workspace_root()
        .join("docs/api")
        .join(format!("{service}.openapi.snap"));
    let text = std::fs::read_to_string(&file).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
    // An insta snapshot: a `---`-fenced header, then the document.
    let body = text.splitn(3, "---\n").nth(2).expect("an insta snapshot");
    serde_json::from_str(body).expect("the snapshot holds a JSON document")
}

/// Resolves `$ref`s into `#/components/schemas`.
/// One hostile case: the parameter name or body pointer, the raw parameter (name, value) it
/// replaces, the raw body it sends.
type Case = (String, Option<(String, String)>, Option<Vec<u8>>);

fn resolve<'a>(doc: &'a Value, schema: &'a Value) -> &'a Value {
    match schema.get("$ref").and_then(Value::as_str) {
        Some(r) => {
            let name = r.rsplit('/').next().unwrap_or_default();
            resolve(doc, &doc["components"]["schemas"][name])
        }
        None => schema,
    }
}

fn types(schema: &Value) -> Vec<&str> {
    match &schema["type"] {
        Value::String(t) => vec![t.as_str()],
        Value::Array(ts) => ts.iter().filter_map(Value::as_str).collect(),
        _ => Vec::new(),
    }
}

/// A plausible value for a field, so that the request is otherwise valid.
fn sample(doc: &Value, schema: &Value, name: &str, depth: usize, fixtures: &Fixtures) -> Value {
    if let Some(value) = fixtures.get(name) {
        return json!(value);
    }
    let schema = resolve(doc, schema);
    if let Some(first) = schema["enum"].as_array().and_then(|e| e.first()) {
        return first.clone();
    }
    for key in ["oneOf", "anyOf", "allOf"] {
        if let Some(options) = schema[key].as_array() {
            if let Some(s) = options
                .iter()
                .find(|o| !types(resolve(doc, o)).contains(&"null"))
            {
                return sample(doc, s, name, depth, fixtures);
            }
        }
    }
    let ts = types(schema);
    let t = ts
        .iter()
        .find(|t| **t != "null")
        .copied()
        .unwrap_or("object");
    let lower = name.to_ascii_lowercase();
    match t {
        "string" => json!(match schema["format"].as_str() {
            Some("uuid") => uuid::Uuid::new_v4().to_string(),
            Some("date-time") => "2026-01-01T00:00:00Z".into(),
            Some("date") => "2026-01-01".into(),
            _ if lower.contains("email") => format!("hostile-{}@example.com", uuid::Uuid::new_v4()),
            _ if lower.contains("password") => "Hostile-password-1".into(),
            _ if lower.contains("price") || lower.contains("amount") => "1.00".into(),
            _ if lower.contains("currency") => "EUR".into(),
            _ if lower.contains("token") => "tok_visa".into(),
            _ => "hostile".into(),
        }),
        "integer" => json!(1),
        "number" => json!(1),
        "boolean" => json!(true),
        "array" if depth < 4 => json!([sample(doc, &schema["items"], name, depth + 1, fixtures)]),
        "array" => json!([]),
        _ if depth < 4 => {
            let mut object = Map::new();
            if let Some(props) = schema["properties"].as_object() {
                for (field, s) in props {
                    object.insert(field.clone(), sample(doc, s, field, depth + 1, fixtures));
                }
            }
            Value::Object(object)
        }
        _ => json!({}),
    }
}

/// JSON paths (as pointers) of every string leaf of `value`.
fn string_leaves(value: &Value, at: String, out: &mut Vec<String>) {
    match value {
        Value::String(_) => out.push(at),
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                string_leaves(item, format!("{at}/{i}"), out);
            }
        }
        Value::Object(fields) => {
            for (k, v) in fields {
                string_leaves(v, format!("{at}/{k}"), out);
            }
        }
        _ => {}
    }
}

struct Parameter {
    name: String,
    place: String,
    string: bool,
    sample: String,
}

fn parameters(doc: &Value, operation: &Value, fixtures: &Fixtures) -> Vec<Parameter> {
    operation["parameters"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|p| {
            let name = p["name"].as_str()?.to_owned();
            let place = p["in"].as_str()?.to_owned();
            // The caller's identity is the harness's, not an input under test.
            if name.starts_with("x-identity") || name.starts_with("x-user-") {
                return None;
            }
            let schema = resolve(doc, &p["schema"]);
            let value = match fixtures.get(name.as_str()) {
                Some(v) => v.clone(),
                None => match sample(doc, schema, &name, 0, fixtures) {
                    Value::String(s) => s,
                    other => other.to_string(),
                },
            };
            let string = types(schema).contains(&"string") && schema["enum"].is_null();
            Some(Parameter {
                name,
                place,
                string,
                sample: value,
            })
        })
        .collect()
}

fn encode(value: &str) -> String {
    let mut out = String::new();
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Runs every hostile case against the service at `base_url` (`service` names its document),
/// each request passed through `caller` (to add an identity), and fails listing every case that
/// got a 5xx or a non-problem error. `fixtures` gives parameters and body fields real values by
/// name (`id`, `product_id`). Returns the number of requests.
pub async fn assert_hostile_input_is_refused(
    service: &str,
    base_url: &str,
    fixtures: &[(&str, String)],
    caller: impl Fn(reqwest::RequestBuilder) -> reqwest::RequestBuilder,
) -> usize {
    let doc = published_document(service);
    let fixtures: Fixtures = fixtures.iter().cloned().collect();
    let client = reqwest::Client::new();
    let long = long_string();
    let mut failures = Vec::new();
    let mut sent = 0;
    for (template, operations) in doc["paths"].as_object().expect("paths") {
        for (method, operation) in operations.as_object().expect("operations") {
            let params = parameters(&doc, operation, &fixtures);
            let body_schema = &operation["requestBody"]["content"]["application/json"]["schema"];
            let body =
                (!body_schema.is_null()).then(|| sample(&doc, body_schema, "", 0, &fixtures));
            // Each case: (parameter name or body pointer, raw parameter value or body).
            let mut cases: Vec<Case> = Vec::new();
            for p in params.iter().filter(|p| p.string && p.place != "header") {
                for raw in HOSTILE_STRINGS
                    .iter()
                    .map(|s| encode(s))
                    .chain(HOSTILE_ESCAPES.iter().map(|s| s.to_string()))
                    .chain([encode(&long)])
                {
                    cases.push((
                        format!("{} {} = {raw:.40}", p.place, p.name),
                        Some((p.name.clone(), raw)),
                        None,
                    ));
                }
            }
            if let Some(body) = &body {
                let mut leaves = Vec::new();
                string_leaves(body, String::new(), &mut leaves);
                for leaf in &leaves {
                    for value in HOSTILE_STRINGS
                        .iter()
                        .map(|s| s.to_string())
                        .chain([long.clone()])
                    {
                        let mut hostile = body.clone();
                        *hostile.pointer_mut(leaf).expect("a leaf") = json!(value);
                        cases.push((
                            format!("body {leaf} = {value:.40?}"),
                            None,
                            Some(serde_json::to_vec(&hostile).unwrap()),
                        ));
                    }
                }
                if let Value::Object(fields) = body {
                    let mut keyed = fields.clone();
                    keyed.insert("bad\u{0}key".into(), json!(1));
                    cases.push((
                        "body key with NUL".into(),
                        None,
                        Some(serde_json::to_vec(&keyed).unwrap()),
                    ));
                }
                for raw in [
                    r#"{"a":"\uD800"}"#,
                    r#"{"a":"\x"}"#,
                    "{\"a\":\"\u{1}\"}",
                    "\u{0}",
                ] {
                    cases.push((
                        format!("raw body {raw:?}"),
                        None,
                        Some(raw.as_bytes().to_vec()),
                    ));
                }
            }
            // The baseline too: a valid request must not fail either.
            cases.push((
                "baseline".into(),
                None,
                body.as_ref().map(|b| serde_json::to_vec(b).unwrap()),
            ));
            for (what, hostile_param, hostile_body) in cases {
                let mut path = template.clone();
                let mut query = Vec::new();
                let mut headers = Vec::new();
                for p in &params {
                    let raw = match &hostile_param {
                        Some((name, raw)) if *name == p.name => raw.clone(),
                        _ => encode(&p.sample),
                    };
                    match p.place.as_str() {
                        "path" => path = path.replace(&format!("{{{}}}", p.name), &raw),
                        "query"
                            if hostile_param.as_ref().is_some_and(|(n, _)| *n == p.name)
                                || fixtures.contains_key(p.name.as_str()) =>
                        {
                            query.push(format!("{}={raw}", p.name));
                        }
                        "header" => headers.push((p.name.clone(), p.sample.clone())),
                        _ => {}
                    }
                }
                let url = if query.is_empty() {
                    format!("{base_url}{path}")
                } else {
                    format!("{base_url}{path}?{}", query.join("&"))
                };
                let method = reqwest::Method::from_bytes(method.to_uppercase().as_bytes()).unwrap();
                let mut request = caller(client.request(method.clone(), &url));
                for (name, value) in headers {
                    request = request.header(name, value);
                }
                if let Some(bytes) =
                    hostile_body.or_else(|| body.as_ref().map(|b| serde_json::to_vec(b).unwrap()))
                {
                    request = request
                        .header("content-type", "application/json")
                        .body(bytes);
                }
                let response = request.send().await.expect("the service answers");
                sent += 1;
                let status = response.status().as_u16();
                let problem = response
                    .headers()
                    .get("content-type")
                    .and_then(|v| v.to_str().ok())
                    .is_some_and(|t| t.starts_with("application/problem+json"));
                let text = response.text().await.unwrap_or_default();
                if status >= 500 || (status >= 400 && !problem) {
                    failures.push(format!(
                        "{status} {method} {template} [{what}]: {text:.200}"
                    ));
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {sent} hostile requests to {service} failed:\n{}",
        failures.len(),
        failures.join("\n")
    );
    sent
}
