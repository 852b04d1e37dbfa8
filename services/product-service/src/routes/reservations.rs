//! The stock reservations of the order saga (internal: the order service calls them); the
//! logic is in [`crate::reservations`].

use super::AppState;
use crate::reservations::{
    finish, load, reserve, Reservation, ReservationError, ReservationRequest,
    ReservationRequestRaw, ReservationStatus,
};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kit::extract::Resource;
use kit::{Json, UuidPath};

/// An order id in a path (`kit::UuidPath<Reservation>`): anything that is not a UUID names no
/// reservation (404).
impl Resource for Reservation {
    const NAME: &'static str = "stock reservation";

    fn not_a_uuid(raw: &str) -> String {
        format!("no stock reservation for {raw:?}: order ids are UUIDs")
    }
}

/// Reserve stock for an order: all items or none.
#[utoipa::path(
    post,
    path = "/stock/reservations",
    tag = "stock",
    request_body = ReservationRequest,
    responses(
        (status = 201, description = "Reserved; stock deducted", body = Reservation,
            headers(("location" = String, description = "/stock/reservations/{order_id}"))),
        (status = 200, description = "Idempotent retry: the order already has this reservation (same items); returned as it is now, nothing deducted again", body = Reservation),
        (status = 400, description = "Malformed JSON"),
        (status = 404, description = "Unknown product(s), listed in `errors`; nothing reserved"),
        (status = 409, description = "Insufficient stock for the item(s) listed in `errors` (nothing reserved), or the order already has a reservation with different items"),
        (status = 422, description = "Invalid order id, items or quantities, all listed in `errors`"),
    )
)]
pub async fn create_reservation(
    State(state): State<AppState>,
    Json(raw): Json<ReservationRequestRaw>,
) -> Result<Response, ReservationError> {
    let result = match raw.validate() {
        Ok(request) => reserve(&state.pool, request).await,
        Err(errors) => Err(ReservationError::Invalid(errors)),
    };
    state.reservations.count("reserve", &result, "ok");
    let (created, reservation) = result?;
    if created {
        tracing::info!(order_id = %reservation.order_id, items = reservation.items.len(), "stock reserved");
        let location = format!("/stock/reservations/{}", reservation.order_id);
        Ok((
            StatusCode::CREATED,
            [(header::LOCATION, location)],
            Json(reservation),
        )
            .into_response())
    } else {
        Ok((StatusCode::OK, Json(reservation)).into_response())
    }
}

/// A reservation and its status.
#[utoipa::path(
    get,
    path = "/stock/reservations/{order_id}",
    tag = "stock",
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "The reservation", body = Reservation),
        (status = 404, description = "No reservation for this order"),
    )
)]
pub async fn get_reservation(
    State(state): State<AppState>,
    UuidPath(order_id, _): UuidPath<Reservation>,
) -> Result<Json<Reservation>, ReservationError> {
    let mut conn = state.pool.acquire().await?;
    load(&mut conn, order_id)
        .await?
        .map(Json)
        .ok_or(ReservationError::NotFound(order_id))
}

/// Release a reservation: the stock goes back (once). Idempotent.
#[utoipa::path(
    post,
    path = "/stock/reservations/{order_id}/release",
    tag = "stock",
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Released (now or before); stock returned exactly once", body = Reservation),
        (status = 404, description = "No reservation for this order"),
        (status = 409, description = "The reservation is committed"),
    )
)]
pub async fn release_reservation(
    State(state): State<AppState>,
    UuidPath(order_id, _): UuidPath<Reservation>,
) -> Result<Json<Reservation>, ReservationError> {
    let result = finish(&state.pool, order_id, ReservationStatus::Released).await;
    state.reservations.count("release", &result, "ok");
    Ok(Json(result?))
}

/// Commit a reservation: the stock stays deducted (the goods are sold). Idempotent.
#[utoipa::path(
    post,
    path = "/stock/reservations/{order_id}/commit",
    tag = "stock",
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Committed (now or before)", body = Reservation),
        (status = 404, description = "No reservation for this order"),
        (status = 409, description = "The reservation is released"),
    )
)]
pub async fn commit_reservation(
    State(state): State<AppState>,
    UuidPath(order_id, _): UuidPath<Reservation>,
) -> Result<Json<Reservation>, ReservationError> {
    let result = finish(&state.pool, order_id, ReservationStatus::Committed).await;
    state.reservations.count("commit", &result, "ok");
    Ok(Json(result?))
}

/// Return a committed reservation (its order was cancelled after confirmation): the stock goes
/// back (once). Idempotent.
#[utoipa::path(
    post,
    path = "/stock/reservations/{order_id}/return",
    tag = "stock",
    params(("order_id" = Uuid, Path, description = "Order id")),
    responses(
        (status = 200, description = "Returned (now or before); stock given back exactly once", body = Reservation),
        (status = 404, description = "No reservation for this order"),
        (status = 409, description = "The reservation is not committed (reserved or released)"),
    )
)]
pub async fn return_reservation(
    State(state): State<AppState>,
    UuidPath(order_id, _): UuidPath<Reservation>,
) -> Result<Json<Reservation>, ReservationError> {
    let result = finish(&state.pool, order_id, ReservationStatus::Returned).await;
    state.reservations.count("return", &result, "ok");
    Ok(Json(result?))
}
