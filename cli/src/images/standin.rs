//! Stand-in images: Debian-built replacements for images that are neither present nor pullable.
//!
//! When a stack names `postgres:15`, `rabbitmq:3-management` or `debian:bookworm-slim` and no
//! registry answers, msctl builds a stand-in from Debian packages:
//!
//! 1. a **base**: `debootstrap --variant=minbase bookworm`, slimmed (no docs, man pages or
//!    translations) and updated, kept as a tarball in the cache directory keyed by the hash of
//!    what made it (built once, shared by every recipe, guarded by a file lock);
//! 2. per **recipe**: the base unpacked into a work directory, packages installed in a chroot
//!    (inside private mount and PID namespaces, so nothing leaks when the build ends), an entry
//!    point and configuration added, the tree streamed into `docker import` with
//!    ENTRYPOINT/CMD/ENV/EXPOSE/VOLUME/LABEL changes, and tagged as the requested reference.
//!
//! Every image carries the label [`LABEL_RECIPE`] with [`Recipe::hash`], which covers everything
//! that determines its content (suite, packages, every asset file's bytes, the changes). An image
//! whose label matches is used as it is; a different hash means the recipe changed and the image
//! is rebuilt. An image of another reference with the same recipe (`postgres:15` built, now
//! `postgres:16` asked for) is re-tagged instead of built again.
//!
//! The assets (entry points, hooks, configuration) live in `cli/assets/standin/` and are compiled
//! into the binary. `docs/stand-in-images.md` describes what each stand-in honours.

use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{self, BufRead, BufReader, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use bollard::query_parameters::{
    BuildImageOptionsBuilder, BuilderVersion, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    RemoveImageOptionsBuilder, TagImageOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use indicatif::ProgressBar;
use sha2::{Digest, Sha256};
use tokio::io::{AsyncRead, AsyncReadExt};

/// Label every stand-in image carries: the [`Recipe::hash`] it was built from.
pub const LABEL_RECIPE: &str = "msctl.standin.recipe";
/// Label with [`Recipe::describe`] (without the note about the requested tag).
pub const LABEL_DESCRIBE: &str = "msctl.standin.describe";

/// Bump when the way stand-ins are built changes in a way the assets do not show.
const FORMAT: &str = "msctl-standin/1";
const SUITE: &str = "bookworm";
const DEFAULT_MIRROR: &str = "http://deb.debian.org/debian";
const DEFAULT_SECURITY_MIRROR: &str = "http://deb.debian.org/debian-security";
const STD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the build hooks are put inside the root while it is being built (removed afterwards).
const HOOK_DIR: &str = ".msctl-build";

// ---------------------------------------------------------------------------------------------
// Assets

/// A file compiled into msctl and written into a root filesystem.
#[derive(Clone, Copy)]
struct Asset {
    /// Absolute path inside the image (or, for hooks, the file name under [`HOOK_DIR`]).
    path: &'static str,
    mode: u32,
    bytes: &'static [u8],
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
            bytes: include_bytes!(concat!("../../assets/standin/", $file)),
        }
    };
}

/// Files put into the base root before its setup runs; they stay in every image.
const BASE_FILES: [Asset; 3] = [
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
const BASE_SETUP: Asset = asset!("setup.sh", 0o755, "base/setup.sh");
const CLEANUP: Asset = asset!("cleanup.sh", 0o755, "base/cleanup.sh");
const BUILD: Asset = asset!("build.sh", 0o755, "base/build.sh");

// ---------------------------------------------------------------------------------------------
// Recipes

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Debian,
    Postgres,
    Rabbitmq { management: bool },
}

