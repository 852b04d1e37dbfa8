//! The copies a consumer makes of a failed message (for a retry queue or the dead-letter
//! queue): the same body and properties, the broker's dead-lettering history dropped, the
//! attempt counted, published with confirms so the original is acknowledged only once the copy
//! is safe.

use super::SessionError;
use lapin::message::Delivery;
use lapin::options::{BasicAckOptions, BasicPublishOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel};

/// The number of this delivery (1 for the first), carried on the retried copies.
pub const ATTEMPT_HEADER: &str = "x-attempt";
/// Why the previous attempt failed.
pub const LAST_ERROR_HEADER: &str = "x-last-error";
/// The routing key the event was published with; a retried copy comes back from the retry
/// queue under the main queue's name, so the original would otherwise be lost.
pub const ROUTING_KEY_HEADER: &str = "x-original-routing-key";

/// Headers RabbitMQ adds when it dead-letters a message out of a retry queue. Dropped from the
/// copies: `x-attempt` counts the attempts, and the history would only grow with each round.
const BROKER_HEADERS: [&str; 7] = [
    "x-death",
    "x-first-death-exchange",
    "x-first-death-queue",
    "x-first-death-reason",
    "x-last-death-exchange",
    "x-last-death-queue",
    "x-last-death-reason",
];

/// `x-attempt` of the message; 1 when absent or unreadable (a first delivery).
pub fn attempt_of(properties: &BasicProperties) -> u32 {
    crate::amqp::header(properties, ATTEMPT_HEADER)
        .and_then(|v| v.trim().parse::<u32>().ok())
        .unwrap_or(1)
        .max(1)
}

/// The routing key the message was first published with.
pub fn routing_key_of(delivery: &Delivery) -> String {
    crate::amqp::header(&delivery.properties, ROUTING_KEY_HEADER)
        .unwrap_or_else(|| delivery.routing_key.to_string())
}

/// The original headers without the broker's dead-lettering history, plus `x-attempt`,
/// `x-last-error` and the original routing key.
pub fn copy_headers(delivery: &Delivery, attempt: u32, error: &str) -> FieldTable {
    let mut headers = FieldTable::default();
    if let Some(original) = delivery.properties.headers() {
        for (name, value) in original {
            if !BROKER_HEADERS.contains(&name.as_str()) {
                headers.insert(name.clone(), value.clone());
            }
        }
    }
    headers.insert(
        ShortString::from(ATTEMPT_HEADER),
        AMQPValue::LongLongInt(i64::from(attempt)),
    );
    // Bounded: a header is not the place for an unbounded error text.
    let error: String = error.chars().take(1000).collect();
    headers.insert(
        ShortString::from(LAST_ERROR_HEADER),
        AMQPValue::LongString(error.into()),
    );
    headers.insert(
        ShortString::from(ROUTING_KEY_HEADER),
        AMQPValue::LongString(routing_key_of(delivery).into()),
    );
    headers
}

/// The original's properties for a copy, persistent, except two that would lose or block it:
/// `expiration` (the copy would silently expire in the dead-letter queue) and `user_id`
/// (RabbitMQ rejects a publish whose `user_id` is not the publishing connection's user).
pub fn copy_properties(original: &BasicProperties, headers: FieldTable) -> BasicProperties {
    let mut copy = BasicProperties::default()
        .with_headers(headers)
        .with_delivery_mode(2);
    if let Some(v) = original.content_type() {
        copy = copy.with_content_type(v.clone());
    }
    if let Some(v) = original.content_encoding() {
        copy = copy.with_content_encoding(v.clone());
    }
    if let Some(v) = original.priority() {
        copy = copy.with_priority(*v);
    }
    if let Some(v) = original.correlation_id() {
        copy = copy.with_correlation_id(v.clone());
    }
    if let Some(v) = original.reply_to() {
        copy = copy.with_reply_to(v.clone());
    }
    if let Some(v) = original.message_id() {
        copy = copy.with_message_id(v.clone());
    }
    if let Some(v) = original.timestamp() {
        copy = copy.with_timestamp(*v);
    }
    if let Some(v) = original.kind() {
        copy = copy.with_type(v.clone());
    }
    if let Some(v) = original.app_id() {
        copy = copy.with_app_id(v.clone());
    }
    copy
}

/// Publishes a copy of `delivery` (same body and properties, `headers`) to `queue` through the
/// default exchange and waits until the broker has taken it: confirmed, and not returned as
/// unroutable (an unroutable `mandatory` message is still confirmed with an ack).
pub async fn publish_copy(
    publisher: &Channel,
    delivery: &Delivery,
    queue: &str,
    headers: FieldTable,
) -> Result<(), SessionError> {
    let properties = copy_properties(&delivery.properties, headers);
    let confirmation = publisher
        .basic_publish(
            "".into(),
            queue.into(),
            BasicPublishOptions {
                mandatory: true,
                ..Default::default()
            },
            &delivery.data,
            properties,
        )
        .await?
        .await?;
    let not_confirmed = |reason: String| SessionError::NotConfirmed {
        queue: queue.to_owned(),
        reason,
    };
    if !confirmation.is_ack() {
        return Err(not_confirmed("nacked".into()));
    }
    if let Some(returned) = confirmation.take_message() {
        return Err(not_confirmed(format!(
            "returned: {} {}",
            returned.reply_code, returned.reply_text
        )));
    }
    Ok(())
}

