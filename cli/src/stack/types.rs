//! The resolved stack: plain values, interpolated, validated, paths absolute.

use super::model::Condition;
use serde::Serialize;
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

#[derive(Debug, Clone)]
pub struct Stack {
    pub name: String,
    /// The stack file as the user named it (for messages).
    pub file: PathBuf,
    /// Absolute directory of the stack file; relative paths start here.
    pub dir: PathBuf,
    pub workspace: PathBuf,
    pub services: Vec<ServiceSpec>,
    pub volumes: Vec<String>,
    /// The gateway's routing table, from the services' `routes:` blocks.
    pub routes: RoutingTable,
    /// What `up` generates into `.env` when it is missing (`secrets:`), in file order.
    pub secrets: Vec<SecretSpec>,
}

/// The gateway's routing table ([`super::routes`] gathers it from the `routes:` blocks).
#[derive(Debug, Default, Clone, PartialEq, Serialize)]
pub struct RoutingTable {
    pub upstreams: BTreeMap<String, Upstream>,
    pub routes: Vec<Route>,
    pub access: Vec<Rule>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Upstream {
    pub urls: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Route {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
    pub upstream: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Rule {
    pub methods: Vec<String>,
    pub path: String,
    pub access: String,
}

/// A secret of the `secrets:` block, checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SecretSpec {
    /// The variable that holds it.
    pub name: String,
    pub kind: super::model::SecretKind,
    /// `ed25519`: the variable that gets the public key.
    pub public: Option<String>,
    pub show: bool,
    /// Generate only while this volume (its name in the stack file) does not exist.
    pub with_volume: Option<String>,
}

impl Stack {
    pub fn service(&self, name: &str) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.name == name)
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct ServiceSpec {
    pub name: String,
    pub image: ImageSource,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub env: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub mounts: Vec<Mount>,
    pub depends_on: Vec<Dependency>,
    pub healthcheck: Option<HealthSpec>,
    pub replicas: u32,
    pub profiles: Vec<String>,
    pub restart: String,
    #[serde(with = "humantime_serde_compat")]
    pub up_timeout: Duration,
    /// `develop.watch`: only `up --watch` reads it, so it is no part of the container's config.
    #[serde(skip)]
    pub develop: Vec<WatchRule>,
}

/// A `develop.watch` rule, resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WatchRule {
    /// Absolute.
    pub path: PathBuf,
    pub action: WatchAction,
    /// Patterns relative to `path` (see [`crate::watch::affected`]).
    pub ignore: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WatchAction {
    Rebuild,
    Restart,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ImageSource {
    /// An image by reference: present, pulled, or a stand-in.
    Reference(String),
    /// A workspace crate built on the host and packed onto `base`.
    Crate {
        krate: String,
        bin: String,
        profile: String,
        base: String,
    },
    /// A Dockerfile built with the classic builder.
    Dockerfile {
        context: PathBuf,
        dockerfile: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PortSpec {
    pub host_ip: String,
    pub host_port: u16,
    pub container_port: u16,
    pub protocol: String,
}

impl std::fmt::Display for PortSpec {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}:{}->{}/{}",
            self.host_ip, self.host_port, self.container_port, self.protocol
        )
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum Mount {
    Volume {
        name: String,
        target: String,
        read_only: bool,
    },
    Bind {
        source: PathBuf,
        target: String,
        read_only: bool,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dependency {
    pub service: String,
    pub condition: Condition,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthSpec {
    /// Docker form: `["CMD", ...]` or `["CMD-SHELL", "..."]`.
    pub test: Vec<String>,
    #[serde(with = "humantime_serde_compat")]
    pub interval: Duration,
    #[serde(with = "humantime_serde_compat")]
    pub timeout: Duration,
    pub retries: u32,
    #[serde(with = "humantime_serde_compat")]
    pub start_period: Duration,
    /// Probe pace while starting; `None`: `interval` throughout.
    #[serde(
        with = "humantime_serde_compat::option",
        skip_serializing_if = "Option::is_none"
    )]
    pub start_interval: Option<Duration>,
}

mod humantime_serde_compat {
    pub fn serialize<S: serde::Serializer>(
        d: &std::time::Duration,
        s: S,
    ) -> Result<S::Ok, S::Error> {
        s.serialize_str(&humantime::format_duration(*d).to_string())
    }

    pub mod option {
        pub fn serialize<S: serde::Serializer>(
            d: &Option<std::time::Duration>,
            s: S,
        ) -> Result<S::Ok, S::Error> {
            match d {
                Some(d) => super::serialize(d, s),
                None => s.serialize_none(),
            }
        }
    }
}