/// A known way to build a stand-in for an image reference.
#[derive(Debug, Clone)]
pub struct Recipe {
    kind: Kind,
    /// The repository and tag asked for (only for [`Recipe::describe`]; not hashed).
    requested: String,
    suite: &'static str,
    packages: Vec<&'static str>,
    /// Scripts run in the chroot around the package installation (`pre-install.sh`,
    /// `post-install.sh`); not part of the image.
    hooks: Vec<Asset>,
    /// Files added to the image after the packages are installed.
    files: Vec<Asset>,
    /// `docker import` changes (ENTRYPOINT, CMD, ENV, EXPOSE, VOLUME); labels are added on top.
    changes: Vec<String>,
    /// Set with a small classic build on top of the import (import cannot set it); the labels
    /// then come with that build, so only the finished image carries them.
    stop_signal: Option<&'static str>,
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
    fn describe_content(&self) -> String {
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
    fn label_instruction(&self, hash: &str) -> String {
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

fn tag_of(requested: &str) -> &str {
    requested.rsplit_once(':').map_or("", |(_, t)| t)
}

/// Hash of what makes the base tarball of `suite`.
fn base_hash(suite: &str) -> String {
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
struct Fields(Sha256);

impl Fields {
    fn new() -> Self {
        Fields(Sha256::new())
    }
    fn field(&mut self, name: &str, value: &[u8]) {
        self.0.update((name.len() as u64).to_le_bytes());
        self.0.update(name.as_bytes());
        self.0.update((value.len() as u64).to_le_bytes());
        self.0.update(value);
    }
    fn asset(&mut self, name: &str, a: &Asset) {
        self.field(name, a.path.as_bytes());
        self.field("mode", format!("{:o}", a.mode).as_bytes());
        self.field("bytes", a.bytes);
    }
    fn finish(self) -> String {
        hex::encode(self.0.finalize())
    }
}

/// An image reference split into its parts.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ImageRef {
    /// Everything before the tag, registry included.
    repository: String,
    tag: Option<String>,
    digest: Option<String>,
}

impl ImageRef {
    fn parse(s: &str) -> Option<ImageRef> {
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
    fn short_repository(&self) -> Option<String> {
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

// ---------------------------------------------------------------------------------------------
// Errors

/// Why a stand-in could not be built. Every message is a full sentence meant for users.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("Stand-in images can only be built on Linux (they need debootstrap, chroot and namespaces), and this is {os}.")]
    UnsupportedOs { os: &'static str },

    #[error("Building stand-in images needs root (debootstrap and chroot), but msctl is running as uid {uid}; run it as root, for example with sudo.")]
    NotRoot { uid: u32 },

    #[error("debootstrap is not installed, and msctl needs it to build stand-in images: install it with `apt-get install debootstrap` (or run scripts/bootstrap.sh).")]
    NoDebootstrap,

    #[error("`{tool}` is not installed, and msctl needs it to build stand-in images: install it with `apt-get install {package}` (or run scripts/bootstrap.sh).")]
    MissingTool {
        tool: &'static str,
        package: &'static str,
    },

    #[error("msctl cannot make a stand-in for `{image}`: {reason}.")]
    BadReference { image: String, reason: String },

    #[error("Building the stand-in for `{image}` failed: could not {action}: {source}.")]
    Io {
        image: String,
        action: String,
        #[source]
        source: io::Error,
    },

    #[error("Building the stand-in for `{image}` failed: {step} {status}. Its last lines of output were:\n{tail}\nThe whole log is in {}.", log.display())]
    StepFailed {
        image: String,
        step: String,
        status: String,
        tail: String,
        log: PathBuf,
    },

    #[error("Building the stand-in for `{image}` failed: Docker could not {action}: {source}.")]
    Docker {
        image: String,
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("The stand-in for `{image}` was built, but the image now tagged `{image}` does not carry recipe {expected}; another process may have re-tagged it meanwhile. Run the command again.")]
    Verify { image: String, expected: String },
}

// ---------------------------------------------------------------------------------------------
// Can this machine build?

/// Can this machine build stand-ins? `Ok(())`, or the error saying what to install or why not.
pub fn can_build() -> Result<(), StandInError> {
    if !cfg!(target_os = "linux") {
        return Err(StandInError::UnsupportedOs {
            os: std::env::consts::OS,
        });
    }
    let uid = effective_uid();
    if uid != 0 {
        return Err(StandInError::NotRoot { uid });
    }
    if find_tool("debootstrap").is_none() {
        return Err(StandInError::NoDebootstrap);
    }
    for (tool, package) in [
        ("unshare", "util-linux"),
        ("chroot", "coreutils"),
        ("tar", "tar"),
    ] {
        if find_tool(tool).is_none() {
            return Err(StandInError::MissingTool { tool, package });
        }
    }
    Ok(())
}

fn effective_uid() -> u32 {
    // The second field of "Uid:" is the effective user id.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// `name` on PATH or in the sbin directories (which a root PATH may lack).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

// ---------------------------------------------------------------------------------------------
// ensure

/// Makes sure `image_ref` exists locally as the stand-in of `recipe` and returns its image id.
///
/// If the image tagged `image_ref` carries `msctl.standin.recipe=<hash>`, its id is returned at
/// once. If another image carries that label (same recipe, other tag), it is tagged `image_ref`.
/// Otherwise the stand-in is built (debootstrap base, packages, assets, `docker import`) and
/// tagged `image_ref`, replacing what that tag pointed to; progress phases go to
/// `progress.set_message` ("debootstrap bookworm", "installing postgresql-15", "importing", …).
/// Concurrent calls, in this process or others, build the shared base and each recipe once.
pub async fn ensure(
    docker: &Docker,
    image_ref: &str,
    recipe: &Recipe,
    progress: &ProgressBar,
) -> Result<String, StandInError> {
    let parsed = ImageRef::parse(image_ref).ok_or_else(|| StandInError::BadReference {
        image: image_ref.to_owned(),
        reason: "it is not a valid image reference".to_owned(),
    })?;
    if parsed.digest.is_some() {
        return Err(StandInError::BadReference {
            image: image_ref.to_owned(),
            reason: "a reference by digest names exact image content, which a locally built stand-in cannot have; name a tag instead".to_owned(),
        });
    }
    let tag = parsed.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let full_ref = format!("{}:{tag}", parsed.repository);
    let hash = recipe.hash();

    if let Some(id) = current_standin(docker, &full_ref, &hash).await?.matching {
        return Ok(id);
    }
    can_build()?;

    let build = Build::new(docker, &full_ref, recipe, &hash, progress)?;
    // One build per recipe at a time, across processes; the winner's image serves the others.
    let _lock = build
        .lock(
            &build
                .paths
                .locks
                .join(format!("recipe-{}.lock", &hash[..16])),
        )
        .await?;
    let existing = current_standin(docker, &full_ref, &hash).await?;
    if let Some(id) = existing.matching {
        return Ok(id);
    }
    if let Some(id) = build.same_recipe_elsewhere().await? {
        progress.set_message("tagging");
        build.tag(&id, &parsed.repository, &tag).await?;
    } else {
        build.run(&parsed.repository, &tag).await?;
    }
    let id = build.verify().await?;
    if let Some(old) = existing.superseded {
        if old != id {
            // Best effort: an older stand-in nothing uses any more. Fails (and stays) when a
            // container still uses it.
            let _ = docker
                .remove_image(&old, Some(RemoveImageOptionsBuilder::new().build()), None)
                .await;
        }
    }
    Ok(id)
}

struct Current {
    /// The image tagged `image_ref`, when it carries the wanted recipe.
    matching: Option<String>,
    /// The image tagged `image_ref`, when it is a stand-in of another recipe.
    superseded: Option<String>,
}

async fn current_standin(
    docker: &Docker,
    image_ref: &str,
    hash: &str,
) -> Result<Current, StandInError> {
    match docker.inspect_image(image_ref).await {
        Ok(image) => {
            let label = image
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(LABEL_RECIPE))
                .cloned();
            let id = image.id.unwrap_or_default();
            Ok(match label {
                Some(h) if h == hash => Current {
                    matching: Some(id),
                    superseded: None,
                },
                Some(_) => Current {
                    matching: None,
                    superseded: Some(id),
                },
                None => Current {
                    matching: None,
                    superseded: None,
                },
            })
        }
        Err(bollard::errors::Error::DockerResponseServerError {
            status_code: 404, ..
        }) => Ok(Current {
            matching: None,
            superseded: None,
        }),
        Err(source) => Err(StandInError::Docker {
            image: image_ref.to_owned(),
            action: format!("inspect `{image_ref}`"),
            source,
        }),
    }
}

/// Where stand-in files live: `$MSCTL_CACHE_DIR`, `$XDG_CACHE_HOME/msctl` or `~/.cache/msctl`,
/// then `standin/`.
fn cache_dir() -> PathBuf {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let root = non_empty("MSCTL_CACHE_DIR")
        .or_else(|| non_empty("XDG_CACHE_HOME").map(|p| p.join("msctl")))
        .or_else(|| non_empty("HOME").map(|p| p.join(".cache").join("msctl")))
        .unwrap_or_else(|| PathBuf::from("/var/cache/msctl"));
    root.join("standin")
}

struct Paths {
    base_tar: PathBuf,
    work: PathBuf,
    locks: PathBuf,
    logs: PathBuf,
}

static WORK_COUNTER: AtomicU64 = AtomicU64::new(0);

/// One stand-in build: the context every step needs.
struct Build<'a> {
    docker: &'a Docker,
    image: String,
    recipe: &'a Recipe,
    hash: String,
    paths: Paths,
    reporter: Reporter,
}

impl<'a> Build<'a> {
    fn new(
        docker: &'a Docker,
        image: &str,
        recipe: &'a Recipe,
        hash: &str,
        progress: &ProgressBar,
    ) -> Result<Self, StandInError> {
        let root = cache_dir();
        let paths = Paths {
            base_tar: root.join(format!(
                "base-{}-{}.tar",
                recipe.suite,
                &base_hash(recipe.suite)[..16]
            )),
            work: root.join("work"),
            locks: root.join("locks"),
            logs: root.join("logs"),
        };
        let build = Build {
            docker,
            image: image.to_owned(),
            recipe,
            hash: hash.to_owned(),
            paths,
            reporter: Reporter::new(progress.clone()),
        };
        for dir in [&build.paths.work, &build.paths.locks, &build.paths.logs] {
            fs::create_dir_all(dir).map_err(build.io(format!("create {}", dir.display())))?;
        }
        Ok(build)
    }

    fn io(&self, action: impl Into<String>) -> impl FnOnce(io::Error) -> StandInError {
        let image = self.image.clone();
        let action = action.into();
        move |source| StandInError::Io {
            image,
            action,
            source,
        }
    }

    fn docker_err(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> StandInError {
        let image = self.image.clone();
        let action = action.into();
        move |source| StandInError::Docker {
            image,
            action,
            source,
        }
    }

    /// An exclusive lock on `path` (flock: also excludes other tasks of this process).
    async fn lock(&self, path: &Path) -> Result<fs::File, StandInError> {
        let p = path.to_owned();
        let file = tokio::task::spawn_blocking(move || -> io::Result<fs::File> {
            let f = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)?;
            f.lock()?;
            Ok(f)
        })
        .await
        .expect("lock task panicked");
        file.map_err(self.io(format!("lock {}", path.display())))
    }

    /// An image other than the tag's that was built from the same recipe.
    async fn same_recipe_elsewhere(&self) -> Result<Option<String>, StandInError> {
        let filters = HashMap::from([("label", vec![format!("{LABEL_RECIPE}={}", self.hash)])]);
        let images = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(self.docker_err("list images"))?;
        // Images built FROM a stand-in inherit its labels, the recipe label included; only an
        // image tagged as a stand-in of this recipe is one.
        let is_standin = |tag: &String| recipe_for(tag).is_some_and(|r| r.hash() == self.hash);
        Ok(images
            .into_iter()
            .find(|i| i.repo_tags.iter().any(is_standin))
            .map(|i| i.id))
    }

    async fn tag(&self, id: &str, repository: &str, tag: &str) -> Result<(), StandInError> {
        self.docker
            .tag_image(
                id,
                Some(
                    TagImageOptionsBuilder::new()
                        .repo(repository)
                        .tag(tag)
                        .build(),
                ),
            )
            .await
            .map_err(self.docker_err(format!("tag {id} as {repository}:{tag}")))
    }

    async fn verify(&self) -> Result<String, StandInError> {
        match current_standin(self.docker, &self.image, &self.hash)
            .await?
            .matching
        {
            Some(id) => Ok(id),
            None => Err(StandInError::Verify {
                image: self.image.clone(),
                expected: self.hash.clone(),
            }),
        }
    }

    /// Builds the image and tags it `repository:tag`.
    async fn run(&self, repository: &str, tag: &str) -> Result<(), StandInError> {
        self.ensure_base().await?;
        let log_path = self.paths.logs.join(format!(
            "{}-{}.log",
            log_name(&self.image),
            &self.hash[..16]
        ));
        let log =
            Log::create(&log_path).map_err(self.io(format!("create {}", log_path.display())))?;

        // When a build step follows, the import gets neither the tag nor the labels: only a
        // finished image may ever be found by them.
        let mut changes = self.recipe.changes.clone();
        let import_tag = if self.recipe.stop_signal.is_none() {
            changes.push(self.recipe.label_instruction(&self.hash));
            Some((repository, tag))
        } else {
            None
        };
        let id = if self.recipe.packages.is_empty() {
            // The base is the whole image.
            self.reporter.phase("importing");
            let file = tokio::fs::File::open(&self.paths.base_tar)
                .await
                .map_err(self.io(format!("open {}", self.paths.base_tar.display())))?;
            self.import(file, &changes, import_tag).await?
        } else {
            let work = WorkDir::create(
                &self.paths.work,
                &format!("{}-{}", log_name(&self.image), &self.hash[..12]),
            )
            .map_err(self.io("create a work directory"))?;
            let root = work.path.join("rootfs");
            fs::create_dir(&root).map_err(self.io(format!("create {}", root.display())))?;

            self.reporter
                .phase(format!("unpacking the {} base", self.recipe.suite));
            let mut tar = tool_command("tar");
            tar.arg("--numeric-owner")
                .arg("-xpf")
                .arg(&self.paths.base_tar)
                .arg("-C")
                .arg(&root);
            self.step("unpacking the base", tar, &log).await?;

            let hooks_dir = root.join(HOOK_DIR);
            let mut hooks = vec![BUILD, CLEANUP];
            hooks.extend(self.recipe.hooks.iter().copied());
            for h in &hooks {
                write_file(&root, &hooks_dir.join(h.path), h)
                    .map_err(self.io(format!("write the build hook {}", h.path)))?;
            }
            copy_resolv_conf(&root)
                .map_err(self.io("copy /etc/resolv.conf into the build root"))?;

            self.reporter
                .phase(format!("installing {}", self.recipe.packages.join(" ")));
            let mut chroot = in_chroot(&root, &format!("/bin/sh -eu /{HOOK_DIR}/build.sh"));
            chroot.env("MSCTL_PACKAGES", self.recipe.packages.join(" "));
            self.step(
                &format!("installing {}", self.recipe.packages.join(" ")),
                chroot,
                &log,
            )
            .await?;

            self.reporter.phase("adding files");
            finish_root(&root).map_err(self.io("clean up the build root"))?;
            for f in &self.recipe.files {
                write_file(&root, &root.join(f.path.trim_start_matches('/')), f)
                    .map_err(self.io(format!("add {}", f.path)))?;
            }

            self.reporter.phase("importing");
            let mut tar = tool_command("tar");
            tar.arg("--numeric-owner")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg("-")
                .arg(".")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = tar
                .spawn()
                .map_err(self.io("start tar to pack the image"))?;
            let stdout = child.stdout.take().expect("piped stdout");
            let mut stderr = child.stderr.take().expect("piped stderr");
            let stderr_task = tokio::spawn(async move {
                let mut s = String::new();
                let _ = stderr.read_to_string(&mut s).await;
                s
            });
            let id = self.import(stdout, &changes, import_tag).await;
            let status = child.wait().await.map_err(self.io("wait for tar"))?;
            let tar_err = stderr_task.await.unwrap_or_default();
            if !status.success() {
                return Err(StandInError::StepFailed {
                    image: self.image.clone(),
                    step: "packing the root filesystem with tar".to_owned(),
                    status: describe_status(status),
                    tail: indent(&tar_err),
                    log: log_path.clone(),
                });
            }
            let id = id?;
            self.reporter.phase("removing the work directory");
            drop(work);
            id
        };

        if let Some(signal) = self.recipe.stop_signal {
            self.reporter
                .phase(format!("setting the stop signal ({signal})"));
            self.add_stop_signal(&id, signal, &format!("{repository}:{tag}"))
                .await?;
        }
        log.line(&format!("built {} as {id}", self.image));
        Ok(())
    }

    /// Makes sure the base tarball exists (built once; other builds wait on its lock).
    async fn ensure_base(&self) -> Result<(), StandInError> {
        if self.paths.base_tar.is_file() {
            return Ok(());
        }
        let lock_name = format!(
            "{}.lock",
            self.paths.base_tar.file_name().unwrap().to_string_lossy()
        );
        self.reporter
            .phase(format!("waiting for the {} base", self.recipe.suite));
        let _lock = self.lock(&self.paths.locks.join(lock_name)).await?;
        if self.paths.base_tar.is_file() {
            return Ok(());
        }
        let suite = self.recipe.suite;
        let log_path = self.paths.logs.join(format!("base-{suite}.log"));
        let log =
            Log::create(&log_path).map_err(self.io(format!("create {}", log_path.display())))?;
        let work = WorkDir::create(&self.paths.work, &format!("base-{suite}"))
            .map_err(self.io("create a work directory"))?;
        let root = work.path.join("rootfs");
        let (mirror, security) = mirrors(suite);

        self.reporter.phase(format!("debootstrap {suite}"));
        let mut cmd = namespaced();
        cmd.arg(find_tool("debootstrap").unwrap_or_else(|| "debootstrap".into()))
            .arg("--variant=minbase")
            .arg("--components=main")
            .arg(suite)
            .arg(&root)
            .arg(&mirror);
        self.step(&format!("debootstrap {suite} from {mirror}"), cmd, &log)
            .await?;

        for f in &BASE_FILES {
            write_file(&root, &root.join(f.path.trim_start_matches('/')), f)
                .map_err(self.io(format!("add {}", f.path)))?;
        }
        for h in [BASE_SETUP, CLEANUP] {
            write_file(&root, &root.join(HOOK_DIR).join(h.path), &h)
                .map_err(self.io(format!("write the build hook {}", h.path)))?;
        }
        copy_resolv_conf(&root).map_err(self.io("copy /etc/resolv.conf into the build root"))?;
        let mut chroot = in_chroot(
            &root,
            &format!("/bin/sh -eu /{HOOK_DIR}/setup.sh && /bin/sh -eu /{HOOK_DIR}/cleanup.sh"),
        );
        chroot
            .env("MSCTL_SUITE", suite)
            .env("MSCTL_MIRROR", &mirror)
            .env("MSCTL_SECURITY_MIRROR", &security);
        self.step(&format!("setting up the {suite} base"), chroot, &log)
            .await?;
        finish_root(&root).map_err(self.io("clean up the base root"))?;

        self.reporter.phase(format!("packing the {suite} base"));
        let partial = self.paths.base_tar.with_extension("tar.partial");
        let mut tar = tool_command("tar");
        tar.arg("--numeric-owner")
            .arg("--sort=name")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&partial)
            .arg(".");
        self.step("packing the base", tar, &log).await?;
        fs::rename(&partial, &self.paths.base_tar).map_err(self.io(format!(
            "move the base into {}",
            self.paths.base_tar.display()
        )))?;
        log.line(&format!("base ready: {}", self.paths.base_tar.display()));
        drop(work);
        Ok(())
    }

    /// Runs `cmd`, its output into `log` and the progress bar; fails with the output's tail.
    async fn step(
        &self,
        what: &str,
        mut cmd: tokio::process::Command,
        log: &Log,
    ) -> Result<(), StandInError> {
        log.line(&format!("==> {what}"));
        let (reader, writer) = io::pipe().map_err(self.io("create a pipe"))?;
        let writer2 = writer.try_clone().map_err(self.io("create a pipe"))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer2))
            .kill_on_drop(true);
        let spawned = cmd.spawn();
        // The command keeps copies of the pipe's write end: drop them, or the reader never
        // sees the end of the output.
        drop(cmd);
        let mut child = spawned.map_err(self.io(format!("start {what}")))?;
        let reporter = self.reporter.clone();
        let log2 = log.clone();
        let reader_task = tokio::task::spawn_blocking(move || {
            let mut tail = VecDeque::with_capacity(TAIL_LINES);
            let mut buf = Vec::new();
            let mut reader = BufReader::new(reader);
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&buf);
                for line in text.split('\r') {
                    let line = line.trim_end();
                    if line.is_empty() {
                        continue;
                    }
                    log2.line(line);
                    reporter.line(line);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.to_owned());
                }
            }
            tail
        });
        let status = child
            .wait()
            .await
            .map_err(self.io(format!("wait for {what}")))?;
        let tail = reader_task.await.unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(StandInError::StepFailed {
            image: self.image.clone(),
            step: what.to_owned(),
            status: describe_status(status),
            tail: indent(&tail.into_iter().collect::<Vec<_>>().join("\n")),
            log: log.path.clone(),
        })
    }

    /// `docker import` of the tar stream `body`; returns the new image id.
    async fn import<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        body: R,
        changes: &[String],
        tag: Option<(&str, &str)>,
    ) -> Result<String, StandInError> {
        let sent = Arc::new(AtomicU64::new(0));
        let reporter = self.reporter.clone();
        let counter = sent.clone();
        let stream = futures_util::stream::unfold(Some(body), move |state| {
            let counter = counter.clone();
            let reporter = reporter.clone();
            async move {
                let mut reader = state?;
                let mut buf = vec![0u8; 1 << 20];
                match reader.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        let total = counter.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                        reporter.detail(&format!("{} MiB", total >> 20));
                        Some((Ok(Bytes::from(buf)), Some(reader)))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        });
        let mut options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .changes(changes.to_vec())
            .message(&format!(
                "msctl stand-in: {}",
                self.recipe.describe_content()
            ));
        if let Some((repo, tag)) = tag {
            options = options.repo(repo).tag(tag);
        }
        let mut results = self.docker.create_image(
            Some(options.build()),
            Some(bollard::body_try_stream(stream)),
            None,
        );
        let mut id = None;
        while let Some(item) = results.next().await {
            let info = item.map_err(self.docker_err("import the root filesystem"))?;
            if let Some(status) = info.status.as_deref() {
                if status.starts_with("sha256:") {
                    id = Some(status.trim().to_owned());
                }
            }
        }
        id.ok_or_else(|| StandInError::Docker {
            image: self.image.clone(),
            action: "import the root filesystem".to_owned(),
            source: bollard::errors::Error::DockerStreamError {
                error: "the import answered without an image id".to_owned(),
            },
        })
    }

    /// `FROM <id>` + `STOPSIGNAL` + the labels, tagged `image_ref`, with the classic builder
    /// (it needs no registry: the base is the local image `id`).
    async fn add_stop_signal(
        &self,
        id: &str,
        signal: &str,
        image_ref: &str,
    ) -> Result<(), StandInError> {
        let dockerfile = format!(
            "FROM {id}\nSTOPSIGNAL {signal}\n{}\n",
            self.recipe.label_instruction(&self.hash)
        );
        let mut context = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        context
            .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
            .map_err(self.io("make the build context"))?;
        let context = context
            .into_inner()
            .map_err(self.io("make the build context"))?;
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(image_ref)
            .rm(true)
            .forcerm(true)
            .version(BuilderVersion::BuilderV1)
            .build();
        let mut results = self.docker.build_image(
            options,
            None,
            Some(bollard::body_full(Bytes::from(context))),
        );
        while let Some(item) = results.next().await {
            let info = item.map_err(self.docker_err("set the stop signal"))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(StandInError::Docker {
                    image: self.image.clone(),
                    action: "set the stop signal".to_owned(),
                    source: bollard::errors::Error::DockerStreamError { error: detail },
                });
            }
        }
        Ok(())
    }
}

