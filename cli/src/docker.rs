//! Connecting to the engine, and the labels that say what belongs to a project.

use crate::error::{Error, Result};
use bollard::Docker;
use std::collections::HashMap;

pub const LABEL_PROJECT: &str = "msctl.project";
pub const LABEL_SERVICE: &str = "msctl.service";
pub const LABEL_REPLICA: &str = "msctl.replica";
/// sha256 of the service's effective container config (see `engine::desired`).
pub const LABEL_CONFIG_HASH: &str = "msctl.config-hash";
/// The effective config itself, so a recreate can say which field changed.
pub const LABEL_CONFIG: &str = "msctl.config";
pub const LABEL_IMAGE_ID: &str = "msctl.image-id";
/// On images msctl builds from a crate: size and mtime of the binary packed into it.
pub const LABEL_BINARY: &str = "msctl.binary";

/// Where the client will connect, for messages.
pub fn endpoint() -> String {
    std::env::var("DOCKER_HOST").unwrap_or_else(|_| "unix:///var/run/docker.sock".into())
}

/// Connects and negotiates the API version (the engine may be older than bollard's default).
pub async fn connect() -> Result<Docker> {
    let unreachable = |reason: String| Error::DockerUnreachable {
        endpoint: endpoint(),
        reason,
    };
    let docker = Docker::connect_with_defaults().map_err(|e| unreachable(short(&e)))?;
    let docker = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        docker.negotiate_version(),
    )
    .await
    .map_err(|_| unreachable("no answer within 10 s".into()))?
    .map_err(|e| unreachable(short(&e)))?;
    Ok(docker)
}

/// The innermost cause of a bollard error, which is the part worth reading.
pub fn short(e: &bollard::errors::Error) -> String {
    let mut source: &dyn std::error::Error = e;
    while let Some(inner) = source.source() {
        source = inner;
    }
    source.to_string()
}

pub fn project_filter(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("{LABEL_PROJECT}={project}")],
    )])
}

pub fn network_name(project: &str) -> String {
    format!("{project}_default")
}

pub fn volume_name(project: &str, volume: &str) -> String {
    format!("{project}_{volume}")
}

pub fn container_name(project: &str, service: &str, replica: u32) -> String {
    format!("{project}-{service}-{replica}")
}

pub fn is_not_found(e: &bollard::errors::Error) -> bool {
    matches!(
        e,
        bollard::errors::Error::DockerResponseServerError {
            status_code: 404,
            ..
        }
    )
}

/// A container's name as users know it (the engine lists it with a leading `/`).
pub fn summary_name(c: &bollard::models::ContainerSummary) -> String {
    c.names
        .as_ref()
        .and_then(|n| n.first())
        .map(|n| n.trim_start_matches('/').to_owned())
        .unwrap_or_default()
}
