//! The file watcher: notify's debouncer on the [`Root`]s, and its events turned into
//! [`Changes`].
//!
//! Two Linux facts shape this (notify 8, inotify): the watch mask includes OPEN and
//! CLOSE_NOWRITE, so rustc merely *reading* the sources during a build reports Access events
//! (counting them would start round after round, forever); and an editor's atomic save renames
//! a temporary file over the original, which a watch on the file itself would lose. So Access
//! events are dropped, every path of a rename counts, and directories are watched, never files.

use super::affected::Root;
use super::schedule::Changes;
use crate::error::{Error, Result};
use notify_debouncer_full::notify::{self, EventKind, RecommendedWatcher, RecursiveMode};
use notify_debouncer_full::{
    new_debouncer, DebounceEventResult, DebouncedEvent, Debouncer, RecommendedCache,
};
use std::time::Duration;
use tokio::sync::mpsc::{unbounded_channel, UnboundedReceiver};

/// How long a path must be quiet before its change is reported (an editor's save is several
/// writes; `cargo fmt` rewrites several files).
const QUIET: Duration = Duration::from_millis(200);
/// After a first change, how long to wait for more before a round starts ("save all"
/// releases files one by one).
const GATHER: Duration = Duration::from_millis(150);

pub struct Watcher {
    debouncer: Debouncer<RecommendedWatcher, RecommendedCache>,
    rx: UnboundedReceiver<DebounceEventResult>,
    watched: Vec<Root>,
}

impl Watcher {
    pub fn new() -> Result<Watcher> {
        let (tx, rx) = unbounded_channel();
        let debouncer = new_debouncer(QUIET, None, move |result: DebounceEventResult| {
            let _ = tx.send(result);
        })
        .map_err(|e| Error::Environment(format!("cannot watch files: {e}")))?;
        Ok(Watcher {
            debouncer,
            rx,
            watched: Vec::new(),
        })
    }

    /// Watches exactly `roots`: new ones are added, ones no longer wanted dropped.
    pub fn watch(&mut self, roots: &[Root]) -> Result<()> {
        for gone in self.watched.iter().filter(|r| !roots.contains(r)) {
            // Already gone with its directory, most likely: nothing to undo.
            let _ = self.debouncer.unwatch(&gone.dir);
        }
        let mut watched = Vec::new();
        for root in roots {
            if self.watched.contains(root) {
                watched.push(root.clone());
                continue;
            }
            let mode = if root.recursive {
                RecursiveMode::Recursive
            } else {
                RecursiveMode::NonRecursive
            };
            match self.debouncer.watch(&root.dir, mode) {
                Ok(()) => watched.push(root.clone()),
                Err(e) if matches!(e.kind, notify::ErrorKind::MaxFilesWatch) => {
                    return Err(Error::Environment(format!(
                        "cannot watch {}: the system's inotify watch limit is reached; raise it with \
                         `sudo sysctl fs.inotify.max_user_watches=524288`",
                        root.dir.display()
                    )))
                }
                // A directory removed since the roots were listed: the next stack or
                // workspace change lists them again.
                Err(_) if !root.dir.exists() => {}
                Err(e) => {
                    return Err(Error::Environment(format!(
                        "cannot watch {}: {e}",
                        root.dir.display()
                    )))
                }
            }
        }
        self.watched = watched;
        Ok(())
    }

    pub fn watched(&self) -> &[Root] {
        &self.watched
    }

    /// The next changes: waits for a first report, then gathers what follows within
    /// [`GATHER`] of the last one.
    pub async fn next(&mut self) -> Changes {
        let mut changes = Changes::default();
        loop {
            let Some(first) = self.rx.recv().await else {
                // The debouncer is owned here, so its sender lives as long as `self`.
                std::future::pending::<()>().await;
                unreachable!()
            };
            add(&mut changes, first);
            while let Ok(Some(more)) = tokio::time::timeout(GATHER, self.rx.recv()).await {
                add(&mut changes, more);
            }
            if !changes.is_empty() {
                return changes;
            }
        }
    }
}

