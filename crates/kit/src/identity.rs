//! Who is calling, from the identity headers the gateway forwards (every service behind it).
//! One style of check for every handler: take an [`Identity`] (any signed-in caller; none →
//! 401) or an [`Admin`] (→ 401 / 403) as an extractor, and ask [`Identity::require`] for any
//! other role. [`IdentityHeaders`] documents the headers in OpenAPI.
//!
//! Trust assumption: this service is reachable only on the private network, behind the gateway,
//! which verifies the caller's JWT, strips any client-sent `x-user-id`/`x-user-roles`, and sets
//! them from the token. The service therefore trusts these headers as they come.

use crate::Problem;
use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::HeaderMap;
use uuid::Uuid;

pub const USER_ID: &str = "x-user-id";
pub const USER_ROLES: &str = "x-user-roles";

/// The caller the gateway vouches for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Identity {
    pub user_id: Uuid,
    pub roles: Vec<String>,
}

impl Identity {
    /// `None` when there is no (valid) `x-user-id`: an anonymous caller.
    pub fn from_headers(headers: &HeaderMap) -> Option<Identity> {
        let user_id = headers
            .get(USER_ID)?
            .to_str()
            .ok()
            .and_then(|v| Uuid::parse_str(v.trim()).ok())?;
        let roles = headers
            .get_all(USER_ROLES)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .map(|r| r.trim().to_owned())
            .filter(|r| !r.is_empty())
            .collect();
        Some(Identity { user_id, roles })
    }

    pub fn has_role(&self, role: &str) -> bool {
        self.roles.iter().any(|r| r == role)
    }

    pub fn is_admin(&self) -> bool {
        self.has_role("admin")
    }

    /// The caller themself, or an admin: who may manage `user`'s things.
    pub fn may_manage(&self, user: Uuid) -> bool {
        self.user_id == user || self.is_admin()
    }

    /// A 403 problem saying `why` unless the caller has `role`.
    pub fn require(&self, role: &str, why: &str) -> Result<(), Problem> {
        if self.has_role(role) {
            Ok(())
        } else {
            Err(Problem::forbidden(why))
        }
    }
}

fn unauthenticated() -> Problem {
    Problem::unauthorized("authentication required: no valid x-user-id identity header")
}

/// A signed-in caller, as an extractor: no (valid) identity → 401 problem.
impl<S: Send + Sync> FromRequestParts<S> for Identity {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        Identity::from_headers(&parts.headers).ok_or_else(unauthenticated)
    }
}

/// The identity headers, for a route's OpenAPI `params(..)`.
#[derive(utoipa::IntoParams)]
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

/// An extractor that admits only callers with the `admin` role: no identity → 401 problem,
/// identity without the role → 403 problem.
#[derive(Debug, Clone)]
pub struct Admin(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_headers(&parts.headers).ok_or_else(unauthenticated)?;
        if identity.is_admin() {
            Ok(Admin(identity))
        } else {
            Err(Problem::forbidden("this operation needs the admin role"))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn parses_roles() {
        let mut h = HeaderMap::new();
        assert_eq!(Identity::from_headers(&h), None);
        h.insert(USER_ID, HeaderValue::from_static("not-a-uuid"));
        assert_eq!(Identity::from_headers(&h), None);
        h.insert(
            USER_ID,
            HeaderValue::from_static("0b6f8a10-8a0e-4a4e-9d3c-5a1f3a6b2c01"),
        );
        h.insert(USER_ROLES, HeaderValue::from_static(" user , admin,"));
        let id = Identity::from_headers(&h).unwrap();
        assert_eq!(id.roles, vec!["user", "admin"]);
        assert!(id.has_role("admin"));
        assert!(!id.has_role("adm"));
    }
}