const TAIL_LINES: usize = 20;

fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".to_owned(),
    }
}

/// A file-name-safe form of an image reference.
fn log_name(image: &str) -> String {
    image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}

/// A command with a clean environment: standard PATH, C.UTF-8, no prompts; proxies kept.
fn tool_command(program: impl AsRef<std::ffi::OsStr>) -> tokio::process::Command {
    let mut cmd = tokio::process::Command::new(program);
    cmd.env_clear()
        .env("PATH", STD_PATH)
        .env("LANG", "C.UTF-8")
        .env("HOME", "/root")
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("DEBCONF_NONINTERACTIVE_SEEN", "true");
    for key in [
        "http_proxy",
        "https_proxy",
        "no_proxy",
        "HTTP_PROXY",
        "HTTPS_PROXY",
        "NO_PROXY",
    ] {
        if let Some(v) = std::env::var_os(key) {
            cmd.env(key, v);
        }
    }
    cmd
}

/// `unshare` with private mount and PID namespaces: mounts made by what runs inside vanish with
/// it, and so does every process it started (daemons a package starts included).
fn namespaced() -> tokio::process::Command {
    let mut cmd = tool_command(find_tool("unshare").unwrap_or_else(|| "unshare".into()));
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "--pid",
        "--fork",
        "--kill-child",
    ]);
    cmd
}

