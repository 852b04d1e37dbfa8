//! Rate limiting per client: GCRA (`governor`), keyed by the verified user id, or by the client
//! IP for anonymous requests. One keyed state shared by every request (not per clone of a
//! service), pruned on a timer so memory follows the number of active clients.

use crate::config::RateLimitConfig;
use governor::clock::Clock;
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use prometheus_client::metrics::gauge::Gauge;
use std::net::IpAddr;
use std::num::NonZeroU32;
use std::sync::{Arc, Weak};
use std::time::Duration;

#[derive(Debug, Clone, Hash, PartialEq, Eq)]
pub enum ClientKey {
    /// An anonymous client; IPv6 addresses are keyed by their /64 (one host usually has a
    /// whole /64, so keying by full address would let it pick a fresh key per request).
    Ip(IpAddr),
    /// A verified user (`sub`).
    User(Box<str>),
}

impl ClientKey {
    pub fn ip(ip: IpAddr) -> ClientKey {
        ClientKey::Ip(match ip {
            IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
                Some(v4) => IpAddr::V4(v4),
                None => IpAddr::V6((u128::from(v6) & !0xffff_ffff_ffff_ffffu128).into()),
            },
            v4 => v4,
        })
    }
}

#[derive(Clone)]
pub struct Limiter {
    limiter: Option<Arc<DefaultKeyedRateLimiter<ClientKey>>>,
}

impl Limiter {
    /// A limiter (`per_second` 0: none) and, when limiting, a task pruning idle clients every
    /// `prune_interval_ms`, reporting the number of tracked clients on `tracked`. The task ends
    /// when the limiter is dropped.
    pub fn new(config: &RateLimitConfig, tracked: Gauge) -> Limiter {
        let (Some(rate), Some(burst)) = (
            NonZeroU32::new(config.per_second),
            NonZeroU32::new(config.burst),
        ) else {
            return Limiter { limiter: None };
        };
        let limiter = Arc::new(RateLimiter::keyed(
            Quota::per_second(rate).allow_burst(burst),
        ));
        let weak: Weak<DefaultKeyedRateLimiter<ClientKey>> = Arc::downgrade(&limiter);
        let period = Duration::from_millis(config.prune_interval_ms.max(1));
        tokio::spawn(async move {
            let mut interval = tokio::time::interval(period);
            interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
            interval.tick().await;
            loop {
                interval.tick().await;
                let Some(limiter) = weak.upgrade() else { break };
                limiter.retain_recent();
                limiter.shrink_to_fit();
                tracked.set(limiter.len() as i64);
            }
        });
        Limiter {
            limiter: Some(limiter),
        }
    }

    /// `Err(seconds)` to wait (at least 1) when `key` is over its limit.
    pub fn check(&self, key: &ClientKey) -> Result<(), u64> {
        let Some(limiter) = &self.limiter else {
            return Ok(());
        };
        limiter.check_key(key).map_err(|not_until| {
            let wait = not_until.wait_time_from(limiter.clock().now());
            (wait.as_secs() + u64::from(wait.subsec_nanos() > 0)).max(1)
        })
    }

    /// Clients currently tracked.
    pub fn len(&self) -> usize {
        self.limiter.as_ref().map_or(0, |l| l.len())
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Drops idle clients now (the timer does this periodically).
    pub fn prune(&self) {
        if let Some(l) = &self.limiter {
            l.retain_recent();
            l.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn limits_per_key_and_prunes_idle_keys() {
        let config = RateLimitConfig {
            per_second: 10,
            burst: 2,
            prune_interval_ms: 60_000,
        };
        let l = Limiter::new(&config, Gauge::default());
        let a = ClientKey::ip("10.0.0.1".parse().unwrap());
        let b = ClientKey::User("someone".into());
        assert!(l.check(&a).is_ok());
        assert!(l.check(&a).is_ok());
        assert_eq!(l.check(&a), Err(1));
        assert!(l.check(&b).is_ok());
        assert_eq!(l.len(), 2);
        tokio::time::sleep(Duration::from_millis(450)).await;
        l.prune();
        assert_eq!(l.len(), 0, "idle clients are forgotten");
    }

    #[test]
    fn ipv6_clients_are_keyed_by_their_64() {
        let a = ClientKey::ip("2001:db8::1".parse().unwrap());
        let b = ClientKey::ip("2001:db8::2".parse().unwrap());
        assert_eq!(a, b);
        let m = ClientKey::ip("::ffff:10.0.0.1".parse().unwrap());
        assert_eq!(m, ClientKey::ip("10.0.0.1".parse().unwrap()));
    }
}
