//! The HTTP API: the caller's notifications, and the dead letters for admins.
//!
//! Identity comes from the headers the gateway sets (see [`kit::identity`]): no `x-user-id` →
//! 401, a caller without the needed role → 403.

use crate::store::{self, DeadLetter, Notification};
use crate::AppState;
use axum::extract::rejection::QueryRejection;
use axum::extract::{FromRequestParts, Query, State};
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use kit::identity::{Admin, Identity};
use kit::{FieldError, Json, Problem};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

pub const DEFAULT_PER_PAGE: u32 = 20;
pub const MAX_PER_PAGE: u32 = 100;

/// The identity the gateway forwards.
#[derive(IntoParams)]
#[into_params(parameter_in = Header)]
#[allow(dead_code)]
pub struct IdentityHeaders {
    /// The caller's user id (the token's `sub`), set by the gateway; required.
    #[param(rename = "x-user-id")]
    x_user_id: Uuid,
    /// The caller's roles, comma-separated (`user,admin`), set by the gateway.
    #[param(rename = "x-user-roles", value_type = String, required = false, example = "user")]
    x_user_roles: Option<String>,
}

/// A signed-in customer: an identity with the `user` role.
#[derive(Debug, Clone)]
pub struct Customer(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Customer {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_headers(&parts.headers).ok_or_else(|| {
            Problem::unauthorized("authentication required: no valid x-user-id identity header")
        })?;
        if identity.has_role("user") {
            Ok(Customer(identity))
        } else {
            Err(Problem::forbidden(
                "reading notifications needs the user role",
            ))
        }
    }
}

/// A page of notifications, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct NotificationPage {
    pub items: Vec<Notification>,
    pub page: u32,
    pub per_page: u32,
    /// Notifications in all pages.
    pub total: i64,
}

/// A page of dead letters, newest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct DeadLetterPage {
    pub items: Vec<DeadLetter>,
    pub page: u32,
    pub per_page: u32,
    /// Dead letters in all pages.
    pub total: i64,
}

/// Strings, so that a bad value is a 422 naming the field rather than a bare rejection.
#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NotificationQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Items per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
    /// Only the notifications of this order.
    #[param(value_type = Option<Uuid>)]
    pub order_id: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum ListError {
    #[error("invalid query")]
    Invalid(Vec<FieldError>),
    #[error("bad query string: {0}")]
    BadQuery(String),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<ListError> for Problem {
    fn from(e: ListError) -> Problem {
        match e {
            ListError::Invalid(errors) => Problem::validation(errors),
            ListError::BadQuery(detail) => Problem::bad_request(detail),
            ListError::Database(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for ListError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

fn bounded(
    errors: &mut Vec<FieldError>,
    field: &str,
    raw: Option<&str>,
    max: u32,
    default: u32,
) -> Option<u32> {
    let Some(raw) = raw else {
        return Some(default);
    };
    match raw.trim().parse::<u32>() {
        Ok(n) if (1..=max).contains(&n) => Some(n),
        _ => {
            let message = if max == u32::MAX {
                "must be an integer of at least 1".to_owned()
            } else {
                format!("must be an integer from 1 to {max}")
            };
            errors.push(FieldError::new(field, message));
            None
        }
    }
}

/// Page and page size, checked; every bad field is reported in `errors`.
fn paging(errors: &mut Vec<FieldError>, page: Option<&str>, per_page: Option<&str>) -> (u32, u32) {
    let page = bounded(errors, "page", page, u32::MAX, 1);
    let per_page = bounded(errors, "per_page", per_page, MAX_PER_PAGE, DEFAULT_PER_PAGE);
    (page.unwrap_or(1), per_page.unwrap_or(DEFAULT_PER_PAGE))
}

fn offset(page: u32, per_page: u32) -> i64 {
    i64::from(page - 1) * i64::from(per_page)
}

/// The caller's notifications
#[utoipa::path(
    get,
    path = "/notifications",
    tag = "notifications",
    params(IdentityHeaders, NotificationQuery),
    responses(
        (status = 200, description = "A page of the caller's notifications, newest first", body = NotificationPage),
        (status = 401, description = "No (valid) x-user-id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller lacks the user role", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad page, per_page or order_id", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    Customer(caller): Customer,
    query: Result<Query<NotificationQuery>, QueryRejection>,
) -> Result<Json<NotificationPage>, ListError> {
    let Query(query) = query.map_err(|e| ListError::BadQuery(e.body_text()))?;
    let mut errors = Vec::new();
    let (page, per_page) = paging(
        &mut errors,
        query.page.as_deref(),
        query.per_page.as_deref(),
    );
    let order_id = match query.order_id.as_deref() {
        None => None,
        Some(raw) => match Uuid::parse_str(raw.trim()) {
            Ok(id) => Some(id),
            Err(_) => {
                errors.push(FieldError::new("order_id", "must be a UUID"));
                None
            }
        },
    };
    if !errors.is_empty() {
        return Err(ListError::Invalid(errors));
    }
    let found = store::notifications(
        &state.pool,
        caller.user_id,
        order_id,
        i64::from(per_page),
        offset(page, per_page),
    )
    .await?;
    Ok(Json(NotificationPage {
        items: found.items,
        page,
        per_page,
        total: found.total,
    }))
}

/// Dead letters (admin)
#[utoipa::path(
    get,
    path = "/notifications/dead-letters",
    tag = "operations",
    params(IdentityHeaders, PageQuery),
    responses(
        (status = 200, description = "A page of the messages that failed every attempt, newest first", body = DeadLetterPage),
        (status = 401, description = "No (valid) x-user-id", body = Problem, content_type = "application/problem+json"),
        (status = 403, description = "The caller is not an admin", body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Bad page or per_page", body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    _admin: Admin,
    query: Result<Query<PageQuery>, QueryRejection>,
) -> Result<Json<DeadLetterPage>, ListError> {
    let Query(query) = query.map_err(|e| ListError::BadQuery(e.body_text()))?;
    let mut errors = Vec::new();
    let (page, per_page) = paging(
        &mut errors,
        query.page.as_deref(),
        query.per_page.as_deref(),
    );
    if !errors.is_empty() {
        return Err(ListError::Invalid(errors));
    }
    let found =
        store::dead_letters(&state.pool, i64::from(per_page), offset(page, per_page)).await?;
    Ok(Json(DeadLetterPage {
        items: found.items,
        page,
        per_page,
        total: found.total,
    }))
}
