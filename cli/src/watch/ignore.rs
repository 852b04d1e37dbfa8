//! Paths a watch never reacts to: the build's own output, version control, and the temporary
//! files editors write beside the file being saved.

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

/// Whether a change at `path` is noise: under `target` or a `.git` directory, or an editor's
/// temporary file (Vim's swap files and `4913` probe, Emacs' lock and autosave files, `~`
/// backups, JetBrains' safe-write copies, Kate's swap files, GNOME's output streams, `sed -i`'s
/// temporary files).
pub fn is_noise(path: &Path, target: &Path) -> bool {
    if path.starts_with(target) || path.components().any(|c| c.as_os_str() == ".git") {
        return true;
    }
    let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
        return false;
    };
    let vim_swap = name.starts_with('.')
        && [".swp", ".swo", ".swx", ".swpx"]
            .iter()
            .any(|s| name.ends_with(s));
    let sed_temp = name.len() == 9 && name.starts_with("sed");
    vim_swap
        || sed_temp
        || name == "4913"
        || name.ends_with('~')
        || name.starts_with(".#")
        || (name.starts_with('#') && name.ends_with('#'))
        || name.ends_with("___jb_tmp___")
        || name.ends_with("___jb_old___")
        || name.ends_with(".kate-swp")
        || name.starts_with(".goutputstream-")
}

/// The `paths` that the repository at `dir` ignores (`.gitignore`, `.git/info/exclude`),
/// asked of git itself, so every rule git knows applies. Tracked files are never ignored; no
/// git, or no repository, ignores nothing.
pub fn gitignored(dir: &Path, paths: &BTreeSet<PathBuf>) -> BTreeSet<PathBuf> {
    let ask = || -> Option<Vec<u8>> {
        let mut child = Command::new("git")
            .args(["check-ignore", "-z", "--stdin"])
            .current_dir(dir)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .ok()?;
        let mut stdin = child.stdin.take()?;
        for p in paths {
            stdin.write_all(p.as_os_str().as_encoded_bytes()).ok()?;
            stdin.write_all(b"\0").ok()?;
        }
        drop(stdin);
        // Exit 1 means "none ignored"; 128, no repository: both leave stdout empty.
        Some(child.wait_with_output().ok()?.stdout)
    };
    ask()
        .unwrap_or_default()
        .split(|b| *b == 0)
        .filter(|p| !p.is_empty())
        .map(|p| PathBuf::from(String::from_utf8_lossy(p).into_owned()))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_git_ignores_are_ignored_and_tracked_or_other_paths_not() {
        let dir = tempfile::tempdir().unwrap();
        let git = |args: &[&str]| {
            let ok = Command::new("git")
                .args(args)
                .current_dir(dir.path())
                .output()
                .unwrap()
                .status
                .success();
            assert!(ok, "git {args:?}");
        };
        git(&["init", "-q"]);
        std::fs::write(dir.path().join(".gitignore"), "*.log\ngenerated/\n").unwrap();
        let p = |rel: &str| dir.path().join(rel);
        let asked = BTreeSet::from([p("a.log"), p("generated/x.rs"), p("src/main.rs")]);
        let ignored = gitignored(dir.path(), &asked);
        assert_eq!(ignored, BTreeSet::from([p("a.log"), p("generated/x.rs")]));
        let elsewhere = tempfile::tempdir().unwrap();
        assert!(gitignored(elsewhere.path(), &asked).is_empty());
    }

    #[test]
    fn build_output_version_control_and_editor_files_are_noise() {
        let target = Path::new("/w/target");
        for noise in [
            "/w/target/debug/order-service",
            "/w/.git/index",
            "/w/services/a/src/.lib.rs.swp",
            "/w/services/a/src/4913",
            "/w/services/a/src/lib.rs~",
            "/w/services/a/src/.#lib.rs",
            "/w/services/a/src/#lib.rs#",
            "/w/services/a/src/lib.rs___jb_tmp___",
            "/w/services/a/src/sedAbC12x",
            "/w/services/a/.goutputstream-XYZ",
        ] {
            assert!(is_noise(Path::new(noise), target), "{noise}");
        }
        for change in [
            "/w/services/a/src/lib.rs",
            "/w/services/a/Cargo.toml",
            "/w/msctl.yaml",
            "/w/services/a/src/sed.rs",
            "/w/targets/x.rs",
        ] {
            assert!(!is_noise(Path::new(change), target), "{change}");
        }
    }
}
