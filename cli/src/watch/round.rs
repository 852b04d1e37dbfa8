//! One watch round: from changed paths to replaced, ready containers, told in one line.
//!
//! A round rebuilds the affected services with one `up` restricted to them (`no_deps`: their
//! databases and dependents are not touched; `rolling`: the old container serves until its
//! successor is ready), restarts the services whose mounted files changed, or, when the stack
//! file changed, applies it as `up` would. A build error is the compiler's text, once; the
//! running containers stay as they were.

use super::affected::WatchMap;
use super::schedule::Changes;
use super::workspace::Packages;
use crate::engine::plan::Action;
use crate::engine::up::{self, UpOptions, UpReport};
use crate::error::{Error, Result};
use crate::stack::Stack;
use crate::ui::Ui;
use bollard::Docker;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// What stays the same for the whole watch.
pub struct Session {
    pub docker: Docker,
    /// The stack file and `-p`: read again on every stack round.
    pub source: crate::stack::Source,
    /// The services named on the command line (all when empty).
    pub services: Vec<String>,
    pub profiles: Vec<String>,
}

/// The stack being watched, and which files make up its services.
pub struct State {
    pub stack: Stack,
    pub map: WatchMap,
}

impl State {
    pub fn new(session: &Session, stack: Stack) -> Result<State> {
        let packages = Packages::load(&stack.workspace)?;
        let selection: BTreeSet<String> =
            crate::graph::select(&stack, &session.services, &session.profiles)
                .map_err(Error::Usage)?
                .into_iter()
                .map(|s| s.name.clone())
                .collect();
        let map = WatchMap::new(&stack, &packages).only(&selection);
        Ok(State { stack, map })
    }
}

pub struct Outcome {
    /// The round's line.
    pub line: String,
    /// What follows the line: the compiler's errors, or why a service did not become ready.
    pub detail: Option<String>,
    /// The build error's text, to tell "still failing" from a new failure next round.
    pub build_error: Option<String>,
    /// A stack or workspace change: what to watch from now on.
    pub state: Option<State>,
    /// Whether a container was replaced or restarted (a `--logs` follower must start again).
    pub replaced: bool,
}

impl Outcome {
    fn new(line: String) -> Outcome {
        Outcome {
            line,
            detail: None,
            build_error: None,
            state: None,
            replaced: false,
        }
    }
}

/// Runs round `n` for `changes`; `last_error` is the previous round's build error, if any.
pub async fn run(
    session: &Session,
    state: &State,
    n: u32,
    changes: Changes,
    last_error: Option<&str>,
) -> Outcome {
    let started = Instant::now();
    let paths: Vec<PathBuf> = changes.paths.into_iter().collect();
    let affected = state.map.classify(&paths);
    let head = format!(
        "{} round {n}: {}",
        clock(),
        if changes.rescan {
            "the watcher lost events, checking everything".to_owned()
        } else {
            describe_paths(&affected.paths, &state.stack.workspace)
        }
    );
    if affected.stack || changes.rescan {
        return stack_round(session, head, started).await;
    }
    let ui = Ui::new(true);
    let mut parts = vec![head];
    let mut out = Outcome::new(String::new());
    let services: Vec<String> = affected.rebuild.iter().cloned().collect();
    let mut touched: Vec<String> = services.clone();
    touched.extend(affected.restart.iter().map(|s| format!("{s} (restart)")));
    parts.push(touched.join(", "));
    if !services.is_empty() {
        let opts = UpOptions {
            services,
            profiles: session.profiles.clone(),
            no_deps: true,
            rolling: true,
            ..Default::default()
        };
        match up::up(&session.docker, &state.stack, &opts, &ui).await {
            Ok(report) => {
                parts.push(format!("built {}", secs(report.images_took)));
                parts.push(replaced(&report, started.elapsed() - report.images_took));
                out.replaced = report.replaced() > 0;
            }
            Err(Error::Build { message, .. }) => {
                let again = last_error == Some(message.as_str());
                parts.push(format!(
                    "build failed after {}; running containers unchanged{}",
                    secs(started.elapsed()),
                    if again {
                        " (still the same errors)"
                    } else {
                        ":"
                    }
                ));
                if !again {
                    out.detail = Some(message.clone());
                }
                out.build_error = Some(message);
            }
            // A service replaced successor-first still runs its old containers; one replaced
            // stop-then-start (a published port, a volume) is down until the next good save.
            Err(e) => {
                parts.push(format!("failed after {}:", secs(started.elapsed())));
                out.detail = Some(e.lines().join("\n"));
            }
        }
    }
    if !affected.restart.is_empty() && out.detail.is_none() && out.build_error.is_none() {
        let restart: Vec<String> = affected.restart.iter().cloned().collect();
        let begun = Instant::now();
        match crate::engine::replace::restart(&session.docker, &state.stack, &restart).await {
            Ok(n) => {
                parts.push(format!("restarted {n}, ready in {}", secs(begun.elapsed())));
                out.replaced |= n > 0;
            }
            Err(e) => {
                parts.push("restart failed:".into());
                out.detail = Some(e.lines().join("\n"));
            }
        }
    }
    // A manifest changed: a dependency between workspace crates may have come or gone.
    if paths.iter().any(|p| p.ends_with("Cargo.toml")) {
        match State::new(session, state.stack.clone()) {
            Ok(s) => out.state = Some(s),
            Err(e) => out.detail = Some(e.lines().join("\n")),
        }
    }
    out.line = parts.join(" → ");
    out
}

