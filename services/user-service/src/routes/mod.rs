//! The HTTP API: what the handlers share, and the router (every route a documented handler).

pub mod tokens;
pub mod users;

use crate::{keys, passwords};
use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub hasher: passwords::Hasher,
    pub keys: Arc<keys::KeySet>,
    pub token_ttl_seconds: u64,
    pub metrics: ServiceMetrics,
    /// Wakes the outbox relay after a transaction wrote an event.
    pub outbox: Arc<Notify>,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
pub struct OutcomeLabels {
    pub outcome: &'static str,
}

/// The service's own metrics, next to the kit's request metrics.
#[derive(Clone, Default)]
pub struct ServiceMetrics {
    pub registrations: Counter,
    pub logins: Family<OutcomeLabels, Counter>,
}

impl ServiceMetrics {
    pub fn new(registry: &kit::metrics::Metrics) -> ServiceMetrics {
        let own = ServiceMetrics::default();
        registry.register(
            "user_registrations",
            "Accounts registered",
            own.registrations.clone(),
        );
        registry.register(
            "user_logins",
            "Login attempts, by outcome",
            own.logins.clone(),
        );
        own
    }

    pub fn login(&self, outcome: &'static str) {
        self.logins.get_or_create(&OutcomeLabels { outcome }).inc();
    }
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(users::register, users::list))
        .routes(routes!(tokens::login))
        .routes(routes!(users::me))
        .routes(routes!(users::get, users::update, users::delete))
        .routes(routes!(tokens::jwks))
}
