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

/// msctl's own start probes (engine::probe), for engines that do not run them.
#[derive(Debug, Clone)]
pub struct StartProbe {
    pub test: Vec<String>,
    pub every: Duration,
    pub timeout: Duration,
}

/// Polls the container until it is what `want` asks, or says why it never will be. With
/// `probe`, a container the engine still calls starting counts as healthy once a probe of our
/// own passes.
pub async fn until(
    docker: &Docker,
    container: &str,
    want: Want,
    timeout: Duration,
    probe: Option<&StartProbe>,
) -> Result<(), String> {
    let mut probed: Option<Instant> = None;
    let mut probe_said: Option<String> = None;
    let deadline = Instant::now()
        .checked_add(timeout)
        .unwrap_or_else(|| Instant::now() + Duration::from_secs(86_400 * 365));
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
                    (Want::Healthy, 0) => Err(
                        "it exited (code 0) while a healthy container was expected; for a one-shot job, make dependents wait with `condition: completed`".into(),
                    ),
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
                        return Err(format!(
                            "its healthcheck fails: {}",
                            last_probe(&state).unwrap_or_default()
                        ));
                    }
                    (Want::Healthy, Some(HealthStatusEnum::STARTING))
                        if probe.is_some()
                            && super::probe::passed_before(
                                info.id.as_deref().unwrap_or_default(),
                                &state,
                            ) =>
                    {
                        return Ok(());
                    }
                    (Want::Healthy, Some(HealthStatusEnum::STARTING)) => {
                        if let Some(p) =
                            probe.filter(|p| probed.is_none_or(|t| t.elapsed() >= p.every))
                        {
                            probed = Some(Instant::now());
                            match super::probe::run(docker, container, &p.test, p.timeout).await {
                                Ok(()) => {
                                    super::probe::remember_pass(
                                        info.id.as_deref().unwrap_or_default(),
                                        &state,
                                    );
                                    return Ok(());
                                }
                                Err(said) => probe_said = Some(said),
                            }
                        }
                    }
                    _ => {}
                }
            }
            _ => {}
        }
        if Instant::now() >= deadline {
            let last = last_probe(&state)
                .or(probe_said)
                .map(|o| format!("; last healthcheck said: {o}"))
                .unwrap_or_default();
            return Err(format!("timed out{last}"));
        }
        tokio::time::sleep(pause).await;
        pause = (pause * 2).min(Duration::from_millis(250));
    }
}

fn last_probe(state: &bollard::models::ContainerState) -> Option<String> {
    let log = state.health.as_ref()?.log.as_ref()?;
    Some(log.last()?.output.as_deref()?.trim().to_owned())
}