/// `script` run by /bin/sh in a chroot of `root`, with a fresh /proc.
fn in_chroot(root: &Path, script: &str) -> tokio::process::Command {
    let mut cmd = namespaced();
    let mut mount_proc = std::ffi::OsString::from("--mount-proc=");
    mount_proc.push(root.join("proc"));
    cmd.arg(mount_proc)
        .arg(find_tool("chroot").unwrap_or_else(|| "chroot".into()))
        .arg(root)
        .args(["/bin/sh", "-euc", script]);
    cmd
}

/// The mirrors to build from: `$MSCTL_DEBIAN_MIRROR` / `$MSCTL_DEBIAN_SECURITY_MIRROR`, else what
/// this machine's apt uses for `suite` and `suite-security`, else deb.debian.org.
fn mirrors(suite: &str) -> (String, String) {
    let sources = apt_sources();
    let env = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
    let find = |wanted: &str| {
        sources
            .iter()
            .find(|(uri, suites)| {
                suites.iter().any(|s| s == wanted)
                    && (uri.starts_with("http://") || uri.starts_with("https://"))
            })
            .map(|(uri, _)| uri.trim_end_matches('/').to_owned())
    };
    let mirror = env("MSCTL_DEBIAN_MIRROR")
        .or_else(|| find(suite))
        .unwrap_or_else(|| DEFAULT_MIRROR.to_owned());
    let security = env("MSCTL_DEBIAN_SECURITY_MIRROR")
        .or_else(|| find(&format!("{suite}-security")))
        .unwrap_or_else(|| DEFAULT_SECURITY_MIRROR.to_owned());
    (mirror, security)
}

