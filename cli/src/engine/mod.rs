//! The engine: reconcile a stack's containers with its file.
//!
//! [`desired`] says what each container should be, [`plan`] compares that with what runs,
//! [`up`] applies the plan level by level and waits for readiness ([`wait`]), replacing
//! without downtime where asked ([`replace`]); [`down`], [`ps`]
//! and [`logs`] work from labels alone, so they never touch what is not the project's.

pub mod desired;
pub mod down;
pub mod logs;
pub mod plan;
pub mod ports;
pub mod probe;
pub mod ps;
mod readiness;
pub mod replace;
pub mod up;
pub mod wait;

use crate::docker::{is_not_found, project_filter};
use crate::error::{Error, Result};
use crate::stack::Stack;
use bollard::query_parameters::{
    CreateContainerOptions, ListContainersOptions, RemoveContainerOptions, StopContainerOptions,
};
use bollard::Docker;
use desired::{create_body, Desired};
use plan::Existing;

/// All containers of `project`, running or not, by service and replica.
pub async fn existing(docker: &Docker, project: &str) -> Result<Vec<Existing>> {
    let list = list_project(docker, project).await?;
    let mut found: Vec<Existing> = list.iter().filter_map(Existing::from_summary).collect();
    // A replica's container set aside by an interrupted rolling replace (`…-old`, same labels)
    // sorts after the canonical one, so a plan keeps the canonical one and removes the spare.
    found.sort_by_key(|e| (e.service.clone(), e.replica, e.name.ends_with("-old")));
    Ok(found)
}

/// Every container carrying the project's label, running or not, as the engine lists them.
pub async fn list_project(
    docker: &Docker,
    project: &str,
) -> Result<Vec<bollard::models::ContainerSummary>> {
    let options = ListContainersOptions {
        all: true,
        filters: Some(project_filter(project)),
        ..Default::default()
    };
    docker
        .list_containers(Some(options))
        .await
        .map_err(Error::docker("listing the project's containers"))
}

/// Stops (SIGTERM, then SIGKILL after 10 s) and removes a container; one already gone is fine.
pub async fn remove(docker: &Docker, e: &Existing) -> Result<()> {
    if e.state == "running" || e.state == "restarting" {
        let options = StopContainerOptions {
            t: Some(10),
            signal: None,
        };
        match docker.stop_container(&e.id, Some(options)).await {
            Ok(()) => {}
            Err(err) if is_not_found(&err) => return Ok(()),
            Err(err) => return Err(Error::docker(format!("stopping {}", e.name))(err)),
        }
    }
    force_remove(docker, &e.id, &e.name).await
}

/// Removes a container (by id or name) whether it runs or not; one already gone is fine.
pub async fn force_remove(docker: &Docker, container: &str, name: &str) -> Result<()> {
    let options = RemoveContainerOptions {
        force: true,
        // Anonymous volumes (an image's VOLUME with no mount) go with their container; named
        // volumes are never touched here.
        v: true,
        ..Default::default()
    };
    match docker.remove_container(container, Some(options)).await {
        Ok(()) => Ok(()),
        Err(err) if is_not_found(&err) => Ok(()),
        Err(err) => Err(Error::docker(format!("removing {name}"))(err)),
    }
}

/// Creates a desired container under its name and starts it.
pub(crate) async fn create_and_start(docker: &Docker, stack: &Stack, d: &Desired) -> Result<()> {
    let options = CreateContainerOptions {
        name: Some(d.name.clone()),
        ..Default::default()
    };
    docker
        .create_container(Some(options), create_body(stack, d))
        .await
        .map_err(Error::docker(format!("creating container {}", d.name)))?;
    start(docker, &d.name).await
}

pub(crate) async fn start(docker: &Docker, container: &str) -> Result<()> {
    docker
        .start_container(container, None)
        .await
        .map_err(Error::docker(format!("starting container {container}")))
}
