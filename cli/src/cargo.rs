//! Running cargo: the command msctl starts for every cargo run ([`command`]), and the build of
//! the binaries a stack's crate images are packed from ([`build`]): cargo's progress on a bar,
//! its errors kept, and a [`Cancel`] handle that stops it.

use crate::error::{Error, Result};
use std::collections::HashMap;
use std::future::Future;
use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{ChildStderr, Command, Stdio};
use std::sync::{Arc, Mutex};

/// The cargo that runs msctl's builds: the one that invoked us (tests, `cargo run`), or PATH's.
///
/// Without the variables cargo sets for the crate it runs (`CARGO_MANIFEST_DIR`,
/// `CARGO_PKG_*`, …): msctl run by `cargo test` or `cargo run` inherits them, and build
/// scripts that track one (ring's tracks `CARGO_MANIFEST_DIR`) then see it change, so ring,
/// rustls and everything above them compiled again, twice: inside the test, and in the next
/// plain `cargo build` (36 s for testsvc alone, and 13 crates, in CI).
pub fn command() -> Command {
    let mut cmd = Command::new(std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into()));
    for (name, _) in std::env::vars_os() {
        let Some(name) = name.to_str() else { continue };
        if is_per_crate(name) {
            cmd.env_remove(name);
        }
    }
    cmd
}

/// The variables cargo sets for one crate's build script, test or `cargo run` (never the
/// user's own settings such as `CARGO_HOME` or `CARGO_TARGET_DIR`).
fn is_per_crate(name: &str) -> bool {
    name.starts_with("CARGO_PKG_")
        || name.starts_with("CARGO_BIN_")
        || matches!(
            name,
            "CARGO_MANIFEST_DIR"
                | "CARGO_MANIFEST_PATH"
                | "CARGO_MANIFEST_LINKS"
                | "CARGO_CRATE_NAME"
                | "CARGO_PRIMARY_PACKAGE"
                | "CARGO_TARGET_TMPDIR"
        )
}

/// One binary cargo must produce.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct CrateTarget {
    pub krate: String,
    pub bin: String,
    pub profile: String,
}

/// Stops the cargo [`build`] running under it: a watch stopped mid-build ends its cargo,
/// because a cargo left running holds the build directory's lock. (Not `PR_SET_PDEATHSIG`: it
/// fires when the spawning thread exits, and tokio retires idle blocking threads.)
///
/// Whoever owns the handle runs work under it with [`Cancel::scope`]; a build started anywhere
/// inside that work (`up` → images → cargo) registers its cargo with it.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    /// The pid of the cargo running under this handle.
    running: Arc<Mutex<Option<u32>>>,
}

tokio::task_local! {
    /// The handle of the [`Cancel::scope`] a task runs in.
    static SCOPE: Cancel;
}

impl Cancel {
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// Runs `work` under this handle.
    pub async fn scope<F: Future>(&self, work: F) -> F::Output {
        SCOPE.scope(self.clone(), work).await
    }

    /// The handle of the scope the calling task runs in; one nobody holds outside it.
    pub fn current() -> Cancel {
        SCOPE.try_with(Cancel::clone).unwrap_or_default()
    }

    /// Ends the cargo running under this handle (SIGTERM). Whether one was running.
    pub fn cancel(&self) -> bool {
        let running = self.running.lock().expect("cancel lock");
        let Some(pid) = *running else {
            return false;
        };
        // SAFETY: kill(2) takes no pointers; the pid is the child `build` spawned, recorded
        // until it has been waited for.
        unsafe {
            libc::kill(pid as libc::pid_t, libc::SIGTERM);
        }
        true
    }

    fn set(&self, pid: Option<u32>) {
        *self.running.lock().expect("cancel lock") = pid;
    }
}

/// Lines of cargo's stderr kept for an error: the compiler's messages, not its progress.
const ERROR_LINES: usize = 200;

/// Runs one `cargo build` per profile for all `targets`, reporting cargo's progress on `bar`;
/// `cancel` can stop it. Returns the path of each binary.
pub fn build(
    workspace: &Path,
    targets: &[CrateTarget],
    bar: &indicatif::ProgressBar,
    cancel: &Cancel,
) -> Result<HashMap<CrateTarget, PathBuf>> {
    let mut by_profile: HashMap<&str, Vec<&CrateTarget>> = HashMap::new();
    for t in targets {
        by_profile.entry(&t.profile).or_default().push(t);
    }
    let mut out = HashMap::new();
    for (profile, targets) in by_profile {
        build_profile(workspace, profile, &targets, bar, cancel, &mut out)?;
    }
    if let Some(missing) = targets.iter().find(|t| !out.contains_key(*t)) {
        return Err(Error::Build {
            service: missing.krate.clone(),
            message: format!("cargo produced no binary `{}`", missing.bin),
        });
    }
    Ok(out)
}

