{% if amqp %}
//! The events of this service (catalogue: docs/events.md; the envelope every shop event has):
//!
//! ```json
//! {"id":"<uuid>","type":"{% if publishes %}{{ publishes[0] }}{% else %}{{ consumes[0] }}{% endif %}","version":1,"occurred_at":"2026-11-21T20:00:00Z","data":{...}}
//! ```
{% if consumes %}
//!
//! Consumed: {% for e in consumes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %} ([`Incoming`]; the id is the idempotency key, `data` is kept as
//! JSON in the inbox: read the fields this service needs from it in `store::apply`).
{% endif %}
{% if publishes %}
//!
//! Published (through the outbox, `kit::outbox`): {% for e in publishes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %}. `{{ publishes[0] }}` announces a created
//! item ([`created`]), with the item as `data`.
{% endif %}

{% if publishes %}
use crate::store::Item;
{% endif %}
use chrono::{DateTime, Utc};
{% if consumes and publishes %}
use serde::{Deserialize, Serialize};
{% elif consumes %}
use serde::Deserialize;
{% else %}
use serde::{Deserialize, Serialize};
{% endif %}
use uuid::Uuid;

/// The schema version of the events (body `version`, header `version`): bumped on a breaking
/// change of `data`.
pub const VERSION: u32 = 1;
{% if consumes %}

/// The event types this service consumes (its queue's bindings, `topology::BINDINGS`).
pub const CONSUMED: [&str; {{ consumes | length }}] = [{% for e in consumes %}"{{ e }}"{% if not loop.last %}, {% endif %}{% endfor %}];

/// An event as consumed: the envelope, with `data` as it came.
#[derive(Debug, Clone, Deserialize)]
pub struct Incoming {
    /// The event id: the idempotency key.
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub occurred_at: DateTime<Utc>,
    pub data: serde_json::Value,
}

#[derive(Debug, thiserror::Error)]
#[error("unreadable event: {0}")]
pub struct Unreadable(String);

impl Incoming {
    pub fn parse(body: &[u8]) -> Result<Incoming, Unreadable> {
        let value: serde_json::Value =
            serde_json::from_slice(body).map_err(|e| Unreadable(e.to_string()))?;
        // Checked first: another version's `data` would fail on some field, which would hide
        // the real reason. Such a message is dead-lettered, to be replayed by a newer consumer.
        match &value["version"] {
            serde_json::Value::Null => {}
            v if v.as_u64() == Some(u64::from(VERSION)) => {}
            v => return Err(Unreadable(format!("unsupported version {v}"))),
        }
        let event: Incoming =
            serde_json::from_value(value).map_err(|e| Unreadable(e.to_string()))?;
        if !CONSUMED.contains(&event.kind.as_str()) {
            return Err(Unreadable(format!(
                "type {:?} is not one this service consumes",
                event.kind
            )));
        }
        Ok(event)
    }
}
{% endif %}
{% if publishes %}

/// The event types this service publishes.
pub const PUBLISHED: [&str; {{ publishes | length }}] = [{% for e in publishes %}"{{ e }}"{% if not loop.last %}, {% endif %}{% endfor %}];
/// Published when an item is created.
pub const CREATED: &str = "{{ publishes[0] }}";

/// The message body: the envelope of every shop event, around the event's data.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Envelope<D> {
    pub id: Uuid,
    #[serde(rename = "type")]
    pub kind: String,
    pub version: u32,
    pub occurred_at: DateTime<Utc>,
    pub data: D,
}

/// The `{{ publishes[0] }}` event of a new item, with the current request's trace.
pub fn created(item: &Item) -> kit::outbox::Outgoing<Envelope<Item>> {
    let envelope = Envelope {
        id: Uuid::new_v4(),
        kind: CREATED.to_owned(),
        version: VERSION,
        occurred_at: Utc::now(),
        data: item.clone(),
    };
    kit::outbox::Outgoing::new(envelope.id, CREATED, envelope.occurred_at, envelope)
}
{% endif %}
{% if consumes %}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn event() -> serde_json::Value {
        json!({"id": Uuid::new_v4(), "type": CONSUMED[0], "version": 1,
            "occurred_at": "2026-11-21T20:00:00Z", "data": {"anything": 1}})
    }

    #[test]
    fn parses_the_envelope() {
        let e = Incoming::parse(event().to_string().as_bytes()).unwrap();
        assert_eq!(e.kind, CONSUMED[0]);
        assert_eq!(e.data, json!({"anything": 1}));
    }

    #[test]
    fn rejects_garbage_other_versions_and_other_types() {
        assert!(Incoming::parse(b"not json").is_err());
        assert!(Incoming::parse(b"{}").is_err());
        let mut e = event();
        e["version"] = json!(2);
        let err = Incoming::parse(e.to_string().as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "unreadable event: unsupported version 2");
        let mut e = event();
        e["type"] = json!("something.else");
        assert!(Incoming::parse(e.to_string().as_bytes()).is_err());
    }
}
{% endif %}
{% endif %}
