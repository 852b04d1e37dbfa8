//! The HTTP API: the caller's notifications, and the dead letters for admins.
//!
//! Identity comes from the token the gateway signs (see [`kit::identity`]): no `x-identity` →
//! 401, a caller without the needed role → 403.

use super::AppState;
use crate::store::{self, DeadLetter, Notification};
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use kit::identity::{Admin, Identity, IdentityHeaders};
use kit::paging::{PageQuery, Paging};
use kit::{FieldError, Json, Problem, Query};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

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
    #[error("{}", .0.title)]
    /// Refused by the kit: no identity, the wrong role, or a query string that does not fit.
    Refused(Problem),
    #[error(transparent)]
    Database(#[from] sqlx::Error),
}

impl From<Problem> for ListError {
    fn from(p: Problem) -> ListError {
        ListError::Refused(p)
    }
}

impl From<ListError> for Problem {
    fn from(e: ListError) -> Problem {
        match e {
            ListError::Invalid(errors) => Problem::validation(errors),
            ListError::Refused(p) => p,
            ListError::Database(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for ListError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// The caller's notifications
#[utoipa::path(
    get,
    path = "/notifications",
    tag = "notifications",
    params(IdentityHeaders, NotificationQuery),
    responses(
        (status = 200, description = "A page of the caller's notifications, newest first", body = NotificationPage),
        (status = 401, description = "No (valid) x-identity token"),
        (status = 403, description = "The caller lacks the user role"),
        (status = 422, description = "Bad page, per_page or order_id"),
    )
)]
pub async fn list_notifications(
    State(state): State<AppState>,
    caller: Identity,
    query: Result<Query<NotificationQuery>, Problem>,
) -> Result<Json<NotificationPage>, ListError> {
    caller.require("user", "reading notifications needs the user role")?;
    let Query(query) = query?;
    let mut errors = Vec::new();
    let paging = Paging::parse(
        query.page.as_deref(),
        query.per_page.as_deref(),
        &mut errors,
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
        paging.limit(),
        paging.offset(),
    )
    .await?;
    Ok(Json(NotificationPage {
        items: found.items,
        page: paging.page,
        per_page: paging.per_page,
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
        (status = 401, description = "No (valid) x-identity token"),
        (status = 403, description = "The caller is not an admin"),
        (status = 422, description = "Bad page or per_page"),
    )
)]
pub async fn list_dead_letters(
    State(state): State<AppState>,
    _admin: Admin,
    Query(query): Query<PageQuery>,
) -> Result<Json<DeadLetterPage>, ListError> {
    let mut errors = Vec::new();
    let paging = Paging::parse(
        query.page.as_deref(),
        query.per_page.as_deref(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(ListError::Invalid(errors));
    }
    let found = store::dead_letters(&state.pool, paging.limit(), paging.offset()).await?;
    Ok(Json(DeadLetterPage {
        items: found.items,
        page: paging.page,
        per_page: paging.per_page,
        total: found.total,
    }))
}
