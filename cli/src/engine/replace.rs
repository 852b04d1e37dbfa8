//! Replacing and restarting a service's running containers while it keeps serving: the
//! rolling ("surge") replace that watch rounds use, the in-place restart for a changed mounted
//! file, and what "ready" means for a service's containers.

use super::plan::Change;
use super::readiness::{wanted, Readiness};
use super::wait::Want;
use super::{create_and_start, force_remove, remove};
use crate::error::{Error, Result};
use crate::stack::{ServiceSpec, Stack};
use bollard::Docker;

/// Whether a service's containers can be replaced with the successor started first: not when
/// it publishes a host port (two containers cannot hold it) or mounts a named volume (two
/// databases on one data directory), nor for a one-shot job.
pub(super) fn can_surge(service: &ServiceSpec, want: Want) -> bool {
    want != Want::Completed
        && service.ports.is_empty()
        && !service
            .mounts
            .iter()
            .any(|m| matches!(m, crate::stack::Mount::Volume { .. }))
}

/// Replaces one container so that the service never has fewer ready containers: the old one
/// is renamed aside (it keeps its network alias and serves on), the new one starts under the
/// canonical name, and the old one is removed only once the new one is ready. If the new one
/// does not become ready it is removed and the old one gets its name back: a broken build
/// leaves the service as it was.
pub(super) async fn surge_replace(
    docker: &Docker,
    stack: &Stack,
    change: &Change,
    readiness: &Readiness<'_>,
) -> Result<()> {
    let (Some(old), Some(new)) = (&change.existing, &change.desired) else {
        unreachable!("a recreate has both containers")
    };
    let aside = format!("{}-old", old.name);
    // A spare left by an interrupted replace would hold the name.
    force_remove(docker, &aside, &aside).await?;
    rename(docker, &old.id, &aside).await?;
    let started = async {
        create_and_start(docker, stack, new).await?;
        readiness.wait(&new.name).await
    }
    .await;
    match started {
        Ok(()) => remove(docker, old).await,
        Err(err) => {
            force_remove(docker, &new.name, &new.name).await?;
            rename(docker, &old.id, &old.name).await?;
            Err(err)
        }
    }
}

async fn rename(docker: &Docker, id: &str, name: &str) -> Result<()> {
    let options = bollard::query_parameters::RenameContainerOptions {
        name: name.to_owned(),
    };
    docker
        .rename_container(id, options)
        .await
        .map_err(Error::docker(format!("renaming a container to {name}")))
}

/// Restarts the running containers of `services` in place and waits until each is ready again:
/// how a service sees a changed file it mounts (an editor's atomic save replaces the file's
/// inode, which the running bind mount would not follow).
pub async fn restart(docker: &Docker, stack: &Stack, services: &[String]) -> Result<usize> {
    let existing = super::existing(docker, &stack.name).await?;
    let mut restarted = 0;
    for service in stack.services.iter().filter(|s| services.contains(&s.name)) {
        // Restarted containers are long-running: health when there is a check, else running.
        let readiness = Readiness::of(docker, service, wanted(service, &[]));
        for e in existing
            .iter()
            .filter(|e| e.service == service.name && e.state == "running")
        {
            let options = bollard::query_parameters::RestartContainerOptions {
                t: Some(10),
                signal: None,
            };
            docker
                .restart_container(&e.id, Some(options))
                .await
                .map_err(Error::docker(format!("restarting {}", e.name)))?;
            readiness.wait(&e.name).await?;
            restarted += 1;
        }
    }
    Ok(restarted)
}
