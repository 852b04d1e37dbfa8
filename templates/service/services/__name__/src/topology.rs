{% if consumes %}
//! The RabbitMQ topology this service owns, declared at every (re)connect (declarations are
//! idempotent, and a broker that lost its definitions gets them back):
//!
//! - `{{ name }}.events`: durable, bound on the events exchange to what this service consumes
//!   ({% for e in consumes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %}).
//! - `{{ name }}.events.retry.<n>` for n = 1..MAX_ATTEMPTS-1: a message waits there
//!   `RETRY_BASE_MS * 2^(n-1)` (the queue's `x-message-ttl`), then RabbitMQ dead-letters it
//!   back to the main queue through the default exchange. One queue per delay because RabbitMQ
//!   expires only the message at the head of a queue.
//! - `{{ name }}.events.dlq`: durable; messages that failed every attempt, kept for inspection
//!   and replay.

use kit::amqp::lapin::options::{QueueBindOptions, QueueDeclareOptions};
use kit::amqp::lapin::types::{AMQPValue, FieldTable, ShortString};
use kit::amqp::lapin::{self, Channel};
use std::time::Duration;

pub const QUEUE: &str = "{{ name }}.events";
pub const DEAD_LETTER_QUEUE: &str = "{{ name }}.events.dlq";
/// The binding keys of the main queue: the event types this service consumes.
pub const BINDINGS: [&str; {{ consumes | length }}] = crate::events::CONSUMED;

/// The retry queue of `level` (1-based: the queue a message goes to after failing attempt
/// `level`).
pub fn retry_queue(level: u32) -> String {
    format!("{QUEUE}.retry.{level}")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Deliveries of a message in all, the first included, before it is dead-lettered.
    pub max_attempts: u32,
    /// The delay before the second attempt; it doubles for each one after.
    pub base_delay: Duration,
}

impl RetryPolicy {
    /// How long a message waits in retry queue `level`: `base * 2^(level-1)`.
    pub fn delay(&self, level: u32) -> Duration {
        self.base_delay * 2u32.saturating_pow(level.saturating_sub(1))
    }

    /// The retry levels (and queues): 1..=max_attempts-1, none when there is a single attempt.
    pub fn levels(&self) -> std::ops::RangeInclusive<u32> {
        1..=self.max_attempts.saturating_sub(1)
    }
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn retry_arguments(delay: Duration) -> FieldTable {
    let mut args = FieldTable::default();
    args.insert(
        ShortString::from("x-message-ttl"),
        AMQPValue::LongLongInt(delay.as_millis().min(u32::MAX as u128) as i64),
    );
    args.insert(
        ShortString::from("x-dead-letter-exchange"),
        AMQPValue::LongString("".into()),
    );
    args.insert(
        ShortString::from("x-dead-letter-routing-key"),
        AMQPValue::LongString(QUEUE.into()),
    );
    args
}

/// Declares the events exchange and this service's queues and bindings.
///
/// A retry queue that already exists with another TTL (`RETRY_BASE_MS` changed) fails with
/// `PRECONDITION_FAILED`: RabbitMQ cannot change a queue's arguments. Delete the retry queues
/// (once empty) to apply a new base delay.
pub async fn declare(channel: &Channel, policy: &RetryPolicy) -> lapin::Result<()> {
    kit::amqp::declare_events_exchange(channel).await?;
    channel
        .queue_declare(QUEUE.into(), durable(), FieldTable::default())
        .await?;
    for binding in BINDINGS {
        channel
            .queue_bind(
                QUEUE.into(),
                kit::amqp::EVENTS_EXCHANGE.into(),
                binding.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
    }
    for level in policy.levels() {
        channel
            .queue_declare(
                retry_queue(level).as_str().into(),
                durable(),
                retry_arguments(policy.delay(level)),
            )
            .await?;
    }
    channel
        .queue_declare(DEAD_LETTER_QUEUE.into(), durable(), FieldTable::default())
        .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn delays_double_per_level() {
        let policy = RetryPolicy {
            max_attempts: 4,
            base_delay: Duration::from_millis(200),
        };
        assert_eq!(policy.levels(), 1..=3);
        let delays: Vec<u128> = policy
            .levels()
            .map(|l| policy.delay(l).as_millis())
            .collect();
        assert_eq!(delays, [200, 400, 800]);
        assert_eq!(retry_queue(2), "{{ name }}.events.retry.2");
    }

    #[test]
    fn a_single_attempt_has_no_retry_queues() {
        let policy = RetryPolicy {
            max_attempts: 1,
            base_delay: Duration::from_millis(200),
        };
        assert!(policy.levels().is_empty());
    }
}
{% endif %}
