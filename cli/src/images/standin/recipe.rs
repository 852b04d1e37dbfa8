//! Recipes: what each stand-in is made of (Debian packages, build hooks, files, `docker import`
//! changes), and the hash that says whether an image was built from exactly that.

use super::{LABEL_DESCRIBE, LABEL_RECIPE, STD_PATH};
use crate::images::reference::ImageRef;
use sha2::{Digest, Sha256};

/// Bump when the way stand-ins are built changes in a way the assets do not show.
const FORMAT: &str = "msctl-standin/1";
const SUITE: &str = "bookworm";

/// A file compiled into msctl and written into a root filesystem.
#[derive(Clone, Copy)]
pub(super) struct Asset {
    /// Absolute path inside the image (or, for hooks, the file name under [`HOOK_DIR`]).
    pub(super) path: &'static str,
    pub(super) mode: u32,
    pub(super) bytes: &'static [u8],
}

impl std::fmt::Debug for Asset {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} ({:o}, {} bytes)",
            self.path,
            self.mode,
            self.bytes.len()
        )
    }
}

macro_rules! asset {
    ($path:expr, $mode:expr, $file:literal) => {
        Asset {
            path: $path,
            mode: $mode,
            bytes: include_bytes!(concat!("../../../assets/standin/", $file)),
        }
    };
}

/// Files put into the base root before its setup runs; they stay in every image.
pub(super) const BASE_FILES: [Asset; 3] = [
    asset!("/usr/sbin/policy-rc.d", 0o755, "base/policy-rc.d"),
    asset!(
        "/etc/dpkg/dpkg.cfg.d/msctl-slim",
        0o644,
        "base/dpkg-slim.cfg"
    ),
    asset!(
        "/etc/apt/apt.conf.d/msctl-slim",
        0o644,
        "base/apt-slim.conf"
    ),
];
pub(super) const BASE_SETUP: Asset = asset!("setup.sh", 0o755, "base/setup.sh");
pub(super) const CLEANUP: Asset = asset!("cleanup.sh", 0o755, "base/cleanup.sh");
pub(super) const BUILD: Asset = asset!("build.sh", 0o755, "base/build.sh");

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Kind {
    Debian,
    Postgres,
    Rabbitmq { management: bool },
}

/// A known way to build a stand-in for an image reference.
#[derive(Debug, Clone)]
pub struct Recipe {
    pub(super) kind: Kind,
    /// The repository and tag asked for (only for [`Recipe::describe`]; not hashed).
    pub(super) requested: String,
    pub(super) suite: &'static str,
    pub(super) packages: Vec<&'static str>,
    /// Scripts run in the chroot around the package installation (`pre-install.sh`,
    /// `post-install.sh`); not part of the image.
    pub(super) hooks: Vec<Asset>,
    /// Files added to the image after the packages are installed.
    pub(super) files: Vec<Asset>,
    /// `docker import` changes (ENTRYPOINT, CMD, ENV, EXPOSE, VOLUME); labels are added on top.
    pub(super) changes: Vec<String>,
    /// Set with a small classic build on top of the import (import cannot set it); the labels
    /// then come with that build, so only the finished image carries them.
    pub(super) stop_signal: Option<&'static str>,
}

impl Recipe {
    /// Stable hash of everything that determines the image's content (suite, packages, asset
    /// files' bytes, changes): 64 hex digits.
    pub fn hash(&self) -> String {
        let mut h = Fields::new();
        h.field("format", FORMAT.as_bytes());
        h.field("base", base_hash(self.suite).as_bytes());
        h.field("kind", format!("{:?}", self.kind).as_bytes());
        for p in &self.packages {
            h.field("package", p.as_bytes());
        }
        if !self.packages.is_empty() {
            h.asset("builder", &BUILD);
            h.asset("cleanup", &CLEANUP);
        }
        for a in &self.hooks {
            h.asset("hook", a);
        }
        for a in &self.files {
            h.asset("file", a);
        }
        for c in &self.changes {
            h.field("change", c.as_bytes());
        }
        if let Some(s) = self.stop_signal {
            h.field("stop-signal", s.as_bytes());
        }
        h.finish()
    }

    /// One line, e.g. "Debian bookworm + postgresql-15 (PostgreSQL 15; stands in for postgres:16)".
    pub fn describe(&self) -> String {
        let (tag_ok, what) = match self.kind {
            Kind::Debian => (
                ["bookworm", "12", "stable"]
                    .iter()
                    .any(|t| tag_of(&self.requested).starts_with(t)),
                format!("Debian {}", self.suite),
            ),
            Kind::Postgres => (
                tag_of(&self.requested).starts_with("15"),
                "PostgreSQL 15".to_owned(),
            ),
            Kind::Rabbitmq { .. } => (
                tag_of(&self.requested).starts_with("3.10"),
                "RabbitMQ 3.10".to_owned(),
            ),
        };
        if tag_ok {
            self.describe_content()
        } else {
            format!(
                "{} ({what}, standing in for {})",
                self.describe_content(),
                self.requested
            )
        }
    }

    /// [`Recipe::describe`] without the note about the requested tag.
    pub(super) fn describe_content(&self) -> String {
        match self.kind {
            Kind::Debian => format!("Debian {} (minbase)", self.suite),
            Kind::Postgres | Kind::Rabbitmq { management: false } => {
                format!("Debian {} + {}", self.suite, self.packages.join(" "))
            }
            Kind::Rabbitmq { management: true } => format!(
                "Debian {} + {} with the management plugin",
                self.suite,
                self.packages.join(" ")
            ),
        }
    }

