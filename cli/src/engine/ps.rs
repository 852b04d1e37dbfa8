//! `msctl ps`: the project's containers, from their labels.

use crate::docker::{summary_name, LABEL_REPLICA, LABEL_SERVICE};
use crate::error::Result;
use bollard::Docker;
use serde::Serialize;

#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PsRow {
    pub service: String,
    pub container: String,
    pub replica: u32,
    pub state: String,
    pub health: String,
    pub status: String,
    pub ports: Vec<String>,
    pub urls: Vec<String>,
    pub image: String,
    pub id: String,
}

pub async fn rows(docker: &Docker, project: &str) -> Result<Vec<PsRow>> {
    let list = super::list_project(docker, project).await?;
    let mut rows: Vec<PsRow> = list
        .into_iter()
        .map(|c| {
            let labels = c.labels.clone().unwrap_or_default();
            let status = c.status.clone().unwrap_or_default();
            let mut ports: Vec<(String, u16, u16, String)> = c
                .ports
                .iter()
                .flatten()
                .filter_map(|p| {
                    Some((
                        p.ip.clone().unwrap_or_default(),
                        p.public_port?,
                        p.private_port,
                        p.typ.map(|t| t.to_string()).unwrap_or_else(|| "tcp".into()),
                    ))
                })
                .collect();
            // The engine lists IPv4 and IPv6 bindings separately; one of each port is enough.
            ports.sort();
            ports.dedup_by(|a, b| a.1 == b.1 && a.3 == b.3);
            PsRow {
                service: labels.get(LABEL_SERVICE).cloned().unwrap_or_default(),
                replica: labels
                    .get(LABEL_REPLICA)
                    .and_then(|r| r.parse().ok())
                    .unwrap_or(0),
                container: summary_name(&c),
                state: c.state.map(|s| s.to_string()).unwrap_or_default(),
                health: health_of(&status).to_owned(),
                ports: ports
                    .iter()
                    .map(|(ip, public, private, proto)| format!("{ip}:{public}->{private}/{proto}"))
                    .collect(),
                urls: ports
                    .iter()
                    .filter(|p| p.3 == "tcp")
                    .map(|(ip, public, _, _)| {
                        let host = match ip.as_str() {
                            "0.0.0.0" | "::" | "" => "localhost",
                            other => other,
                        };
                        format!("http://{host}:{public}")
                    })
                    .collect(),
                status,
                image: c.image.unwrap_or_default(),
                id: c.id.unwrap_or_default(),
            }
        })
        .collect();
    rows.sort_by(|a, b| (&a.service, a.replica).cmp(&(&b.service, b.replica)));
    if !super::probe::engine_has_start_interval(docker) {
        let probed = futures_util::future::join_all(
            rows.iter()
                .map(|r| async move { r.health == "starting" && passes_now(docker, &r.id).await }),
        )
        .await;
        for (row, passed) in rows.iter_mut().zip(probed) {
            if passed {
                row.health = "healthy".into();
            }
        }
    }
    Ok(rows)
}

/// Whether the container's healthcheck passes when run now. For a container the engine has not
/// probed yet: with a long `interval` and a `start_interval` it cannot run, an old engine says
/// "starting" long after `up` saw the container healthy (engine::probe).
async fn passes_now(docker: &Docker, id: &str) -> bool {
    let Ok(info) = docker.inspect_container(id, None).await else {
        return false;
    };
    let state = info.state.unwrap_or_default();
    if super::probe::passed_before(id, &state) {
        return true;
    }
    let Some(check) = info.config.and_then(|c| c.healthcheck) else {
        return false;
    };
    // The engine's own default when a check has no timeout.
    let timeout = match check.timeout {
        Some(ns) if ns > 0 => std::time::Duration::from_nanos(ns as u64),
        _ => std::time::Duration::from_secs(30),
    };
    let passed = super::probe::run(docker, id, &check.test.unwrap_or_default(), timeout)
        .await
        .is_ok();
    if passed {
        super::probe::remember_pass(id, &state);
    }
    passed
}

fn health_of(status: &str) -> &'static str {
    if status.contains("(healthy)") {
        "healthy"
    } else if status.contains("(unhealthy)") {
        "unhealthy"
    } else if status.contains("health: starting") {
        "starting"
    } else {
        "-"
    }
}

pub fn render(rows: &[PsRow]) -> String {
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            vec![
                r.service.clone(),
                r.container.clone(),
                r.state.clone(),
                r.health.clone(),
                if r.urls.is_empty() {
                    r.ports.join(", ")
                } else {
                    r.urls.join(" ")
                },
            ]
        })
        .collect();
    crate::ui::table(&["SERVICE", "CONTAINER", "STATE", "HEALTH", "URL"], &cells)
}
