//! Making the images a stack needs exist locally, with or without a registry.
//!
//! An image reference is used as it is when present, pulled when a registry answers, and
//! otherwise replaced by a Debian stand-in ([`standin`]) when msctl knows a recipe. Services
//! with `build` get an image of their own ([`build`]), tagged `msctl.local/<project>/<service>`.

pub mod build;
mod fresh;
pub mod pushed;
pub(crate) mod reference;
pub mod standin;

use crate::cargo::{self, CrateTarget};
use crate::docker::short;
use crate::error::{Error, Result};
use crate::stack::{ImageSource, ServiceSpec, Stack};
use crate::ui::Ui;
use bollard::query_parameters::CreateImageOptions;
use bollard::Docker;
use futures_util::future::try_join_all;
use futures_util::StreamExt;
use std::collections::{BTreeMap, BTreeSet, HashMap};

/// The image a service's containers run.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    pub reference: String,
    pub id: String,
}

pub fn tag_for(project: &str, service: &str) -> String {
    format!("msctl.local/{project}/{service}:latest")
}

/// How an image reference will be obtained; preflight and `doctor` report this.
#[derive(Debug)]
pub enum Availability {
    Present(String),
    StandIn(standin::Recipe),
    /// Neither present nor known: only a registry can help.
    PullOnly,
}

pub async fn availability(docker: &Docker, reference: &str) -> Availability {
    match docker.inspect_image(reference).await {
        Ok(image) => Availability::Present(image.id.unwrap_or_default()),
        Err(_) => match standin::recipe_for(reference) {
            Some(recipe) => Availability::StandIn(recipe),
            None => Availability::PullOnly,
        },
    }
}

/// Every reference the services need before anything is built (their images and build bases),
/// each with the first service that needs it, for messages.
pub fn references(services: &[&ServiceSpec]) -> BTreeMap<String, String> {
    let mut refs = BTreeMap::new();
    for s in services {
        let reference = match &s.image {
            ImageSource::Reference(r) => r,
            ImageSource::Crate { base, .. } => base,
            ImageSource::Dockerfile { .. } => continue,
        };
        refs.entry(reference.clone())
            .or_insert_with(|| s.name.clone());
    }
    refs
}

/// Problems that would stop `up` from getting its images, found without building anything.
/// With `pull`, images that are neither present nor known are pulled now (a registry is the
/// only way to get them); without it (`--plan`) they are assumed pullable.
pub async fn preflight(
    docker: &Docker,
    services: &[&ServiceSpec],
    pull_now: bool,
    ui: &Ui,
) -> Vec<String> {
    let mut problems = Vec::new();
    let mut needs_standin = false;
    for (reference, service) in references(services) {
        match availability(docker, &reference).await {
            Availability::Present(_) => {}
            Availability::StandIn(_) => needs_standin = true,
            Availability::PullOnly if !pull_now => {}
            Availability::PullOnly => {
                let step = ui.step(&reference, "pulling");
                match pull(docker, &reference).await {
                    Ok(_) => step.done("pulled"),
                    Err(reason) => {
                        step.fail("not available");
                        problems.push(
                            Error::ImageUnavailable {
                                service,
                                image: reference,
                                reason,
                            }
                            .to_string(),
                        );
                    }
                }
            }
        }
    }
    if needs_standin {
        if let Err(e) = standin::can_build() {
            problems.push(e.to_string());
        }
    }
    if services
        .iter()
        .any(|s| matches!(s.image, ImageSource::Crate { .. }))
        && cargo::command().arg("--version").output().is_err()
    {
        problems.push(
            "services build from crates but `cargo` is not on PATH; install Rust with rustup"
                .into(),
        );
    }
    problems
}

async fn pull(docker: &Docker, reference: &str) -> std::result::Result<String, String> {
    // Without a tag the API pulls every tag of the repository; the docker CLI adds `latest`.
    // What does not parse is passed on as it is, for the engine to say what is wrong.
    let tagged =
        reference::ImageRef::parse(reference).is_none_or(|r| r.tag.is_some() || r.digest.is_some());
    let options = CreateImageOptions {
        from_image: Some(reference.to_owned()),
        tag: (!tagged).then(|| "latest".to_owned()),
        ..Default::default()
    };
    let mut stream = docker.create_image(Some(options), None, None);
    while let Some(item) = stream.next().await {
        if let Err(e) = item {
            let reason = short(&e);
            // The engine's wording of a missing registry is a screenful of URL and resolver.
            let offline = [
                "no such host",
                "dial tcp",
                "i/o timeout",
                "connection refused",
                "network is unreachable",
            ];
            if offline.iter().any(|o| reason.contains(o)) {
                return Err("no registry is reachable".into());
            }
            return Err(reason);
        }
    }
    let image = docker
        .inspect_image(reference)
        .await
        .map_err(|e| short(&e))?;
    Ok(image.id.unwrap_or_default())
}