    /// The labels that identify the stand-in, as one Dockerfile instruction.
    pub(super) fn label_instruction(&self, hash: &str) -> String {
        format!(
            "LABEL {LABEL_RECIPE}={hash} {LABEL_DESCRIBE}={}",
            serde_json::Value::String(self.describe_content())
        )
    }
}

/// The recipe for an image reference, if msctl knows one. The repository is matched without its
/// registry (`postgres`, `library/postgres`, `docker.io/library/postgres`, `host:5000/postgres`),
/// for any tag: `postgres:*`, `rabbitmq:*` (the management plugin when the tag says
/// `management`), `debian:*` (always bookworm).
pub fn recipe_for(image_ref: &str) -> Option<Recipe> {
    let parsed = ImageRef::parse(image_ref)?;
    let repo = parsed.short_repository()?;
    let tag = parsed.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let requested = format!("{repo}:{tag}");
    let path_env = |prefix: &str| format!("ENV PATH={prefix}{STD_PATH}");
    let recipe = match repo.as_str() {
        "debian" => Recipe {
            kind: Kind::Debian,
            requested,
            suite: SUITE,
            packages: vec![],
            hooks: vec![],
            files: vec![],
            changes: vec![path_env(""), r#"CMD ["bash"]"#.to_owned()],
            stop_signal: None,
        },
        "postgres" => Recipe {
            kind: Kind::Postgres,
            requested,
            suite: SUITE,
            packages: vec!["postgresql-15"],
            hooks: vec![
                asset!("pre-install.sh", 0o755, "postgres/pre-install.sh"),
                asset!("post-install.sh", 0o755, "postgres/post-install.sh"),
            ],
            files: vec![asset!(
                "/usr/local/bin/docker-entrypoint.sh",
                0o755,
                "postgres/docker-entrypoint.sh"
            )],
            changes: vec![
                path_env("/usr/lib/postgresql/15/bin:"),
                "ENV LANG=C.UTF-8".to_owned(),
                "ENV PG_MAJOR=15".to_owned(),
                "ENV PGDATA=/var/lib/postgresql/data".to_owned(),
                "VOLUME /var/lib/postgresql/data".to_owned(),
                "EXPOSE 5432".to_owned(),
                r#"ENTRYPOINT ["docker-entrypoint.sh"]"#.to_owned(),
                r#"CMD ["postgres"]"#.to_owned(),
            ],
            // SIGTERM is postgres' "smart" shutdown, which waits for every client to leave;
            // SIGINT is the fast, clean one (what the official image uses).
            stop_signal: Some("SIGINT"),
        },
        "rabbitmq" => {
            let management = tag.contains("management");
            let mut changes = vec![
                // The upstream CLI scripts, not Debian's su wrappers (which mangle arguments
                // with quotes or backslashes); as root they use the cookie in $HOME.
                path_env("/usr/lib/rabbitmq/bin:"),
                "ENV LANG=C.UTF-8".to_owned(),
                "ENV HOME=/var/lib/rabbitmq".to_owned(),
                "ENV RABBITMQ_NODENAME=rabbit@localhost".to_owned(),
                "ENV RABBITMQ_LOGS=-".to_owned(),
                "VOLUME /var/lib/rabbitmq".to_owned(),
                "EXPOSE 4369 5671 5672 25672".to_owned(),
            ];
            if management {
                changes.push("EXPOSE 15671 15672".to_owned());
            }
            changes.push(r#"ENTRYPOINT ["docker-entrypoint.sh"]"#.to_owned());
            changes.push(r#"CMD ["rabbitmq-server"]"#.to_owned());
            Recipe {
                kind: Kind::Rabbitmq { management },
                requested,
                suite: SUITE,
                packages: vec!["rabbitmq-server"],
                hooks: vec![
                    asset!("pre-install.sh", 0o755, "rabbitmq/pre-install.sh"),
                    asset!("post-install.sh", 0o755, "rabbitmq/post-install.sh"),
                ],
                files: vec![
                    asset!(
                        "/usr/local/bin/docker-entrypoint.sh",
                        0o755,
                        "rabbitmq/docker-entrypoint.sh"
                    ),
                    if management {
                        asset!(
                            "/etc/rabbitmq/enabled_plugins",
                            0o644,
                            "rabbitmq/enabled_plugins.management"
                        )
                    } else {
                        asset!(
                            "/etc/rabbitmq/enabled_plugins",
                            0o644,
                            "rabbitmq/enabled_plugins.plain"
                        )
                    },
                ],
                changes,
                stop_signal: None,
            }
        }
        _ => return None,
    };
    Some(recipe)
}

pub(super) fn tag_of(requested: &str) -> &str {
    requested.rsplit_once(':').map_or("", |(_, t)| t)
}

/// Hash of what makes the base tarball of `suite`.
pub(super) fn base_hash(suite: &str) -> String {
    let mut h = Fields::new();
    h.field("format", FORMAT.as_bytes());
    h.field("suite", suite.as_bytes());
    h.field("variant", b"minbase");
    for a in &BASE_FILES {
        h.asset("file", a);
    }
    h.asset("setup", &BASE_SETUP);
    h.asset("cleanup", &CLEANUP);
    h.finish()
}

/// SHA-256 over length-prefixed fields, so no two different inputs hash alike.
pub(super) struct Fields(Sha256);

impl Fields {
    pub(super) fn new() -> Self {
        Fields(Sha256::new())
    }
    pub(super) fn field(&mut self, name: &str, value: &[u8]) {
        self.0.update((name.len() as u64).to_le_bytes());
        self.0.update(name.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }
    pub(super) fn asset(&mut self, name: &str, a: &Asset) {
        self.field(name, a.path.as_bytes());
        self.field("mode", format!("{:o}", a.mode).as_bytes());
        self.field("bytes", a.bytes);
    }
    pub(super) fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}
