//! Accounts: register, me, list (admin), get/update/delete (self or admin).

use super::AppState;
use crate::events;
use crate::passwords::HashError;
use crate::store::{self, User};
use crate::validation::{self, Errors};
use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use kit::extract::Resource;
use kit::identity::{Identity, IdentityHeaders};
use kit::paging::Paging;
use kit::{FieldError, Json, Problem, Query, UuidPath};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};
use uuid::Uuid;

/// Registration. Every field is checked and every bad one listed in the 422 problem.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct RegisterRequest {
    /// An email address; stored trimmed and lowercased, unique whatever its case.
    #[serde(default)]
    #[schema(required = true, example = "ada@example.com")]
    pub email: String,
    /// 1 to 100 characters after trimming.
    #[serde(default)]
    #[schema(required = true, example = "Ada Lovelace")]
    pub name: String,
    /// 10 to 1024 characters, with at least one letter and one digit.
    #[serde(default)]
    #[schema(required = true, example = "correct-horse-42")]
    pub password: String,
}

/// A partial update: absent (or null) fields are left as they are; present ones are checked as
/// at registration. Only an admin may send `roles`.
#[derive(Debug, Default, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct UpdateUserRequest {
    pub email: Option<String>,
    pub name: Option<String>,
    pub password: Option<String>,
    /// Admin only: a subset of `user`, `admin` that includes `user`.
    #[schema(example = json!(["user", "admin"]))]
    pub roles: Option<Vec<String>>,
}

/// A page of users, oldest first.
#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct UserPage {
    pub items: Vec<User>,
    pub page: u32,
    pub per_page: u32,
    /// Users in all pages.
    pub total: i64,
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListQuery {
    /// Page number, from 1 (default 1).
    #[param(value_type = Option<u32>, minimum = 1)]
    pub page: Option<String>,
    /// Users per page, 1 to 100 (default 20).
    #[param(value_type = Option<u32>, minimum = 1, maximum = 100)]
    pub per_page: Option<String>,
}

