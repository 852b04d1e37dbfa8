//! Extractors whose rejections are problems (`application/problem+json`, always a 4xx), so no
//! handler answers a malformed request with axum's plain-text rejection or a 5xx:
//!
//! - [`Json`]: request bodies (malformed 400, not JSON 415, wrong shape 422).
//! - [`Query`]: query strings (one that does not fit the handler's type: 400).
//! - [`UuidPath`]: a resource's UUID from the path (anything else names no resource: 404).

use crate::problem::{FieldError, Problem};
use axum::extract::rejection::JsonRejection;
use axum::extract::{FromRequest, FromRequestParts, Path, Request};
use axum::http::request::Parts;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use serde::Serialize;
use std::marker::PhantomData;
use uuid::Uuid;

/// `axum::Json` whose rejections are problems: malformed JSON 400, wrong content type 415,
/// JSON of the wrong shape 422 naming the field, and a string holding a control character 422
/// naming the field (see [`crate::input`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

/// What axum's `Json` accepts: `application/json` or any `application/*+json`.
fn is_json(headers: &axum::http::HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or_default().trim();
    let Some((kind, subtype)) = essence.split_once('/') else {
        return false;
    };
    kind.eq_ignore_ascii_case("application")
        && (subtype.eq_ignore_ascii_case("json") || subtype.to_ascii_lowercase().ends_with("+json"))
}

impl<T, S> FromRequest<S> for Json<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        if !is_json(req.headers()) {
            return Err(
                Problem::new(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type")
                    .detail("send the body as JSON with `content-type: application/json`"),
            );
        }
        let bytes = axum::body::Bytes::from_request(req, state)
            .await
            .map_err(|e| {
                let title = e.status().canonical_reason().unwrap_or("Bad Request");
                Problem::new(e.status(), title).detail(e.body_text())
            })?;
        // The text check runs on the parsed document, so an escaped `\u0000` is caught too.
        if let Ok(document) = serde_json::from_slice::<serde_json::Value>(&bytes) {
            if let Some((field, c)) = crate::input::forbidden_text(&document) {
                return Err(crate::input::body_problem(field, c));
            }
        }
        match axum::Json::<T>::from_bytes(&bytes) {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(match rejection {
                JsonRejection::JsonDataError(e) => {
                    let detail = e.body_text();
                    let field = detail
                        .split_once(": ")
                        .map(|(path, _)| {
                            path.trim_start_matches(
                                "Failed to deserialize the JSON body into the target type",
                            )
                            .trim()
                            .to_owned()
                        })
                        .unwrap_or_default();
                    let mut p = Problem::validation(vec![FieldError::new(field, detail.clone())]);
                    p.detail = Some(detail);
                    p
                }
                JsonRejection::JsonSyntaxError(e) => {
                    Problem::bad_request(format!("malformed JSON: {}", e.body_text()))
                }
                other => Problem::bad_request(other.body_text()),
            }),
        }
    }
}

impl<T: Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
    }
}

/// `axum::extract::Query` whose rejection is a 400 problem. Take `Result<Query<T>, Problem>`
/// to decide later (after an authorization check, say) whether a bad query string matters.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    T: serde::de::DeserializeOwned,
    S: Send + Sync,
{
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        axum::extract::Query::<T>::from_request_parts(parts, state)
            .await
            .map(|axum::extract::Query(value)| Query(value))
            .map_err(|e| Problem::bad_request(e.body_text()))
    }
}

/// What a [`UuidPath`] names, for the 404 of a path segment that is not a UUID.
pub trait Resource {
    /// The resource's name in problem details: `product`, `order`.
    const NAME: &'static str;

    /// The 404's detail for `raw`, a path segment that is not a UUID.
    fn not_a_uuid(raw: &str) -> String {
        format!("no {} {raw:?}: {} ids are UUIDs", Self::NAME, Self::NAME)
    }
}

/// The UUID of an `R` from the route's one path parameter (`/products/{id}`). A segment that is
/// not a UUID names no `R`: a 404 problem ([`Resource::not_a_uuid`]), never a 400 or a 500, as
/// for an id that names nothing. Destructure it as `UuidPath(id, _)`; take
/// `Result<UuidPath<R>, Problem>` to check authorization first.
pub struct UuidPath<R>(pub Uuid, pub PhantomData<fn() -> R>);

impl<R> UuidPath<R> {
    pub fn new(id: Uuid) -> UuidPath<R> {
        UuidPath(id, PhantomData)
    }
}

impl<R> std::fmt::Debug for UuidPath<R> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("UuidPath").field(&self.0).finish()
    }
}

impl<R: Resource, S: Send + Sync> FromRequestParts<S> for UuidPath<R> {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Problem> {
        let Path(raw) = Path::<String>::from_request_parts(parts, state)
            .await
            .map_err(|e| Problem::bad_request(e.body_text()))?;
        Uuid::parse_str(&raw)
            .map(UuidPath::new)
            .map_err(|_| Problem::not_found(R::not_a_uuid(&raw)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::body::Body;
    use axum::routing::get;
    use axum::Router;
    use tower::ServiceExt;

    struct Thing;
    impl Resource for Thing {
        const NAME: &'static str = "thing";
    }

    #[derive(serde::Deserialize)]
    struct Paged {
        page: Option<String>,
    }

    fn app() -> Router {
        Router::new()
            .route(
                "/things/{id}",
                get(|UuidPath(id, _): UuidPath<Thing>| async move { id.to_string() }),
            )
            .route(
                "/list",
                get(|Query(q): Query<Paged>| async move { q.page.unwrap_or_default() }),
            )
            .route(
                "/later/{id}",
                get(
                    |id: Result<UuidPath<Thing>, Problem>,
                     q: Result<Query<Paged>, Problem>| async move {
                        format!("{} {}", id.is_ok(), q.is_ok())
                    },
                ),
            )
    }

    async fn call(uri: &str) -> (StatusCode, Option<String>, String) {
        let r = app()
            .oneshot(Request::get(uri).body(Body::empty()).unwrap())
            .await
            .unwrap();
        let status = r.status();
        let kind = r
            .headers()
            .get(header::CONTENT_TYPE)
            .map(|v| v.to_str().unwrap().to_owned());
        let body = axum::body::to_bytes(r.into_body(), 1 << 16).await.unwrap();
        (status, kind, String::from_utf8(body.to_vec()).unwrap())
    }

    #[tokio::test]
    async fn a_uuid_path_is_a_uuid_or_a_404_problem() {
        let id = "0b6f8a10-8a0e-4a4e-9d3c-5a1f3a6b2c01";
        let (status, _, body) = call(&format!("/things/{id}")).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, id));
        let (status, kind, body) = call("/things/not-a-uuid").await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert_eq!(kind.as_deref(), Some("application/problem+json"));
        let problem: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert_eq!(
            problem["detail"],
            "no thing \"not-a-uuid\": thing ids are UUIDs"
        );
    }

    #[tokio::test]
    async fn a_query_string_that_does_not_fit_is_a_400_problem() {
        let (status, _, body) = call("/list?page=3").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "3"));
        let (status, kind, body) = call("/list?page=1&page=2").await;
        assert_eq!(status, StatusCode::BAD_REQUEST);
        assert_eq!(kind.as_deref(), Some("application/problem+json"));
        assert!(body.contains("duplicate field"), "{body}");
    }

    #[tokio::test]
    async fn rejections_can_be_left_to_the_handler() {
        let (status, _, body) = call("/later/nope?page=1&page=2").await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "false false"));
    }
}
