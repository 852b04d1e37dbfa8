//! What each container of a service should look like, and the hash that lets a later `up`
//! recognise it unchanged.
//!
//! The hash covers the *effective* config: what the service's containers would be created with
//! after interpolation and defaults, not the text of the stack file. Reformatting the file or
//! editing another service changes nothing; changing a value this service uses recreates it.
//! The image is compared separately by id, so a rebuilt image says so.

use crate::docker::*;
use crate::images::ResolvedImage;
use crate::stack::{HealthSpec, ImageSource, Mount, PortSpec, ServiceSpec, Stack};
use bollard::models::{
    ContainerCreateBody, EndpointSettings, HealthConfig, HostConfig, Mount as DockerMount,
    MountType, NetworkingConfig, PortBinding, RestartPolicy, RestartPolicyNameEnum,
};
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

/// The part of a container's configuration msctl decides, in a stable, comparable form.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Effective {
    pub image: String,
    pub command: Option<Vec<String>>,
    pub entrypoint: Option<Vec<String>>,
    pub environment: BTreeMap<String, String>,
    pub ports: Vec<PortSpec>,
    pub mounts: Vec<Mount>,
    pub healthcheck: Option<HealthSpec>,
    pub restart: String,
    /// `host:address` entries added to `/etc/hosts` (the dashboard's name, [`crate::otel`]).
    /// Left out of the hash's JSON when empty, so images msctl does not build keep theirs.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra_hosts: Vec<String>,
}

#[derive(Debug, Clone)]
pub struct Desired {
    pub service: String,
    pub replica: u32,
    pub name: String,
    pub effective: Effective,
    pub config_json: String,
    pub hash: String,
    pub image: ResolvedImage,
}

pub fn effective(service: &ServiceSpec, image: &ResolvedImage) -> Effective {
    let mut environment = service.env.clone();
    let mut extra_hosts = Vec::new();
    // Services msctl builds export their spans to the dashboard (crate::otel); an image from
    // elsewhere is left as it is, and so is a stack file that names its own collector.
    if !matches!(service.image, ImageSource::Reference(_))
        && !environment.contains_key(crate::otel::ENDPOINT_VAR)
    {
        environment.insert(crate::otel::ENDPOINT_VAR.into(), crate::otel::endpoint());
        environment
            .entry(crate::otel::SCHEDULE_DELAY_VAR.into())
            .or_insert_with(|| crate::otel::SCHEDULE_DELAY_MS.into());
        extra_hosts.push(crate::otel::extra_host());
    }
    Effective {
        image: image.reference.clone(),
        command: service.command.clone(),
        entrypoint: service.entrypoint.clone(),
        environment,
        ports: service.ports.clone(),
        mounts: service.mounts.clone(),
        healthcheck: service.healthcheck.clone(),
        restart: service.restart.clone(),
        extra_hosts,
    }
}

pub fn desired(stack: &Stack, service: &ServiceSpec, image: &ResolvedImage) -> Vec<Desired> {
    let effective = effective(service, image);
    let config_json = serde_json::to_string(&effective).expect("config serializes");
    let hash = hex::encode(Sha256::digest(config_json.as_bytes()));
    (1..=service.replicas)
        .map(|replica| Desired {
            service: service.name.clone(),
            replica,
            name: container_name(&stack.name, &service.name, replica),
            effective: effective.clone(),
            config_json: config_json.clone(),
            hash: hash.clone(),
            image: image.clone(),
        })
        .collect()
}

/// Top-level fields (and environment variable names) that differ between two effective configs,
/// as `environment.GREETING`, `ports`, ...
pub fn changed_fields(old_json: &str, new: &Effective) -> Vec<String> {
    let Ok(old) = serde_json::from_str::<serde_json::Value>(old_json) else {
        return vec!["config (written by another msctl version)".into()];
    };
    let new = serde_json::to_value(new).expect("config serializes");
    let (Some(old), Some(new)) = (old.as_object(), new.as_object()) else {
        return vec!["config".into()];
    };
    let mut changed = Vec::new();
    for (key, value) in new {
        if old.get(key) == Some(value) {
            continue;
        }
        match (
            key.as_str(),
            old.get(key).and_then(|v| v.as_object()),
            value.as_object(),
        ) {
            ("environment", Some(o), Some(n)) => {
                let names: std::collections::BTreeSet<&String> = o.keys().chain(n.keys()).collect();
                changed.extend(
                    names
                        .into_iter()
                        .filter(|k| o.get(*k) != n.get(*k))
                        .map(|k| format!("environment.{k}")),
                );
            }
            _ => changed.push(key.clone()),
        }
    }
    changed
}

