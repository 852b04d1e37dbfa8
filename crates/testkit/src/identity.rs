//! Callers for service tests: the `x-identity` token the gateway would forward, signed with a
//! key pair that exists for tests only (a stack gets its own from `msctl up`, in `.env`).

use kit::identity::{Identity, Signer, Verifier, TOKEN_HEADER};
use uuid::Uuid;

/// `IDENTITY_SIGNING_KEY` of the tests' "gateway".
pub const SIGNING_KEY: &str = "MC4CAQAwBQYDK2VwBCIEIDH5FqVltZSF0kyhyuermgFB4GWDnQFc4zBjvBGbjSMP";
/// `IDENTITY_VERIFY_KEY` the services under test are configured with.
pub const VERIFY_KEY: &str = "KY_STR-KOCZI6rRxzVB9puHAKl3mop2zwc2O-WGjBIo";

/// What a service under test verifies identities with.
pub fn verifier() -> Verifier {
    VERIFY_KEY.parse().expect("the test key parses")
}

/// What the tests' gateway signs with.
pub fn signer() -> Signer {
    SIGNING_KEY.parse().expect("the test key parses")
}

/// The `x-identity` header naming `user` with `roles` (comma-separated), for `service`.
pub fn header(service: &str, user: &str, roles: &str) -> (&'static str, String) {
    let identity = Identity {
        user_id: Uuid::parse_str(user).expect("a user id is a UUID"),
        roles: roles
            .split(',')
            .map(str::trim)
            .filter(|r| !r.is_empty())
            .map(str::to_owned)
            .collect(),
    };
    (TOKEN_HEADER, signer().sign_now(service, &identity))
}

/// A request as `user` with `roles`, as the gateway would forward it to `service`.
pub fn as_caller(
    request: reqwest::RequestBuilder,
    service: &str,
    user: &str,
    roles: &str,
) -> reqwest::RequestBuilder {
    let (name, value) = header(service, user, roles);
    request.header(name, value)
}
