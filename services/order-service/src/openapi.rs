//! The OpenAPI document: the title, description and tags here, the paths from the documented
//! handlers the router serves (`routes::router`). Served at `/openapi.json`; its snapshot is
//! `docs/api/order-service.openapi.snap`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "order-service",
        description = "Orders of the reference shop. Placing an order answers 202 with a PENDING \
            order; a saga then reserves stock, charges the payment and commits the stock \
            (CONFIRMED), or compensates (CANCELLED with a reason: out_of_stock, \
            payment_declined, cancelled_by_user, timeout). Order events are published to \
            RabbitMQ (exchange `shop.events`; catalogue in docs/events.md). Callers are \
            identified by the `x-identity` token the gateway signs for this service after \
            verifying their access token; bare identity headers are refused (401). Errors are \
            RFC 9457 problem details (`application/problem+json`)."
    ),
    tags((name = "orders", description = "Orders and their saga"))
)]
struct ApiDoc;

/// The document's title, description and tags.
pub fn info() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The complete document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    kit::openapi::split(info(), crate::routes::router()).1
}
