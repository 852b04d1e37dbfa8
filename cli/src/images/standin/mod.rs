//! Stand-in images: Debian-built replacements for images that are neither present nor pullable.
//!
//! When a stack names `postgres:15`, `rabbitmq:3-management` or `debian:bookworm-slim` and no
//! registry answers, msctl builds a stand-in from Debian packages:
//!
//! 1. a **base**: `debootstrap --variant=minbase bookworm`, slimmed (no docs, man pages or
//!    translations) and updated, kept as a tarball in the cache directory keyed by the hash of
//!    what made it (built once, shared by every recipe, guarded by a file lock);
//! 2. per **recipe**: the base unpacked into a work directory, packages installed in a chroot
//!    (inside private mount and PID namespaces, so nothing leaks when the build ends), an entry
//!    point and configuration added, the tree streamed into `docker import` with
//!    ENTRYPOINT/CMD/ENV/EXPOSE/VOLUME/LABEL changes, and tagged as the requested reference.
//!
//! Every image carries the label [`LABEL_RECIPE`] with [`Recipe::hash`], which covers everything
//! that determines its content (suite, packages, every asset file's bytes, the changes). An image
//! whose label matches is used as it is; a different hash means the recipe changed and the image
//! is rebuilt. An image of another reference with the same recipe (`postgres:15` built, now
//! `postgres:16` asked for) is re-tagged instead of built again.
//!
//! The assets (entry points, hooks, configuration) live in `cli/assets/standin/` and are compiled
//! into the binary. `docs/stand-in-images.md` describes what each stand-in honours.
//!
//! [`recipe`] says what each stand-in is made of and hashes it; [`build`] runs a build (base,
//! packages, files, `docker import`); [`debootstrap`] is the host side of that (clean commands,
//! namespaces and chroots, apt mirrors, reading debootstrap's and apt's output); [`cache`] is
//! where bases, work directories, locks and logs live. This module says whether the machine can
//! build, and [`ensure`]s an image.

mod build;
mod cache;
mod debootstrap;
mod recipe;

pub use crate::error::StandInError;
pub use recipe::{recipe_for, Recipe};

use build::Build;

use crate::docker::is_not_found;
use crate::images::reference::ImageRef;
use bollard::query_parameters::RemoveImageOptionsBuilder;
use bollard::Docker;
use indicatif::ProgressBar;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;

/// Label every stand-in image carries: the [`Recipe::hash`] it was built from.
pub const LABEL_RECIPE: &str = "msctl.standin.recipe";
/// Label with [`Recipe::describe`] (without the note about the requested tag).
pub const LABEL_DESCRIBE: &str = "msctl.standin.describe";

const STD_PATH: &str = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
/// Where the build hooks are put inside the root while it is being built (removed afterwards).
const HOOK_DIR: &str = ".msctl-build";

/// Can this machine build stand-ins? `Ok(())`, or the error saying what to install or why not.
pub fn can_build() -> Result<(), StandInError> {
    if !cfg!(target_os = "linux") {
        return Err(StandInError::UnsupportedOs {
            os: std::env::consts::OS,
        });
    }
    let uid = effective_uid();
    if uid != 0 {
        return Err(StandInError::NotRoot { uid });
    }
    if find_tool("debootstrap").is_none() {
        return Err(StandInError::NoDebootstrap);
    }
    for (tool, package) in [
        ("unshare", "util-linux"),
        ("chroot", "coreutils"),
        ("tar", "tar"),
    ] {
        if find_tool(tool).is_none() {
            return Err(StandInError::MissingTool { tool, package });
        }
    }
    Ok(())
}

fn effective_uid() -> u32 {
    // The second field of "Uid:" is the effective user id.
    fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1))
                .and_then(|v| v.parse().ok())
        })
        .unwrap_or(u32::MAX)
}

/// `name` on PATH or in the sbin directories (which a root PATH may lack).
fn find_tool(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(
            ["/usr/local/sbin", "/usr/sbin", "/sbin", "/usr/bin", "/bin"]
                .iter()
                .map(PathBuf::from),
        )
        .map(|dir| dir.join(name))
        .find(|p| {
            fs::metadata(p)
                .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
                .unwrap_or(false)
        })
}

