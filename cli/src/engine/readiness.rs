//! What "ready" means for a service's containers, and waiting for it: `up` waits on it level
//! by level, and a replace removes the old container only once its successor is ready.

use super::wait::{self, Want};
use crate::error::{Error, Result};
use crate::graph;
use crate::stack::{Condition, ServiceSpec};
use bollard::Docker;

/// What `up` waits for on this service: what its dependents need, or health when it has a check.
pub(crate) fn wanted(service: &ServiceSpec, selected: &[&ServiceSpec]) -> Want {
    match graph::required_condition(selected, &service.name) {
        Some(Condition::Completed) => Want::Completed,
        _ if service.healthcheck.is_some() => Want::Healthy,
        _ => Want::Running,
    }
}

/// What "ready" means for one service's containers, and waiting for it.
pub(super) struct Readiness<'a> {
    docker: &'a Docker,
    service: &'a ServiceSpec,
    want: Want,
    probe: Option<wait::StartProbe>,
}

impl<'a> Readiness<'a> {
    pub(super) fn of(docker: &'a Docker, service: &'a ServiceSpec, want: Want) -> Readiness<'a> {
        // Engines without `start_interval` (API 1.41) would wait a whole `interval` for the
        // first check; msctl runs the check itself at the start interval.
        let probe = service
            .healthcheck
            .as_ref()
            .filter(|_| !super::probe::engine_has_start_interval(docker))
            .and_then(|h| {
                Some(wait::StartProbe {
                    test: h.test.clone(),
                    every: h.start_interval?,
                    timeout: h.timeout,
                })
            });
        Readiness {
            docker,
            service,
            want,
            probe,
        }
    }

    pub(super) async fn wait(&self, container: &str) -> Result<()> {
        let s = self.service;
        let waited = wait::until(
            self.docker,
            container,
            self.want,
            s.up_timeout,
            self.probe.as_ref(),
        )
        .await;
        match waited {
            Ok(()) => Ok(()),
            Err(reason) => Err(Error::NotReady {
                service: s.name.clone(),
                wanted: self.want.word().into(),
                timeout: humantime::format_duration(s.up_timeout).to_string(),
                reason,
                logs: super::logs::tail(self.docker, container, 20).await,
            }),
        }
    }
}
