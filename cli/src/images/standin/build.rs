//! One stand-in build: the base (debootstrap, once per suite), the recipe's packages in a
//! chroot, its files, `docker import`, and the stop signal, each step logged; then tag and verify.

use super::cache::{cache_dir, Log, Paths, WorkDir};
use super::debootstrap::{
    copy_resolv_conf, finish_root, in_chroot, mirrors, namespaced, tool_command, write_file,
    Reporter,
};
use super::recipe::{base_hash, recipe_for, Recipe, BASE_FILES, BASE_SETUP, BUILD, CLEANUP};
use super::{current_standin, find_tool, StandInError, HOOK_DIR, LABEL_RECIPE};
use bollard::query_parameters::{
    BuildImageOptionsBuilder, BuilderVersion, CreateImageOptionsBuilder, ListImagesOptionsBuilder,
    TagImageOptionsBuilder,
};
use bollard::Docker;
use bytes::Bytes;
use futures_util::StreamExt;
use indicatif::ProgressBar;
use std::collections::{HashMap, VecDeque};
use std::fs;
use std::io::{self, BufRead, BufReader};
use std::path::Path;
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use tokio::io::{AsyncRead, AsyncReadExt};

/// One stand-in build: the context every step needs.
pub(super) struct Build<'a> {
    pub(super) docker: &'a Docker,
    pub(super) image: String,
    pub(super) recipe: &'a Recipe,
    pub(super) hash: String,
    pub(super) paths: Paths,
    pub(super) reporter: Reporter,
}

impl<'a> Build<'a> {
    pub(super) fn new(
        docker: &'a Docker,
        image: &str,
        recipe: &'a Recipe,
        hash: &str,
        progress: &ProgressBar,
    ) -> Result<Self, StandInError> {
        let root = cache_dir();
        let paths = Paths {
            base_tar: root.join(format!(
                "base-{}-{}.tar",
                recipe.suite,
                &base_hash(recipe.suite)[..16]
            )),
            work: root.join("work"),
            locks: root.join("locks"),
            logs: root.join("logs"),
        };
        let build = Build {
            docker,
            image: image.to_owned(),
            recipe,
            hash: hash.to_owned(),
            paths,
            reporter: Reporter::new(progress.clone()),
        };
        for dir in [&build.paths.work, &build.paths.locks, &build.paths.logs] {
            fs::create_dir_all(dir).map_err(build.io(format!("create {}", dir.display())))?;
        }
        Ok(build)
    }

    pub(super) fn io(&self, action: impl Into<String>) -> impl FnOnce(io::Error) -> StandInError {
        let image = self.image.clone();
        let action = action.into();
        move |source| StandInError::Io {
            image,
            action,
            source,
        }
    }

    pub(super) fn docker_err(
        &self,
        action: impl Into<String>,
    ) -> impl FnOnce(bollard::errors::Error) -> StandInError {
        let image = self.image.clone();
        let action = action.into();
        move |source| StandInError::Docker {
            image,
            action,
            source,
        }
    }

    /// An exclusive lock on `path` (flock: also excludes other tasks of this process).
    pub(super) async fn lock(&self, path: &Path) -> Result<fs::File, StandInError> {
        let p = path.to_owned();
        let file = tokio::task::spawn_blocking(move || -> io::Result<fs::File> {
            let f = fs::OpenOptions::new()
                .create(true)
                .truncate(false)
                .write(true)
                .open(&p)?;
            f.lock()?;
            Ok(f)
        })
        .await
        .expect("lock task panicked");
        file.map_err(self.io(format!("lock {}", path.display())))
    }

