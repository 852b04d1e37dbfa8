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
    /// What is wrong with the labels msctl wrote on it (another tool, another version): the
    /// plan removes such a container and says why.
    pub label_problem: Option<String>,
}

/// The parts of the config label ([`super::desired::Effective`] as written) read back.
#[derive(serde::Deserialize)]
struct LabelledConfig {
    ports: Vec<LabelledPort>,
    environment: std::collections::BTreeMap<String, String>,
}

#[derive(serde::Deserialize)]
struct LabelledPort {
    host_port: u16,
}

impl Existing {
    fn config(&self) -> Result<LabelledConfig, String> {
        serde_json::from_str(&self.config_json)
            .map_err(|e| format!("its label {LABEL_CONFIG} does not parse ({e})"))
    }

    /// The host ports its config label says it publishes.
    pub fn published_ports(&self) -> Result<Vec<u16>, String> {
        Ok(self
            .config()?
            .ports
            .into_iter()
            .map(|p| p.host_port)
            .collect())
    }

    /// The value of an environment variable it was created with (per its config label).
    pub fn env(&self, name: &str) -> Result<Option<String>, String> {
        Ok(self.config()?.environment.remove(name))
    }

    pub fn from_summary(c: &ContainerSummary) -> Option<Existing> {
        let labels = c.labels.as_ref()?;
        let label = |k: &str| labels.get(k).cloned().unwrap_or_default();
        // Replicas count from 1: a container whose number does not parse matches none.
        let (replica, label_problem) = match label(LABEL_REPLICA).parse() {
            Ok(n) => (n, None),
            Err(_) => (
                0,
                Some(format!(
                    "its label {LABEL_REPLICA}=`{}` is not a replica number",
                    label(LABEL_REPLICA)
                )),
            ),
        };
        Some(Existing {
            id: c.id.clone()?,
            name: summary_name(c),
            service: labels.get(LABEL_SERVICE)?.clone(),
            replica,
            label_problem,
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
                    reason: e
                        .label_problem
                        .clone()
                        .unwrap_or_else(|| "replica no longer wanted".into()),
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn summary(replica: &str, config: &str) -> ContainerSummary {
        ContainerSummary {
            id: Some("c1".into()),
            names: Some(vec!["/shop-api-1".into()]),
            labels: Some(HashMap::from([
                (LABEL_SERVICE.to_string(), "api".to_string()),
                (LABEL_REPLICA.to_string(), replica.to_string()),
                (LABEL_CONFIG.to_string(), config.to_string()),
            ])),
            ..Default::default()
        }
    }

    /// A replica label that did not parse was read as replica 0, silently.
    #[test]
    fn a_replica_label_that_is_not_a_number_is_named_in_the_plan() {
        let e = Existing::from_summary(&summary("one", "{}")).unwrap();
        assert!(e.label_problem.as_deref().unwrap().contains("`one`"));
        let changes = plan(&[], &[e], &["api"], &[]);
        assert_eq!(
            changes[0].describe(),
            "remove: its label msctl.replica=`one` is not a replica number"
        );
        let fine = Existing::from_summary(&summary("2", "{}")).unwrap();
        assert_eq!((fine.replica, fine.label_problem), (2, None));
    }

    /// The config label was read as untyped JSON: a label without ports read as "no ports".
    #[test]
    fn published_ports_come_from_a_typed_config_label_or_an_error_naming_it() {
        let ok = Existing::from_summary(&summary(
            "1",
            r#"{"ports":[{"host_ip":"127.0.0.1","host_port":8000,"container_port":8000}],"environment":{"A":"1"}}"#,
        ))
        .unwrap();
        assert_eq!(ok.published_ports().unwrap(), vec![8000]);
        assert_eq!(ok.env("A").unwrap().as_deref(), Some("1"));
        let bad = Existing::from_summary(&summary("1", r#"{"image":"x"}"#)).unwrap();
        let err = bad.published_ports().unwrap_err();
        assert!(err.contains(LABEL_CONFIG) && err.contains("ports"), "{err}");
    }
}
