//! The RabbitMQ topology this service owns (declared by [`kit::consumer`] at every connect):
//!
//! - `notification.order-events`: durable, bound to `order.*` on the events exchange.
//! - `notification.order-events.retry.<n>`: the retry queues, one per delay.
//! - `notification.order-events.dlq`: messages that failed every attempt.

use kit::amqp::lapin::{self, Channel};
pub use kit::consumer::RetryPolicy;

pub const QUEUE: &str = "notification.order-events";
pub const DEAD_LETTER_QUEUE: &str = "notification.order-events.dlq";
/// Every order event, whatever new types the order service adds.
pub const BINDING: &str = "order.*";

/// The retry queue of `level` (1-based: the queue a message goes to after failing attempt
/// `level`).
pub fn retry_queue(level: u32) -> String {
    kit::consumer::topology::retry_queue(QUEUE, level)
}

/// This service's topology with `policy`.
pub fn topology(policy: &RetryPolicy) -> kit::consumer::Topology {
    kit::consumer::Topology {
        queue: QUEUE.into(),
        bindings: vec![BINDING.into()],
        retry: *policy,
    }
}

/// Declares the events exchange and this service's queues and binding (tests declare before
/// they publish, so nothing published ahead of the consumer is lost).
pub async fn declare(channel: &Channel, policy: &RetryPolicy) -> lapin::Result<()> {
    topology(policy).declare(channel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queues_are_named_after_the_main_one() {
        assert_eq!(retry_queue(2), "notification.order-events.retry.2");
        assert_eq!(
            kit::consumer::topology::dead_letter_queue(QUEUE),
            DEAD_LETTER_QUEUE
        );
    }
}
