//! Waiting until a container is what its dependents need: running, healthy, or completed.

use crate::docker::short;
use bollard::models::{ContainerStateStatusEnum, HealthStatusEnum};
use bollard::Docker;
use std::time::{Duration, Instant};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Want {
    Running,
    Healthy,
    Completed,
}

impl Want {
    pub fn word(self) -> &'static str {
        match self {
            Want::Running => "running",
            Want::Healthy => "healthy",
            Want::Completed => "completed",
        }
    }
}

/// Polls the container until it is what `want` asks, or says why it never will be.
pub async fn until(
    docker: &Docker,
    container: &str,
    want: Want,
    timeout: Duration,
) -> Result<(), String> {
    let deadline = Instant::now() + timeout;
    let mut pause = Duration::from_millis(50);
    loop {
        let info = docker
            .inspect_container(container, None)
            .await
            .map_err(|e| format!("cannot inspect: {}", short(&e)))?;
        let state = info.state.unwrap_or_default();
        let exit_code = state.exit_code.unwrap_or_default();
        match state.status {
            Some(ContainerStateStatusEnum::EXITED) | Some(ContainerStateStatusEnum::DEAD) => {
                return match (want, exit_code) {
                    (Want::Completed | Want::Running, 0) => Ok(()),
                    _ => Err(format!("it exited with code {exit_code}")),
                };
            }
            Some(ContainerStateStatusEnum::RUNNING) => {
                let health = state.health.as_ref().and_then(|h| h.status);
                match (want, health) {
                    (Want::Running, _) => return Ok(()),
                    (Want::Healthy, Some(HealthStatusEnum::HEALTHY)) => return Ok(()),
                    (
                        Want::Healthy,
                        None | Some(HealthStatusEnum::NONE | HealthStatusEnum::EMPTY),
                    ) => return Ok(()),
                    (Want::Healthy, Some(HealthStatusEnum::UNHEALTHY)) => {
                        let last = state
                            .health
                            .and_then(|h| h.log)
                            .and_then(|log| log.last().and_then(|r| r.output.clone()))
                            .unwrap_or_default();
                        return Err(format!("its healthcheck fails: {}", last.trim()));
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            let last = state
                .health
                .and_then(|h| h.log)
                .and_then(|log| log.last().and_then(|r| r.output.clone()))
                .map(|o| format!("; last healthcheck said: {}", o.trim()))
                .unwrap_or_default();
            return Err(format!("timed out{last}"));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}
