//! The OpenAPI document: the title, description and tags here, the paths from the documented
//! handlers the router serves (`routes::router`). Served at `/openapi.json`; its snapshot is
//! `docs/api/product-service.openapi.snap`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "product-service",
        description = "Catalogue, full-text search and stock reservations of the reference shop. \
            Writes to the catalogue need the `admin` role, read from the `x-identity` token \
            the gateway signs for this service (bare identity headers are refused: 401). Stock reservations are internal (called by the order service). \
            Errors are RFC 9457 problem details (`application/problem+json`)."
    ),
    tags(
        (name = "products", description = "The catalogue"),
        (name = "stock", description = "Stock reservations of the order saga (internal)"),
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
