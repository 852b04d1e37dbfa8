//! Where stand-in files live: the base tarballs, work directories (removed when done, or by a
//! later build when their process died), locks and build logs.

use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

/// Where stand-in files live: `$MSCTL_CACHE_DIR`, `$XDG_CACHE_HOME/msctl` or `~/.cache/msctl`,
/// then `standin/`.
pub(super) fn cache_dir() -> PathBuf {
    let non_empty = |k: &str| {
        std::env::var_os(k)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    };
    let root = non_empty("MSCTL_CACHE_DIR")
        .or_else(|| non_empty("XDG_CACHE_HOME").map(|p| p.join("msctl")))
        .or_else(|| non_empty("HOME").map(|p| p.join(".cache").join("msctl")))
        .unwrap_or_else(|| PathBuf::from("/var/cache/msctl"));
    root.join("standin")
}

pub(super) struct Paths {
    pub(super) base_tar: PathBuf,
    pub(super) work: PathBuf,
    pub(super) locks: PathBuf,
    pub(super) logs: PathBuf,
}

static WORK_COUNTER: AtomicU64 = AtomicU64::new(0);

/// A directory under `work/` removed when dropped (also on failure). Its name ends with the pid,
/// so directories of processes that died are recognised and removed by later builds.
pub(super) struct WorkDir {
    pub(super) path: PathBuf,
}

impl WorkDir {
    pub(super) fn create(work: &Path, name: &str) -> io::Result<WorkDir> {
        remove_stale_work_dirs(work);
        let n = WORK_COUNTER.fetch_add(1, Ordering::Relaxed);
        let path = work.join(format!("{name}.{}.{}", std::process::id(), n));
        if fs::symlink_metadata(&path).is_ok() {
            fs::remove_dir_all(&path)?;
        }
        fs::create_dir_all(&path)?;
        Ok(WorkDir { path })
    }
}

impl Drop for WorkDir {
    fn drop(&mut self) {
        // Mounts made during the build lived in a private namespace that is gone by now, so
        // this removes only files of the build root.
        let _ = fs::remove_dir_all(&self.path);
    }
}

pub(super) fn remove_stale_work_dirs(work: &Path) {
    let Ok(entries) = fs::read_dir(work) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name().to_string_lossy().into_owned();
        let mut parts = name.rsplitn(3, '.');
        let (Some(_n), Some(pid), Some(_)) = (parts.next(), parts.next(), parts.next()) else {
            continue;
        };
        let Ok(pid) = pid.parse::<u32>() else {
            continue;
        };
        let old = entry
            .metadata()
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| SystemTime::now().duration_since(t).ok())
            .is_some_and(|age| age > Duration::from_secs(60));
        if pid != std::process::id() && old && !Path::new(&format!("/proc/{pid}")).exists() {
            let _ = fs::remove_dir_all(entry.path());
        }
    }
}

/// The build log: every line of every step, shared by the reader threads.
#[derive(Clone)]
pub(super) struct Log {
    pub(super) path: PathBuf,
    pub(super) file: Arc<Mutex<fs::File>>,
}

impl Log {
    pub(super) fn create(path: &Path) -> io::Result<Log> {
        Ok(Log {
            path: path.to_owned(),
            file: Arc::new(Mutex::new(fs::File::create(path)?)),
        })
    }
    pub(super) fn line(&self, line: &str) {
        if let Ok(mut f) = self.file.lock() {
            let _ = writeln!(f, "{line}");
        }
    }
}
