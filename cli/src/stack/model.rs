//! The stack file as written: every field the user can type, with its position.
//!
//! Doc comments here become the descriptions of `msctl schema`, which editors show on hover.

use crate::diag::{Spanned, SpannedMap};
use schemars::JsonSchema;
use serde::de::{Deserializer, MapAccess, SeqAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// An msctl stack file (`msctl.yaml`).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(title = "msctl stack file")]
pub struct StackFile {
    /// Project name. Containers, the network and volumes are named and labelled after it.
    /// Default: the name of the directory holding the stack file.
    #[schemars(with = "Option<String>", regex(pattern = r"^[a-z0-9][a-z0-9_-]*$"))]
    pub name: Option<Spanned<String>>,
    /// Directory of the Cargo workspace that `build.crate` services come from, relative to the
    /// stack file. Default: the stack file's directory.
    #[schemars(with = "Option<String>")]
    pub workspace: Option<Spanned<String>>,
    /// The services of the stack, by name.
    pub services: SpannedMap<Service>,
    /// Named volumes the services may mount (`name:/path`).
    #[serde(default)]
    pub volumes: SpannedMap<Option<VolumeDef>>,
    /// Secrets `msctl up` generates when they are missing, by variable name: each one not set
    /// in the environment or in `.env` beside the stack file is generated and appended to that
    /// `.env` (created with mode 0600), so `${NAME}` finds it now and on every later run.
    #[serde(default)]
    pub secrets: SpannedMap<Secret>,
}

/// A secret `msctl up` generates once, into `.env`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    /// What to generate: `password` (24 random letters and digits, at least one of each) or
    /// `ed25519` (a key pair: the variable is the standard-base64 PKCS#8 v2 document).
    #[schemars(with = "SecretKind")]
    pub generate: Spanned<SecretKind>,
    /// With `ed25519`: also write the public key, base64url without padding (a JWK's `x`),
    /// into this variable.
    #[schemars(with = "Option<String>", regex(pattern = r"^[A-Za-z_][A-Za-z0-9_]*$"))]
    pub public: Option<Spanned<String>>,
    /// Print the value once, when it is generated (a password a person will type).
    #[schemars(with = "Option<bool>")]
    pub show: Option<Spanned<bool>>,
    /// Generate only while this volume of the stack does not exist yet: the secret is baked
    /// into its data on the first start (an admin account), so existing data keeps its own.
    #[schemars(with = "Option<String>")]
    pub with_volume: Option<Spanned<String>>,
}

/// What a generated secret is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SecretKind {
    /// 24 random ASCII letters and digits (at least one of each), from the OS's generator.
    Password,
    /// An Ed25519 key pair.
    Ed25519,
}

/// A named volume. It carries the project label, so `msctl down --volumes` removes exactly these.
#[derive(Debug, Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct VolumeDef {}

/// One service: an image to run (or to build), and how to run it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// Image reference as you would name it online (`postgres:15`). If it is neither present
    /// nor pullable, msctl builds a Debian stand-in when it knows a recipe for it.
    #[schemars(with = "Option<String>")]
    pub image: Option<Spanned<String>>,
    /// Build the image instead: from a workspace crate (fast: host cargo build + small runtime
    /// image) or from a Dockerfile.
    pub build: Option<Build>,
    /// Command (exec form), replacing the image's CMD.
    #[schemars(with = "Option<Vec<String>>")]
    pub command: Option<Vec<Spanned<String>>>,
    /// Entrypoint (exec form), replacing the image's ENTRYPOINT.
    #[schemars(with = "Option<Vec<String>>")]
    pub entrypoint: Option<Vec<Spanned<String>>>,
    /// Environment variables. Values may use `${VAR}`, `${VAR:-default}`, `${VAR-default}` and
    /// `${VAR:?message}`; variables come from the environment, then from `.env` beside the stack
    /// file. A key ending in `_FILE` whose value starts with `./` or `../` names a secret file on
    /// the host: it is mounted read-only at `/run/secrets/<name>` and the variable points there.
    #[serde(default)]
    #[schemars(with = "std::collections::BTreeMap<String, Scalar>")]
    pub environment: SpannedMap<Spanned<Scalar>>,
    /// Published ports: `HOST:CONTAINER`, `IP:HOST:CONTAINER`, optionally `/tcp` or `/udp`.
    /// Without an IP the port binds to 127.0.0.1 only.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ports: Vec<Spanned<String>>,
    /// Mounts: `VOLUME:/path[:ro]` for a named volume declared under `volumes`, or
    /// `./host/path:/path[:ro]` for a bind mount relative to the stack file.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub volumes: Vec<Spanned<String>>,
    /// Services this one needs first: a list of names (condition `started`) or a mapping
    /// `name: {condition: started|healthy|completed}`.
    #[serde(default)]
    pub depends_on: DependsOn,
    /// Container healthcheck. `up` waits for `healthy` and dependents may wait for it too.
    pub healthcheck: Option<Healthcheck>,
    /// Number of containers; they share the service's DNS name on the project network.
    #[schemars(with = "Option<u32>", range(min = 0, max = 64))]
    pub replicas: Option<Spanned<u32>>,
    /// Profiles this service belongs to. A service with profiles starts only when one of them is
    /// active (`--profile`) or when it is named on the command line.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub profiles: Vec<Spanned<String>>,
    /// Restart policy: `no` (default), `always`, `unless-stopped` or `on-failure`.
    #[schemars(with = "Option<String>")]
    pub restart: Option<Spanned<String>>,
    /// How long `up` waits for this service to become healthy (or running, or completed).
    /// Default `120s`.
    #[schemars(with = "Option<String>")]
    pub up_timeout: Option<Spanned<String>>,
    /// What the stack's gateway sends to this service, and who may call it. msctl gathers every
    /// service's routes into one routing table for the service marked `gateway: true`.
    pub routes: Option<Routes>,
    /// This service is the stack's API gateway: msctl hands it the routing table of every
    /// service's `routes` as the environment variable `GATEWAY_ROUTES` (JSON).
    #[schemars(with = "Option<bool>")]
    pub gateway: Option<Spanned<bool>>,
    /// What `msctl up --watch` does beyond what it infers from the crate graph and the mounts
    /// (Compose's `develop.watch` is the model): rebuild or restart this service when other
    /// files change, and paths to leave alone.
    pub develop: Option<Develop>,
}

