//! What every service's OpenAPI document shares, filled in once instead of in each annotation:
//! every error response (4xx and 5xx) is an RFC 9457 [`Problem`] served as
//! `application/problem+json`, so a handler's annotation gives the status and the description
//! only: `(status = 404, description = "No such order")`.

use crate::problem::{FieldError, Problem};
use axum::Router;
use utoipa::openapi::{Content, OpenApi, Ref, RefOr};
use utoipa::{PartialSchema, ToSchema};
use utoipa_axum::router::OpenApiRouter;

pub const PROBLEM_JSON: &str = "application/problem+json";

/// The router and the complete document of `routes` (handlers listed with
/// `utoipa_axum::routes!`), `doc` giving the title, description and tags.
pub fn split<S>(doc: OpenApi, routes: OpenApiRouter<S>) -> (Router<S>, OpenApi)
where
    S: Clone + Send + Sync + 'static,
{
    let (router, doc) = OpenApiRouter::with_openapi(doc)
        .merge(routes)
        .split_for_parts();
    (router, with_problems(doc))
}

/// `doc` with a problem+json body on every error response that declares none, and the
/// `Problem` and `FieldError` schemas among its components.
pub fn with_problems(mut doc: OpenApi) -> OpenApi {
    for item in doc.paths.paths.values_mut() {
        let operations = [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ];
        for operation in operations.into_iter().flatten() {
            for (status, response) in operation.responses.responses.iter_mut() {
                let RefOr::T(response) = response else {
                    continue;
                };
                if is_error(status) && response.content.is_empty() {
                    let schema = Ref::from_schema_name(Problem::name());
                    response
                        .content
                        .insert(PROBLEM_JSON.into(), Content::new(Some(schema)));
                }
            }
        }
    }
    let components = doc.components.get_or_insert_with(Default::default);
    for (name, schema) in [
        (Problem::name(), Problem::schema()),
        (FieldError::name(), FieldError::schema()),
    ] {
        components
            .schemas
            .entry(name.into_owned())
            .or_insert(schema);
    }
    doc
}

fn is_error(status: &str) -> bool {
    status.starts_with('4') || status.starts_with('5')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[utoipa::path(
        get,
        path = "/things/{id}",
        responses(
            (status = 200, description = "The thing", body = String),
            (status = 404, description = "No such thing"),
        )
    )]
    #[allow(dead_code)]
    async fn get_thing() {}

    #[derive(utoipa::OpenApi)]
    #[openapi(paths(get_thing))]
    struct Doc;

    #[test]
    fn an_error_response_without_a_body_gets_the_problem_body() {
        use utoipa::OpenApi as _;
        let json = serde_json::to_value(with_problems(Doc::openapi())).unwrap();
        let responses = &json["paths"]["/things/{id}"]["get"]["responses"];
        assert_eq!(
            responses["404"]["content"][PROBLEM_JSON]["schema"]["$ref"],
            "#/components/schemas/Problem"
        );
        assert_eq!(responses["404"]["description"], "No such thing");
        assert!(responses["200"]["content"]["text/plain"].is_object());
        assert!(json["components"]["schemas"]["FieldError"].is_object());
    }
}