#[derive(Debug, thiserror::Error)]
pub enum RegisterError {
    #[error("invalid registration")]
    Invalid(Vec<FieldError>),
    #[error("email already registered")]
    DuplicateEmail,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Hashing(#[from] HashError),
}

impl From<RegisterError> for Problem {
    fn from(e: RegisterError) -> Problem {
        match e {
            RegisterError::Invalid(errors) => Problem::validation(errors),
            RegisterError::DuplicateEmail => duplicate_email(),
            RegisterError::Database(e) => Problem::internal(&e),
            RegisterError::Hashing(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for RegisterError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// Errors of the routes on existing accounts.
#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("forbidden: {0}")]
    Forbidden(&'static str),
    #[error("no such user")]
    NotFound,
    #[error("invalid input")]
    Invalid(Vec<FieldError>),
    /// A request the kit's extractors refused (a query string that does not fit).
    #[error("{}", .0.title)]
    Rejected(Problem),
    #[error("email already registered")]
    DuplicateEmail,
    #[error("this is the last admin account")]
    LastAdmin,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Hashing(#[from] HashError),
}

impl From<AccountError> for Problem {
    fn from(e: AccountError) -> Problem {
        match e {
            AccountError::Forbidden(why) => Problem::forbidden(why),
            AccountError::NotFound => Problem::not_found("no such user"),
            AccountError::Invalid(errors) => Problem::validation(errors),
            AccountError::Rejected(problem) => problem,
            AccountError::DuplicateEmail => duplicate_email(),
            AccountError::LastAdmin => Problem::conflict(
                "this is the last account with the admin role: make another account an admin first",
            )
            .kind("https://msctl.dev/problems/last-admin"),
            AccountError::Database(e) => Problem::internal(&e),
            AccountError::Hashing(e) => Problem::internal(&e),
        }
    }
}

impl From<Problem> for AccountError {
    fn from(p: Problem) -> AccountError {
        AccountError::Rejected(p)
    }
}

/// A user id in a path (`kit::UuidPath<User>`). Handlers take it as a `Result`: who may ask
/// comes first ([`authorize`]).
impl Resource for User {
    const NAME: &'static str = "user";
}

impl IntoResponse for AccountError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

fn duplicate_email() -> Problem {
    Problem::conflict("an account with this email already exists")
}

/// Whether `e` is the case-insensitive unique email index refusing a row.
fn is_duplicate_email(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .is_some_and(|d| d.is_unique_violation() && d.constraint() == Some("users_email_lower_key"))
}

/// Register
///
/// Creates an account with the role `user`. Public (the gateway needs no token for it).
#[utoipa::path(
    post,
    path = "/users",
    tag = "users",
    request_body = RegisterRequest,
    responses(
        (status = 201, description = "Created", body = User,
            headers(("location" = String, description = "/users/{id}"))),
        (status = 400, description = "Malformed JSON"),
        (status = 409, description = "Email already registered (case-insensitive)"),
        (status = 415, description = "Body is not JSON"),
        (status = 422, description = "Invalid fields, each listed in `errors`"),
    )
)]
pub async fn register(
    State(state): State<AppState>,
    Json(body): Json<RegisterRequest>,
) -> Result<Response, RegisterError> {
    let mut errors = Errors::default();
    let email = errors.check("email", validation::email(&body.email));
    let name = errors.check("name", validation::name(&body.name));
    errors.check("password", validation::password(&body.password));
    let (Some(email), Some(name)) = (email, name) else {
        return Err(RegisterError::Invalid(errors.0));
    };
    if !errors.is_empty() {
        return Err(RegisterError::Invalid(errors.0));
    }
    let password_hash = state.hasher.hash(body.password).await?;
    let user = store::insert(&state.pool, &email, &name, &password_hash)
        .await
        .map_err(|e| {
            if is_duplicate_email(&e) {
                RegisterError::DuplicateEmail
            } else {
                RegisterError::Database(e)
            }
        })?;
    state.metrics.registrations.inc();
    tracing::info!(user_id = %user.id, "user registered");
    Ok((
        StatusCode::CREATED,
        [(header::LOCATION, format!("/users/{}", user.id))],
        Json(user),
    )
        .into_response())
}

/// The caller's account
#[utoipa::path(
    get,
    path = "/users/me",
    tag = "users",
    params(IdentityHeaders),
    responses(
        (status = 200, description = "The caller's account", body = User),
        (status = 401, description = "No (valid) x-identity token"),
        (status = 404, description = "The account no longer exists"),
    )
)]
pub async fn me(
    State(state): State<AppState>,
    caller: Identity,
) -> Result<Json<User>, AccountError> {
    find(&state, caller.user_id).await.map(Json)
}

/// List users (admin)
#[utoipa::path(
    get,
    path = "/users",
    tag = "users",
    params(IdentityHeaders, ListQuery),
    responses(
        (status = 200, description = "A page of users, oldest first", body = UserPage),
        (status = 401, description = "No (valid) x-identity token"),
        (status = 403, description = "The caller is not an admin"),
        (status = 422, description = "Bad page or per_page"),
    )
)]
pub async fn list(
    State(state): State<AppState>,
    caller: Identity,
    query: Result<Query<ListQuery>, Problem>,
) -> Result<Json<UserPage>, AccountError> {
    if !caller.is_admin() {
        return Err(AccountError::Forbidden(
            "listing users needs the admin role",
        ));
    }
    let Query(query) = query?;
    let mut errors = Vec::new();
    let paging = Paging::parse(
        query.page.as_deref(),
        query.per_page.as_deref(),
        &mut errors,
    );
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors));
    }
    let (items, total) = store::page(&state.pool, paging).await?;
    Ok(Json(UserPage {
        items,
        page: paging.page,
        per_page: paging.per_page,
        total,
    }))
}

/// A user (self or admin)
#[utoipa::path(
    get,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "User id"), IdentityHeaders),
    responses(
        (status = 200, description = "The account", body = User),
        (status = 401, description = "No (valid) x-identity token"),
        (status = 403, description = "Neither the account's owner nor an admin"),
        (status = 404, description = "No such user"),
    )
)]
pub async fn get(
    State(state): State<AppState>,
    caller: Identity,
    id: Result<UuidPath<User>, Problem>,
) -> Result<Json<User>, AccountError> {
    let id = authorize(&caller, id.ok().map(|UuidPath(id, _)| id))?;
    find(&state, id).await.map(Json)
}