    /// An image other than the tag's that was built from the same recipe.
    pub(super) async fn same_recipe_elsewhere(&self) -> Result<Option<String>, StandInError> {
        let filters = HashMap::from([("label", vec![format!("{LABEL_RECIPE}={}", self.hash)])]);
        let images = self
            .docker
            .list_images(Some(
                ListImagesOptionsBuilder::new().filters(&filters).build(),
            ))
            .await
            .map_err(self.docker_err("list images"))?;
        // Images built FROM a stand-in inherit its labels, the recipe label included; only an
        // image tagged as a stand-in of this recipe is one.
        let is_standin = |tag: &String| recipe_for(tag).is_some_and(|r| r.hash() == self.hash);
        Ok(images
            .into_iter()
            .find(|i| i.repo_tags.iter().any(is_standin))
            .map(|i| i.id))
    }

    pub(super) async fn tag(
        &self,
        id: &str,
        repository: &str,
        tag: &str,
    ) -> Result<(), StandInError> {
        self.docker
            .tag_image(
                id,
                Some(
                    TagImageOptionsBuilder::new()
                        .repo(repository)
                        .tag(tag)
                        .build(),
                ),
            )
            .await
            .map_err(self.docker_err(format!("tag {id} as {repository}:{tag}")))
    }

    pub(super) async fn verify(&self) -> Result<String, StandInError> {
        match current_standin(self.docker, &self.image, &self.hash)
            .await?
            .matching
        {
            Some(id) => Ok(id),
            None => Err(StandInError::Verify {
                image: self.image.clone(),
                expected: self.hash.clone(),
            }),
        }
    }

    /// Builds the image and tags it `repository:tag`.
    pub(super) async fn run(&self, repository: &str, tag: &str) -> Result<(), StandInError> {
        self.ensure_base().await?;
        let log_path = self.paths.logs.join(format!(
            "{}-{}.log",
            log_name(&self.image),
            &self.hash[..16]
        ));
        let log =
            Log::create(&log_path).map_err(self.io(format!("create {}", log_path.display())))?;

        // When a build step follows, the import gets neither the tag nor the labels: only a
        // finished image may ever be found by them.
        let mut changes = self.recipe.changes.clone();
        let import_tag = if self.recipe.stop_signal.is_none() {
            changes.push(self.recipe.label_instruction(&self.hash));
            Some((repository, tag))
        } else {
            None
        };
        let id = if self.recipe.packages.is_empty() {
            // The base is the whole image.
            self.reporter.phase("importing");
            let file = tokio::fs::File::open(&self.paths.base_tar)
                .await
                .map_err(self.io(format!("open {}", self.paths.base_tar.display())))?;
            self.import(file, &changes, import_tag).await?
        } else {
            let work = WorkDir::create(
                &self.paths.work,
                &format!("{}-{}", log_name(&self.image), &self.hash[..12]),
            )
            .map_err(self.io("create a work directory"))?;
            let root = work.path.join("rootfs");
            fs::create_dir(&root).map_err(self.io(format!("create {}", root.display())))?;

            self.reporter
                .phase(format!("unpacking the {} base", self.recipe.suite));
            let mut tar = tool_command("tar");
            tar.arg("--numeric-owner")
                .arg("-xpf")
                .arg(&self.paths.base_tar)
                .arg("-C")
                .arg(&root);
            self.step("unpacking the base", tar, &log).await?;

            let hooks_dir = root.join(HOOK_DIR);
            let mut hooks = vec![BUILD, CLEANUP];
            hooks.extend(self.recipe.hooks.iter().copied());
            for h in &hooks {
                write_file(&root, &hooks_dir.join(h.path), h)
                    .map_err(self.io(format!("write the build hook {}", h.path)))?;
            }
            copy_resolv_conf(&root)
                .map_err(self.io("copy /etc/resolv.conf into the build root"))?;

            self.reporter
                .phase(format!("installing {}", self.recipe.packages.join(" ")));
            let mut chroot = in_chroot(&root, &format!("/bin/sh -eu /{HOOK_DIR}/build.sh"));
            chroot.env("MSCTL_PACKAGES", self.recipe.packages.join(" "));
            self.step(
                &format!("installing {}", self.recipe.packages.join(" ")),
                chroot,
                &log,
            )
            .await?;

            self.reporter.phase("adding files");
            finish_root(&root).map_err(self.io("clean up the build root"))?;
            for f in &self.recipe.files {
                write_file(&root, &root.join(f.path.trim_start_matches('/')), f)
                    .map_err(self.io(format!("add {}", f.path)))?;
            }

            self.reporter.phase("importing");
            let mut tar = tool_command("tar");
            tar.arg("--numeric-owner")
                .arg("-C")
                .arg(&root)
                .arg("-cf")
                .arg("-")
                .arg(".")
                .stdout(Stdio::piped())
                .stderr(Stdio::piped());
            let mut child = tar
                .spawn()
                .map_err(self.io("start tar to pack the image"))?;
            let stdout = child.stdout.take().expect("piped stdout");
            let mut stderr = child.stderr.take().expect("piped stderr");
            let stderr_task = tokio::spawn(async move {
                let mut s = String::new();
                let _ = stderr.read_to_string(&mut s).await;
                s
            });
            let id = self.import(stdout, &changes, import_tag).await;
            let status = child.wait().await.map_err(self.io("wait for tar"))?;
            let tar_err = stderr_task.await.unwrap_or_default();
            if !status.success() {
                return Err(StandInError::StepFailed {
                    image: self.image.clone(),
                    step: "packing the root filesystem with tar".to_owned(),
                    status: describe_status(status),
                    tail: indent(&tar_err),
                    log: log_path.clone(),
                });
            }
            let id = id?;
            self.reporter.phase("removing the work directory");
            drop(work);
            id
        };

        if let Some(signal) = self.recipe.stop_signal {
            self.reporter
                .phase(format!("setting the stop signal ({signal})"));
            self.add_stop_signal(&id, signal, &format!("{repository}:{tag}"))
                .await?;
        }
        log.line(&format!("built {} as {id}", self.image));
        Ok(())
    }

