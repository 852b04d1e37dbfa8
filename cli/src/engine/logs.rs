//! Containers' output: `msctl logs` (every selected container's output as one stream, each line
//! prefixed with its container in a colour of its own; without `--follow` merged in time
//! order), and the lines error messages and test reports quote ([`tail`], [`since`]).

use crate::docker::short;
use crate::error::{Error, Result};
use bollard::container::LogOutput;
use bollard::query_parameters::LogsOptions;
use bollard::Docker;
use console::{style, Color};
use futures_util::stream::{select_all, StreamExt};

#[derive(Debug, Clone, Default)]
pub struct LogsOptionsCli {
    pub follow: bool,
    /// Unix seconds; 0 for all.
    pub since: i64,
    pub tail: Option<usize>,
    pub timestamps: bool,
}

const COLOURS: [Color; 6] = [
    Color::Cyan,
    Color::Green,
    Color::Yellow,
    Color::Magenta,
    Color::Blue,
    Color::Red,
];

/// The containers of `services` (all when empty) in `project`, by name; a service without
/// containers is a usage error (a typo, most likely).
pub async fn containers(
    docker: &Docker,
    project: &str,
    services: &[String],
) -> Result<Vec<String>> {
    let existing = super::existing(docker, project).await?;
    if let Some(unknown) = services
        .iter()
        .find(|s| !existing.iter().any(|e| &e.service == *s))
    {
        return Err(Error::Usage(format!(
            "no container of service `{unknown}` in project `{project}`"
        )));
    }
    Ok(existing
        .into_iter()
        .filter(|e| services.is_empty() || services.contains(&e.service))
        .map(|e| e.name)
        .collect())
}

/// Streams the logs of `containers` (names) to stdout.
pub async fn logs(docker: &Docker, containers: &[String], opts: &LogsOptionsCli) -> Result<()> {
    let width = containers.iter().map(String::len).max().unwrap_or(0);
    let streams = containers.iter().enumerate().map(|(i, name)| {
        let options = LogsOptions {
            follow: opts.follow,
            stdout: true,
            stderr: true,
            since: opts.since as i32,
            // Docker's own timestamps order the merged stream; shown only when asked.
            timestamps: true,
            tail: opts
                .tail
                .map(|n| n.to_string())
                .unwrap_or_else(|| "all".into()),
            ..Default::default()
        };
        let prefix = style(format!("{name:width$} |"))
            .fg(COLOURS[i % COLOURS.len()])
            .to_string();
        docker
            .logs(name, Some(options))
            .map(move |item| (prefix.clone(), item))
            .boxed()
    });
    let mut merged = select_all(streams);
    let mut buffered: Vec<(String, String, String)> = Vec::new();
    while let Some((prefix, item)) = merged.next().await {
        let output = item.map_err(Error::docker("reading logs"))?;
        let text = match output {
            LogOutput::StdOut { message }
            | LogOutput::StdErr { message }
            | LogOutput::Console { message } => message,
            LogOutput::StdIn { .. } => continue,
        };
        for line in String::from_utf8_lossy(&text).lines() {
            let (stamp, body) = line.split_once(' ').unwrap_or(("", line));
            if opts.follow {
                print_line(&prefix, stamp, body, opts.timestamps);
            } else {
                buffered.push((stamp.to_owned(), prefix.clone(), body.to_owned()));
            }
        }
    }
    // RFC 3339 stamps with fixed nanosecond width sort as text.
    buffered.sort_by(|a, b| a.0.cmp(&b.0));
    for (stamp, prefix, body) in buffered {
        print_line(&prefix, &stamp, &body, opts.timestamps);
    }
    Ok(())
}

fn print_line(prefix: &str, stamp: &str, body: &str, timestamps: bool) {
    if timestamps {
        println!("{prefix} {stamp} {body}");
    } else {
        println!("{prefix} {body}");
    }
}

/// The last `n` lines a container wrote, for error messages.
pub async fn tail(docker: &Docker, container: &str, n: usize) -> Vec<String> {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        tail: n.to_string(),
        ..Default::default()
    };
    let (mut lines, error) = read_lines(docker, container, options).await;
    if let Some(e) = error {
        lines.push(format!("(logs unavailable: {})", short(&e)));
    }
    let skip = lines.len().saturating_sub(n);
    lines.split_off(skip)
}

/// A container's log lines since `since` (Unix seconds), each starting with Docker's RFC 3339
/// timestamp and a space; what could be read when the engine fails half-way.
pub async fn since(docker: &Docker, container: &str, since: i64) -> Vec<String> {
    let options = LogsOptions {
        stdout: true,
        stderr: true,
        since: since as i32,
        // Docker's own time on every line, so lines of all services can be merged in order.
        timestamps: true,
        ..Default::default()
    };
    read_lines(docker, container, options).await.0
}

/// The lines of a finite log stream, and the error that ended it early, if one did.
async fn read_lines(
    docker: &Docker,
    container: &str,
    options: LogsOptions,
) -> (Vec<String>, Option<bollard::errors::Error>) {
    let mut stream = docker.logs(container, Some(options));
    let mut lines = Vec::new();
    while let Some(item) = stream.next().await {
        match item {
            Ok(out) => lines.extend(
                String::from_utf8_lossy(&out.into_bytes())
                    .lines()
                    .map(str::to_owned),
            ),
            Err(e) => return (lines, Some(e)),
        }
    }
    (lines, None)
}

/// `--since` as Unix seconds: an RFC 3339 time or a duration back from now (`10m`).
pub fn parse_since(text: &str) -> std::result::Result<i64, String> {
    if let Ok(d) = humantime::parse_duration(text) {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default();
        return Ok(now.saturating_sub(d).as_secs() as i64);
    }
    humantime::parse_rfc3339_weak(text)
        .map(|t| {
            t.duration_since(std::time::UNIX_EPOCH)
                .unwrap_or_default()
                .as_secs() as i64
        })
        .map_err(|_| {
            format!("`{text}` is neither a duration (10m) nor a time (2026-01-02T15:04:05)")
        })
}
