//! `msctl up --watch`: after `up`, every saved change rebuilds and replaces exactly the
//! services it affects, health-gated, one round at a time.
//!
//! - [`workspace`] reads the crate graph (`cargo metadata`);
//! - [`affected`] maps changed paths to the services to rebuild or restart, or to a whole `up`
//!   when the stack file changed, and lists the directories to watch;
//! - [`ignore`] tells noise (build output, `.git`, editors' temporary files, what git ignores)
//!   from changes;
//! - [`events`] is the watcher (notify's debouncer), reads filtered out;
//! - [`schedule`] runs one round at a time and folds what changes meanwhile into one more;
//! - [`round`] is a round: build, replace, one line.

pub mod affected;
pub mod events;
pub mod ignore;
pub mod round;
pub mod schedule;
pub mod workspace;

use crate::cargo::Cancel;
use crate::engine::logs::{self, LogsOptionsCli};
use crate::error::Result;
use round::{Outcome, Session, State};
use schedule::{Changes, Scheduler};
use std::sync::Arc;
use tokio::task::JoinHandle;

/// Watches until Ctrl-C, which leaves the stack up. `stack` is what the first `up` applied.
pub async fn run(session: Session, stack: crate::stack::Stack, follow_logs: bool) -> Result<()> {
    let session = Arc::new(session);
    let mut state = Arc::new(State::new(&session, stack)?);
    let mut watcher = events::Watcher::new()?;
    watcher.watch(&state.map.roots())?;
    let trees = watcher.watched().iter().filter(|r| r.recursive).count();
    let dirs = watcher.watched().len() - trees;
    eprintln!(
        "watching {trees} source tree{} and {dirs} other director{}; Ctrl-C stops watching and leaves the stack up",
        if trees == 1 { "" } else { "s" },
        if dirs == 1 { "y" } else { "ies" },
    );
    let mut logs = follow_logs.then(|| follow(&session, &state, now()));
    let mut scheduler = Scheduler::default();
    let mut running: Option<JoinHandle<Outcome>> = None;
    let mut spinner: Option<indicatif::ProgressBar> = None;
    let mut rounds = 0;
    let mut last_error: Option<String> = None;
    let mut round_started = now();
    // Rounds run under it: Ctrl-C ends the cargo of a round that is building.
    let cargo = Cancel::new();
    loop {
        tokio::select! {
            changes = watcher.next() => {
                if let Some(changes) = scheduler.on_changes(relevant(&state, changes)) {
                    rounds += 1;
                    round_started = now();
                    spinner = working(rounds, &state, &changes);
                    running = Some(start(&session, &state, rounds, changes, &last_error, &cargo));
                }
            }
            done = async { running.as_mut().expect("guarded").await }, if running.is_some() => {
                running = None;
                if let Some(s) = spinner.take() {
                    s.finish_and_clear();
                }
                match done {
                    Ok(outcome) => {
                        // One write: `--logs` lines must not land between the two.
                        match &outcome.detail {
                            Some(detail) => eprintln!("{}\n{detail}", outcome.line),
                            None => eprintln!("{}", outcome.line),
                        }
                        last_error = outcome.build_error;
                        if let Some(new) = outcome.state {
                            state = Arc::new(new);
                            watcher.watch(&state.map.roots())?;
                        }
                        if outcome.replaced {
                            if let Some(task) = logs.take() {
                                task.abort();
                                logs = Some(follow(&session, &state, round_started));
                            }
                        }
                    }
                    Err(e) => eprintln!("round {rounds} failed: {e}"),
                }
                if let Some(changes) = scheduler.on_round_done() {
                    rounds += 1;
                    round_started = now();
                    spinner = working(rounds, &state, &changes);
                    running = Some(start(&session, &state, rounds, changes, &last_error, &cargo));
                }
            }
            _ = tokio::signal::ctrl_c() => {
                if let Some(s) = spinner.take() {
                    s.finish_and_clear();
                }
                if let Some(round) = running {
                    stop(round, &cargo).await?;
                }
                eprintln!("stopped watching; the stack is still up (`msctl down` removes it)");
                return Ok(());
            }
        }
    }
}

/// On a terminal, a spinner while a round runs (its line comes when it is done); nothing in
/// logs, where the round's one line says it all.
fn working(n: u32, state: &State, changes: &Changes) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !std::io::stderr().is_terminal() {
        return None;
    }
    let paths: Vec<_> = changes.paths.iter().cloned().collect();
    let affected = state.map.classify(&paths);
    let what = if affected.stack || changes.rescan {
        "applying the stack file".to_owned()
    } else {
        let services: Vec<&str> = affected
            .rebuild
            .iter()
            .chain(&affected.restart)
            .map(String::as_str)
            .collect();
        format!("building and replacing {}", services.join(", "))
    };
    let bar = indicatif::ProgressBar::new_spinner().with_message(format!("round {n}: {what}"));
    bar.enable_steady_tick(std::time::Duration::from_millis(120));
    Some(bar)
}

/// The changes that matter: paths git ignores are dropped unless msctl was told about them
/// (the stack file, `.env`, mounted files), and what nothing uses is dropped by the map.
fn relevant(state: &State, mut changes: Changes) -> Changes {
    let ignored = ignore::gitignored(&state.stack.workspace, &changes.paths);
    changes
        .paths
        .retain(|p| !ignored.contains(p) || state.map.is_explicit(p));
    let paths: Vec<_> = changes.paths.iter().cloned().collect();
    let counted = state.map.classify(&paths).paths;
    changes.paths.retain(|p| counted.contains(p));
    changes
}

fn start(
    session: &Arc<Session>,
    state: &Arc<State>,
    n: u32,
    changes: Changes,
    last_error: &Option<String>,
    cargo: &Cancel,
) -> JoinHandle<Outcome> {
    let (session, state, last) = (session.clone(), state.clone(), last_error.clone());
    let cargo = cargo.clone();
    tokio::spawn(async move {
        let round = round::run(&session, &state, n, changes, last.as_deref());
        cargo.scope(round).await
    })
}

/// Ctrl-C during a round: a build is stopped at once (a cargo left running would hold the
/// build directory's lock); a replace is finished, so no service is left half-replaced, unless
/// a second Ctrl-C insists.
async fn stop(round: JoinHandle<Outcome>, cargo: &Cancel) -> Result<()> {
    if cargo.cancel() {
        round.abort();
        eprintln!("stopped the build; the running containers are unchanged");
        return Ok(());
    }
    eprintln!("finishing the replace under way (Ctrl-C again stops at once)");
    tokio::select! {
        done = round => {
            if let Ok(outcome) = done {
                eprintln!("{}", outcome.line);
            }
            Ok(())
        }
        _ = tokio::signal::ctrl_c() => Err(crate::error::Error::Interrupted),
    }
}

/// Follows the logs of the watched services' containers from `since` (Unix seconds), on
/// stdout, until aborted.
fn follow(session: &Session, state: &State, since: i64) -> JoinHandle<()> {
    let docker = session.docker.clone();
    let project = state.stack.name.clone();
    let services = session.services.clone();
    tokio::spawn(async move {
        let Ok(containers) = logs::containers(&docker, &project, &services).await else {
            return;
        };
        let opts = LogsOptionsCli {
            follow: true,
            since,
            ..Default::default()
        };
        let _ = logs::logs(&docker, &containers, &opts).await;
    })
}

fn now() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}