/// One `cargo build --profile profile`: the binaries it reports go into `out`.
fn build_profile(
    workspace: &Path,
    profile: &str,
    targets: &[&CrateTarget],
    bar: &indicatif::ProgressBar,
    cancel: &Cancel,
    out: &mut HashMap<CrateTarget, PathBuf>,
) -> Result<()> {
    let mut cmd = command();
    cmd.current_dir(workspace).args([
        "build",
        "--message-format=json-render-diagnostics",
        "--profile",
        profile,
    ]);
    for t in targets {
        cmd.args(["-p", &t.krate, "--bin", &t.bin]);
    }
    let mut child = cmd
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Build {
            service: targets[0].krate.clone(),
            message: format!("cannot run cargo in {}: {e}", workspace.display()),
        })?;
    cancel.set(Some(child.id()));
    let errors = read_errors(child.stderr.take().expect("piped"), bar.clone());
    let stdout = child.stdout.take().expect("piped");
    for line in BufReader::new(stdout)
        .lines()
        .map_while(std::result::Result::ok)
    {
        let Ok(msg) = serde_json::from_str::<serde_json::Value>(&line) else {
            continue;
        };
        if msg["reason"] != "compiler-artifact" {
            continue;
        }
        let Some(exe) = msg["executable"].as_str() else {
            continue;
        };
        let name = msg["target"]["name"].as_str().unwrap_or_default();
        for t in targets.iter().filter(|t| t.bin == name) {
            out.insert((*t).clone(), PathBuf::from(exe));
        }
    }
    let status = child.wait();
    cancel.set(None);
    let status = status.map_err(Error::io("waiting for cargo"))?;
    let log = errors.join().unwrap_or_default();
    if !status.success() {
        let skip = log.len().saturating_sub(ERROR_LINES);
        let tail: Vec<&str> = log[skip..].iter().map(String::as_str).collect();
        return Err(Error::Build {
            service: targets
                .iter()
                .map(|t| t.krate.as_str())
                .collect::<Vec<_>>()
                .join(", "),
            message: format!("cargo reported errors:\n{}", tail.join("\n")),
        });
    }
    Ok(())
}

/// Reads cargo's stderr on a thread of its own: what it is compiling goes on `progress`, and
/// every line but its progress is kept for an error.
fn read_errors(
    stderr: ChildStderr,
    progress: indicatif::ProgressBar,
) -> std::thread::JoinHandle<Vec<String>> {
    std::thread::spawn(move || {
        let mut tail = Vec::new();
        for line in BufReader::new(stderr)
            .lines()
            .map_while(std::result::Result::ok)
        {
            let trimmed = line.trim_start();
            if trimmed.starts_with("Compiling") || trimmed.starts_with("Building") {
                progress.set_message(format!(
                    "cargo: {}",
                    trimmed.chars().take(60).collect::<String>()
                ));
            }
            if !is_progress(trimmed) {
                tail.push(line);
            }
        }
        tail
    })
}

/// cargo's progress lines, which say nothing about what failed.
fn is_progress(line: &str) -> bool {
    [
        "Compiling ",
        "Building ",
        "Blocking waiting",
        "Fresh ",
        "Checking ",
        "Finished ",
    ]
    .iter()
    .any(|p| line.starts_with(p))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// msctl under `cargo test` passed CARGO_MANIFEST_DIR on to its cargo builds; ring's build
    /// script tracks it, so every TLS crate above ring compiled again (CI lost minutes).
    #[test]
    fn builds_run_inside_cargo_test_do_not_inherit_the_test_crates_cargo_variables() {
        // `cargo test` set it for this very process.
        assert!(std::env::var_os("CARGO_MANIFEST_DIR").is_some());
        let cmd = command();
        let removed: Vec<_> = cmd
            .get_envs()
            .filter(|(_, value)| value.is_none())
            .map(|(name, _)| name.to_string_lossy().into_owned())
            .collect();
        assert!(
            removed.contains(&"CARGO_MANIFEST_DIR".to_owned()),
            "{removed:?}"
        );
        assert!(
            removed.contains(&"CARGO_PKG_NAME".to_owned()),
            "{removed:?}"
        );
        assert!(!removed
            .iter()
            .any(|n| n == "CARGO_HOME" || n == "CARGO_TARGET_DIR"));
    }

    #[tokio::test]
    async fn the_cargo_of_a_scope_is_ended_through_its_handle() {
        use std::os::unix::process::ExitStatusExt;
        let cancel = Cancel::new();
        assert!(!cancel.cancel(), "nothing runs yet");
        let inner = cancel.scope(async { Cancel::current() }).await;
        assert!(Arc::ptr_eq(&inner.running, &cancel.running));
        assert!(!Arc::ptr_eq(&Cancel::current().running, &cancel.running));
        // What `build` does with its cargo.
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        inner.set(Some(child.id()));
        assert!(cancel.cancel());
        assert_eq!(child.wait().unwrap().signal(), Some(libc::SIGTERM));
        inner.set(None);
        assert!(!cancel.cancel());
    }
}
