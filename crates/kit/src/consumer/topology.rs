//! The RabbitMQ topology a consumer owns, declared at every (re)connect (declarations are
//! idempotent, and a broker that lost its definitions gets them back):
//!
//! - `QUEUE`: durable, bound to each of its routing keys on the events exchange.
//! - `QUEUE.retry.<n>` for n = 1..max_attempts-1: a message waits there `base * 2^(n-1)` (the
//!   queue's `x-message-ttl`), then RabbitMQ dead-letters it back to the main queue through the
//!   default exchange. One queue per delay because RabbitMQ expires only the message at the
//!   head of a queue: with per-message TTLs in one queue a long delay would hold back every
//!   shorter one behind it.
//! - `QUEUE.dlq`: durable; messages that failed every attempt, kept for inspection and replay.

use lapin::options::{QueueBindOptions, QueueDeclareOptions};
use lapin::types::{AMQPValue, FieldTable, ShortString};
use lapin::Channel;
use std::time::Duration;

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

/// A consumer's queue, what binds it, and its retries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Topology {
    pub queue: String,
    /// Routing keys on the events exchange (`order.*`, `order.confirmed`).
    pub bindings: Vec<String>,
    pub retry: RetryPolicy,
}

/// The retry queue of `level` of `queue` (1-based: the queue a message goes to after failing
/// attempt `level`).
pub fn retry_queue(queue: &str, level: u32) -> String {
    format!("{queue}.retry.{level}")
}

/// The dead-letter queue of `queue`.
pub fn dead_letter_queue(queue: &str) -> String {
    format!("{queue}.dlq")
}

fn durable() -> QueueDeclareOptions {
    QueueDeclareOptions {
        durable: true,
        ..Default::default()
    }
}

fn retry_arguments(queue: &str, delay: Duration) -> FieldTable {
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
        AMQPValue::LongString(queue.into()),
    );
    args
}

impl Topology {
    pub fn retry_queue(&self, level: u32) -> String {
        retry_queue(&self.queue, level)
    }

    pub fn dead_letter_queue(&self) -> String {
        dead_letter_queue(&self.queue)
    }

    /// Declares the events exchange, the queue and its bindings, the retry queues and the
    /// dead-letter queue.
    ///
    /// A retry queue that already exists with another TTL (the base delay changed) fails with
    /// `PRECONDITION_FAILED`: RabbitMQ cannot change a queue's arguments. Delete the retry
    /// queues (once empty) to apply a new base delay.
    pub async fn declare(&self, channel: &Channel) -> lapin::Result<()> {
        crate::amqp::declare_events_exchange(channel).await?;
        channel
            .queue_declare(self.queue.as_str().into(), durable(), FieldTable::default())
            .await?;
        for binding in &self.bindings {
            channel
                .queue_bind(
                    self.queue.as_str().into(),
                    crate::amqp::EVENTS_EXCHANGE.into(),
                    binding.as_str().into(),
                    QueueBindOptions::default(),
                    FieldTable::default(),
                )
                .await?;
        }
        for level in self.retry.levels() {
            channel
                .queue_declare(
                    self.retry_queue(level).as_str().into(),
                    durable(),
                    retry_arguments(&self.queue, self.retry.delay(level)),
                )
                .await?;
        }
        channel
            .queue_declare(
                self.dead_letter_queue().as_str().into(),
                durable(),
                FieldTable::default(),
            )
            .await?;
        Ok(())
    }
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
        assert_eq!(retry_queue("a.events", 2), "a.events.retry.2");
        assert_eq!(dead_letter_queue("a.events"), "a.events.dlq");
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
