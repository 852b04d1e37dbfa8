//! Images built by msctl: a workspace crate compiled on the host ([`crate::cargo`]) and packed
//! onto a runtime base, or a Dockerfile through the classic builder. Both skip the Docker build
//! when their input is unchanged, which is what keeps a no-op `up` fast.

use crate::docker::{short, LABEL_BINARY, LABEL_PROJECT};
use crate::error::{Error, Result};
use bollard::query_parameters::BuildImageOptionsBuilder;
use bollard::Docker;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::path::Path;

/// What decides whether a packed image is current: the sha256 of the binary and the base
/// image's id. An identical binary (a `touch`, a rebuild that changed nothing) gives the same
/// fingerprint, and the classic builder's cache then gives the same image id: nothing restarts.
///
/// Hashing a large debug binary on every `up` would cost the no-op its speed, so the hash is
/// cached beside the binary, keyed by its size and mtime (cargo rewrites it only when it changed).
pub fn binary_fingerprint(binary: &Path, base_id: &str) -> Result<String> {
    use sha2::{Digest, Sha256};
    let read_err = Error::io(format!("reading {}", binary.display()));
    let meta = std::fs::metadata(binary).map_err(read_err)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map(|d| d.as_nanos())
        .unwrap_or_default();
    let stat = format!("{} {}", meta.len(), mtime);
    let cache = binary.with_extension("msctl-sha256");
    let cached = std::fs::read_to_string(&cache)
        .ok()
        .and_then(|c| c.strip_prefix(&format!("{stat} ")).map(str::to_owned));
    let hash = match cached {
        Some(hash) => hash.trim().to_owned(),
        None => {
            let mut file = std::fs::File::open(binary)
                .map_err(Error::io(format!("reading {}", binary.display())))?;
            let mut hasher = Sha256::new();
            std::io::copy(&mut file, &mut hasher)
                .map_err(Error::io(format!("reading {}", binary.display())))?;
            let hash = hex::encode(hasher.finalize());
            // Only a cache: if it cannot be written, the next run hashes again.
            let _ = std::fs::write(&cache, format!("{stat} {hash}\n"));
            hash
        }
    };
    Ok(format!("sha256:{hash}@{base_id}"))
}

/// Packs `binary` onto `base` as `tag`, unless `tag` already holds that exact binary.
/// Returns the image id and whether a build happened.
#[allow(clippy::too_many_arguments)]
pub async fn pack_binary(
    docker: &Docker,
    ui: &crate::ui::Ui,
    project: &str,
    service: &str,
    tag: &str,
    base: &str,
    base_id: &str,
    binary: &Path,
    bin: &str,
) -> Result<(String, bool)> {
    let fingerprint = binary_fingerprint(binary, base_id)?;
    if let Some(id) = built_from(docker, tag, &fingerprint).await {
        return Ok((id, false));
    }
    // Not a Dockerfile build: the classic builder commits a layer per instruction (COPY,
    // LABEL, ENTRYPOINT), 1-2 s each on this engine, which was most of a watch round after
    // cargo. A container of the base image gets the binary and is committed once, with the
    // entrypoint and labels as the image's config (an entrypoint set there also clears the
    // base image's CMD, as ENTRYPOINT in a Dockerfile does).
    let step = ui.step(service, "packing image");
    let binary = binary.to_path_buf();
    let target = format!("usr/local/bin/{bin}");
    let archive = tokio::task::spawn_blocking(move || -> std::io::Result<Vec<u8>> {
        let mut tar = tar::Builder::new(Vec::new());
        let mut file = std::fs::File::open(&binary)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(file.metadata()?.len());
        header.set_mode(0o755);
        header.set_cksum();
        tar.append_data(&mut header, &target, &mut file)?;
        tar.into_inner()
    })
    .await
    .expect("tar task")
    .map_err(Error::io("packing the binary"))?;
    let labels = HashMap::from([
        (LABEL_PROJECT.to_string(), project.to_string()),
        (LABEL_BINARY.to_string(), fingerprint),
    ]);
    // Named, so that one left by an interrupted msctl (killed between create and remove) is
    // found and replaced by the next pack instead of piling up unnamed.
    let scratch = format!("msctl-pack-{project}-{service}");
    let packed = commit_with(docker, &scratch, tag, base, archive, bin, labels).await;
    match &packed {
        Ok(_) => step.done("image packed"),
        Err(_) => step.fail("packing failed"),
    }
    packed.map(|id| (id, true)).map_err(|e| Error::Build {
        service: service.to_owned(),
        message: e.to_string(),
    })
}

