//! The OpenAPI document (served at `/openapi.json`, kept in `docs/api/user-service.openapi.json`).

use utoipa::{IntoParams, OpenApi};
use uuid::Uuid;

/// The identity the gateway forwards (see [`crate::auth`]).
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct CallerHeaders {
    /// The caller's user id (the token's `sub`), set by the gateway; required.
    #[param(rename = "x-user-id")]
    x_user_id: Uuid,
    /// The caller's roles, comma-separated (`user,admin`), set by the gateway.
    #[param(rename = "x-user-roles", value_type = String, required = false, example = "user")]
    x_user_roles: Option<String>,
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "user-service",
        description = "Accounts, login and the JWKS of the reference shop. Routes other than \
register, login and the JWKS trust the `x-user-id` / `x-user-roles` headers the gateway sets \
after verifying the access token; the service is reachable only on the private network.",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        crate::routes::users::register,
        crate::routes::tokens::login,
        crate::routes::tokens::jwks,
        crate::routes::users::me,
        crate::routes::users::list,
        crate::routes::users::get,
        crate::routes::users::update,
        crate::routes::users::delete,
    ),
    components(schemas(
        kit::Problem,
        kit::FieldError,
        crate::routes::tokens::Claims,
    )),
    tags(
        (name = "users", description = "Accounts"),
        (name = "auth", description = "Access tokens and their verification keys"),
    )
)]
pub struct ApiDoc;

/// The document, pretty-printed with a final newline (the form kept in `docs/api/`).
pub fn pretty() -> String {
    let mut json = ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serializes");
    json.push('\n');
    json
}
