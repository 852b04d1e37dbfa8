//! Image references (`registry:5000/library/postgres:15@sha256:…`) split into their parts.

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ImageRef {
    /// Everything before the tag, registry included.
    pub(crate) repository: String,
    pub(crate) tag: Option<String>,
    pub(crate) digest: Option<String>,
}

impl ImageRef {
    pub(crate) fn parse(s: &str) -> Option<ImageRef> {
        let s = s.trim();
        let (name, digest) = match s.split_once('@') {
            Some((n, d)) => (n, Some(d.to_owned())),
            None => (s, None),
        };
        let last_slash = name.rfind('/').map_or(0, |i| i + 1);
        let (repository, tag) = match name[last_slash..].rfind(':') {
            Some(i) => (
                &name[..last_slash + i],
                Some(name[last_slash + i + 1..].to_owned()),
            ),
            None => (name, None),
        };
        if repository.is_empty() || tag.as_deref() == Some("") {
            return None;
        }
        Some(ImageRef {
            repository: repository.to_owned(),
            tag,
            digest,
        })
    }

    /// The repository without registry and without the `library/` namespace, lower case.
    pub(crate) fn short_repository(&self) -> Option<String> {
        let mut parts: Vec<&str> = self.repository.split('/').collect();
        if parts.len() > 1 {
            let first = parts[0];
            if first.contains('.') || first.contains(':') || first == "localhost" {
                parts.remove(0);
            }
        }
        if parts.len() == 2 && parts[0] == "library" {
            parts.remove(0);
        }
        match parts.as_slice() {
            [one] if !one.is_empty() => Some(one.to_ascii_lowercase()),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    pub(crate) fn parses_references() {
        let r = ImageRef::parse("docker.io/library/postgres:15").unwrap();
        assert_eq!(r.repository, "docker.io/library/postgres");
        assert_eq!(r.tag.as_deref(), Some("15"));
        let r = ImageRef::parse("localhost:5000/postgres").unwrap();
        assert_eq!(r.repository, "localhost:5000/postgres");
        assert_eq!(r.tag, None);
        assert_eq!(r.short_repository().as_deref(), Some("postgres"));
        let r = ImageRef::parse("postgres@sha256:abc").unwrap();
        assert_eq!(r.digest.as_deref(), Some("sha256:abc"));
        assert_eq!(ImageRef::parse("postgres:"), None);
        assert_eq!(
            ImageRef::parse("bitnami/postgresql:15")
                .unwrap()
                .short_repository(),
            None
        );
    }
}