fn add(changes: &mut Changes, result: DebounceEventResult) {
    match result {
        Ok(events) => {
            let more = of_events(&events);
            changes.paths.extend(more.paths);
            changes.rescan |= more.rescan;
        }
        // The watcher's own trouble (a watch lost with its directory): check everything.
        Err(_) => changes.rescan = true,
    }
}

/// What debounced events say changed: created, modified (contents, metadata: `touch` counts,
/// names: both sides of a rename) or removed paths; reads are not changes.
pub fn of_events(events: &[DebouncedEvent]) -> Changes {
    let mut changes = Changes::default();
    for event in events {
        if event.need_rescan() {
            changes.rescan = true;
        }
        match event.kind {
            EventKind::Create(_) | EventKind::Modify(_) | EventKind::Remove(_) => {
                changes.paths.extend(event.paths.iter().cloned())
            }
            EventKind::Access(_) | EventKind::Any | EventKind::Other => {}
        }
    }
    changes
}

#[cfg(test)]
mod tests {
    use super::*;
    use notify::event::{AccessKind, AccessMode, ModifyKind, RenameMode};
    use notify::Event;
    use std::path::PathBuf;
    use std::time::Instant;

    fn event(kind: EventKind, paths: &[&str]) -> DebouncedEvent {
        let mut e = Event::new(kind);
        for p in paths {
            e = e.add_path(PathBuf::from(p));
        }
        DebouncedEvent::new(e, Instant::now())
    }

    #[test]
    fn reads_are_not_changes_and_a_rename_counts_both_paths() {
        let changes = of_events(&[
            event(
                EventKind::Access(AccessKind::Open(AccessMode::Read)),
                &["/w/a.rs"],
            ),
            event(
                EventKind::Access(AccessKind::Close(AccessMode::Read)),
                &["/w/b.rs"],
            ),
        ]);
        assert!(changes.is_empty(), "{changes:?}");
        let changes = of_events(&[event(
            EventKind::Modify(ModifyKind::Name(RenameMode::Both)),
            &["/w/.a.rs.tmp", "/w/a.rs"],
        )]);
        assert_eq!(changes.paths.len(), 2);
    }

    #[test]
    fn a_lost_queue_asks_for_a_rescan() {
        let mut lost = Event::new(EventKind::Other);
        lost = lost.set_flag(notify::event::Flag::Rescan);
        let changes = of_events(&[DebouncedEvent::new(lost, Instant::now())]);
        assert!(changes.rescan);
    }

    #[tokio::test]
    async fn a_write_in_a_watched_directory_is_reported_once_gathered() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().canonicalize().unwrap();
        // Made before watching: inotify watches a directory created under a recursive root
        // only once it has seen it, and files written before that are not reported (the
        // directory's own event is, and names the crate all the same). Creating it here raced
        // that and failed once under load.
        std::fs::create_dir(root.join("src")).unwrap();
        let mut watcher = Watcher::new().unwrap();
        watcher
            .watch(&[Root {
                dir: root.clone(),
                recursive: true,
            }])
            .unwrap();
        std::fs::write(root.join("src/a.rs"), "fn a() {}").unwrap();
        std::fs::write(root.join("src/b.rs"), "fn b() {}").unwrap();
        let changes = tokio::time::timeout(Duration::from_secs(5), watcher.next())
            .await
            .expect("reported within 5 s");
        assert!(
            changes.paths.contains(&root.join("src/a.rs")),
            "{changes:?}"
        );
        // Reading is not a change: nothing more arrives.
        let _ = std::fs::read(root.join("src/a.rs")).unwrap();
        assert!(
            tokio::time::timeout(Duration::from_millis(800), watcher.next())
                .await
                .is_err()
        );
    }
}