/// `up --watch` settings of one service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Develop {
    pub watch: Vec<WatchRule>,
}

/// A path, and what a change under it does to the service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WatchRule {
    /// A file or directory, relative to the stack file.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// `rebuild` (build the image again and replace the containers) or `restart` (restart the
    /// containers: a config file the service reads at start).
    #[schemars(with = "String", regex(pattern = r"^(rebuild|restart)$"))]
    pub action: Spanned<String>,
    /// Patterns, relative to `path`, of files whose change does nothing (`*` within a name,
    /// `**` across directories, a trailing `/` for a directory). They also apply to what msctl
    /// infers under `path` (the service's crate).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub ignore: Vec<Spanned<String>>,
}

/// A service's routes at the gateway (Traefik's labels are the model: the service declares its
/// own routing, no central list names it).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Routes {
    /// The port the service listens on inside the stack network.
    #[schemars(with = "u16")]
    pub port: Spanned<u16>,
    /// The paths the gateway sends here.
    pub paths: Vec<RoutePath>,
}

/// One path the gateway sends to the service: `prefix` or `path`, and who may call it.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RoutePath {
    /// `/users` matches `/users` and `/users/...` (not `/usersx`).
    #[schemars(with = "Option<String>")]
    pub prefix: Option<Spanned<String>>,
    /// Exactly this path.
    #[schemars(with = "Option<String>")]
    pub path: Option<Spanned<String>>,
    /// Who may call the whole path when none of `rules` matches: `public` (no token), `user`
    /// (a valid token) or `admin`. Default: the gateway's `default_access` (`user`).
    #[schemars(with = "Option<String>", regex(pattern = r"^(public|user|admin)$"))]
    pub access: Option<Spanned<String>>,
    /// Finer rules, first match wins (across the whole stack, in file order).
    #[serde(default)]
    pub rules: Vec<AccessRule>,
}

/// Who may call some methods on some paths.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AccessRule {
    /// Upper-case HTTP methods; absent or empty: every method.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub methods: Vec<Spanned<String>>,
    /// A path pattern: literal segments, `*` for one segment, a final `**` for any rest.
    #[schemars(with = "String")]
    pub path: Spanned<String>,
    /// `public`, `user` or `admin`.
    #[schemars(with = "String", regex(pattern = r"^(public|user|admin)$"))]
    pub access: Spanned<String>,
}

/// How to build a service's image.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Build {
    /// A package of the Cargo workspace. msctl runs `cargo build` on the host and packs the
    /// binary onto `base` (no compiler in the image, no curl).
    #[serde(rename = "crate")]
    #[schemars(with = "Option<String>")]
    pub krate: Option<Spanned<String>>,
    /// Binary of the crate to run. Default: the crate's name.
    #[schemars(with = "Option<String>")]
    pub bin: Option<Spanned<String>>,
    /// Cargo profile. Default `dev`, which shares the workspace's test builds.
    #[schemars(with = "Option<String>")]
    pub profile: Option<Spanned<String>>,
    /// Runtime base image for crate builds. Default `debian:bookworm-slim`.
    #[schemars(with = "Option<String>")]
    pub base: Option<Spanned<String>>,
    /// Build from a Dockerfile instead (path relative to `context`), for hosts that cannot run
    /// Linux binaries. Uses the classic builder.
    #[schemars(with = "Option<String>")]
    pub dockerfile: Option<Spanned<String>>,
    /// Build context directory for `dockerfile`, relative to the stack file. Default: `.`.
    #[schemars(with = "Option<String>")]
    pub context: Option<Spanned<String>>,
}