/// Present, pulled, or stand-in: the id of `reference`.
async fn ensure_reference(
    docker: &Docker,
    reference: &str,
    service: &str,
    ui: &Ui,
) -> Result<String> {
    if let Some(recipe) = standin::recipe_for(reference) {
        // A stand-in that exists is reused; one built from an older recipe is rebuilt. The
        // real image (pulled earlier) is used as it is.
        match standin::tagged(docker, reference).await {
            Ok(standin::Tagged::Other(id)) => return Ok(id),
            Ok(standin::Tagged::StandIn { id, hash }) if hash == recipe.hash() => return Ok(id),
            _ => {}
        }
        let step = ui.step(reference, "pulling");
        if let Ok(id) = pull(docker, reference).await {
            step.done("pulled");
            return Ok(id);
        }
        step.set(&format!("building stand-in: {}", recipe.describe()));
        return match standin::ensure(docker, reference, &recipe, step.bar()).await {
            Ok(id) => {
                step.done("stand-in built");
                Ok(id)
            }
            Err(e) => {
                step.fail("stand-in failed");
                Err(e.into())
            }
        };
    }
    if let Ok(image) = docker.inspect_image(reference).await {
        return Ok(image.id.unwrap_or_default());
    }
    let step = ui.step(reference, "pulling");
    match pull(docker, reference).await {
        Ok(id) => {
            step.done("pulled");
            Ok(id)
        }
        Err(reason) => {
            step.fail("not available");
            Err(Error::ImageUnavailable {
                service: service.to_owned(),
                image: reference.to_owned(),
                reason,
            })
        }
    }
}

/// Makes every image the services need exist, building what must be built, and returns the
/// image of each service.
pub async fn ensure(
    docker: &Docker,
    stack: &Stack,
    services: &[&ServiceSpec],
    ui: &Ui,
) -> Result<HashMap<String, ResolvedImage>> {
    let refs: Vec<(String, String)> = references(services).into_iter().collect();
    let targets: BTreeSet<CrateTarget> = services
        .iter()
        .filter_map(|s| match &s.image {
            ImageSource::Crate {
                krate,
                bin,
                profile,
                ..
            } => Some(CrateTarget {
                krate: krate.clone(),
                bin: bin.clone(),
                profile: profile.clone(),
            }),
            _ => None,
        })
        .collect();
    // cargo and the engine work on different things: let them overlap.
    let (ids, binaries) = tokio::try_join!(
        try_join_all(
            refs.iter()
                .map(|(r, service)| ensure_reference(docker, r, service, ui))
        ),
        compile(stack, targets, ui)
    )?;
    let ref_ids: HashMap<&str, String> = refs.iter().map(|(r, _)| r.as_str()).zip(ids).collect();

    let jobs = services.iter().map(|s| {
        let ref_ids = &ref_ids;
        let binaries = &binaries;
        async move {
            let tag = tag_for(&stack.name, &s.name);
            let result = match &s.image {
                ImageSource::Reference(r) => {
                    return Ok((
                        s.name.clone(),
                        ResolvedImage {
                            reference: r.clone(),
                            id: ref_ids[r.as_str()].clone(),
                        },
                    ))
                }
                ImageSource::Crate {
                    krate,
                    bin,
                    profile,
                    base,
                } => {
                    let target = CrateTarget {
                        krate: krate.clone(),
                        bin: bin.clone(),
                        profile: profile.clone(),
                    };
                    build::pack_binary(
                        docker,
                        ui,
                        &stack.name,
                        &s.name,
                        &tag,
                        base,
                        &ref_ids[base.as_str()],
                        &binaries[&target],
                        bin,
                    )
                    .await
                }
                ImageSource::Dockerfile {
                    context,
                    dockerfile,
                } => {
                    build::build_dockerfile(
                        docker,
                        ui,
                        &stack.name,
                        &s.name,
                        &tag,
                        context,
                        dockerfile,
                    )
                    .await
                }
            };
            let (id, _built) = result?;
            Ok::<_, Error>((s.name.clone(), ResolvedImage { reference: tag, id }))
        }
    });
    Ok(try_join_all(jobs).await?.into_iter().collect())
}

async fn compile(
    stack: &Stack,
    targets: BTreeSet<CrateTarget>,
    ui: &Ui,
) -> Result<HashMap<CrateTarget, std::path::PathBuf>> {
    if targets.is_empty() {
        return Ok(HashMap::new());
    }
    let targets: Vec<_> = targets.into_iter().collect();
    let workspace = stack.workspace.clone();
    let check = (workspace.clone(), targets.clone());
    let fresh = tokio::task::spawn_blocking(move || fresh::fresh_binaries(&check.0, &check.1))
        .await
        .expect("freshness task");
    if let Some(binaries) = fresh {
        return Ok(binaries);
    }
    let step = ui.step("cargo", "cargo build");
    let bar = step.bar().clone();
    // A watch runs its rounds under a handle that stops cargo on Ctrl-C.
    let cancel = cargo::Cancel::current();
    let result = tokio::task::spawn_blocking(move || {
        let started = std::time::SystemTime::now();
        let binaries = cargo::build(&workspace, &targets, &bar, &cancel)?;
        fresh::record(&workspace, started, &binaries);
        Ok(binaries)
    })
    .await
    .expect("cargo task");
    match &result {
        Ok(_) => step.done("built"),
        Err(_) => step.fail("cargo build failed"),
    }
    result
}
