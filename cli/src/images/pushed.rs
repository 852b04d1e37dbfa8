//! `msctl push`: the images msctl built, tagged for a registry and pushed there; the digests
//! recorded in `.msctl/pushed.json` beside the stack file, so that `export k8s --registry`
//! names each image by digest (what runs on the cluster is exactly what was pushed).
//!
//! Only services msctl builds are pushed. An upstream image (`postgres:15`) is never pushed,
//! even where msctl runs a stand-in of it: the manifests name the real image, which a cluster
//! can pull.

use super::ResolvedImage;
use crate::error::{Error, Result};
use bollard::auth::DockerCredentials;
use bollard::query_parameters::{PushImageOptions, TagImageOptions};
use bollard::Docker;
use futures_util::StreamExt;
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

/// What a push left in a registry, by service.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Pushed {
    pub registry: String,
    pub project: String,
    pub images: BTreeMap<String, PushedImage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PushedImage {
    /// `<registry>/<project>/<service>`.
    pub repository: String,
    pub tag: String,
    /// `sha256:…`: the manifest's digest, which the registry serves it under.
    pub digest: String,
    pub image_id: String,
}

/// Where a service's images go in `registry`.
pub fn repository(registry: &str, project: &str, service: &str) -> String {
    format!("{}/{project}/{service}", registry.trim_end_matches('/'))
}

/// `.msctl/pushed.json` in the stack file's directory.
pub fn record_path(stack_dir: &Path) -> PathBuf {
    stack_dir.join(".msctl").join("pushed.json")
}