    /// Makes sure the base tarball exists (built once; other builds wait on its lock).
    pub(super) async fn ensure_base(&self) -> Result<(), StandInError> {
        if self.paths.base_tar.is_file() {
            return Ok(());
        }
        let lock_name = format!(
            "{}.lock",
            self.paths.base_tar.file_name().unwrap().to_string_lossy()
        );
        self.reporter
            .phase(format!("waiting for the {} base", self.recipe.suite));
        let _lock = self.lock(&self.paths.locks.join(lock_name)).await?;
        if self.paths.base_tar.is_file() {
            return Ok(());
        }
        let suite = self.recipe.suite;
        let log_path = self.paths.logs.join(format!("base-{suite}.log"));
        let log =
            Log::create(&log_path).map_err(self.io(format!("create {}", log_path.display())))?;
        let work = WorkDir::create(&self.paths.work, &format!("base-{suite}"))
            .map_err(self.io("create a work directory"))?;
        let root = work.path.join("rootfs");
        let (mirror, security) = mirrors(suite);

        self.reporter.phase(format!("debootstrap {suite}"));
        let mut cmd = namespaced();
        cmd.arg(find_tool("debootstrap").unwrap_or_else(|| "debootstrap".into()))
            .arg("--variant=minbase")
            .arg("--components=main")
            .arg(suite)
            .arg(&root)
            .arg(&mirror);
        self.step(&format!("debootstrap {suite} from {mirror}"), cmd, &log)
            .await?;

        for f in &BASE_FILES {
            write_file(&root, &root.join(f.path.trim_start_matches('/')), f)
                .map_err(self.io(format!("add {}", f.path)))?;
        }
        for h in [BASE_SETUP, CLEANUP] {
            write_file(&root, &root.join(HOOK_DIR).join(h.path), &h)
                .map_err(self.io(format!("write the build hook {}", h.path)))?;
        }
        copy_resolv_conf(&root).map_err(self.io("copy /etc/resolv.conf into the build root"))?;
        let mut chroot = in_chroot(
            &root,
            &format!("/bin/sh -eu /{HOOK_DIR}/setup.sh && /bin/sh -eu /{HOOK_DIR}/cleanup.sh"),
        );
        chroot
            .env("MSCTL_SUITE", suite)
            .env("MSCTL_MIRROR", &mirror)
            .env("MSCTL_SECURITY_MIRROR", &security);
        self.step(&format!("setting up the {suite} base"), chroot, &log)
            .await?;
        finish_root(&root).map_err(self.io("clean up the base root"))?;

        self.reporter.phase(format!("packing the {suite} base"));
        let partial = self.paths.base_tar.with_extension("tar.partial");
        let mut tar = tool_command("tar");
        tar.arg("--numeric-owner")
            .arg("--sort=name")
            .arg("-C")
            .arg(&root)
            .arg("-cf")
            .arg(&partial)
            .arg(".");
        self.step("packing the base", tar, &log).await?;
        fs::rename(&partial, &self.paths.base_tar).map_err(self.io(format!(
            "move the base into {}",
            self.paths.base_tar.display()
        )))?;
        log.line(&format!("base ready: {}", self.paths.base_tar.display()));
        drop(work);
        Ok(())
    }