/// (URI, suites) of every `deb` source of this machine's apt (one-line and deb822 formats).
fn apt_sources() -> Vec<(String, Vec<String>)> {
    let mut files = vec![PathBuf::from("/etc/apt/sources.list")];
    if let Ok(dir) = fs::read_dir("/etc/apt/sources.list.d") {
        let mut more: Vec<PathBuf> = dir.filter_map(|e| e.ok().map(|e| e.path())).collect();
        more.sort();
        files.extend(more);
    }
    let mut out = Vec::new();
    for file in files {
        let Ok(text) = fs::read_to_string(&file) else {
            continue;
        };
        if file.extension().is_some_and(|e| e == "sources") {
            out.extend(parse_deb822_sources(&text));
        } else if file.extension().is_some_and(|e| e == "list") || file.ends_with("sources.list") {
            out.extend(parse_one_line_sources(&text));
        }
    }
    out
}

fn parse_one_line_sources(text: &str) -> Vec<(String, Vec<String>)> {
    text.lines()
        .filter_map(|line| {
            let line = line.split('#').next().unwrap_or("").trim();
            let rest = line.strip_prefix("deb ")?.trim();
            // Options: `[arch=amd64 signed-by=...]`.
            let rest = if rest.starts_with('[') {
                rest.split_once(']')?.1.trim()
            } else {
                rest
            };
            let mut words = rest.split_whitespace();
            let uri = words.next()?.to_owned();
            let suite = words.next()?.to_owned();
            Some((uri, vec![suite]))
        })
        .collect()
}