/// The body Docker creates the container from.
pub fn create_body(stack: &Stack, d: &Desired) -> ContainerCreateBody {
    let e = &d.effective;
    let labels = HashMap::from([
        (LABEL_PROJECT.to_string(), stack.name.clone()),
        (LABEL_SERVICE.to_string(), d.service.clone()),
        (LABEL_REPLICA.to_string(), d.replica.to_string()),
        (LABEL_CONFIG_HASH.to_string(), d.hash.clone()),
        (LABEL_CONFIG.to_string(), d.config_json.clone()),
        (LABEL_IMAGE_ID.to_string(), d.image.id.clone()),
    ]);
    let mut port_bindings: HashMap<String, Option<Vec<PortBinding>>> = HashMap::new();
    for p in &e.ports {
        port_bindings
            .entry(format!("{}/{}", p.container_port, p.protocol))
            .or_insert_with(|| Some(Vec::new()))
            .get_or_insert_with(Vec::new)
            .push(PortBinding {
                host_ip: Some(p.host_ip.clone()),
                host_port: Some(p.host_port.to_string()),
            });
    }
    let mounts = e
        .mounts
        .iter()
        .map(|m| match m {
            Mount::Volume {
                name,
                target,
                read_only,
            } => DockerMount {
                typ: Some(MountType::VOLUME),
                source: Some(volume_name(&stack.name, name)),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            },
            Mount::Bind {
                source,
                target,
                read_only,
            } => DockerMount {
                typ: Some(MountType::BIND),
                source: Some(host_path(source).to_string_lossy().into_owned()),
                target: Some(target.clone()),
                read_only: Some(*read_only),
                ..Default::default()
            },
        })
        .collect();
    let network = network_name(&stack.name);
    ContainerCreateBody {
        image: Some(e.image.clone()),
        cmd: e.command.clone(),
        entrypoint: e.entrypoint.clone(),
        env: Some(
            e.environment
                .iter()
                .map(|(k, v)| format!("{k}={v}"))
                .collect(),
        ),
        labels: Some(labels),
        hostname: Some(if d.replica == 1 {
            d.service.clone()
        } else {
            format!("{}-{}", d.service, d.replica)
        }),
        tty: Some(false),
        exposed_ports: Some(port_bindings.keys().cloned().collect()),
        healthcheck: e.healthcheck.as_ref().map(|h| HealthConfig {
            test: Some(h.test.clone()),
            interval: Some(h.interval.as_nanos() as i64),
            timeout: Some(h.timeout.as_nanos() as i64),
            retries: Some(h.retries as i64),
            start_period: Some(h.start_period.as_nanos() as i64),
            // Engines from API 1.44 probe at this pace during the start period; for older ones
            // msctl probes itself (engine::probe).
            start_interval: Some(
                h.start_interval
                    .unwrap_or(h.interval.min(std::time::Duration::from_millis(500)))
                    .as_nanos() as i64,
            ),
        }),
        host_config: Some(HostConfig {
            port_bindings: Some(port_bindings),
            mounts: Some(mounts),
            extra_hosts: (!e.extra_hosts.is_empty()).then(|| e.extra_hosts.clone()),
            network_mode: Some(network.clone()),
            init: Some(true),
            restart_policy: Some(RestartPolicy {
                name: Some(match e.restart.as_str() {
                    "always" => RestartPolicyNameEnum::ALWAYS,
                    "unless-stopped" => RestartPolicyNameEnum::UNLESS_STOPPED,
                    "on-failure" => RestartPolicyNameEnum::ON_FAILURE,
                    _ => RestartPolicyNameEnum::NO,
                }),
                maximum_retry_count: None,
            }),
            ..Default::default()
        }),
        networking_config: Some(NetworkingConfig {
            endpoints_config: Some(HashMap::from([(
                network,
                EndpointSettings {
                    aliases: Some(vec![d.service.clone()]),
                    ..Default::default()
                },
            )])),
        }),
        ..Default::default()
    }
}

/// Inside a devcontainer using the host's engine, a bind source must be the *host's* path:
/// `CONTAINER_WORKSPACE_FOLDER` is mapped onto `LOCAL_WORKSPACE_FOLDER`.
pub fn host_path(source: &Path) -> PathBuf {
    let (Ok(local), Ok(inside)) = (
        std::env::var("LOCAL_WORKSPACE_FOLDER"),
        std::env::var("CONTAINER_WORKSPACE_FOLDER"),
    ) else {
        return source.to_path_buf();
    };
    match source.strip_prefix(&inside) {
        Ok(rest) => Path::new(&local).join(rest),
        Err(_) => source.to_path_buf(),
    }
}
