//! The HTTP API: what the handlers share, and the router (every route a documented handler).

pub mod params;
pub mod products;
pub mod reservations;

use crate::reservations::ReservationMetrics;
use sqlx::PgPool;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

#[derive(Clone)]
pub struct AppState {
    pub pool: PgPool,
    pub reservations: ReservationMetrics,
}

pub fn router() -> OpenApiRouter<AppState> {
    use products as p;
    use reservations as r;
    OpenApiRouter::new()
        .routes(routes!(p::list_products, p::create_product))
        .routes(routes!(p::search_products))
        .routes(routes!(
            p::get_product,
            p::update_product,
            p::delete_product
        ))
        .routes(routes!(r::create_reservation))
        .routes(routes!(r::get_reservation))
        .routes(routes!(r::release_reservation))
        .routes(routes!(r::commit_reservation))
        .routes(routes!(r::return_reservation))
}
