//! Tokens of deleted accounts: the user service publishes `user.deleted` (docs/events.md) and
//! the gateway, when `AMQP_URL` is set, consumes it and refuses every token whose `sub` is a
//! deleted account's id, until such a token would have expired anyway.
//!
//! - **Every replica gets every event**: each gateway declares its own exclusive, auto-delete,
//!   server-named queue bound to `user.deleted` on `shop.events` (a shared queue would hand
//!   each event to one replica only). While no gateway is bound, the user service's relay gets
//!   its `mandatory` messages returned and retries them every second, so an event published
//!   while every gateway is down arrives when the first one binds.
//! - **Bounded memory**: an entry is the user id and the time the gateway learned of the
//!   deletion (about 50 bytes with the map's overhead), kept for `auth.revocation_ttl_secs`
//!   (default 86,400 s, the user service's longest token lifetime) and pruned every minute (or
//!   every TTL, if shorter). So memory follows the number of accounts deleted within one TTL.
//! - **Cheap when empty**: the check is one atomic load while nothing is revoked, and a shared
//!   read lock otherwise (writers: one event at a time, and the pruning).
//! - **Forgotten on restart**: the set lives in memory. A restarted gateway knows only the
//!   deletions published after it bound its queue; tokens of accounts deleted before work
//!   again until they expire (docs/gateway.md says so).

use futures_util::StreamExt;
use kit::amqp::lapin::options::{BasicConsumeOptions, QueueBindOptions, QueueDeclareOptions};
use kit::amqp::lapin::types::FieldTable;
use kit::amqp::lapin::{self, Connection};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::gauge::Gauge;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// The event the gateway consumes, also its routing key.
pub const USER_DELETED: &str = "user.deleted";
/// The schema version of `user.deleted` this gateway reads (the `version` header).
pub const VERSION: &str = "1";

/// Users whose tokens are refused, with when the gateway learned of each.
pub struct Revocations {
    ttl: Duration,
    /// Entries in `entries`, readable without the lock: while it is 0 a check costs one load.
    len: AtomicUsize,
    entries: RwLock<HashMap<Uuid, Instant>>,
    held: Gauge,
}

impl Revocations {
    /// An empty set whose entries last `ttl`; `held` shows the number of entries.
    pub fn new(ttl: Duration, held: Gauge) -> Revocations {
        Revocations {
            ttl,
            len: AtomicUsize::new(0),
            entries: RwLock::default(),
            held,
        }
    }

    pub fn ttl(&self) -> Duration {
        self.ttl
    }

    /// Refuses `user`'s tokens from now on (for `ttl`). A repeated event (delivery is at least
    /// once) keeps the first time.
    pub fn revoke(&self, user: Uuid) {
        self.revoke_at(user, Instant::now());
    }

    fn revoke_at(&self, user: Uuid, at: Instant) {
        let mut entries = self.entries.write().expect("revocations lock");
        entries.entry(user).or_insert(at);
        self.len.store(entries.len(), Ordering::Release);
        self.held.set(entries.len() as i64);
    }

    /// Whether `user`'s tokens are refused.
    pub fn is_revoked(&self, user: &Uuid) -> bool {
        if self.len.load(Ordering::Acquire) == 0 {
            return false;
        }
        self.entries
            .read()
            .expect("revocations lock")
            .get(user)
            .is_some_and(|at| at.elapsed() < self.ttl)
    }

    /// Drops the entries older than `ttl` (their tokens have expired).
    pub fn prune(&self) {
        let mut entries = self.entries.write().expect("revocations lock");
        entries.retain(|_, at| at.elapsed() < self.ttl);
        if entries.capacity() > 2 * entries.len() + 64 {
            entries.shrink_to_fit();
        }
        self.len.store(entries.len(), Ordering::Release);
        self.held.set(entries.len() as i64);
    }

