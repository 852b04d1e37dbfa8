//! From changed paths to what a watch round does: which services to rebuild (their crate, or a
//! crate they depend on, changed: `kit` means every service), which to restart (a file they
//! mount changed), and whether the stack file itself changed (then the round is a whole `up`).

use super::ignore::is_noise;
use super::workspace::Packages;
use crate::stack::{ImageSource, Mount, Stack, WatchAction};
use regex::Regex;
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
    /// Service → the host paths whose change restarts it (its bind mounts, `develop.watch`
    /// rules with `action: restart`).
    mounts: Vec<(String, Vec<PathBuf>)>,
    /// Service → `develop.watch` `ignore` patterns, each under its rule's path.
    ignores: Vec<(String, PathBuf, Regex)>,
    /// Paths whose change rebuilds every crate-built service (workspace manifest, lock file).
    workspace_wide: Vec<PathBuf>,
    stack_files: Vec<PathBuf>,
    target: PathBuf,
}

/// A directory the watcher follows, with or without its subdirectories.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Root {
    pub dir: PathBuf,
    pub recursive: bool,
}

impl WatchMap {
    pub fn new(stack: &Stack, packages: &Packages) -> WatchMap {
        let mut builds = Vec::new();
        let mut mounts = Vec::new();
        let mut ignores = Vec::new();
        for s in &stack.services {
            let rules = |action: WatchAction| {
                s.develop
                    .iter()
                    .filter(move |r| r.action == action)
                    .map(|r| r.path.clone())
            };
            let mut sources: Vec<PathBuf> = match &s.image {
                ImageSource::Crate { krate, .. } => packages
                    .closure(krate)
                    .iter()
                    .filter_map(|p| packages.dirs.get(p).cloned())
                    .collect(),
                ImageSource::Dockerfile { context, .. } => vec![context.clone()],
                ImageSource::Reference(_) => Vec::new(),
            };
            sources.extend(rules(WatchAction::Rebuild));
            if !sources.is_empty() {
                builds.push((s.name.clone(), sources));
            }
            let mut restart: Vec<PathBuf> = s
                .mounts
                .iter()
                .filter_map(|m| match m {
                    Mount::Bind { source, .. } => Some(source.clone()),
                    Mount::Volume { .. } => None,
                })
                .collect();
            restart.extend(rules(WatchAction::Restart));
            if !restart.is_empty() {
                mounts.push((s.name.clone(), restart));
            }
            for rule in &s.develop {
                ignores.extend(
                    rule.ignore
                        .iter()
                        .filter_map(|p| glob(p))
                        .map(|re| (s.name.clone(), rule.path.clone(), re)),
                );
            }
        }
        let stack_file = std::path::absolute(&stack.file).unwrap_or_else(|_| stack.file.clone());
        WatchMap {
            builds,
            mounts,
            ignores,
            workspace_wide: ["Cargo.toml", "Cargo.lock"]
                .iter()
                .map(|f| packages.root.join(f))
                .collect(),
            stack_files: vec![stack_file, stack.dir.join(".env")],
            target: packages.target.clone(),
        }
    }

    /// Keeps only the services in `selection` (`up --watch SERVICE...` and their dependencies).
    pub fn only(mut self, selection: &BTreeSet<String>) -> WatchMap {
        self.builds.retain(|(s, _)| selection.contains(s));
        self.mounts.retain(|(s, _)| selection.contains(s));
        self.ignores.retain(|(s, _, _)| selection.contains(s));
        self
    }

    /// The directories to watch: the build sources recursively, and the directories of the
    /// stack file, the workspace manifest and mounted files alone. Never the workspace root
    /// recursively: its `target/` holds thousands of directories that churn during builds.
    pub fn roots(&self) -> Vec<Root> {
        let watched = self
            .builds
            .iter()
            .chain(&self.mounts)
            .flat_map(|(_, paths)| paths.iter());
        let (dirs, files): (Vec<&PathBuf>, Vec<&PathBuf>) = watched.partition(|p| p.is_dir());
        let mut recursive: Vec<PathBuf> = dirs.into_iter().cloned().collect();
        recursive.sort();
        recursive.dedup();
        // A directory inside another one is already watched.
        let outer: Vec<PathBuf> = recursive
            .iter()
            .filter(|d| !recursive.iter().any(|o| o != *d && d.starts_with(o)))
            .cloned()
            .collect();
        let mut flat: Vec<PathBuf> = files
            .into_iter()
            .chain(&self.stack_files)
            .chain(&self.workspace_wide)
            .filter_map(|f| f.parent().map(Path::to_path_buf))
            .filter(|d| !outer.iter().any(|o| d.starts_with(o)))
            .collect();
        flat.sort();
        flat.dedup();
        let mut roots: Vec<Root> = outer
            .into_iter()
            .map(|dir| Root {
                dir,
                recursive: true,
            })
            .chain(flat.into_iter().map(|dir| Root {
                dir,
                recursive: false,
            }))
            .filter(|r| r.dir.is_dir())
            .collect();
        roots.sort();
        roots
    }

