//! The gateway's own metrics, registered on the kit's registry (so `/metrics` shows them next
//! to the request counts every service has). Handles per upstream are created once, at start,
//! so the hot path neither allocates label sets nor takes the family's lock.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::Histogram;

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct UpstreamLabel {
    pub upstream: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub upstream: String,
    pub outcome: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ClassLabels {
    pub upstream: String,
    pub class: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ReasonLabel {
    pub reason: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct ResultLabel {
    pub result: String,
}

#[derive(Clone)]
pub struct Families {
    responses: Family<ClassLabels, Counter>,
    circuit: Family<UpstreamLabel, Gauge>,
    latency: Family<UpstreamLabel, Histogram, fn() -> Histogram>,
    requests: Family<OutcomeLabels, Counter>,
    retries: Family<UpstreamLabel, Counter>,
    pub rate_limited: Counter,
    pub rate_limit_clients: Gauge,
    pub auth_rejected: Family<ReasonLabel, Counter>,
    jwks: Family<ResultLabel, Counter>,
    /// Accounts whose tokens are refused (deleted within the revocation TTL).
    pub revoked_subjects: Gauge,
    revocation_events: Family<ResultLabel, Counter>,
}

/// One upstream's handles.
#[derive(Clone)]
pub struct UpstreamStats {
    /// Responses to clients by status class (1xx..5xx), whoever produced them.
    pub responses: [Counter; 5],
    pub circuit: Gauge,
    pub latency: Histogram,
    pub ok: Counter,
    pub server_error: Counter,
    pub connect_error: Counter,
    pub timeout: Counter,
    pub circuit_open: Counter,
    pub retries: Counter,
}

impl Families {
    pub fn register(metrics: &kit::metrics::Metrics) -> Families {
        let f = Families {
            responses: Family::default(),
            circuit: Family::default(),
            latency: Family::new_with_constructor(kit::metrics::latency_histogram),
            requests: Family::default(),
            retries: Family::default(),
            rate_limited: Counter::default(),
            rate_limit_clients: Gauge::default(),
            auth_rejected: Family::default(),
            jwks: Family::default(),
            revoked_subjects: Gauge::default(),
            revocation_events: Family::default(),
        };
        metrics.register(
            "gateway_requests",
            "Proxied requests by route upstream and response status class (gateway problems \
             included); the kit's http_requests counts the gateway's own endpoints",
            f.responses.clone(),
        );
        metrics.register(
            "gateway_circuit_state",
            "Circuit breaker state per upstream: 0 closed, 1 open, 2 half-open",
            f.circuit.clone(),
        );
        metrics.register(
            "gateway_upstream_request_duration_seconds",
            "Time to the upstream's response headers, per attempt",
            f.latency.clone(),
        );
        metrics.register(
            "gateway_upstream_requests",
            "Upstream attempts by outcome: ok (status < 500), server_error (5xx), connect_error, \
             timeout; circuit_open counts requests refused without an attempt",
            f.requests.clone(),
        );
        metrics.register(
            "gateway_upstream_retries",
            "Retries of idempotent requests",
            f.retries.clone(),
        );
        metrics.register(
            "gateway_rate_limited",
            "Requests refused with 429",
            f.rate_limited.clone(),
        );
        metrics.register(
            "gateway_rate_limit_clients",
            "Clients the rate limiter tracks (after the last pruning)",
            f.rate_limit_clients.clone(),
        );
        metrics.register(
            "gateway_auth_rejections",
            "Requests refused by authentication or authorisation, by reason",
            f.auth_rejected.clone(),
        );
        metrics.register(
            "gateway_jwks_fetches",
            "JWKS fetches from the user service, by result",
            f.jwks.clone(),
        );
        metrics.register(
            "gateway_revoked_subjects",
            "Deleted accounts whose tokens the gateway refuses (entries kept for \
             auth.revocation_ttl_secs)",
            f.revoked_subjects.clone(),
        );
        metrics.register(
            "gateway_revocation_events",
            "user.deleted events consumed, by result (revoked, unreadable)",
            f.revocation_events.clone(),
        );
        f
    }

    /// The counters of the `user.deleted` consumer.
    pub fn revocation_events(&self) -> crate::revocation::EventCounters {
        let counter = |result: &str| {
            self.revocation_events
                .get_or_create(&ResultLabel {
                    result: result.to_owned(),
                })
                .clone()
        };
        crate::revocation::EventCounters {
            revoked: counter("revoked"),
            unreadable: counter("unreadable"),
        }
    }

    pub fn upstream(&self, name: &str) -> UpstreamStats {
        let label = UpstreamLabel {
            upstream: name.to_owned(),
        };
        let outcome = |o: &str| {
            self.requests
                .get_or_create(&OutcomeLabels {
                    upstream: name.to_owned(),
                    outcome: o.to_owned(),
                })
                .clone()
        };
        let class = |c: &str| {
            self.responses
                .get_or_create(&ClassLabels {
                    upstream: name.to_owned(),
                    class: c.to_owned(),
                })
                .clone()
        };
        UpstreamStats {
            responses: [
                class("1xx"),
                class("2xx"),
                class("3xx"),
                class("4xx"),
                class("5xx"),
            ],
            circuit: self.circuit.get_or_create(&label).clone(),
            latency: self.latency.get_or_create(&label).clone(),
            ok: outcome("ok"),
            server_error: outcome("server_error"),
            connect_error: outcome("connect_error"),
            timeout: outcome("timeout"),
            circuit_open: outcome("circuit_open"),
            retries: self.retries.get_or_create(&label).clone(),
        }
    }

    pub fn jwks(&self, result: &str) -> Counter {
        self.jwks
            .get_or_create(&ResultLabel {
                result: result.to_owned(),
            })
            .clone()
    }

    pub fn auth_rejected(&self, reason: &str) {
        self.auth_rejected
            .get_or_create(&ReasonLabel {
                reason: reason.to_owned(),
            })
            .inc();
    }
}