fn parse_deb822_sources(text: &str) -> Vec<(String, Vec<String>)> {
    let mut out = Vec::new();
    for stanza in text.split("\n\n") {
        let mut fields: HashMap<String, String> = HashMap::new();
        let mut last: Option<String> = None;
        for line in stanza.lines() {
            if line.starts_with('#') {
                continue;
            }
            if line.starts_with(' ') || line.starts_with('\t') {
                if let Some(k) = &last {
                    let v = fields.entry(k.clone()).or_default();
                    v.push(' ');
                    v.push_str(line.trim());
                }
                continue;
            }
            if let Some((k, v)) = line.split_once(':') {
                let k = k.trim().to_ascii_lowercase();
                fields.insert(k.clone(), v.trim().to_owned());
                last = Some(k);
            }
        }
        let is_deb = fields
            .get("types")
            .is_some_and(|t| t.split_whitespace().any(|t| t == "deb"));
        let enabled = fields.get("enabled").is_none_or(|e| e.trim() != "no");
        if !(is_deb && enabled) {
            continue;
        }
        let suites: Vec<String> = fields
            .get("suites")
            .map(|s| s.split_whitespace().map(str::to_owned).collect())
            .unwrap_or_default();
        for uri in fields
            .get("uris")
            .map(|u| u.split_whitespace().map(str::to_owned).collect::<Vec<_>>())
            .unwrap_or_default()
        {
            out.push((uri, suites.clone()));
        }
    }
    out
}