    pub fn len(&self) -> usize {
        self.len.load(Ordering::Acquire)
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// What the consumer counts: events applied, and events it could not read.
#[derive(Clone, Default)]
pub struct EventCounters {
    pub revoked: Counter,
    pub unreadable: Counter,
}

/// Prunes `revocations` every minute (or every TTL, if shorter), for as long as the runtime runs.
pub async fn prune(revocations: &'static Revocations) {
    let period = revocations
        .ttl()
        .clamp(Duration::from_millis(100), Duration::from_secs(60));
    let mut interval = tokio::time::interval(period);
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    interval.tick().await;
    loop {
        interval.tick().await;
        revocations.prune();
    }
}

/// Consumes `user.deleted` from the broker at `amqp_url` into `revocations`, forever:
/// reconnecting (with backoff) whenever the connection or the channel is lost.
pub async fn consume(amqp_url: String, revocations: &'static Revocations, counters: EventCounters) {
    let first_delay = Duration::from_millis(200);
    let mut delay = first_delay;
    loop {
        let connection = kit::amqp::connect(&amqp_url, "gateway revocations").await;
        let started = Instant::now();
        let ended = session(&connection, revocations, &counters).await;
        let _ = tokio::time::timeout(
            Duration::from_secs(5),
            connection.close(200, "gateway".into()),
        )
        .await;
        tracing::warn!(error = %ended, "revocations: lost the subscription to user.deleted; reconnecting");
        if started.elapsed() > Duration::from_secs(30) {
            delay = first_delay;
        }
        tokio::time::sleep(delay).await;
        delay = (delay * 2).min(Duration::from_secs(5));
    }
}

/// One connection's worth of consuming; returns why it ended.
async fn session(
    connection: &Connection,
    revocations: &Revocations,
    counters: &EventCounters,
) -> String {
    let subscribed = async {
        let channel = connection.create_channel().await?;
        kit::amqp::declare_events_exchange(&channel).await?;
        // Server-named, exclusive and auto-delete: one queue per gateway process, gone with its
        // connection.
        let queue = channel
            .queue_declare(
                "".into(),
                QueueDeclareOptions {
                    exclusive: true,
                    auto_delete: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        channel
            .queue_bind(
                queue.name().clone(),
                kit::amqp::EVENTS_EXCHANGE.into(),
                USER_DELETED.into(),
                QueueBindOptions::default(),
                FieldTable::default(),
            )
            .await?;
        // No acknowledgements: the queue is this process's alone, and what it held dies with
        // the process anyway.
        let deliveries = channel
            .basic_consume(
                queue.name().clone(),
                "gateway-revocations".into(),
                BasicConsumeOptions {
                    no_ack: true,
                    ..Default::default()
                },
                FieldTable::default(),
            )
            .await?;
        tracing::info!(
            queue = queue.name().as_str(),
            "revocations: subscribed to user.deleted"
        );
        Ok::<_, lapin::Error>((channel, deliveries))
    };
    let (_channel, mut deliveries) = match subscribed.await {
        Ok(subscribed) => subscribed,
        Err(e) => return e.to_string(),
    };
    loop {
        match deliveries.next().await {
            Some(Ok(delivery)) => {
                let version = kit::amqp::header(&delivery.properties, "version");
                match user_of(version.as_deref(), &delivery.data) {
                    Ok(user) => {
                        revocations.revoke(user);
                        counters.revoked.inc();
                        tracing::info!(user_id = %user, revoked = revocations.len(), "revocations: the deleted account's tokens are refused from now on");
                    }
                    Err(why) => {
                        counters.unreadable.inc();
                        tracing::warn!(%why, "revocations: unreadable user.deleted event; skipped");
                    }
                }
            }
            Some(Err(e)) => return e.to_string(),
            None => return "the consumer ended".to_owned(),
        }
    }
}

/// The deleted user's id in a `user.deleted` body (docs/schemas/user-event.v1.json).
pub fn user_of(version: Option<&str>, body: &[u8]) -> Result<Uuid, String> {
    if let Some(v) = version {
        if v.trim() != VERSION {
            return Err(format!("version {v:?} (this gateway reads {VERSION})"));
        }
    }
    let value: serde_json::Value =
        serde_json::from_slice(body).map_err(|e| format!("not JSON: {e}"))?;
    let id = value["data"]["user_id"].as_str().ok_or("no data.user_id")?;
    Uuid::parse_str(id).map_err(|_| format!("data.user_id {id:?} is not a UUID"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn revoked_until_the_ttl_then_pruned() {
        let r = Revocations::new(Duration::from_secs(60), Gauge::default());
        let (a, b) = (Uuid::new_v4(), Uuid::new_v4());
        assert!(!r.is_revoked(&a) && r.is_empty());
        r.revoke(a);
        assert!(r.is_revoked(&a));
        assert!(!r.is_revoked(&b));
        let long_ago = Instant::now()
            .checked_sub(Duration::from_secs(61))
            .expect("the clock is past a minute");
        r.revoke_at(b, long_ago);
        assert!(!r.is_revoked(&b), "expired entries no longer refuse");
        assert_eq!(r.len(), 2);
        r.prune();
        assert_eq!(r.len(), 1, "pruned");
        assert!(r.is_revoked(&a));
        // A repeated event keeps the first time.
        r.revoke_at(a, long_ago);
        assert!(r.is_revoked(&a));
    }

    #[test]
    fn reads_the_user_of_a_version_1_event() {
        let id = Uuid::new_v4();
        let body = serde_json::json!({"id": Uuid::new_v4(), "type": "user.deleted", "version": 1,
            "occurred_at": "2026-11-30T12:00:00.000Z", "data": {"user_id": id}})
        .to_string();
        assert_eq!(user_of(Some("1"), body.as_bytes()), Ok(id));
        assert_eq!(user_of(None, body.as_bytes()), Ok(id));
        assert!(user_of(Some("2"), body.as_bytes()).is_err());
        assert!(user_of(None, b"{}").is_err());
        assert!(user_of(None, br#"{"data": {"user_id": "nope"}}"#).is_err());
        assert!(user_of(None, b"not json").is_err());
    }
}