/// The stack file changed (or the watcher lost events): read it again and apply it as `up`
/// would, rolling where it can; a file with errors changes nothing.
async fn stack_round(session: &Session, head: String, started: Instant) -> Outcome {
    let mut out = Outcome::new(head.clone());
    let applied = async {
        let stack = (session.source.load()).map_err(|e| ("the stack file has errors", e))?;
        let (stack, _) = crate::secrets::prepare(&session.docker, &session.source, stack, false)
            .await
            .map_err(|e| match e {
                Error::Stack(_) => ("the stack file has errors", e),
                e => ("generating secrets failed", e),
            })?;
        let opts = UpOptions {
            services: session.services.clone(),
            profiles: session.profiles.clone(),
            rolling: true,
            ..Default::default()
        };
        let report = up::up(&session.docker, &stack, &opts, &Ui::new(true))
            .await
            .map_err(|e| ("not applied", e))?;
        let state = State::new(session, stack).map_err(|e| ("not applied", e))?;
        Ok::<_, (&str, Error)>((report, state))
    }
    .await;
    match applied {
        Ok((report, state)) => {
            out.line = format!(
                "{head} → {} ({})",
                changed_containers(&report),
                secs(started.elapsed())
            );
            out.replaced = !report.is_noop();
            out.state = Some(state);
        }
        Err((what, e)) => {
            out.line = format!("{head} → {what}; the running stack is unchanged:");
            out.detail = Some(e.lines().join("\n"));
        }
    }
    out
}

/// `replaced 2/2, healthy in 2.1s`, or that the new binary made the same image.
fn replaced(report: &UpReport, took: Duration) -> String {
    match report.replaced() {
        0 => "same image, nothing replaced".into(),
        n => format!(
            "replaced {n}/{}, ready in {}",
            report.changes.len(),
            secs(took)
        ),
    }
}

/// What a stack round changed, as `up --plan` names it.
fn changed_containers(report: &UpReport) -> String {
    let changed: Vec<String> = report
        .changes
        .iter()
        .filter(|c| c.action != Action::Keep)
        .map(|c| format!("{}: {}", c.container, c.describe()))
        .collect();
    if changed.is_empty() {
        "nothing to change".into()
    } else {
        changed.join("; ")
    }
}

/// The first changed path relative to the workspace, and how many more.
fn describe_paths(paths: &[PathBuf], workspace: &Path) -> String {
    let Some(first) = paths.first() else {
        return "(nothing)".into();
    };
    let shown = first.strip_prefix(workspace).unwrap_or(first).display();
    match paths.len() {
        1 => shown.to_string(),
        n => format!("{shown} (+{})", n - 1),
    }
}

fn secs(d: Duration) -> String {
    format!("{:.1}s", d.as_secs_f64())
}

/// The time of day (UTC), for lines a developer scrolls back through.
fn clock() -> String {
    let now = humantime::format_rfc3339_seconds(std::time::SystemTime::now()).to_string();
    now.get(11..19).unwrap_or(&now).to_owned()
}