/// The host's resolver configuration, for apt inside the chroot (it shares the host network).
fn copy_resolv_conf(root: &Path) -> io::Result<()> {
    let target = root.join("etc/resolv.conf");
    remove_if_present(&target)?;
    let content = fs::read("/etc/resolv.conf").unwrap_or_default();
    fs::write(&target, content)
}

/// Removes the build hooks and the host's resolver configuration from a built root. Docker
/// mounts its own /etc/resolv.conf, /etc/hosts and /etc/hostname into containers.
fn finish_root(root: &Path) -> io::Result<()> {
    let hooks = root.join(HOOK_DIR);
    if fs::symlink_metadata(&hooks).is_ok() {
        fs::remove_dir_all(&hooks)?;
    }
    let resolv = root.join("etc/resolv.conf");
    remove_if_present(&resolv)?;
    fs::write(&resolv, b"")?;
    let hostname = root.join("etc/hostname");
    remove_if_present(&hostname)?;
    fs::write(&hostname, b"localhost\n")
}

fn remove_if_present(path: &Path) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// Writes `asset` at `path` (inside `root`), refusing to follow a symlink out of the root.
fn write_file(root: &Path, path: &Path, asset: &Asset) -> io::Result<()> {
    let parent = path.parent().expect("asset path has a parent");
    fs::create_dir_all(parent)?;
    let real_parent = fs::canonicalize(parent)?;
    let real_root = fs::canonicalize(root)?;
    if !real_parent.starts_with(&real_root) {
        return Err(io::Error::other(format!(
            "{} leads out of the image root (to {})",
            parent.display(),
            real_parent.display()
        )));
    }
    let target = real_parent.join(path.file_name().expect("asset path has a file name"));
    remove_if_present(&target)?;
    fs::write(&target, asset.bytes)?;
    fs::set_permissions(&target, fs::Permissions::from_mode(asset.mode))
}

/// A directory under `work/` removed when dropped (also on failure). Its name ends with the pid,
/// so directories of processes that died are recognised and removed by later builds.
struct WorkDir {
    path: PathBuf,
}

