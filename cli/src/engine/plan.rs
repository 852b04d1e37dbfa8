//! Comparing desired containers with the ones that exist, and deciding the least to do.

use super::desired::{changed_fields, Desired};
use crate::docker::*;
use bollard::models::ContainerSummary;
use serde::Serialize;

/// A container of the project as the engine reports it.
#[derive(Debug, Clone)]
pub struct Existing {
    pub id: String,
    pub name: String,
    pub service: String,
    pub replica: u32,
    pub hash: String,
    pub config_json: String,
    pub image_id: String,
    pub state: String,
    pub status: String,
    pub created: i64,
}

impl Existing {
    pub fn from_summary(c: &ContainerSummary) -> Option<Existing> {
        let labels = c.labels.as_ref()?;
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        Some(Existing {
            id: c.id.clone()?,
            name: summary_name(c),
            service: labels.get(LABEL_SERVICE)?.clone(),
            replica: label(LABEL_REPLICA).parse().unwrap_or(0),
            hash: label(LABEL_CONFIG_HASH),
            config_json: label(LABEL_CONFIG),
            image_id: label(LABEL_IMAGE_ID),
            state: c.state.map(|s| s.to_string()).unwrap_or_default(),
            status: c.status.clone().unwrap_or_default(),
            created: c.created.unwrap_or_default(),
        })
    }
}

#[derive(Debug, Clone, Serialize, PartialEq)]
#[serde(tag = "action", rename_all = "snake_case")]
pub enum Action {
    /// Up to date and running.
    Keep,
    /// Up to date but not running (stopped, or created by an interrupted `up`).
    Start,
    Create,
    Recreate {
        reasons: Vec<String>,
    },
    Remove {
        reason: String,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct Change {
    pub service: String,
    pub container: String,
    #[serde(flatten)]
    pub action: Action,
    #[serde(skip)]
    pub desired: Option<Desired>,
    #[serde(skip)]
    pub existing: Option<Existing>,
}

impl Change {
    pub fn describe(&self) -> String {
        match &self.action {
            Action::Keep => "up to date".into(),
            Action::Start => "start (stopped, config unchanged)".into(),
            Action::Create => "create".into(),
            Action::Recreate { reasons } => format!("recreate: {}", reasons.join(", ")),
            Action::Remove { reason } => format!("remove: {reason}"),
        }
    }
}

/// The changes that bring `existing` to `desired`, for the services in `services`.
/// `oneshots` are the services whose containers are meant to run to completion: only for them
/// is an exited container with code 0 up to date.
pub fn plan(
    desired: &[Desired],
    existing: &[Existing],
    services: &[&str],
    oneshots: &[&str],
) -> Vec<Change> {
    let mut changes = Vec::new();
    let mut claimed = Vec::new();
    for d in desired {
        let current = existing
            .iter()
            .find(|e| e.service == d.service && e.replica == d.replica);
        let action = match current {
            None => Action::Create,
            Some(e) => {
                claimed.push(e.id.clone());
                let mut reasons = Vec::new();
                if e.hash != d.hash {
                    let fields = changed_fields(&e.config_json, &d.effective);
                    if fields.is_empty() {
                        reasons.push("config".into());
                    }
                    reasons.extend(fields);
                }
                if e.image_id != d.image.id {
                    reasons.push(format!(
                        "image changed ({} → {})",
                        short_id(&e.image_id),
                        short_id(&d.image.id)
                    ));
                }
                match e.state.as_str() {
                    _ if !reasons.is_empty() => Action::Recreate { reasons },
                    // A crash-looping container is judged by the readiness wait, not here.
                    "running" | "restarting" => Action::Keep,
                    "exited"
                        if oneshots.contains(&d.service.as_str()) && is_clean_exit(&e.status) =>
                    {
                        Action::Keep
                    }
                    "created" | "exited" => Action::Start,
                    // paused, dead, removing: the engine refuses to start these.
                    other => Action::Recreate {
                        reasons: vec![format!("container is {other}")],
                    },
                }
            }
        };
        changes.push(Change {
            service: d.service.clone(),
            container: d.name.clone(),
            action,
            desired: Some(d.clone()),
            existing: current.cloned(),
        });
    }
    for e in existing {
        if services.contains(&e.service.as_str()) && !claimed.contains(&e.id) {
            changes.push(Change {
                service: e.service.clone(),
                container: e.name.clone(),
                action: Action::Remove {
                    reason: "replica no longer wanted".into(),
                },
                desired: None,
                existing: Some(e.clone()),
            });
        }
    }
    changes
}

fn is_clean_exit(status: &str) -> bool {
    status.starts_with("Exited (0)")
}

pub fn short_id(id: &str) -> String {
    id.trim_start_matches("sha256:").chars().take(12).collect()
}
