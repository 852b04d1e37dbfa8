//! Token login, as .NET Aspire's dashboard does it: the terminal prints `/login?t=TOKEN`; opening
//! it sets an HttpOnly, SameSite=Strict cookie holding the token and redirects to the page asked
//! for. Every page and action then needs the cookie (401 without it); the OTLP receiver does not
//! (the services cannot know the token) but only answers loopback and the project's network
//! ([`super::listen`]).

use super::Shared;
use axum::extract::{Query, Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};

pub const COOKIE: &str = "msctl_dashboard";

/// 32 hex digits from the OS's generator.
pub fn new_token() -> String {
    use ring::rand::SecureRandom;
    let mut bytes = [0u8; 16];
    ring::rand::SystemRandom::new()
        .fill(&mut bytes)
        .expect("the OS random generator works");
    hex::encode(bytes)
}

/// Compares in time independent of where the first difference is.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn cookie_token(headers: &HeaderMap) -> Option<&str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE)
        .map(|(_, v)| v)
}

#[derive(serde::Deserialize)]
pub struct Login {
    t: Option<String>,
    next: Option<String>,
}

/// `GET /login?t=…[&next=/traces]`.
pub async fn login(State(state): State<Shared>, Query(q): Query<Login>) -> Response {
    match q.t {
        Some(t) if same(&t, &state.token) => {
            // Only a path on this site: `next` must not send the browser elsewhere.
            let next = q
                .next
                .filter(|n| n.starts_with('/') && !n.starts_with("//") && !n.contains('\\'))
                .unwrap_or_else(|| "/".into());
            let cookie = format!("{COOKIE}={t}; Path=/; HttpOnly; SameSite=Strict");
            ([(header::SET_COOKIE, cookie)], Redirect::to(&next)).into_response()
        }
        _ => unauthorized(),
    }
}

fn unauthorized() -> Response {
    (
        StatusCode::UNAUTHORIZED,
        Html(
            "<!doctype html><title>msctl dashboard: log in</title>\
             <h1>Log in</h1><p>Open the link <code>msctl dashboard</code> printed in its \
             terminal (<code>/login?t=…</code>).</p>",
        ),
    )
        .into_response()
}

/// Middleware for the pages: the cookie or 401.
pub async fn require(State(state): State<Shared>, request: Request, next: Next) -> Response {
    match cookie_token(request.headers()) {
        Some(t) if same(t, &state.token) => next.run(request).await,
        _ => unauthorized(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    #[test]
    fn the_cookie_is_found_among_others() {
        let mut h = HeaderMap::new();
        h.insert(
            header::COOKIE,
            HeaderValue::from_static("a=1; msctl_dashboard=abc; b=2"),
        );
        assert_eq!(cookie_token(&h), Some("abc"));
        assert!(same("abc", "abc") && !same("abc", "abd") && !same("abc", "ab"));
        assert_eq!(new_token().len(), 32);
    }
}
