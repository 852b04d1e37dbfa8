//! The Cargo workspace as `up --watch` needs it: each package's directory and the workspace
//! packages it depends on (normal and build dependencies; a dev-dependency does not go into
//! the binary), read from `cargo metadata`.

use crate::error::{Error, Result};
use serde_json::Value;
use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Packages {
    /// Package name → its directory (where its Cargo.toml is).
    pub dirs: BTreeMap<String, PathBuf>,
    /// Package name → the workspace packages it depends on directly.
    pub deps: BTreeMap<String, BTreeSet<String>>,
    pub root: PathBuf,
    pub target: PathBuf,
}

impl Packages {
    /// `cargo metadata --no-deps` of the workspace at `workspace` (offline: it reads manifests
    /// only, in a few tens of milliseconds).
    pub fn load(workspace: &Path) -> Result<Packages> {
        let out = crate::cargo::command()
            .args([
                "metadata",
                "--format-version",
                "1",
                "--no-deps",
                "--offline",
            ])
            .current_dir(workspace)
            .output()
            .map_err(Error::io("running cargo metadata"))?;
        if !out.status.success() {
            return Err(Error::Environment(format!(
                "cargo metadata failed in {}: {}",
                workspace.display(),
                String::from_utf8_lossy(&out.stderr).trim()
            )));
        }
        let json: Value = serde_json::from_slice(&out.stdout)
            .map_err(|e| Error::Environment(format!("cargo metadata: {e}")))?;
        Ok(Packages::from_metadata(&json))
    }

    pub fn from_metadata(json: &Value) -> Packages {
        let path = |v: &Value| PathBuf::from(v.as_str().unwrap_or_default());
        let mut packages = Packages {
            root: path(&json["workspace_root"]),
            target: path(&json["target_directory"]),
            ..Default::default()
        };
        let empty = Vec::new();
        let all = json["packages"].as_array().unwrap_or(&empty);
        let names: BTreeSet<&str> = all.iter().filter_map(|p| p["name"].as_str()).collect();
        for p in all {
            let Some(name) = p["name"].as_str() else {
                continue;
            };
            let manifest = path(&p["manifest_path"]);
            let dir = manifest.parent().map(Path::to_path_buf).unwrap_or_default();
            let deps = p["dependencies"]
                .as_array()
                .unwrap_or(&empty)
                .iter()
                .filter(|d| d["kind"].is_null() || d["kind"] == "build")
                .filter(|d| d["path"].is_string())
                .filter_map(|d| d["name"].as_str())
                .filter(|d| names.contains(d))
                .map(str::to_owned)
                .collect();
            packages.dirs.insert(name.to_owned(), dir);
            packages.deps.insert(name.to_owned(), deps);
        }
        packages
    }

    /// `package` and every workspace package it depends on, transitively.
    pub fn closure(&self, package: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![package.to_owned()];
        while let Some(p) = todo.pop() {
            if seen.insert(p.clone()) {
                todo.extend(self.deps.get(&p).into_iter().flatten().cloned());
            }
        }
        seen
    }

    /// The package whose directory holds `path` (the deepest one: `crates/kit` rather than the
    /// workspace root's package, if it has one).
    pub fn owner(&self, path: &Path) -> Option<&str> {
        self.dirs
            .iter()
            .filter(|(_, dir)| path.starts_with(dir))
            .max_by_key(|(_, dir)| dir.components().count())
            .map(|(name, _)| name.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_real_workspace_s_services_depend_on_kit_and_not_on_their_dev_dependencies() {
        let root = Path::new(env!("CARGO_MANIFEST_DIR")).parent().unwrap();
        let packages = Packages::load(root).unwrap();
        let order = packages.closure("order-service");
        assert!(order.contains("kit"), "{order:?}");
        // order-service's tests use payment-service and product-service; its binary does not.
        assert!(!order.contains("payment-service"), "{order:?}");
        assert!(!order.contains("testkit"), "{order:?}");
        assert_eq!(
            packages.owner(&root.join("crates/kit/src/lib.rs")),
            Some("kit")
        );
        assert_eq!(packages.owner(Path::new("/elsewhere/x.rs")), None);
    }
}
