//! The OpenAPI document: the title, description and tags here, the paths from the documented
//! handlers the router serves (`routes::router`). Served at `/openapi.json`; its snapshot is
//! `docs/api/notification-service.openapi.snap`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "notification-service",
        description = "Customer notifications of the reference shop. The service consumes the \
            order events (`order.*` on the `shop.events` RabbitMQ exchange) and stores the email \
            each would send; these routes list them. The caller is the `x-identity` token the \
            gateway signs for this service after verifying the access token; bare identity \
            headers are refused (401). Errors are RFC 9457 problem \
            details (`application/problem+json`).",
        license(name = "MIT OR Apache-2.0"),
    ),
    tags(
        (name = "notifications", description = "The caller's notifications"),
        (name = "operations", description = "Messages that failed every attempt (admin)"),
    )
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
