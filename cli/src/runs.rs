//! The last run of each test command (`msctl test journeys`, `msctl load`, `msctl test
//! contracts`), recorded in `.msctl/runs/<kind>.json` beside the stack file for the dashboard's
//! Runs page: the verdict, a summary line, and each step with its trace id when it has one.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Run {
    /// `journeys`, `load` or `contracts`.
    pub kind: String,
    /// Unix seconds.
    pub started_at: u64,
    pub duration_ms: u64,
    pub passed: bool,
    pub summary: String,
    pub items: Vec<Item>,
}

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct Item {
    pub name: String,
    pub passed: bool,
    #[serde(default)]
    pub detail: String,
    /// The trace the step's request started (its `traceparent`), to open in the dashboard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_id: Option<String>,
}

pub fn dir(stack_dir: &Path) -> PathBuf {
    stack_dir.join(".msctl").join("runs")
}

/// Records `run` as the last of its kind. Best effort: a read-only checkout still runs tests.
pub fn record(stack_dir: &Path, run: &Run) {
    let dir = dir(stack_dir);
    let _ = std::fs::create_dir_all(&dir);
    if let Ok(text) = serde_json::to_string_pretty(run) {
        let path = dir.join(format!("{}.json", run.kind));
        let tmp = path.with_extension("json.tmp");
        if std::fs::write(&tmp, text).is_ok() {
            let _ = std::fs::rename(&tmp, &path);
        }
    }
}

/// The last run of each kind there is, newest first.
pub fn last(stack_dir: &Path) -> Vec<Run> {
    let mut runs: Vec<Run> = ["journeys", "load", "contracts"]
        .iter()
        .filter_map(|k| std::fs::read_to_string(dir(stack_dir).join(format!("{k}.json"))).ok())
        .filter_map(|t| serde_json::from_str(&t).ok())
        .collect();
    runs.sort_by(|a, b| b.started_at.cmp(&a.started_at));
    runs
}

/// Seconds since the Unix epoch.
pub fn now() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or(0)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_last_run_of_each_kind_is_kept() {
        let dir = tempfile::tempdir().unwrap();
        let run = |kind: &str, at: u64, passed: bool| Run {
            kind: kind.into(),
            started_at: at,
            duration_ms: 5,
            passed,
            summary: String::new(),
            items: vec![Item {
                name: "checkout / pay".into(),
                passed,
                detail: String::new(),
                trace_id: Some("4bf92f3577b34da6a3ce929d0e0e4736".into()),
            }],
        };
        record(dir.path(), &run("journeys", 1, true));
        record(dir.path(), &run("journeys", 3, false));
        record(dir.path(), &run("load", 2, true));
        let got = last(dir.path());
        assert_eq!(got.len(), 2);
        assert_eq!((got[0].kind.as_str(), got[0].passed), ("journeys", false));
        assert_eq!(got[1].kind, "load");
    }
}