/// A Docker healthcheck.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Healthcheck {
    /// Command, exec form: `[pg_isready, -h, 127.0.0.1]`. A first element `CMD-SHELL` runs the
    /// rest through `/bin/sh -c`; `CMD` is accepted and ignored.
    #[schemars(with = "Vec<String>")]
    pub test: Vec<Spanned<String>>,
    /// Time between checks. Default `1s` (Docker's own default of 30 s makes `up` crawl).
    #[schemars(with = "Option<String>")]
    pub interval: Option<Spanned<String>>,
    /// Time between checks while the container starts (until its first passing check), so
    /// that `interval` can be long without slowing `up`. Unset: `interval` throughout. On
    /// engines before API 1.44, msctl runs these checks itself.
    #[schemars(with = "Option<String>")]
    pub start_interval: Option<Spanned<String>>,
    /// Time one check may take. Default `5s`.
    #[schemars(with = "Option<String>")]
    pub timeout: Option<Spanned<String>>,
    /// Consecutive failures before the container is unhealthy. Default `60`.
    #[schemars(with = "Option<u32>")]
    pub retries: Option<Spanned<u32>>,
    /// Grace period during which failures do not count. Default `0s`, or the service's
    /// `up_timeout` when `start_interval` is set.
    #[schemars(with = "Option<String>")]
    pub start_period: Option<Spanned<String>>,
}

/// A scalar environment value; numbers and booleans are taken as written.
#[derive(Debug, Clone, JsonSchema)]
#[schemars(with = "ScalarSchema")]
pub struct Scalar(pub String);

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum ScalarSchema {
    S(String),
    N(f64),
    B(bool),
}

impl<'de> Deserialize<'de> for Scalar {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl Visitor<'_> for V {
            type Value = Scalar;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string, number or boolean")
            }
            fn visit_str<E>(self, v: &str) -> Result<Scalar, E> {
                Ok(Scalar(v.to_owned()))
            }
            fn visit_bool<E>(self, v: bool) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_i64<E>(self, v: i64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_u64<E>(self, v: u64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_f64<E>(self, v: f64) -> Result<Scalar, E> {
                Ok(Scalar(v.to_string()))
            }
            fn visit_unit<E>(self) -> Result<Scalar, E> {
                Ok(Scalar(String::new()))
            }
        }
        d.deserialize_any(V)
    }
}

/// What a dependent waits for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, JsonSchema, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Condition {
    /// The dependency's container is running.
    #[serde(alias = "service_started")]
    Started,
    /// The dependency's healthcheck passes.
    #[serde(alias = "service_healthy")]
    Healthy,
    /// The dependency ran to completion with exit code 0 (migrations, seeders).
    #[serde(alias = "service_completed_successfully")]
    Completed,
}

/// `depends_on`, in either of its two spellings.
#[derive(Debug, Default)]
pub struct DependsOn(pub Vec<(Spanned<String>, Spanned<Condition>)>);

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DependencySpec {
    condition: Spanned<Condition>,
}

impl<'de> Deserialize<'de> for DependsOn {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = DependsOn;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of service names or a mapping of name to {condition}")
            }
            fn visit_unit<E>(self) -> Result<DependsOn, E> {
                Ok(DependsOn::default())
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut s: A) -> Result<DependsOn, A::Error> {
                let mut deps = Vec::new();
                while let Some(name) = s.next_element::<Spanned<String>>()? {
                    let cond = Spanned::new(Condition::Started, name.referenced, name.defined);
                    deps.push((name, cond));
                }
                Ok(DependsOn(deps))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<DependsOn, A::Error> {
                let mut deps = Vec::new();
                while let Some((name, spec)) = m.next_entry::<Spanned<String>, DependencySpec>()? {
                    deps.push((name, spec.condition));
                }
                Ok(DependsOn(deps))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(JsonSchema)]
#[serde(untagged)]
#[allow(dead_code)]
enum DependsOnSchema {
    List(Vec<String>),
    Map(std::collections::BTreeMap<String, DependencySchema>),
}

#[derive(JsonSchema)]
#[allow(dead_code)]
#[schemars(deny_unknown_fields)]
struct DependencySchema {
    condition: Condition,
}

impl JsonSchema for DependsOn {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "DependsOn".into()
    }
    fn json_schema(generator: &mut schemars::SchemaGenerator) -> schemars::Schema {
        DependsOnSchema::json_schema(generator)
    }
}
