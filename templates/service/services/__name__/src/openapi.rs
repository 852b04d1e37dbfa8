//! The OpenAPI document: the title, description and tags here, the paths from the documented
//! handlers the router serves (`routes::router`). Served at `/openapi.json`; its snapshot is
//! `docs/api/{{ name }}.openapi.snap`.

use utoipa::OpenApi;

#[derive(OpenApi)]
#[openapi(
    info(
        title = "{{ name }}",
        description = "{{ title }} of the reference shop{% if db %}: items under `{{ route }}`{% endif %}. \
{% if access == "public" %}
            Public: the gateway lets anyone call it. \
{% elif access == "admin" and db %}
            Admins only at the gateway; writes check the `x-identity` token the gateway signs \
            for this service (no token → 401, not an admin → 403). \
{% elif access == "admin" %}
            Admins only at the gateway. \
{% elif db %}
            Signed-in users at the gateway; writes check the `x-identity` token the gateway \
            signs for this service (no token → 401). \
{% else %}
            Signed-in users at the gateway. \
{% endif %}
            Errors are RFC 9457 problem details (`application/problem+json`).",
        license(name = "MIT OR Apache-2.0"),
    ),
{% if db %}
    tags((name = "items", description = "The example resource: list, read, create, replace, delete"))
{% else %}
    tags((name = "{{ name }}", description = "What the service is"))
{% endif %}
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
