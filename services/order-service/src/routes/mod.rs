//! The HTTP API: what the handlers share, and the router (every route a documented handler).

pub mod orders;

use crate::{clients, saga, settled};
use sqlx::PgPool;
use std::sync::Arc;
use tokio::sync::Notify;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub clients: clients::Clients,
    pub saga: saga::Saga,
    pub outbox: Arc<Notify>,
    pub settled: settled::Settled,
    pub currency: String,
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(orders::create_order, orders::list_orders))
        .routes(routes!(orders::get_order))
        .routes(routes!(orders::cancel_order))
        .routes(routes!(orders::ship_order))
        .routes(routes!(orders::complete_order))
}