/// Update a user (self or admin)
///
/// Present fields are validated as at registration; changing `roles` needs the admin role.
#[utoipa::path(
    put,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "User id"), IdentityHeaders),
    request_body = UpdateUserRequest,
    responses(
        (status = 200, description = "The updated account", body = User),
        (status = 400, description = "Malformed JSON"),
        (status = 401, description = "No (valid) x-identity token"),
        (status = 403, description = "Neither the owner nor an admin, or `roles` sent by a non-admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "Email already registered, or the change would leave no admin"),
        (status = 422, description = "Invalid fields, each listed in `errors`"),
    )
)]
pub async fn update(
    State(state): State<AppState>,
    caller: Identity,
    id: Result<UuidPath<User>, Problem>,
    Json(body): Json<UpdateUserRequest>,
) -> Result<Json<User>, AccountError> {
    let id = authorize(&caller, id.ok().map(|UuidPath(id, _)| id))?;
    if body.roles.is_some() && !caller.is_admin() {
        return Err(AccountError::Forbidden(
            "changing roles needs the admin role",
        ));
    }
    let mut errors = Errors::default();
    let email = body
        .email
        .as_deref()
        .and_then(|e| errors.check("email", validation::email(e)));
    let name = body
        .name
        .as_deref()
        .and_then(|n| errors.check("name", validation::name(n)));
    if let Some(password) = &body.password {
        errors.check("password", validation::password(password));
    }
    let roles = body
        .roles
        .as_deref()
        .and_then(|r| errors.check("roles", validation::roles(r)));
    if !errors.is_empty() {
        return Err(AccountError::Invalid(errors.0));
    }
    let password_hash = match body.password {
        Some(password) => Some(state.hasher.hash(password).await?),
        None => None,
    };
    let changes = store::Changes {
        email,
        name,
        password_hash,
        roles,
    };
    let demotes = changes
        .roles
        .as_ref()
        .is_some_and(|r| !r.iter().any(|role| role == "admin"));
    let mut tx = state.pool.begin().await?;
    if demotes && store::is_last_admin(&mut tx, id).await? {
        return Err(AccountError::LastAdmin);
    }
    let user = store::update(&mut tx, id, changes).await.map_err(|e| {
        if is_duplicate_email(&e) {
            AccountError::DuplicateEmail
        } else {
            AccountError::Database(e)
        }
    })?;
    let user = user.ok_or(AccountError::NotFound)?;
    tx.commit().await?;
    tracing::info!(user_id = %user.id, by = %caller.user_id, "user updated");
    Ok(Json(user))
}

/// Delete a user (self or admin)
#[utoipa::path(
    delete,
    path = "/users/{id}",
    tag = "users",
    params(("id" = Uuid, Path, description = "User id"), IdentityHeaders),
    responses(
        (status = 204, description = "Deleted"),
        (status = 401, description = "No (valid) x-identity token"),
        (status = 403, description = "Neither the owner nor an admin"),
        (status = 404, description = "No such user"),
        (status = 409, description = "The last account with the admin role"),
    )
)]
pub async fn delete(
    State(state): State<AppState>,
    caller: Identity,
    id: Result<UuidPath<User>, Problem>,
) -> Result<StatusCode, AccountError> {
    let id = authorize(&caller, id.ok().map(|UuidPath(id, _)| id))?;
    let mut tx = state.pool.begin().await?;
    if store::is_last_admin(&mut tx, id).await? {
        return Err(AccountError::LastAdmin);
    }
    if !store::delete(&mut tx, id).await? {
        return Err(AccountError::NotFound);
    }
    // The event commits with the deletion or not at all; the gateway refuses the account's
    // tokens once it arrives.
    let event = kit::outbox::enqueue(&mut tx, &events::user_deleted(id)).await?;
    tx.commit().await?;
    state.outbox.notify_one();
    tracing::info!(user_id = %id, by = %caller.user_id, event_id = %event, "user deleted");
    Ok(StatusCode::NO_CONTENT)
}

/// The id in the path (`None`: not a UUID), if the caller may manage that account. Not being
/// allowed comes first, so a non-admin learns nothing about other ids (not even whether they
/// exist, or could).
fn authorize(caller: &Identity, id: Option<Uuid>) -> Result<Uuid, AccountError> {
    match id {
        Some(id) if caller.may_manage(id) => Ok(id),
        _ if !caller.is_admin() => Err(AccountError::Forbidden(
            "only the account's owner or an admin may do this",
        )),
        _ => Err(AccountError::NotFound),
    }
}

async fn find(state: &AppState, id: Uuid) -> Result<User, AccountError> {
    store::find(&state.pool, id)
        .await?
        .ok_or(AccountError::NotFound)
}
