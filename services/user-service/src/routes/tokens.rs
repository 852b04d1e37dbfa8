//! Login (access tokens) and the JWKS that verifies them.

use super::AppState;
use crate::keys::Jwks;
use crate::passwords::HashError;
use crate::store;
use crate::validation;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use kit::{Json, Problem};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

pub const ISSUER: &str = "shop-users";
pub const AUDIENCE: &str = "shop";

#[derive(Debug, Deserialize, ToSchema)]
pub struct LoginRequest {
    #[schema(example = "ada@example.com")]
    pub email: String,
    #[schema(example = "correct-horse-42")]
    pub password: String,
}

#[derive(Debug, Serialize, Deserialize, ToSchema)]
pub struct TokenResponse {
    /// RS256 JWT; verify it with the key of its `kid` from `/.well-known/jwks.json`.
    pub access_token: String,
    /// Always `Bearer`.
    #[schema(example = "Bearer")]
    pub token_type: String,
    /// Seconds until the token expires.
    #[schema(example = 900)]
    pub expires_in: u64,
}

/// The access token's claims.
#[derive(Debug, Clone, Serialize, Deserialize, ToSchema)]
pub struct Claims {
    /// The user id.
    pub sub: String,
    pub roles: Vec<String>,
    /// `shop-users`.
    pub iss: String,
    /// `shop`.
    pub aud: String,
    pub iat: i64,
    pub nbf: i64,
    pub exp: i64,
}

#[derive(Debug, thiserror::Error)]
pub enum LoginError {
    #[error("invalid email or password")]
    InvalidCredentials,
    #[error(transparent)]
    Database(#[from] sqlx::Error),
    #[error(transparent)]
    Hashing(#[from] HashError),
    #[error("token signing failed: {0}")]
    Signing(#[from] jsonwebtoken::errors::Error),
}

impl From<LoginError> for Problem {
    fn from(e: LoginError) -> Problem {
        match e {
            // One body whether the email is unknown or the password wrong.
            LoginError::InvalidCredentials => Problem::unauthorized("invalid email or password"),
            LoginError::Database(e) => Problem::internal(&e),
            LoginError::Hashing(e) => Problem::internal(&e),
            LoginError::Signing(e) => Problem::internal(&e),
        }
    }
}

impl IntoResponse for LoginError {
    fn into_response(self) -> Response {
        Problem::from(self).into_response()
    }
}

/// Log in
///
/// Exchanges email and password for an access token. Public. A wrong password and an unknown
/// email get the same 401 body and take about as long (an unknown email is checked against a
/// dummy hash).
#[utoipa::path(
    post,
    path = "/users/login",
    tag = "auth",
    request_body = LoginRequest,
    responses(
        (status = 200, description = "An access token", body = TokenResponse,
            headers(("cache-control" = String, description = "no-store"))),
        (status = 400, description = "Malformed JSON"),
        (status = 401, description = "Wrong email or password"),
        (status = 422, description = "Missing email or password"),
    )
)]
pub async fn login(
    State(state): State<AppState>,
    Json(body): Json<LoginRequest>,
) -> Result<Response, LoginError> {
    let email = validation::normalize_email(&body.email);
    let account = store::credentials(&state.pool, &email).await?;
    let (id, hash, roles) = match account {
        Some((id, hash, roles)) => (Some(id), Some(hash), roles),
        None => (None, None, Vec::new()),
    };
    let valid = state.hasher.verify(body.password, hash).await?;
    let Some(id) = id.filter(|_| valid) else {
        state.metrics.login("invalid_credentials");
        return Err(LoginError::InvalidCredentials);
    };
    let now = chrono::Utc::now().timestamp();
    let ttl = state.token_ttl_seconds;
    let claims = Claims {
        sub: id.to_string(),
        roles,
        iss: ISSUER.into(),
        aud: AUDIENCE.into(),
        iat: now,
        nbf: now,
        exp: now + ttl as i64,
    };
    let access_token = state.keys.signing.sign(&claims)?;
    state.metrics.login("success");
    tracing::info!(user_id = %id, "user logged in");
    Ok((
        [(header::CACHE_CONTROL, "no-store")],
        Json(TokenResponse {
            access_token,
            token_type: "Bearer".into(),
            expires_in: ttl,
        }),
    )
        .into_response())
}

/// Token verification keys
///
/// The public keys that verify access tokens (RFC 7517). Public.
#[utoipa::path(
    get,
    path = "/.well-known/jwks.json",
    tag = "auth",
    responses((status = 200, description = "The JWKS", body = Jwks))
)]
pub async fn jwks(State(state): State<AppState>) -> Response {
    (
        [(header::CACHE_CONTROL, "public, max-age=300")],
        Json(state.keys.jwks.clone()),
    )
        .into_response()
}
