//! The Resources page's facts: every container of the project with its runtime state apart
//! from its build state, and the two actions (restart, stop).

use crate::docker::{is_not_found, short, LABEL_BINARY, LABEL_IMAGE_ID};
use crate::engine::ps::{self, PsRow};
use bollard::Docker;
use serde::Serialize;

#[derive(Debug, Clone, Serialize)]
pub struct Resource {
    #[serde(flatten)]
    pub ps: PsRow,
    pub restarts: i64,
    pub started_at: String,
    /// What the engine last said went wrong: the state's error, a non-zero exit, or the last
    /// failing healthcheck's output.
    pub last_error: String,
    /// `built by msctl`, `rebuilt since start: run msctl up`, `stand-in` or `upstream image`.
    pub build: String,
    pub stand_in: bool,
}

/// The project's containers, in service order.
pub async fn list(docker: &Docker, project: &str) -> Vec<Resource> {
    let Ok(rows) = ps::rows(docker, project).await else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for row in rows {
        let info = docker.inspect_container(&row.id, None).await.ok();
        let state = info
            .as_ref()
            .and_then(|i| i.state.clone())
            .unwrap_or_default();
        let labels = info
            .as_ref()
            .and_then(|i| i.config.as_ref())
            .and_then(|c| c.labels.clone())
            .unwrap_or_default();
        let running_image = info
            .as_ref()
            .and_then(|i| i.image.clone())
            .unwrap_or_default();
        let image_labels = match docker.inspect_image(&row.image).await {
            Ok(image) => Some((
                image.id.unwrap_or_default(),
                image.config.and_then(|c| c.labels).unwrap_or_default(),
            )),
            Err(_) => None,
        };
        // Images msctl builds carry the binary's label; a stand-in only its recipe's (a built
        // image inherits the recipe label from its stand-in base, so the binary decides).
        let built = image_labels
            .as_ref()
            .is_some_and(|(_, l)| l.contains_key(LABEL_BINARY));
        let stand_in = !built
            && image_labels
                .as_ref()
                .is_some_and(|(_, l)| l.contains_key(crate::images::standin::LABEL_RECIPE));
        let build = match (&image_labels, labels.get(LABEL_IMAGE_ID)) {
            (Some((tag_id, _)), Some(_))
                if !running_image.is_empty() && tag_id != &running_image =>
            {
                "rebuilt since it started: `msctl up` replaces it".to_owned()
            }
            (_, _) if stand_in => {
                "stand-in (built from Debian: the image could not be pulled)".to_owned()
            }
            (Some(_), _) if built => "built by msctl, current".to_owned(),
            (Some(_), _) => "upstream image".to_owned(),
            (None, _) => "image missing".to_owned(),
        };
        let mut last_error = state.error.clone().unwrap_or_default();
        if last_error.is_empty() {
            if let Some(code) = state.exit_code.filter(|c| *c != 0) {
                if row.state != "running" {
                    last_error = format!("exited with code {code}");
                }
            }
        }
        if last_error.is_empty() {
            if let Some(log) = state.health.as_ref().and_then(|h| h.log.as_ref()) {
                if let Some(last) = log.last().filter(|l| l.exit_code.unwrap_or(0) != 0) {
                    last_error = format!(
                        "healthcheck: {}",
                        last.output.clone().unwrap_or_default().trim()
                    );
                }
            }
        }
        out.push(Resource {
            restarts: info.as_ref().and_then(|i| i.restart_count).unwrap_or(0),
            started_at: state.started_at.clone().unwrap_or_default(),
            last_error,
            build,
            stand_in,
            ps: row,
        });
    }
    out
}

/// Restarts or stops a container of the project (`action` is `restart` or `stop`).
pub async fn act(
    docker: &Docker,
    project: &str,
    container: &str,
    action: &str,
) -> Result<(), String> {
    // Only the project's own containers: the name must be one of its.
    let rows = ps::rows(docker, project).await.map_err(|e| e.to_string())?;
    let Some(row) = rows.iter().find(|r| r.container == container) else {
        return Err(format!("no container `{container}` in project `{project}`"));
    };
    let result = match action {
        "restart" => {
            docker
                .restart_container(
                    &row.id,
                    None::<bollard::query_parameters::RestartContainerOptions>,
                )
                .await
        }
        "stop" => {
            docker
                .stop_container(
                    &row.id,
                    None::<bollard::query_parameters::StopContainerOptions>,
                )
                .await
        }
        other => return Err(format!("unknown action `{other}`")),
    };
    match result {
        Ok(()) => Ok(()),
        Err(e) if is_not_found(&e) => Err(format!("`{container}` is gone")),
        Err(e) => Err(short(&e)),
    }
}
