//! From changed paths to what a watch round does: which services to rebuild (their crate, or a
//! crate they depend on, changed: `kit` means every service), which to restart (a file they
//! mount changed), and whether the stack file itself changed (then the round is a whole `up`).

use super::ignore::is_noise;
use super::workspace::Packages;
use crate::stack::{ImageSource, Mount, Stack};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

/// What a set of changes calls for.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Affected {
    pub rebuild: BTreeSet<String>,
    pub restart: BTreeSet<String>,
    /// The stack file (or the `.env` beside it) changed: reload it and apply it as `up` does.
    pub stack: bool,
    /// The changes that counted (noise and paths nothing uses left out).
    pub paths: Vec<PathBuf>,
}

impl Affected {
    pub fn is_empty(&self) -> bool {
        self.rebuild.is_empty() && self.restart.is_empty() && !self.stack
    }
}

/// Which files each service is made of, for one stack and workspace.
pub struct WatchMap {
    /// Service → the directories its image is built from (its crate's closure, or its
    /// Dockerfile context).
    builds: Vec<(String, Vec<PathBuf>)>,
    /// Service → the host paths it mounts.
    mounts: Vec<(String, Vec<PathBuf>)>,
    /// Paths whose change rebuilds every crate-built service (workspace manifest, lock file).
    workspace_wide: Vec<PathBuf>,
    stack_files: Vec<PathBuf>,
    target: PathBuf,
}

impl WatchMap {
    pub fn new(stack: &Stack, packages: &Packages) -> WatchMap {
        let mut builds = Vec::new();
        let mut mounts = Vec::new();
        for s in &stack.services {
            match &s.image {
                ImageSource::Crate { krate, .. } => builds.push((
                    s.name.clone(),
                    packages
                        .closure(krate)
                        .iter()
                        .filter_map(|p| packages.dirs.get(p).cloned())
                        .collect(),
                )),
                ImageSource::Dockerfile { context, .. } => {
                    builds.push((s.name.clone(), vec![context.clone()]))
                }
                ImageSource::Reference(_) => {}
            }
            let binds: Vec<PathBuf> = s
                .mounts
                .iter()
                .filter_map(|m| match m {
                    Mount::Bind { source, .. } => Some(source.clone()),
                    Mount::Volume { .. } => None,
                })
                .collect();
            if !binds.is_empty() {
                mounts.push((s.name.clone(), binds));
            }
        }
        let stack_file = std::path::absolute(&stack.file).unwrap_or_else(|_| stack.file.clone());
        WatchMap {
            builds,
            mounts,
            workspace_wide: ["Cargo.toml", "Cargo.lock"]
                .iter()
                .map(|f| packages.root.join(f))
                .collect(),
            stack_files: vec![stack_file, stack.dir.join(".env")],
            target: packages.target.clone(),
        }
    }

    /// What the changed `paths` (absolute) call for.
    pub fn classify(&self, paths: &[PathBuf]) -> Affected {
        let mut out = Affected::default();
        for path in paths {
            if is_noise(path, &self.target) {
                continue;
            }
            let mut counted = false;
            if self.stack_files.iter().any(|f| f == path) {
                out.stack = true;
                counted = true;
            }
            let everything = self.workspace_wide.iter().any(|f| f == path);
            for (service, dirs) in &self.builds {
                if everything || dirs.iter().any(|d| under_sources(path, d)) {
                    out.rebuild.insert(service.clone());
                    counted = true;
                }
            }
            for (service, sources) in &self.mounts {
                if sources.iter().any(|s| path.starts_with(s)) {
                    out.restart.insert(service.clone());
                    counted = true;
                }
            }
            if counted {
                out.paths.push(path.clone());
            }
        }
        // A rebuilt service is recreated anyway: restarting it as well would be a second stop.
        out.restart = &out.restart - &out.rebuild;
        out
    }
}

/// Whether `path` is part of what is built from `dir`: anything under it except the package's
/// tests, benches and examples, which are not in the binary.
fn under_sources(path: &Path, dir: &Path) -> bool {
    let Ok(rest) = path.strip_prefix(dir) else {
        return false;
    };
    !matches!(
        rest.components()
            .next()
            .and_then(|c| c.as_os_str().to_str()),
        Some("tests" | "benches" | "examples")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The repository's own stack and workspace.
    fn map() -> (WatchMap, PathBuf) {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .unwrap()
            .to_path_buf();
        let stack = crate::stack::load(&root.join("msctl.yaml")).unwrap();
        let packages = Packages::load(&root).unwrap();
        (WatchMap::new(&stack, &packages), root)
    }

    #[test]
    fn a_service_s_own_source_rebuilds_that_service_only() {
        let (map, root) = map();
        let a = map.classify(&[root.join("services/order-service/src/saga.rs")]);
        assert_eq!(a.rebuild, BTreeSet::from(["order-service".to_owned()]));
        assert!(a.restart.is_empty() && !a.stack);
    }

    #[test]
    fn an_edit_to_kit_rebuilds_every_service_and_no_database() {
        let (map, root) = map();
        let a = map.classify(&[root.join("crates/kit/src/serve.rs")]);
        for service in [
            "gateway",
            "user-service",
            "order-service",
            "notification-service",
        ] {
            assert!(a.rebuild.contains(service), "{service}: {a:?}");
        }
        assert!(!a
            .rebuild
            .iter()
            .any(|s| s.ends_with("-db") || s == "rabbitmq"));
    }

    #[test]
    fn tests_editor_files_and_build_output_rebuild_nothing() {
        let (map, root) = map();
        let a = map.classify(&[
            root.join("services/order-service/tests/api/saga.rs"),
            root.join("services/order-service/src/.saga.rs.swp"),
            root.join("target/debug/order-service"),
            root.join("docs/engine.md"),
        ]);
        assert!(a.is_empty(), "{a:?}");
        assert!(a.paths.is_empty());
    }

    #[test]
    fn the_stack_file_and_the_lock_file_count() {
        let (map, root) = map();
        let a = map.classify(&[root.join("msctl.yaml")]);
        assert!(a.stack && a.rebuild.is_empty(), "{a:?}");
        let a = map.classify(&[root.join("Cargo.lock")]);
        assert!(a.rebuild.contains("payment-service"), "{a:?}");
    }
}