impl WorkDir {
    fn create(work: &Path, name: &str) -> io::Result<WorkDir> {
        remove_stale_work_dirs(work);
        let n = WORK_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = work.join(format!("{name}.{}.{}", std::process::id(), n));
        if fs::symlink_metadata(&path).is_ok() {
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir_all(&path)?;
        Ok(WorkDir { path })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Mounts made during the build lived in a private namespace that is gone by now, so
        // this removes only files of the build root.
        let _ = fs::remove_dir_all(&self.path);
    }
}

fn remove_stale_work_dirs(work: &Path) {
    let Ok(entries) = fs::read_dir(work) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.rsplitn(3, '.');
        let (Some(_n), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(60));
        if pid != std::process::id() && old && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The build log: every line of every step, shared by the reader threads.
#[derive(Clone)]
struct Log {
    path: PathBuf,
    file: Arc<Mutex<fs::File>>,
}

impl Log {
    fn create(path: &Path) -> io::Result<Log> {
        Ok(Log {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(fs::File::create(path)?)),
        })
    }
    fn line(&self, line: &str) {
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
    }
}

/// Turns build output into progress messages: "<phase>" or "<phase> (<detail>)".
#[derive(Clone)]
struct Reporter {
    bar: ProgressBar,
    phase: Arc<Mutex<String>>,
}

impl Reporter {
    fn new(bar: ProgressBar) -> Self {
        Reporter {
            bar,
            phase: Arc::new(Mutex::new(String::new())),
        }
    }

    fn phase(&self, phase: impl Into<String>) {
        let phase = phase.into();
        self.bar.set_message(phase.clone());
        *self.phase.lock().unwrap() = phase;
    }

    fn detail(&self, detail: &str) {
        let phase = self.phase.lock().unwrap().clone();
        self.bar.set_message(format!("{phase} ({detail})"));
    }

    /// One line of a step's output.
    fn line(&self, line: &str) {
        if let Some(phase) = line.strip_prefix("msctl-phase: ") {
            self.phase(phase.trim());
        } else if let Some(detail) = progress_detail(line) {
            self.detail(&detail);
        }
    }
}

/// What a line of debootstrap or apt output says is happening, in a few words.
fn progress_detail(line: &str) -> Option<String> {
    let package = |s: &str| {
        s.split_whitespace()
            .next()
            .unwrap_or("")
            .split(':')
            .next()
            .unwrap_or("")
            .trim_end_matches("...")
            .to_owned()
    };
    if let Some(rest) = line.strip_prefix("I: ") {
        for (prefix, verb) in [
            ("Retrieving ", "retrieving"),
            ("Extracting ", "extracting"),
            ("Unpacking ", "unpacking"),
            ("Configuring ", "configuring"),
            ("Installing ", "installing"),
        ] {
            if let Some(p) = rest.strip_prefix(prefix) {
                return Some(format!("{verb} {}", package(p)));
            }
        }
        return None;
    }
    if line.starts_with("Get:") {
        let words: Vec<&str> = line.split_whitespace().collect();
        return Some(if words.len() >= 6 {
            format!("downloading {}", words[4])
        } else {
            "reading package lists".to_owned()
        });
    }
    for (prefix, verb) in [("Unpacking ", "unpacking"), ("Setting up ", "setting up")] {
        if let Some(p) = line.strip_prefix(prefix) {
            return Some(format!("{verb} {}", package(p)));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_references() {
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

    #[test]
    fn reads_apt_sources() {
        let deb822 = "Types: deb\n# http://snapshot.debian.org/archive/debian/20250520T000000Z\nURIs: http://deb.debian.org/debian\nSuites: bookworm bookworm-updates\nComponents: main\n\nTypes: deb\nURIs: http://deb.debian.org/debian-security\nSuites: bookworm-security\nComponents: main\n";
        let s = parse_deb822_sources(deb822);
        assert_eq!(s[0].0, "http://deb.debian.org/debian");
        assert_eq!(s[0].1, vec!["bookworm", "bookworm-updates"]);
        assert_eq!(s[1].1, vec!["bookworm-security"]);
        let one = "# c\ndeb [signed-by=/x.gpg] http://mirror.example/debian bookworm main\ndeb-src http://x bookworm main\n";
        assert_eq!(
            parse_one_line_sources(one),
            vec![(
                "http://mirror.example/debian".to_owned(),
                vec!["bookworm".to_owned()]
            )]
        );
    }

    #[test]
    fn progress_details() {
        assert_eq!(
            progress_detail("I: Retrieving bash 5.2.15-2+b13").as_deref(),
            Some("retrieving bash")
        );
        assert_eq!(
            progress_detail("Setting up perl (5.36.0-7+deb12u3) ...").as_deref(),
            Some("setting up perl")
        );
        assert_eq!(
            progress_detail("Unpacking libpq5:amd64 (15.18-0+deb12u1) ...").as_deref(),
            Some("unpacking libpq5")
        );
        assert_eq!(
            progress_detail("Get:3 http://deb.debian.org/debian bookworm/main amd64 libpq5 amd64 15.18-0+deb12u1 [190 kB]").as_deref(),
            Some("downloading libpq5")
        );
        assert_eq!(progress_detail("hello"), None);
    }
}
