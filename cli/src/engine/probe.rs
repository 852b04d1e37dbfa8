//! Running a container's healthcheck ourselves, for engines that cannot probe fast while a
//! container starts.
//!
//! A stack file's `start_interval` asks for quick probes while a container starts and
//! `interval` for the rest of its life. Engines from API 1.44 do that themselves. Older ones
//! (Debian's Docker 20.10 is API 1.41) run the first probe only one `interval` after the start.
//! There msctl runs the same test through exec every `start_interval` while `up` waits, and
//! `ps` does once for a container the engine has not probed yet. So a long `interval` costs
//! neither a slow `up` nor a wrong `ps`. Every probe is a process started in the container
//! (about 50 ms of CPU through runc): a dozen containers probed every second use a quarter of
//! a 2-core machine.
//!
//! A passing probe is remembered for that start of that container (its id and start time), so
//! that a no-op `up` or a `ps` soon after `up` does not probe again while the engine has not
//! checked yet. The memory is trusted only while the engine has logged no check at all.

use bollard::exec::{CreateExecOptions, StartExecResults};
use bollard::Docker;
use futures_util::StreamExt;
use std::time::Duration;

/// The first API version whose engines honour `start_interval`.
const NATIVE_START_INTERVAL: (usize, usize) = (1, 44);

/// Whether this engine probes at `start_interval` by itself.
pub fn engine_has_start_interval(docker: &Docker) -> bool {
    let v = docker.client_version();
    (v.major_version, v.minor_version) >= NATIVE_START_INTERVAL
}

fn memory_dir() -> std::path::PathBuf {
    std::env::temp_dir().join("msctl-start-probes")
}

/// Only what the engine says: whether this start of the container has not been checked by it.
fn engine_has_not_checked(state: &bollard::models::ContainerState) -> bool {
    state.health.as_ref().is_some_and(|h| {
        h.status == Some(bollard::models::HealthStatusEnum::STARTING)
            && h.failing_streak.unwrap_or(0) == 0
            && h.log.as_ref().is_none_or(|l| l.is_empty())
    })
}

fn start_of(state: &bollard::models::ContainerState) -> String {
    state.started_at.clone().unwrap_or_default()
}

/// Whether msctl saw this start of the container pass its healthcheck, and the engine has not
/// checked it since.
pub fn passed_before(id: &str, state: &bollard::models::ContainerState) -> bool {
    engine_has_not_checked(state)
        && std::fs::read_to_string(memory_dir().join(id)).is_ok_and(|s| s == start_of(state))
}

/// Remembers that this start of the container passed; forgets starts older than a week.
pub fn remember_pass(id: &str, state: &bollard::models::ContainerState) {
    let dir = memory_dir();
    if std::fs::create_dir_all(&dir).is_err() {
        return;
    }
    let _ = std::fs::write(dir.join(id), start_of(state));
    let week = Duration::from_secs(7 * 86_400);
    for entry in std::fs::read_dir(&dir).into_iter().flatten().flatten() {
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .is_ok_and(|t| t.elapsed().unwrap_or_default() > week);
        if old {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Runs a healthcheck `test` (`[CMD, …]` or `[CMD-SHELL, …]`, as the engine stores it) in the
/// container: `Ok(())` when it exits 0, otherwise what it printed or why it did not run.
pub async fn run(
    docker: &Docker,
    container: &str,
    test: &[String],
    timeout: Duration,
) -> Result<(), String> {
    let cmd: Vec<String> = match test.split_first() {
        Some((kind, rest)) if kind == "CMD-SHELL" => {
            vec!["/bin/sh".into(), "-c".into(), rest.join(" ")]
        }
        Some((kind, rest)) if kind == "CMD" => rest.to_vec(),
        _ => return Err("no healthcheck command".into()),
    };
    let exec = docker
        .create_exec(
            container,
            CreateExecOptions {
                cmd: Some(cmd),
                attach_stdout: Some(true),
                attach_stderr: Some(true),
                tty: Some(false),
                ..Default::default()
            },
        )
        .await
        .map_err(|e| crate::docker::short(&e))?;
    let mut said = String::new();
    let ran = tokio::time::timeout(timeout, async {
        if let StartExecResults::Attached { mut output, .. } = docker
            .start_exec(&exec.id, None)
            .await
            .map_err(|e| crate::docker::short(&e))?
        {
            while let Some(Ok(chunk)) = output.next().await {
                if said.len() < 4096 {
                    said.push_str(&String::from_utf8_lossy(&chunk.into_bytes()));
                }
            }
        }
        Ok::<(), String>(())
    })
    .await;
    match ran {
        Err(_) => {
            return Err(format!(
                "timed out after {}",
                humantime::format_duration(timeout)
            ))
        }
        Ok(Err(e)) => return Err(e),
        Ok(Ok(())) => {}
    }
    let inspected = docker
        .inspect_exec(&exec.id)
        .await
        .map_err(|e| crate::docker::short(&e))?;
    match inspected.exit_code {
        Some(0) => Ok(()),
        code => Err(format!(
            "exit code {}{}",
            code.map(|c| c.to_string())
                .unwrap_or_else(|| "unknown".into()),
            match said.trim() {
                "" => String::new(),
                s => format!(": {s}"),
            }
        )),
    }
}
