//! Who may call what: access rules matched on method and path, first match wins. The rules'
//! types are here (the configuration holds them: `config::Config::access`).

use http::Method;
use serde::Deserialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Access {
    /// No token needed (a valid one is still used for the identity headers).
    Public,
    /// A valid token with role `user` or `admin`.
    User,
    /// A valid token with role `admin`.
    Admin,
}

#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// Methods the rule applies to; absent or empty: every method.
    #[serde(default)]
    pub methods: Vec<String>,
    /// Path pattern: literal segments, `*` = exactly one non-empty segment, a final `**` = any
    /// number of further segments (including none).
    pub path: String,
    pub access: Access,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Segment {
    Literal(String),
    /// `*`: exactly one non-empty segment.
    One,
    /// A final `**`: any number of further segments, including none.
    Rest,
}

/// A path pattern: `/products`, `/products/*`, `/products/**`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pattern(Vec<Segment>);

impl Pattern {
    pub fn parse(pattern: &str) -> Result<Pattern, String> {
        let Some(rest) = pattern.strip_prefix('/') else {
            return Err(format!("pattern {pattern:?} must start with /"));
        };
        let parts: Vec<&str> = rest.split('/').collect();
        let mut segments = Vec::with_capacity(parts.len());
        for (i, part) in parts.iter().enumerate() {
            segments.push(match *part {
                "**" if i + 1 == parts.len() => Segment::Rest,
                "**" => return Err(format!("pattern {pattern:?}: ** must be the last segment")),
                "*" => Segment::One,
                p if p.contains('*') => {
                    return Err(format!("pattern {pattern:?}: * must be a whole segment"))
                }
                p => Segment::Literal(p.to_owned()),
            });
        }
        Ok(Pattern(segments))
    }

    /// Whether `path` (no query) matches; allocation-free.
    pub fn matches(&self, path: &str) -> bool {
        let Some(rest) = path.strip_prefix('/') else {
            return false;
        };
        let mut parts = rest.split('/');
        for segment in &self.0 {
            match segment {
                Segment::Rest => return true,
                Segment::One => match parts.next() {
                    Some(p) if !p.is_empty() => {}
                    _ => return false,
                },
                Segment::Literal(l) => match parts.next() {
                    Some(p) if p == l => {}
                    _ => return false,
                },
            }
        }
        parts.next().is_none()
    }
}

#[derive(Debug, Clone)]
struct Rule {
    methods: Vec<Method>,
    pattern: Pattern,
    access: Access,
}

/// The compiled access rules.
#[derive(Debug, Clone)]
pub struct Policy {
    rules: Vec<Rule>,
    default: Access,
}

impl Policy {
    /// Rules from validated configuration.
    pub fn new(rules: &[AccessRule], default: Access) -> Policy {
        Policy {
            rules: rules
                .iter()
                .map(|r| Rule {
                    methods: r
                        .methods
                        .iter()
                        .map(|m| Method::from_bytes(m.as_bytes()).expect("validated method"))
                        .collect(),
                    pattern: Pattern::parse(&r.path).expect("validated pattern"),
                    access: r.access,
                })
                .collect(),
            default,
        }
    }

    pub fn access(&self, method: &Method, path: &str) -> Access {
        self.rules
            .iter()
            .find(|r| {
                (r.methods.is_empty() || r.methods.iter().any(|m| m == method))
                    && r.pattern.matches(path)
            })
            .map(|r| r.access)
            .unwrap_or(self.default)
    }
}

/// Whether a path has a `.` or `..` segment (also percent-encoded), which an upstream that
/// normalises paths could resolve to a route the access rules did not see.
pub fn has_dot_segment(path: &str) -> bool {
    if !path.contains('.') && !path.contains('%') {
        return false;
    }
    path.split('/').any(|segment| {
        if segment.is_empty() || segment.len() > 6 {
            return false;
        }
        let decoded = segment.to_ascii_lowercase().replace("%2e", ".");
        decoded == "." || decoded == ".."
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn patterns() {
        let p = Pattern::parse("/products/*").unwrap();
        assert!(p.matches("/products/abc"));
        assert!(!p.matches("/products"));
        assert!(!p.matches("/products/"));
        assert!(!p.matches("/products/a/b"));
        let p = Pattern::parse("/products/**").unwrap();
        assert!(p.matches("/products"));
        assert!(p.matches("/products/a/b"));
        assert!(!p.matches("/productsx"));
        let p = Pattern::parse("/users").unwrap();
        assert!(p.matches("/users"));
        assert!(!p.matches("/users/"));
        assert!(!p.matches("/users/me"));
        assert!(Pattern::parse("/a/**/b").is_err());
        assert!(Pattern::parse("/a*").is_err());
        assert!(Pattern::parse("a").is_err());
    }

    #[test]
    fn dot_segments() {
        assert!(has_dot_segment("/products/../users"));
        assert!(has_dot_segment("/products/%2E%2e/users"));
        assert!(has_dot_segment("/products/./x"));
        assert!(!has_dot_segment("/.well-known/jwks.json"));
        assert!(!has_dot_segment("/products/a.b"));
        assert!(!has_dot_segment("/products/%20"));
    }
}
