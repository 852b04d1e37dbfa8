//! The OpenAPI document: the title, description and tags here, the paths from the documented
//! handlers the router serves (`routes::router`). Served at `/openapi.json`; its snapshot is
//! `docs/api/payment-service.openapi.snap`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "payment-service",
        description = "Payments of the reference shop, through a simulated card provider. \
            Internal: called by the order service on the private network, which it trusts \
            (no authentication). Charging is idempotent by order id. Test tokens: `tok_visa` \
            (succeeds), `tok_declined` (declined: a 201 payment with status `declined`), \
            `tok_slow` (succeeds late). Errors are RFC 9457 problem details \
            (`application/problem+json`)."
    ),
    tags((name = "payments", description = "Charges and refunds (internal)"))
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
