//! The HTTP API: what the handlers share, and the router (every route a documented handler).

{% if db %}
pub mod items;

use sqlx::PgPool;
{% if publishes %}
use std::sync::Arc;
use tokio::sync::Notify;
{% endif %}
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
{% if publishes %}
    /// Wakes the outbox relay after a commit that wrote an event.
    pub outbox: Arc<Notify>,
{% endif %}
}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new()
        .routes(routes!(items::list_items, items::create_item))
        .routes(routes!(
            items::get_item,
            items::update_item,
            items::delete_item
        ))
}
{% else %}
pub mod about;

use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {}

pub fn router() -> OpenApiRouter<AppState> {
    OpenApiRouter::new().routes(routes!(about::about))
}
{% endif %}
