{% if consumes %}
//! The RabbitMQ topology this service owns (declared by [`kit::consumer`] at every connect):
//!
//! - `{{ name }}.events`: durable, bound on the events exchange to what this service consumes
//!   ({% for e in consumes %}`{{ e }}`{% if not loop.last %}, {% endif %}{% endfor %}).
//! - `{{ name }}.events.retry.<n>`: the retry queues, one per delay (`RETRY_BASE_MS`, doubling).
//! - `{{ name }}.events.dlq`: messages that failed every attempt, kept for inspection and replay.

use kit::amqp::lapin::{self, Channel};
pub use kit::consumer::RetryPolicy;

pub const QUEUE: &str = "{{ name }}.events";
pub const DEAD_LETTER_QUEUE: &str = "{{ name }}.events.dlq";
/// The binding keys of the main queue: the event types this service consumes.
pub const BINDINGS: [&str; {{ consumes | length }}] = crate::events::CONSUMED;

/// The retry queue of `level` (1-based: the queue a message goes to after failing attempt
/// `level`).
pub fn retry_queue(level: u32) -> String {
    kit::consumer::topology::retry_queue(QUEUE, level)
}

/// This service's topology with `policy`.
pub fn topology(policy: &RetryPolicy) -> kit::consumer::Topology {
    kit::consumer::Topology {
        queue: QUEUE.into(),
        bindings: BINDINGS.iter().map(|b| (*b).to_owned()).collect(),
        retry: *policy,
    }
}

/// Declares the events exchange and this service's queues and bindings (tests declare before
/// they publish, so nothing published ahead of the consumer is lost).
pub async fn declare(channel: &Channel, policy: &RetryPolicy) -> lapin::Result<()> {
    topology(policy).declare(channel).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_queues_are_named_after_the_main_one() {
        assert_eq!(retry_queue(2), "{{ name }}.events.retry.2");
        assert_eq!(
            kit::consumer::topology::dead_letter_queue(QUEUE),
            DEAD_LETTER_QUEUE
        );
    }
}
{% endif %}