/// `base` plus `archive` unpacked at `/`, committed as `tag` with `/usr/local/bin/<bin>` as
/// the entrypoint and `labels`; the container used for it is removed in any case.
async fn commit_with(
    docker: &Docker,
    scratch: &str,
    tag: &str,
    base: &str,
    archive: Vec<u8>,
    bin: &str,
    labels: HashMap<String, String>,
) -> std::result::Result<String, bollard::errors::Error> {
    use bollard::models::{ContainerConfig, ContainerCreateBody};
    use bollard::query_parameters::{
        CommitContainerOptions, CreateContainerOptions, RemoveContainerOptions,
        UploadToContainerOptions,
    };
    let remove = || RemoveContainerOptions {
        force: true,
        ..Default::default()
    };
    // Left by an interrupted pack, if any.
    let _ = docker.remove_container(scratch, Some(remove())).await;
    let created = docker
        .create_container(
            Some(CreateContainerOptions {
                name: Some(scratch.to_owned()),
                ..Default::default()
            }),
            ContainerCreateBody {
                // No label of its own: the commit would pass it on to the image, and from
                // there to every container of the service.
                image: Some(base.to_owned()),
                ..Default::default()
            },
        )
        .await?;
    let committed = async {
        let upload = UploadToContainerOptions {
            path: "/".into(),
            ..Default::default()
        };
        docker
            .upload_to_container(
                &created.id,
                Some(upload),
                bollard::body_full(archive.into()),
            )
            .await?;
        let (repo, version) = tag.rsplit_once(':').unwrap_or((tag, "latest"));
        let options = CommitContainerOptions {
            container: Some(created.id.clone()),
            repo: Some(repo.to_owned()),
            tag: Some(version.to_owned()),
            pause: false,
            ..Default::default()
        };
        let config = ContainerConfig {
            entrypoint: Some(vec![format!("/usr/local/bin/{bin}")]),
            labels: Some(labels),
            ..Default::default()
        };
        docker.commit_container(options, config).await
    }
    .await;
    let _ = docker.remove_container(&created.id, Some(remove())).await;
    Ok(committed?.id)
}

/// Builds a Dockerfile service, skipping the build when no file of the context changed.
pub async fn build_dockerfile(
    docker: &Docker,
    ui: &crate::ui::Ui,
    project: &str,
    service: &str,
    tag: &str,
    context_dir: &Path,
    dockerfile: &str,
) -> Result<(String, bool)> {
    let dir = context_dir.to_path_buf();
    let name = dockerfile.to_owned();
    let (context, fingerprint) = tokio::task::spawn_blocking(move || tar_context(&dir, &name))
        .await
        .expect("tar task")
        .map_err(Error::io(format!(
            "packing the build context {}",
            context_dir.display()
        )))?;
    if let Some(id) = built_from(docker, tag, &fingerprint).await {
        return Ok((id, false));
    }
    let labels = HashMap::from([
        (LABEL_PROJECT.to_string(), project.to_string()),
        (LABEL_BINARY.to_string(), fingerprint),
    ]);
    let id = run_build(docker, ui, service, tag, dockerfile, &labels, context).await?;
    Ok((id, true))
}

/// Tars a build context (skipping `target/` and `.git/`) and fingerprints it by its bytes.
fn tar_context(dir: &Path, dockerfile: &str) -> std::io::Result<(Vec<u8>, String)> {
    use sha2::{Digest, Sha256};
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for entry in std::fs::read_dir(&d)? {
            let entry = entry?;
            let path = entry.path();
            let name = entry.file_name();
            if name == "target" || name == ".git" {
                continue;
            }
            let kind = entry.file_type()?;
            if kind.is_dir() && !kind.is_symlink() {
                stack.push(path);
            } else {
                files.push(path);
            }
        }
    }
    files.sort();
    let mut tar = tar::Builder::new(Vec::new());
    tar.follow_symlinks(false);
    let mut hash = Sha256::new();
    hash.update(dockerfile.as_bytes());
    for path in files {
        let rel = path.strip_prefix(dir).expect("under dir");
        hash.update(rel.to_string_lossy().as_bytes());
        match std::fs::read_link(&path) {
            Ok(target) => hash.update(target.to_string_lossy().as_bytes()),
            Err(_) => hash.update(std::fs::read(&path)?),
        }
        tar.append_path_with_name(&path, rel)?;
    }
    Ok((tar.into_inner()?, hex::encode(hash.finalize())))
}

/// The id of `tag` if it was built from exactly `fingerprint` (its `msctl.binary` label).
async fn built_from(docker: &Docker, tag: &str, fingerprint: &str) -> Option<String> {
    let image = docker.inspect_image(tag).await.ok()?;
    let label = image.config.as_ref()?.labels.as_ref()?.get(LABEL_BINARY)?;
    (label == fingerprint).then(|| image.id.unwrap_or_default())
}

async fn run_build(
    docker: &Docker,
    ui: &crate::ui::Ui,
    service: &str,
    tag: &str,
    dockerfile: &str,
    labels: &HashMap<String, String>,
    context: Vec<u8>,
) -> Result<String> {
    let options = BuildImageOptionsBuilder::default()
        .dockerfile(dockerfile)
        .t(tag)
        .rm(true)
        .forcerm(true)
        .labels(labels)
        .build();
    let step = ui.step(service, "building image");
    let fail = |message: String| {
        step.fail("image build failed");
        Error::Build {
            service: service.to_owned(),
            message,
        }
    };
    let mut stream = docker.build_image(options, None, Some(bollard::body_full(context.into())));
    let mut built = false;
    let mut log = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(info) => {
                if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                    return Err(fail(format!("{detail}\n{}", log.join(""))));
                }
                if let Some(line) = info.stream {
                    if let Some(progress) = line.strip_prefix("Step ") {
                        step.set(&format!("building image: step {}", progress.trim()));
                    }
                    built |= line.starts_with("Successfully built");
                    log.push(line);
                }
                built |= info.aux.is_some();
            }
            // The engine may close the stream early once the image exists.
            Err(e) if built && short(&e).contains("bytes remaining on stream") => break,
            // bollard reports the engine's errorDetail as an error item: keep the build output.
            Err(e) => return Err(fail(format!("{}\n{}", short(&e), log.join("").trim_end()))),
        }
    }
    let image = docker
        .inspect_image(tag)
        .await
        .map_err(|e| fail(format!("image {tag} missing after build: {}", short(&e))))?;
    step.done("image built");
    Ok(image.id.unwrap_or_default())
}