    /// Whether `path` is a file msctl was told about (the stack file, `.env`, a mounted file):
    /// it counts even where git ignores it.
    pub fn is_explicit(&self, path: &Path) -> bool {
        self.stack_files.iter().any(|f| f == path)
            || self
                .mounts
                .iter()
                .any(|(_, sources)| sources.iter().any(|s| path.starts_with(s)))
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
                if self.ignored(service, path) {
                    continue;
                }
                if everything || dirs.iter().any(|d| under_sources(path, d)) {
                    out.rebuild.insert(service.clone());
                    counted = true;
                }
            }
            for (service, sources) in &self.mounts {
                if self.ignored(service, path) {
                    continue;
                }
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

impl WatchMap {
    /// Whether a `develop.watch` `ignore` pattern of `service` covers `path`.
    fn ignored(&self, service: &str, path: &Path) -> bool {
        self.ignores.iter().any(|(s, base, re)| {
            s == service
                && path
                    .strip_prefix(base)
                    .ok()
                    .and_then(|rest| rest.to_str())
                    .is_some_and(|rest| re.is_match(rest))
        })
    }
}

/// An `ignore` pattern as a regex over a path relative to the rule's path: `*` and `?` within a
/// name, `**` across directories; it covers the file it names, or the directory and all under it.
fn glob(pattern: &str) -> Option<Regex> {
    let mut re = String::from("^");
    let mut chars = pattern.trim_end_matches('/').chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '*' if chars.peek() == Some(&'*') => {
                chars.next();
                if chars.peek() == Some(&'/') {
                    chars.next();
                    re.push_str("(?:.*/)?");
                } else {
                    re.push_str(".*");
                }
            }
            '*' => re.push_str("[^/]*"),
            '?' => re.push_str("[^/]"),
            c => re.push_str(&regex::escape(c.encode_utf8(&mut [0; 4]))),
        }
    }
    re.push_str("(?:/.*)?$");
    Regex::new(&re).ok()
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
    fn develop_rules_add_restarts_and_rebuilds_and_ignore_patterns_win() {
        let (_, root) = map();
        let mut stack = crate::stack::load(&root.join("msctl.yaml")).unwrap();
        let packages = Packages::load(&root).unwrap();
        let gateway = stack
            .services
            .iter_mut()
            .find(|s| s.name == "gateway")
            .unwrap();
        gateway.develop = vec![
            crate::stack::WatchRule {
                path: root.join("docs/gateway.toml"),
                action: WatchAction::Restart,
                ignore: vec![],
            },
            crate::stack::WatchRule {
                path: root.join("services/gateway"),
                action: WatchAction::Rebuild,
                ignore: vec!["src/**/*.md".into(), "fixtures/".into()],
            },
        ];
        let map = WatchMap::new(&stack, &packages);
        let a = map.classify(&[root.join("docs/gateway.toml")]);
        assert_eq!(a.restart, BTreeSet::from(["gateway".to_owned()]), "{a:?}");
        for ignored in [
            "services/gateway/src/a/notes.md",
            "services/gateway/fixtures/x.json",
        ] {
            assert!(map.classify(&[root.join(ignored)]).is_empty(), "{ignored}");
        }
        let a = map.classify(&[root.join("services/gateway/src/proxy.rs")]);
        assert_eq!(a.rebuild, BTreeSet::from(["gateway".to_owned()]));
        assert!(map.roots().contains(&Root {
            dir: root.join("docs"),
            recursive: false
        }));
    }

    #[test]
    fn roots_are_the_services_sources_and_never_the_workspace_recursively() {
        let (map, root) = map();
        let roots = map.roots();
        let recursive: Vec<&Path> = roots
            .iter()
            .filter(|r| r.recursive)
            .map(|r| r.dir.as_path())
            .collect();
        assert!(
            recursive.contains(&root.join("crates/kit").as_path()),
            "{roots:?}"
        );
        assert!(recursive.contains(&root.join("services/order-service").as_path()));
        assert!(!recursive.iter().any(|d| root.starts_with(d)), "{roots:?}");
        assert!(roots.contains(&Root {
            dir: root.clone(),
            recursive: false
        }));
        // The bundled stack: a few dozen directories, not the thousands under target/.
        assert!(roots.len() < 60, "{}", roots.len());
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
