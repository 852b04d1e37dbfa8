//! `msctl down`: remove exactly what carries the project label, nothing else.

use super::remove;
use crate::docker::project_filter;
use crate::error::{Error, Result};
use bollard::query_parameters::{ListNetworksOptions, ListVolumesOptions, RemoveVolumeOptions};
use bollard::Docker;
use futures_util::future::try_join_all;
use serde::Serialize;

#[derive(Debug, Default, Serialize)]
pub struct DownReport {
    pub containers: Vec<String>,
    pub networks: Vec<String>,
    pub volumes: Vec<String>,
}

pub async fn down(docker: &Docker, project: &str, volumes: bool) -> Result<DownReport> {
    let mut report = DownReport::default();
    let existing = super::existing(docker, project).await?;
    try_join_all(existing.iter().map(|e| remove(docker, e))).await?;
    report.containers = existing.into_iter().map(|e| e.name).collect();

    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(project_filter(project)),
        }))
        .await
        .map_err(Error::docker("listing networks"))?;
    for network in networks {
        let name = network.name.unwrap_or_default();
        docker
            .remove_network(&name)
            .await
            .map_err(Error::docker(format!("removing network {name}")))?;
        report.networks.push(name);
    }

    if volumes {
        let list = docker
            .list_volumes(Some(ListVolumesOptions {
                filters: Some(project_filter(project)),
            }))
            .await
            .map_err(Error::docker("listing volumes"))?;
        for volume in list.volumes.unwrap_or_default() {
            docker
                .remove_volume(&volume.name, Some(RemoveVolumeOptions { force: false }))
                .await
                .map_err(Error::docker(format!("removing volume {}", volume.name)))?;
            report.volumes.push(volume.name);
        }
    }
    Ok(report)
}