pub async fn ack(delivery: &Delivery) -> Result<(), SessionError> {
    // `false`: the channel is gone, so the broker will redeliver; the session must end too.
    if delivery.acker.ack(BasicAckOptions::default()).await? {
        Ok(())
    } else {
        Err(SessionError::AckLost)
    }
}

/// PostgreSQL text and jsonb cannot hold NUL; a poison message may.
pub fn without_nul(s: &str) -> String {
    s.replace('\0', "\u{FFFD}")
}

/// Message headers as JSON, for a dead-letter record.
pub fn headers_json(headers: &FieldTable) -> serde_json::Value {
    serde_json::Value::Object(
        headers
            .inner()
            .iter()
            .map(|(k, v)| (without_nul(k.as_str()), value_json(v)))
            .collect(),
    )
}

fn value_json(value: &AMQPValue) -> serde_json::Value {
    use serde_json::Value;
    match value {
        AMQPValue::Boolean(b) => Value::Bool(*b),
        AMQPValue::ShortShortInt(n) => (*n).into(),
        AMQPValue::ShortShortUInt(n) => (*n).into(),
        AMQPValue::ShortInt(n) => (*n).into(),
        AMQPValue::ShortUInt(n) => (*n).into(),
        AMQPValue::LongInt(n) => (*n).into(),
        AMQPValue::LongUInt(n) => (*n).into(),
        AMQPValue::LongLongInt(n) => (*n).into(),
        AMQPValue::Timestamp(n) => (*n).into(),
        AMQPValue::Float(n) => (*n).into(),
        AMQPValue::Double(n) => (*n).into(),
        AMQPValue::DecimalValue(d) => Value::String(format!("{}e-{}", d.value, d.scale)),
        AMQPValue::ShortString(s) => Value::String(without_nul(s.as_str())),
        AMQPValue::LongString(s) => {
            Value::String(without_nul(&String::from_utf8_lossy(s.as_bytes())))
        }
        AMQPValue::ByteArray(b) => {
            Value::String(without_nul(&String::from_utf8_lossy(b.as_slice())))
        }
        AMQPValue::FieldArray(a) => Value::Array(a.as_slice().iter().map(value_json).collect()),
        AMQPValue::FieldTable(t) => headers_json(t),
        AMQPValue::Void => Value::Null,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn attempt_defaults_to_the_first() {
        let none = BasicProperties::default();
        assert_eq!(attempt_of(&none), 1);
        let three = BasicProperties::default()
            .with_headers(crate::amqp::string_headers([("x-attempt", "3")]));
        assert_eq!(attempt_of(&three), 3);
        let zero = BasicProperties::default()
            .with_headers(crate::amqp::string_headers([("x-attempt", "0")]));
        assert_eq!(attempt_of(&zero), 1);
    }

    #[test]
    fn copies_drop_the_broker_history_and_count_the_attempt() {
        let mut original = crate::amqp::string_headers([("event_id", "e1"), ("x-attempt", "2")]);
        original.insert("x-death".into(), AMQPValue::FieldArray(vec![].into()));
        let mut delivery = Delivery::mock(1, "".into(), "a.events".into(), false, vec![]);
        delivery.properties = BasicProperties::default().with_headers(original);
        let copy = copy_headers(&delivery, 3, "boom\0");
        let json = headers_json(&copy);
        assert_eq!(json["event_id"], "e1");
        assert_eq!(json["x-attempt"], 3);
        assert_eq!(json["x-last-error"], "boom\u{FFFD}");
        assert_eq!(json[ROUTING_KEY_HEADER], "a.events");
        assert!(json.get("x-death").is_none());
    }

    #[test]
    fn copies_keep_the_properties_but_not_expiry_or_user() {
        let original = BasicProperties::default()
            .with_message_id("e1".into())
            .with_type("order.created".into())
            .with_content_type("application/json".into())
            .with_expiration("60000".into())
            .with_user_id("orders".into());
        let copy = copy_properties(&original, FieldTable::default());
        assert_eq!(copy.message_id().as_ref().map(|v| v.as_str()), Some("e1"));
        assert_eq!(
            copy.kind().as_ref().map(|v| v.as_str()),
            Some("order.created")
        );
        assert_eq!(
            copy.content_type().as_ref().map(|v| v.as_str()),
            Some("application/json")
        );
        assert_eq!(*copy.delivery_mode(), Some(2));
        assert_eq!(*copy.expiration(), None);
        assert_eq!(*copy.user_id(), None);
    }
}
