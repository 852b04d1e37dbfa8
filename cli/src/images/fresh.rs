//! Skipping cargo when nothing in the workspace changed.
//!
//! `cargo build` on an unchanged workspace still checks the freshness of every dependency
//! (~0.2 s with the reference services' ~400 crates), which alone would blow the no-op `up`
//! budget. After each successful cargo run msctl writes a stamp: the binaries it produced, and
//! the time the run *started*. The next `up` skips cargo when every binary still exists and no
//! file of the workspace (outside `target/` and `.git/`) is newer than the stamp — the question
//! `make` asks. Registry dependencies change only through `Cargo.lock`, which is a workspace
//! file. Anything unusual (no stamp, a binary gone, other targets) runs cargo, which stays the
//! authority. `MSCTL_ALWAYS_CARGO=1` turns the shortcut off.

use crate::cargo::CrateTarget;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

const STAMP: &str = "target/msctl-cargo-stamp.json";

fn stamp_path(workspace: &Path) -> PathBuf {
    workspace.join(STAMP)
}

fn key(t: &CrateTarget) -> String {
    format!("{}/{}/{}", t.profile, t.krate, t.bin)
}

/// The binaries of `targets`, if cargo need not run.
pub fn fresh_binaries(
    workspace: &Path,
    targets: &[CrateTarget],
) -> Option<HashMap<CrateTarget, PathBuf>> {
    if std::env::var_os("MSCTL_ALWAYS_CARGO").is_some() {
        return None;
    }
    let stamp_file = stamp_path(workspace);
    let stamped_at = std::fs::metadata(&stamp_file).ok()?.modified().ok()?;
    let recorded: HashMap<String, PathBuf> =
        serde_json::from_slice(&std::fs::read(&stamp_file).ok()?).ok()?;
    let mut out = HashMap::new();
    for t in targets {
        let binary = recorded.get(&key(t))?;
        std::fs::metadata(binary).ok()?;
        out.insert(t.clone(), binary.clone());
    }
    (!newer_than(workspace, stamped_at)).then_some(out)
}

/// Records a successful cargo run that started at `started`.
pub fn record(workspace: &Path, started: SystemTime, binaries: &HashMap<CrateTarget, PathBuf>) {
    let stamp_file = stamp_path(workspace);
    let mut recorded: HashMap<String, PathBuf> = std::fs::read(&stamp_file)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default();
    for (t, path) in binaries {
        recorded.insert(key(t), path.clone());
    }
    let Ok(json) = serde_json::to_vec_pretty(&recorded) else {
        return;
    };
    // Only a cache: when it cannot be written, the next `up` runs cargo.
    if std::fs::write(&stamp_file, json).is_ok() {
        if let Ok(file) = std::fs::File::options().write(true).open(&stamp_file) {
            let _ = file.set_modified(started);
        }
    }
}

/// Is any file under `dir` (skipping `target`, `.git` and other hidden directories) modified
/// after `since`?
fn newer_than(dir: &Path, since: SystemTime) -> bool {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return true;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        let Ok(kind) = entry.file_type() else {
            return true;
        };
        if kind.is_dir() {
            if name == "target" || name.to_string_lossy().starts_with('.') && name != ".cargo" {
                continue;
            }
            if newer_than(&entry.path(), since) {
                return true;
            }
        } else {
            let modified = entry.metadata().and_then(|m| m.modified());
            if modified.map_or(true, |m| m > since) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target() -> CrateTarget {
        CrateTarget {
            krate: "svc".into(),
            bin: "svc".into(),
            profile: "dev".into(),
        }
    }

    #[test]
    fn fresh_until_a_workspace_file_changes() {
        let ws = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(ws.path().join("target/debug")).unwrap();
        std::fs::write(ws.path().join("Cargo.toml"), "[workspace]").unwrap();
        let binary = ws.path().join("target/debug/svc");
        std::fs::write(&binary, "elf").unwrap();
        assert!(
            fresh_binaries(ws.path(), &[target()]).is_none(),
            "no stamp yet"
        );

        let started = SystemTime::now() + std::time::Duration::from_secs(1);
        record(
            ws.path(),
            started,
            &HashMap::from([(target(), binary.clone())]),
        );
        assert_eq!(
            fresh_binaries(ws.path(), &[target()]).unwrap()[&target()],
            binary
        );

        // A binary from another profile was never recorded.
        let release = CrateTarget {
            profile: "release".into(),
            ..target()
        };
        assert!(fresh_binaries(ws.path(), &[release]).is_none());

        // Touching a source file (later than the stamp) sends the next `up` to cargo.
        std::fs::create_dir_all(ws.path().join("src")).unwrap();
        let file = std::fs::File::create(ws.path().join("src/main.rs")).unwrap();
        file.set_modified(started + std::time::Duration::from_secs(1))
            .unwrap();
        assert!(fresh_binaries(ws.path(), &[target()]).is_none());
    }
}
