//! The journey file as written: serde types that keep every value's position, so that a check
//! at load time or a failure at run time can point at `file:line:column`. Flexible values
//! (bodies, matchers, status) are [`Node`]s, interpreted by `check` and `run`.

use crate::diag::{Spanned, SpannedMap};
use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// One journey: a name, variables, steps, and clean-up steps that always run.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Journey {
    /// Unique among the journeys; what the command line and the report call it.
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// Run alone, after the other journeys (for a journey that would disturb the rest).
    #[serde(default)]
    pub exclusive: bool,
    /// Rendered in order; a later variable may use earlier ones.
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub variables: SpannedMap<Spanned<Node>>,
    pub steps: Vec<Step>,
    /// Steps that run after `steps`, whether they passed or not.
    #[serde(default)]
    pub finally: Vec<Step>,
}

/// An HTTP step (`request`, then `expect`, `capture`, `eventually`) or a message step
/// (`expect_message`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Step {
    #[schemars(with = "String")]
    pub name: Spanned<String>,
    #[serde(default)]
    #[schemars(with = "Option<Request>")]
    pub request: Option<Spanned<Request>>,
    #[serde(default)]
    pub expect: Option<Expect>,
    #[serde(default)]
    pub capture: SpannedMap<Capture>,
    #[serde(default)]
    #[schemars(with = "Option<Eventually>")]
    pub eventually: Option<Spanned<Eventually>>,
    #[serde(default)]
    #[schemars(with = "Option<ExpectMessage>")]
    pub expect_message: Option<Spanned<ExpectMessage>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize, JsonSchema)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    #[default]
    Get,
    Post,
    Put,
    Patch,
    Delete,
    Head,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
            Method::Head => "HEAD",
        }
    }
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Request {
    #[serde(default)]
    pub method: Method,
    /// Path and query, relative to the service.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// The stack service to call (default: the stack's gateway, `gateway: true`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub service: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub headers: SpannedMap<Spanned<Node>>,
    /// A JSON body.
    #[serde(default)]
    #[schemars(with = "Option<Node>")]
    pub json: Option<Spanned<Node>>,
    /// A raw body, sent as written (after templating).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub body: Option<Spanned<String>>,
    /// Per request, like `10s` (the default).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
}

#[derive(Debug, Default, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Expect {
    /// `201`, `[200, 201]` or `"2xx"`.
    #[serde(default)]
    #[schemars(with = "Option<Node>")]
    pub status: Option<Spanned<Node>>,
    /// Header name (any case) → matcher.
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub headers: SpannedMap<Spanned<Node>>,
    /// JSONPath (RFC 9535) → matcher.
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub json: SpannedMap<Spanned<Node>>,
}

/// Where a captured value comes from: exactly one of `json` and `header`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Capture {
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub json: Option<Spanned<String>>,
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub header: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Eventually {
    /// The deadline, like `15s`.
    #[schemars(with = "String")]
    pub within: Spanned<String>,
    /// First pause between attempts (default `100ms`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub interval: Option<Spanned<String>>,
    /// Each pause is this many times the last (default 1.5).
    #[serde(default)]
    pub backoff: Option<f64>,
    /// Longest pause (default `1s`).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub max_interval: Option<Spanned<String>>,
    /// JSONPath → matcher: when all hold, stop at once (a terminal, wrong state).
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub fail_fast: SpannedMap<Spanned<Node>>,
}

#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExpectMessage {
    #[schemars(with = "String")]
    pub exchange: Spanned<String>,
    /// A binding key (`order.*` and `#` work).
    #[schemars(with = "String")]
    pub routing_key: Spanned<String>,
    /// The deadline, like `10s` (the default).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub within: Option<Spanned<String>>,
    /// The stack service of the broker (default: the stack's RabbitMQ service).
    #[serde(default)]
    #[schemars(with = "Option<String>")]
    pub broker: Option<Spanned<String>>,
    /// JSONPath on the message body → matcher.
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub json: SpannedMap<Spanned<Node>>,
    /// AMQP header → matcher.
    #[serde(default)]
    #[schemars(with = "SpannedMap<Node>")]
    pub headers: SpannedMap<Spanned<Node>>,
}

/// A YAML value whose every part remembers its position.
#[derive(Debug, Clone)]
pub enum Node {
    Null,
    Bool(bool),
    Int(i64),
    Float(f64),
    Str(String),
    Seq(Vec<Spanned<Node>>),
    Map(Vec<(Spanned<String>, Spanned<Node>)>),
}

impl<'de> Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct NodeVisitor;
        impl<'de> Visitor<'de> for NodeVisitor {
            type Value = Node;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("any YAML value")
            }
            fn visit_unit<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_none<E>(self) -> Result<Node, E> {
                Ok(Node::Null)
            }
            fn visit_bool<E>(self, v: bool) -> Result<Node, E> {
                Ok(Node::Bool(v))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Node, E> {
                Ok(Node::Int(v))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Node, E> {
                i64::try_from(v)
                    .map(Node::Int)
                    .map_err(|_| E::custom("number too large"))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Node, E> {
                Ok(Node::Float(v))
            }
            fn visit_str<E>(self, v: &str) -> Result<Node, E> {
                Ok(Node::Str(v.to_owned()))
            }
            fn visit_string<E>(self, v: String) -> Result<Node, E> {
                Ok(Node::Str(v))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<Node, A::Error> {
                let mut items = Vec::new();
                while let Some(item) = s.next_element::<Spanned<Node>>()? {
                    items.push(item);
                }
                Ok(Node::Seq(items))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Node, A::Error> {
                let mut entries = Vec::new();
                while let Some(entry) = m.next_entry::<Spanned<String>, Spanned<Node>>()? {
                    entries.push(entry);
                }
                Ok(Node::Map(entries))
            }
        }
        d.deserialize_any(NodeVisitor)
    }
}

impl JsonSchema for Node {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Value".into()
    }
    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!(true)
    }
}

impl Node {
    /// The value as JSON, strings untouched (no templating).
    pub fn to_json(&self) -> serde_json::Value {
        use serde_json::Value;
        match self {
            Node::Null => Value::Null,
            Node::Bool(b) => Value::Bool(*b),
            Node::Int(i) => Value::from(*i),
            Node::Float(f) => Value::from(*f),
            Node::Str(s) => Value::String(s.clone()),
            Node::Seq(items) => Value::Array(items.iter().map(|i| i.value.to_json()).collect()),
            Node::Map(entries) => Value::Object(
                entries
                    .iter()
                    .map(|(k, v)| (k.value.clone(), v.value.to_json()))
                    .collect(),
            ),
        }
    }
}