    /// Runs `cmd`, its output into `log` and the progress bar; fails with the output's tail.
    pub(super) async fn step(
        &self,
        what: &str,
        mut cmd: tokio::process::Command,
        log: &Log,
    ) -> Result<(), StandInError> {
        log.line(&format!("==> {what}"));
        let (reader, writer) = io::pipe().map_err(self.io("create a pipe"))?;
        let writer2 = writer.try_clone().map_err(self.io("create a pipe"))?;
        cmd.stdin(Stdio::null())
            .stdout(Stdio::from(writer))
            .stderr(Stdio::from(writer2))
            .kill_on_drop(true);
        let spawned = cmd.spawn();
        // The command keeps copies of the pipe's write end: drop them, or the reader never
        // sees the end of the output.
        drop(cmd);
        let mut child = spawned.map_err(self.io(format!("start {what}")))?;
        let reporter = self.reporter.clone();
        let log2 = log.clone();
        let reader_task = tokio::task::spawn_blocking(move || {
            let mut tail = VecDeque::with_capacity(TAIL_LINES);
            let mut buf = Vec::new();
            let mut reader = BufReader::new(reader);
            loop {
                buf.clear();
                match reader.read_until(b'\n', &mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(_) => {}
                }
                let text = String::from_utf8_lossy(&buf);
                for line in text.split('\r') {
                    let line = line.trim_end();
                    if line.is_empty() {
                        continue;
                    }
                    log2.line(line);
                    reporter.line(line);
                    if tail.len() == TAIL_LINES {
                        tail.pop_front();
                    }
                    tail.push_back(line.to_owned());
                }
            }
            tail
        });
        let status = child
            .wait()
            .await
            .map_err(self.io(format!("wait for {what}")))?;
        let tail = reader_task.await.unwrap_or_default();
        if status.success() {
            return Ok(());
        }
        Err(StandInError::StepFailed {
            image: self.image.clone(),
            step: what.to_owned(),
            status: describe_status(status),
            tail: indent(&tail.into_iter().collect::<Vec<_>>().join("\n")),
            log: log.path.clone(),
        })
    }

