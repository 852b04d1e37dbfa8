//! RabbitMQ, as the services use it: connect with retries (the broker may start after the
//! service, or restart under it), the shop's one topic exchange for domain events, and string
//! headers (event id, type, version, occurred_at, traceparent) on messages.

use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::{BasicProperties, Channel, Connection, ConnectionProperties, ExchangeKind};
use std::time::Duration;

pub use lapin;

/// The topic exchange every domain event is published to; routing key = event type
/// (`order.created`, …).
pub const EVENTS_EXCHANGE: &str = "shop.events";

/// Connects to `url`, retrying with backoff (200 ms doubling to 5 s) until it succeeds. Logs each
/// failure; never gives up, because a service without its broker should wait, not exit.
pub async fn connect(url: &str, name: &str) -> Connection {
    let mut delay = Duration::from_millis(200);
    loop {
        let properties = ConnectionProperties::default().with_connection_name(name.into());
        match Connection::connect(url, properties).await {
            Ok(connection) => {
                tracing::info!(broker = %redact(url), "connected to RabbitMQ");
                return connection;
            }
            Err(e) => {
                tracing::warn!(broker = %redact(url), error = %e, retry_in_ms = delay.as_millis() as u64, "RabbitMQ unreachable");
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(Duration::from_secs(5));
            }
        }
    }
}

/// Declares [`EVENTS_EXCHANGE`] (durable topic). Idempotent: every publisher and consumer calls it.
pub async fn declare_events_exchange(channel: &Channel) -> lapin::Result<()> {
    channel
        .exchange_declare(
            EVENTS_EXCHANGE.into(),
            ExchangeKind::Topic,
            lapin::options::ExchangeDeclareOptions {
                durable: true,
                ..Default::default()
            },
            FieldTable::default(),
        )
        .await
}

/// A header table of string values.
pub fn string_headers<'a>(pairs: impl IntoIterator<Item = (&'a str, &'a str)>) -> FieldTable {
    let mut table = FieldTable::default();
    for (k, v) in pairs {
        table.insert(
            ShortString::from(k),
            AMQPValue::LongString(v.as_bytes().to_vec().into()),
        );
    }
    table
}

/// A header as a string (string or integer values), from a message's properties.
pub fn header(properties: &BasicProperties, name: &str) -> Option<String> {
    let value = properties.headers().as_ref()?.inner().get(name)?;
    match value {
        AMQPValue::LongString(s) => Some(String::from_utf8_lossy(s.as_bytes()).into_owned()),
        AMQPValue::ShortString(s) => Some(s.as_str().to_owned()),
        AMQPValue::LongLongInt(i) => Some(i.to_string()),
        AMQPValue::LongInt(i) => Some(i.to_string()),
        AMQPValue::LongUInt(i) => Some(i.to_string()),
        AMQPValue::ShortInt(i) => Some(i.to_string()),
        _ => None,
    }
}

/// The URL without its password, for logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let userinfo = &url[scheme + 3..at];
            let user = userinfo.split(':').next().unwrap_or("");
            format!("{}{}:***{}", &url[..scheme + 3], user, &url[at..])
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacts_the_password() {
        assert_eq!(
            redact("amqp://shop:secret@rabbitmq:5672/%2f"),
            "amqp://shop:***@rabbitmq:5672/%2f"
        );
        assert_eq!(redact("amqp://rabbitmq:5672"), "amqp://rabbitmq:5672");
    }

    #[test]
    fn headers_round_trip() {
        let props = BasicProperties::default()
            .with_headers(string_headers([("event_id", "e1"), ("version", "1")]));
        assert_eq!(header(&props, "event_id").as_deref(), Some("e1"));
        assert_eq!(header(&props, "version").as_deref(), Some("1"));
        assert_eq!(header(&props, "missing"), None);
    }
}
