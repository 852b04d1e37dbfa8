//! Who is calling, as the gateway says: it verifies the access token, strips whatever the client
//! sent in these headers, and forwards `x-user-id` (the token's `sub`) and `x-user-roles` (its
//! roles, comma-separated). This service is reachable only on the private network, so it trusts
//! them; it never sees the token.

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use kit::Problem;
use uuid::Uuid;

pub const USER_ID_HEADER: &str = "x-user-id";
pub const USER_ROLES_HEADER: &str = "x-user-roles";

/// The authenticated caller. Extracting it without a valid `x-user-id` is a 401 problem.
#[derive(Debug, Clone)]
pub struct Caller {
    pub id: Uuid,
    pub roles: Vec<String>,
}

impl Caller {
    pub fn is_admin(&self) -> bool {
        self.roles.iter().any(|r| r == "admin")
    }

    /// Self or an admin.
    pub fn may_manage(&self, user: Uuid) -> bool {
        self.id == user || self.is_admin()
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Caller {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Caller, Problem> {
        let id = parts
            .headers
            .get(USER_ID_HEADER)
            .ok_or_else(|| Problem::unauthorized("authentication required (no x-user-id)"))?
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())
            .ok_or_else(|| Problem::unauthorized("x-user-id is not a user id"))?;
        let roles = parts
            .headers
            .get_all(USER_ROLES_HEADER)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect();
        Ok(Caller { id, roles })
    }
}
