//! Who is calling, from the identity headers the gateway forwards (every service behind it).
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
}

/// An extractor that admits only callers with the `admin` role: no identity → 401 problem,
/// identity without the role → 403 problem.
#[derive(Debug, Clone)]
pub struct Admin(pub Identity);

impl<S: Send + Sync> FromRequestParts<S> for Admin {
    type Rejection = Problem;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let identity = Identity::from_headers(&parts.headers).ok_or_else(|| {
            Problem::unauthorized("authentication required: no valid x-user-id identity header")
        })?;
        if identity.has_role("admin") {
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