impl Pushed {
    /// The record, or none when nothing was pushed yet.
    pub fn read(path: &Path) -> Result<Option<Pushed>> {
        match std::fs::read_to_string(path) {
            Ok(text) => serde_json::from_str(&text).map(Some).map_err(|e| {
                Error::Usage(format!(
                    "{} is not a push record ({e}); delete it and run `msctl push` again",
                    path.display()
                ))
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(Error::io(format!("reading {}", path.display()))(e)),
        }
    }

    /// Writes the record through a temporary file and a rename: never half a record.
    pub fn write(&self, path: &Path) -> Result<()> {
        let dir = path.parent().expect("the record is inside .msctl");
        std::fs::create_dir_all(dir).map_err(Error::io(format!("creating {}", dir.display())))?;
        let temp = path.with_extension("json.tmp");
        let text = serde_json::to_string_pretty(self).expect("serializable") + "\n";
        std::fs::write(&temp, text).map_err(Error::io(format!("writing {}", temp.display())))?;
        std::fs::rename(&temp, path).map_err(Error::io(format!("writing {}", path.display())))
    }

    /// What was pushed of `service` to `registry` for `project`, if this record says.
    pub fn image(&self, registry: &str, project: &str, service: &str) -> Option<&PushedImage> {
        (self.registry == registry && self.project == project)
            .then(|| self.images.get(service))
            .flatten()
    }

    /// This record with `other`'s images added (a push of some services keeps the others'),
    /// or `other` alone when it is for another registry or project.
    pub fn merged(self, other: Pushed) -> Pushed {
        if self.registry != other.registry || self.project != other.project {
            return other;
        }
        let mut images = self.images;
        images.extend(other.images);
        Pushed { images, ..other }
    }
}

/// The tag an image is pushed under: its content (the first 12 hex digits of its id), so the
/// same build pushed twice is the same tag.
pub fn content_tag(image_id: &str) -> String {
    let hex = image_id.strip_prefix("sha256:").unwrap_or(image_id);
    hex.chars().take(12).collect()
}

/// Credentials for `registry`: `MSCTL_REGISTRY_USERNAME`/`_PASSWORD`, else the `auths` entry of
/// `~/.docker/config.json`, else none (a local registry wants none).
pub fn credentials(registry: &str) -> Result<DockerCredentials> {
    let mut creds = DockerCredentials {
        serveraddress: Some(registry.to_owned()),
        ..Default::default()
    };
    if let (Ok(user), Ok(password)) = (
        std::env::var("MSCTL_REGISTRY_USERNAME"),
        std::env::var("MSCTL_REGISTRY_PASSWORD"),
    ) {
        creds.username = Some(user);
        creds.password = Some(password);
        return Ok(creds);
    }
    let Some(home) = std::env::var_os("HOME") else {
        return Ok(creds);
    };
    let path = Path::new(&home).join(".docker/config.json");
    let Ok(text) = std::fs::read_to_string(&path) else {
        return Ok(creds);
    };
    let config: serde_json::Value = serde_json::from_str(&text)
        .map_err(|e| Error::Usage(format!("{} is not JSON: {e}", path.display())))?;
    if let Some(auth) = config["auths"][registry]["auth"].as_str() {
        creds.auth = Some(auth.to_owned());
    } else if config["credHelpers"][registry].is_string() || config["credsStore"].is_string() {
        return Err(Error::Usage(format!(
            "{} keeps the credentials of {registry} in a credential helper, which msctl cannot call yet; set MSCTL_REGISTRY_USERNAME and MSCTL_REGISTRY_PASSWORD",
            path.display()
        )));
    }
    Ok(creds)
}

/// Tags `image` (service `service`'s build) for `registry` and pushes it; returns what the
/// registry now holds, its digest confirmed by the engine's own record of the push.
pub async fn push(
    docker: &Docker,
    registry: &str,
    project: &str,
    service: &str,
    image: &ResolvedImage,
    creds: &DockerCredentials,
) -> Result<PushedImage> {
    let repo = repository(registry, project, service);
    let tag = content_tag(&image.id);
    docker
        .tag_image(
            &image.id,
            Some(TagImageOptions {
                repo: Some(repo.clone()),
                tag: Some(tag.clone()),
            }),
        )
        .await
        .map_err(Error::docker(format!("tagging {repo}:{tag}")))?;
    // Always with the tag: without one the engine pushes every tag of the repository.
    let mut stream = docker.push_image(
        &repo,
        Some(PushImageOptions {
            tag: Some(tag.clone()),
            ..Default::default()
        }),
        Some(creds.clone()),
    );
    let mut digest = None;
    while let Some(item) = stream.next().await {
        let info = item.map_err(Error::docker(format!("pushing {repo}:{tag}")))?;
        // "<tag>: digest: sha256:<hex> size: <n>" (bollard's model has no `aux`).
        if let Some(status) = info.status {
            if let Some(rest) = status.split(" digest: ").nth(1) {
                digest = rest.split_whitespace().next().map(str::to_owned);
            }
        }
    }
    let digest = digest.ok_or_else(|| {
        Error::Usage(format!(
            "the engine pushed {repo}:{tag} but reported no digest"
        ))
    })?;
    let inspect = docker
        .inspect_image(&format!("{repo}:{tag}"))
        .await
        .map_err(Error::docker(format!("inspecting {repo}:{tag}")))?;
    let expected = format!("{repo}@{digest}");
    if !inspect.repo_digests.unwrap_or_default().contains(&expected) {
        return Err(Error::Usage(format!(
            "the engine reported digest {digest} for {repo}:{tag}, but the image does not list {expected}"
        )));
    }
    Ok(PushedImage {
        repository: repo,
        tag,
        digest,
        image_id: image.id.clone(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partial_push_keeps_the_other_services_of_the_same_registry() {
        let img = |d: &str| PushedImage {
            repository: "r".into(),
            tag: "t".into(),
            digest: d.into(),
            image_id: "i".into(),
        };
        let old = Pushed {
            registry: "127.0.0.1:5000".into(),
            project: "shop".into(),
            images: BTreeMap::from([("a".into(), img("1")), ("b".into(), img("2"))]),
        };
        let new = Pushed {
            images: BTreeMap::from([("b".into(), img("3"))]),
            ..old.clone()
        };
        let merged = old.clone().merged(new.clone());
        assert_eq!(merged.images["a"].digest, "1");
        assert_eq!(merged.images["b"].digest, "3");
        let elsewhere = Pushed {
            registry: "other:5000".into(),
            ..new
        };
        assert_eq!(old.merged(elsewhere.clone()), elsewhere);
        assert_eq!(content_tag("sha256:0123456789abcdef"), "0123456789ab");
    }
}
