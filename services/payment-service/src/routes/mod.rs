//! The HTTP API: what the handlers share, and the router (every route a documented handler).

pub mod payments;

use crate::provider::Provider;
use payments::PaymentMetrics;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub provider: Provider,
    pub metrics: PaymentMetrics,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(payments::create_payment, payments::list_payments))
        .routes(routes!(payments::get_payment))
        .routes(routes!(payments::refund_payment))
}
