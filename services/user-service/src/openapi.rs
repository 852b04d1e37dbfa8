//! The OpenAPI document: the title, description, tags and the token claims schema here, the
//! paths from the documented handlers the router serves (`routes::router`). Served at
//! `/openapi.json`; its snapshot is `docs/api/user-service.openapi.snap`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "user-service",
        description = "Accounts, login and the JWKS of the reference shop. Routes other than \
register, login and the JWKS take the caller from the `x-identity` token the gateway signs for \
this service after verifying the access token; bare identity headers are refused (401).",
        license(name = "MIT OR Apache-2.0"),
    ),
    components(schemas(crate::routes::tokens::Claims)),
    tags(
        (name = "users", description = "Accounts"),
        (name = "auth", description = "Access tokens and their verification keys"),
    )
)]
struct ApiDoc;

/// The document's title, description, tags and the token claims schema.
pub fn info() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

/// The complete document, as served.
pub fn document() -> utoipa::openapi::OpenApi {
    kit::openapi::split(info(), crate::routes::router()).1
}
