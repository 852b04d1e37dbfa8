//! When rounds run: at most one at a time, and whatever changes while one runs is merged into
//! exactly one next round. Saves made during a build are never lost, and three saves during a
//! build cost one extra round, not three.

use std::collections::BTreeSet;
use std::path::PathBuf;

/// Changed paths, and whether the watcher lost track (a queue overflow) so that everything
/// must be checked.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Changes {
    pub paths: BTreeSet<PathBuf>,
    pub rescan: bool,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.paths.is_empty() && !self.rescan
    }

    fn merge(&mut self, other: Changes) {
        self.paths.extend(other.paths);
        self.rescan |= other.rescan;
    }
}

#[derive(Debug, Default)]
pub struct Scheduler {
    running: bool,
    pending: Changes,
}

impl Scheduler {
    /// New changes: the round to start now, or `None` when one is running (the changes wait
    /// for it to end).
    pub fn on_changes(&mut self, changes: Changes) -> Option<Changes> {
        if changes.is_empty() {
            return None;
        }
        if self.running {
            self.pending.merge(changes);
            None
        } else {
            self.running = true;
            Some(changes)
        }
    }

    /// The running round ended: everything that arrived meanwhile, as one round.
    pub fn on_round_done(&mut self) -> Option<Changes> {
        let next = std::mem::take(&mut self.pending);
        self.running = !next.is_empty();
        self.running.then_some(next)
    }

    pub fn is_running(&self) -> bool {
        self.running
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn change(path: &str) -> Changes {
        Changes {
            paths: BTreeSet::from([PathBuf::from(path)]),
            rescan: false,
        }
    }

    #[test]
    fn saves_during_a_round_make_exactly_one_more_round() {
        let mut s = Scheduler::default();
        assert_eq!(s.on_changes(change("/a")), Some(change("/a")));
        assert_eq!(s.on_changes(change("/b")), None);
        assert_eq!(s.on_changes(change("/c")), None);
        assert_eq!(s.on_changes(change("/b")), None);
        let next = s.on_round_done().expect("one more round");
        assert_eq!(
            next.paths,
            BTreeSet::from([PathBuf::from("/b"), PathBuf::from("/c")])
        );
        assert!(s.is_running());
        assert_eq!(s.on_round_done(), None);
        assert!(!s.is_running());
    }

    #[test]
    fn nothing_changed_starts_nothing() {
        let mut s = Scheduler::default();
        assert_eq!(s.on_changes(Changes::default()), None);
        assert!(!s.is_running());
        let rescan = Changes {
            rescan: true,
            ..Default::default()
        };
        assert_eq!(s.on_changes(rescan.clone()), Some(rescan));
    }
}
