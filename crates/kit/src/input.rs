//! Text a service will not take: control characters (NUL above all, which PostgreSQL `text`
//! cannot hold) and bytes that are not UTF-8, wherever a client can put them — the path, the
//! query string ([`middleware`], in every service's router) and JSON bodies ([`crate::Json`]).
//! One check for the whole class, before any handler runs, so no handler can forget it and no
//! such string reaches the database (where it was a 500, and five 500s opened the gateway's
//! breaker for everyone).

use crate::Problem;
use axum::extract::Request;
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub const PROBLEM_TYPE: &str = "https://msctl.dev/problems/invalid-text";

/// A character no text field takes. Tab, newline and carriage return are allowed in JSON
/// strings (a product description has lines); nowhere else.
fn forbidden(c: char, in_body: bool) -> bool {
    c.is_control() && !(in_body && matches!(c, '\t' | '\n' | '\r'))
}

fn describe(c: char) -> String {
    format!("U+{:04X}", c as u32)
}

/// Percent-decodes `raw` (and `+` as a space in a query) and says what is wrong with the
/// result, if anything: bytes that are not UTF-8, or a control character.
fn check_component(raw: &str, query: bool) -> Result<(), String> {
    let mut bytes = Vec::with_capacity(raw.len());
    let mut it = raw.bytes();
    while let Some(b) = it.next() {
        match b {
            b'%' => {
                let hex: Vec<u8> = it.clone().take(2).collect();
                let decoded = (hex.len() == 2)
                    .then(|| std::str::from_utf8(&hex).ok())
                    .flatten()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match decoded {
                    Some(v) => {
                        bytes.push(v);
                        it.nth(1);
                    }
                    // An invalid escape stays literal, as the URL parsers downstream read it.
                    None => bytes.push(b),
                }
            }
            b'+' if query => bytes.push(b' '),
            _ => bytes.push(b),
        }
    }
    let text = String::from_utf8(bytes).map_err(|_| "is not UTF-8 once decoded".to_owned())?;
    match text.chars().find(|&c| forbidden(c, false)) {
        Some(c) => Err(format!("holds the control character {}", describe(c))),
        None => Ok(()),
    }
}

fn invalid(detail: String) -> Problem {
    Problem::bad_request(detail).kind(PROBLEM_TYPE)
}

/// Refuses a request whose path or query string holds a control character or non-UTF-8 bytes
/// (400 problem+json), before routing.
pub async fn middleware(request: Request, next: Next) -> Response {
    let uri = request.uri();
    for segment in uri.path().split('/') {
        if let Err(why) = check_component(segment, false) {
            return invalid(format!("the path segment {segment:?} {why}")).into_response();
        }
    }
    if let Some(query) = uri.query() {
        for pair in query.split('&') {
            if let Err(why) = check_component(pair, true) {
                let name = pair.split('=').next().unwrap_or_default();
                return invalid(format!("the query parameter {name:?} {why}")).into_response();
            }
        }
    }
    next.run(request).await
}

/// The JSON path (`items[0].name`) of the first string or key in `value` holding a forbidden
/// character, and the character.
pub fn forbidden_text(value: &Value) -> Option<(String, char)> {
    fn walk(value: &Value, path: &mut String) -> Option<(String, char)> {
        let bad = |s: &str| s.chars().find(|&c| forbidden(c, true));
        match value {
            Value::String(s) => bad(s).map(|c| (path.clone(), c)),
            Value::Array(items) => items.iter().enumerate().find_map(|(i, item)| {
                let len = path.len();
                path.push_str(&format!("[{i}]"));
                let found = walk(item, path);
                path.truncate(len);
                found
            }),
            Value::Object(fields) => fields.iter().find_map(|(key, item)| {
                let len = path.len();
                if !path.is_empty() {
                    path.push('.');
                }
                path.push_str(key);
                let found = bad(key)
                    .map(|c| (path.clone(), c))
                    .or_else(|| walk(item, path));
                path.truncate(len);
                found
            }),
            _ => None,
        }
    }
    walk(value, &mut String::new())
}

/// The 422 for a JSON body with a forbidden character at `field`.
pub fn body_problem(field: String, c: char) -> Problem {
    let message = format!(
        "holds the control character {}; text fields take printable characters, tabs and \
         line breaks",
        describe(c)
    );
    Problem::validation(vec![crate::FieldError::new(field, message)]).kind(PROBLEM_TYPE)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn components_are_checked_once_decoded() {
        assert!(check_component("caf%C3%A9", false).is_ok());
        assert!(check_component("a+b%20c", true).is_ok());
        assert!(
            check_component("100%", false).is_ok(),
            "an invalid escape stays literal"
        );
        assert!(check_component("%zz", true).is_ok());
        assert_eq!(
            check_component("a%00", true).unwrap_err(),
            "holds the control character U+0000"
        );
        assert!(
            check_component("a%0A", false).is_err(),
            "no newline in a URL"
        );
        assert!(check_component("%7F", false).is_err());
        assert!(check_component("%C2%85", true).is_err(), "C1 controls too");
        assert_eq!(
            check_component("%FF", false).unwrap_err(),
            "is not UTF-8 once decoded"
        );
    }

    #[test]
    fn body_strings_and_keys_are_walked_with_their_path() {
        let ok = json!({"name": "a\tb\nc\r", "tags": ["x"], "n": 1});
        assert_eq!(forbidden_text(&ok), None);
        let nested = json!({"items": [{"sku": "ok"}, {"sku": "a\u{0}"}]});
        assert_eq!(
            forbidden_text(&nested),
            Some(("items[1].sku".into(), '\u{0}'))
        );
        assert_eq!(
            forbidden_text(&json!({"bad\u{1b}key": 1})),
            Some(("bad\u{1b}key".into(), '\u{1b}'))
        );
        assert_eq!(
            forbidden_text(&json!("\u{7}")),
            Some((String::new(), '\u{7}'))
        );
    }
}
