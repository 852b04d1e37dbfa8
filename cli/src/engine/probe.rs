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