/// Makes sure `image_ref` exists locally as the stand-in of `recipe` and returns its image id.
///
/// If the image tagged `image_ref` carries `msctl.standin.recipe=<hash>`, its id is returned at
/// once. If another image carries that label (same recipe, other tag), it is tagged `image_ref`.
/// Otherwise the stand-in is built (debootstrap base, packages, assets, `docker import`) and
/// tagged `image_ref`, replacing what that tag pointed to; progress phases go to
/// `progress.set_message` ("debootstrap bookworm", "installing postgresql-15", "importing", …).
/// Concurrent calls, in this process or others, build the shared base and each recipe once.
pub async fn ensure(
    docker: &Docker,
    image_ref: &str,
    recipe: &Recipe,
    progress: &ProgressBar,
) -> Result<String, StandInError> {
    let parsed = ImageRef::parse(image_ref).ok_or_else(|| StandInError::BadReference {
        image: image_ref.to_owned(),
        reason: "it is not a valid image reference".to_owned(),
    })?;
    if parsed.digest.is_some() {
        return Err(StandInError::BadReference {
            image: image_ref.to_owned(),
            reason: "a reference by digest names exact image content, which a locally built stand-in cannot have; name a tag instead".to_owned(),
        });
    }
    let tag = parsed.tag.clone().unwrap_or_else(|| "latest".to_owned());
    let full_ref = format!("{}:{tag}", parsed.repository);
    let hash = recipe.hash();

    if let Some(id) = current_standin(docker, &full_ref, &hash).await?.matching {
        return Ok(id);
    }
    can_build()?;

    let build = Build::new(docker, &full_ref, recipe, &hash, progress)?;
    // One build per recipe at a time, across processes; the winner's image serves the others.
    let _lock = build
        .lock(
            &build
                .paths
                .locks
                .join(format!("recipe-{}.lock", &hash[..16])),
        )
        .await?;
    let existing = current_standin(docker, &full_ref, &hash).await?;
    if let Some(id) = existing.matching {
        return Ok(id);
    }
    if let Some(id) = build.same_recipe_elsewhere().await? {
        progress.set_message("tagging");
        build.tag(&id, &parsed.repository, &tag).await?;
    } else {
        build.run(&parsed.repository, &tag).await?;
    }
    let id = build.verify().await?;
    if let Some(old) = existing.superseded {
        if old != id {
            // Best effort: an older stand-in nothing uses any more. Fails (and stays) when a
            // container still uses it.
            let _ = docker
                .remove_image(&old, Some(RemoveImageOptionsBuilder::new().build()), None)
                .await;
        }
    }
    Ok(id)
}

/// What a tag holds, as far as stand-ins are concerned.
pub(crate) enum Tagged {
    Missing,
    /// An image that is not a stand-in (pulled, or built by someone else).
    Other(String),
    /// A stand-in, and the [`Recipe::hash`] it was built from.
    StandIn {
        id: String,
        hash: String,
    },
}

/// Reads the stand-in label of the image tagged `image_ref`.
pub(crate) async fn tagged(
    docker: &Docker,
    image_ref: &str,
) -> Result<Tagged, bollard::errors::Error> {
    match docker.inspect_image(image_ref).await {
        Ok(image) => {
            let label = image
                .config
                .as_ref()
                .and_then(|c| c.labels.as_ref())
                .and_then(|l| l.get(LABEL_RECIPE))
                .cloned();
            let id = image.id.unwrap_or_default();
            Ok(match label {
                Some(hash) => Tagged::StandIn { id, hash },
                None => Tagged::Other(id),
            })
        }
        Err(e) if is_not_found(&e) => Ok(Tagged::Missing),
        Err(e) => Err(e),
    }
}

struct Current {
    /// The image tagged `image_ref`, when it carries the wanted recipe.
    matching: Option<String>,
    /// The image tagged `image_ref`, when it is a stand-in of another recipe.
    superseded: Option<String>,
}

async fn current_standin(
    docker: &Docker,
    image_ref: &str,
    hash: &str,
) -> Result<Current, StandInError> {
    let tagged = tagged(docker, image_ref)
        .await
        .map_err(|source| StandInError::Docker {
            image: image_ref.to_owned(),
            action: format!("inspect `{image_ref}`"),
            source,
        })?;
    Ok(match tagged {
        Tagged::StandIn { id, hash: h } if h == hash => Current {
            matching: Some(id),
            superseded: None,
        },
        Tagged::StandIn { id, .. } => Current {
            matching: None,
            superseded: Some(id),
        },
        Tagged::Missing | Tagged::Other(_) => Current {
            matching: None,
            superseded: None,
        },
    })
}