    /// `docker import` of the tar stream `body`; returns the new image id.
    pub(super) async fn import<R: AsyncRead + Unpin + Send + 'static>(
        &self,
        body: R,
        changes: &[String],
        tag: Option<(&str, &str)>,
    ) -> Result<String, StandInError> {
        let sent = Arc::new(AtomicU64::new(0));
        let reporter = self.reporter.clone();
        let counter = sent.clone();
        let stream = futures_util::stream::unfold(Some(body), move |state| {
            let counter = counter.clone();
            let reporter = reporter.clone();
            async move {
                let mut reader = state?;
                let mut buf = vec![0u8; 1 << 20];
                match reader.read(&mut buf).await {
                    Ok(0) => None,
                    Ok(n) => {
                        buf.truncate(n);
                        let total = counter.fetch_add(n as u64, Ordering::Relaxed) + n as u64;
                        reporter.detail(&format!("{} MiB", total >> 20));
                        Some((Ok(Bytes::from(buf)), Some(reader)))
                    }
                    Err(e) => Some((Err(e), None)),
                }
            }
        });
        let mut options = CreateImageOptionsBuilder::new()
            .from_src("-")
            .changes(changes.to_vec())
            .message(&format!(
                "msctl stand-in: {}",
                self.recipe.describe_content()
            ));
        if let Some((repo, tag)) = tag {
            options = options.repo(repo).tag(tag);
        }
        let mut results = self.docker.create_image(
            Some(options.build()),
            Some(bollard::body_try_stream(stream)),
            None,
        );
        let mut id = None;
        while let Some(item) = results.next().await {
            let info = item.map_err(self.docker_err("import the root filesystem"))?;
            if let Some(status) = info.status.as_deref() {
                if status.starts_with("sha256:") {
                    id = Some(status.trim().to_owned());
                }
            }
        }
        id.ok_or_else(|| StandInError::Docker {
            image: self.image.clone(),
            action: "import the root filesystem".to_owned(),
            source: bollard::errors::Error::DockerStreamError {
                error: "the import answered without an image id".to_owned(),
            },
        })
    }

    /// `FROM <id>` + `STOPSIGNAL` + the labels, tagged `image_ref`, with the classic builder
    /// (it needs no registry: the base is the local image `id`).
    pub(super) async fn add_stop_signal(
        &self,
        id: &str,
        signal: &str,
        image_ref: &str,
    ) -> Result<(), StandInError> {
        let dockerfile = format!(
            "FROM {id}\nSTOPSIGNAL {signal}\n{}\n",
            self.recipe.label_instruction(&self.hash)
        );
        let mut context = tar::Builder::new(Vec::new());
        let mut header = tar::Header::new_gnu();
        header.set_size(dockerfile.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_cksum();
        context
            .append_data(&mut header, "Dockerfile", dockerfile.as_bytes())
            .map_err(self.io("make the build context"))?;
        let context = context
            .into_inner()
            .map_err(self.io("make the build context"))?;
        let options = BuildImageOptionsBuilder::new()
            .dockerfile("Dockerfile")
            .t(image_ref)
            .rm(true)
            .forcerm(true)
            .version(BuilderVersion::BuilderV1)
            .build();
        let mut results = self.docker.build_image(
            options,
            None,
            Some(bollard::body_full(Bytes::from(context))),
        );
        while let Some(item) = results.next().await {
            let info = item.map_err(self.docker_err("set the stop signal"))?;
            if let Some(detail) = info.error_detail.and_then(|d| d.message) {
                return Err(StandInError::Docker {
                    image: self.image.clone(),
                    action: "set the stop signal".to_owned(),
                    source: bollard::errors::Error::DockerStreamError { error: detail },
                });
            }
        }
        Ok(())
    }
}

pub(super) const TAIL_LINES: usize = 20;

pub(super) fn indent(s: &str) -> String {
    s.lines()
        .map(|l| format!("    {l}"))
        .collect::<Vec<_>>()
        .join("\n")
}

pub(super) fn describe_status(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    match (status.code(), status.signal()) {
        (Some(code), _) => format!("exited with status {code}"),
        (None, Some(sig)) => format!("was killed by signal {sig}"),
        _ => "failed".to_owned(),
    }
}

/// A file-name-safe form of an image reference.
pub(super) fn log_name(image: &str) -> String {
    image
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                c
            } else {
                '_'
            }
        })
        .collect()
}
