//! The providers, running for verification: the stack's own services, built from the
//! workspace, with their real databases and broker, in a project of their own
//! (`<project>-contracts`), so a running stack is never touched. Only there is
//! `PACT_PROVIDER_STATES` on; no host port is published (msctl reaches the containers on
//! their network addresses), so nothing collides with the running stack either.

use super::verify::Provider;
use crate::engine::{self, up::UpOptions};
use crate::error::{Error, Result};
use crate::stack::Stack;
use crate::testing::targets::Targets;
use crate::ui::Ui;
use bollard::Docker;
use std::collections::HashMap;

/// The setting kit reads to mount the state-change and message endpoints.
pub const SETTING: &str = "PACT_PROVIDER_STATES";

/// The project the providers run in.
pub fn project(stack: &Stack) -> String {
    format!("{}-contracts", stack.name)
}

/// The stack as verification runs it: its own project, states on for `providers`, no host
/// ports.
pub fn stack_for(stack: &Stack, providers: &[String]) -> Stack {
    let mut s = stack.clone();
    s.name = project(stack);
    for service in &mut s.services {
        service.ports.clear();
        if providers.contains(&service.name) {
            service.env.insert(SETTING.into(), "true".into());
        }
    }
    s
}

/// The port a service listens on: the one its `routes:` give the gateway.
pub fn port(stack: &Stack, service: &str) -> Option<u16> {
    let upstream = stack.routes.upstreams.get(service)?;
    let url = upstream.urls.first()?;
    url.rsplit(':').next()?.trim_end_matches('/').parse().ok()
}

/// Starts `providers` (and what they depend on), health-gated, and says where each listens.
pub async fn start(
    docker: &Docker,
    stack: &Stack,
    providers: &[String],
    ui: &Ui,
) -> Result<(Targets, Vec<Provider>)> {
    let opts = UpOptions {
        services: providers.to_vec(),
        ..Default::default()
    };
    engine::up::up(docker, stack, &opts, ui).await?;
    let targets = Targets::new(
        stack.name.clone(),
        Some(docker.clone()),
        HashMap::new(),
        None,
    );
    let mut found = Vec::new();
    for name in providers {
        let port = port(stack, name).ok_or_else(|| {
            Error::Usage(format!(
                "`{name}` is a provider in contracts/pacts but has no `routes:` in the stack file, so msctl does not know its port"
            ))
        })?;
        let address = targets
            .address(name, port)
            .await
            .map_err(Error::Environment)?;
        let host = address
            .rsplit_once(':')
            .map(|(h, _)| h.to_owned())
            .unwrap_or(address);
        found.push(Provider {
            name: name.clone(),
            host,
            port,
        });
    }
    Ok((targets, found))
}
