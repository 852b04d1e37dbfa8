//! The stack file: loading, interpolation, validation, and the resolved model the engine uses.
//!
//! Loading is two-staged: [`model`] is the file as written (every value spanned), and
//! [`resolve`] turns it into a [`Stack`] of plain values, collecting every problem as a
//! [`Diagnostic`](crate::diag::Diagnostic) with its position. Nothing here talks to Docker.

mod cycle;
mod interpolate;
pub mod model;
mod resolve;
mod roles;
pub mod routes;
mod source;
mod types;

pub use interpolate::{interpolate, parse_dotenv, Vars};
pub use model::{Condition, SecretKind};
pub use resolve::valid_name;
pub use source::Source;
pub use types::*;

use crate::diag::{Diagnostic, FileErrors};
use std::path::{Path, PathBuf};

/// Default stack file name, looked up in the current directory.
pub const DEFAULT_FILE: &str = "msctl.yaml";

/// Reads, parses, interpolates and validates a stack file.
pub fn load(path: &Path) -> Result<Stack, FileErrors> {
    let vars = Vars {
        env: std::env::vars().collect(),
        dotenv: Default::default(),
    };
    load_with(path, vars)
}

/// As [`load`], with the process environment replaced by `vars.env` (tests).
pub fn load_with(path: &Path, mut vars: Vars) -> Result<Stack, FileErrors> {
    let fail =
        |message: String| FileErrors::one(path, Diagnostic::new(Default::default(), message));
    let text = std::fs::read_to_string(path).map_err(|e| {
        FileErrors::one(
            path,
            Diagnostic::new(
                Default::default(),
                format!("cannot read the stack file: {e}"),
            )
            .help("run msctl where msctl.yaml is, or name the file with -f"),
        )
    })?;
    let abs =
        std::path::absolute(path).map_err(|e| fail(format!("cannot resolve the path: {e}")))?;
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    vars.dotenv = read_dotenv(&dir.join(".env"))?;
    parse(&text, path, &dir, &vars)
}

/// The variables of a `.env` file; none when there is no such file. A `.env` that exists but
/// cannot be read is an error naming it: the stack would otherwise start without the secrets
/// it holds.
pub fn read_dotenv(path: &Path) -> Result<std::collections::HashMap<String, String>, FileErrors> {
    match std::fs::read_to_string(path) {
        Ok(text) => Ok(parse_dotenv(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
        Err(e) => Err(FileErrors::one(
            path,
            Diagnostic::new(
                Default::default(),
                format!("cannot read the environment file: {e}"),
            ),
        )),
    }
}

/// Parses stack file text; `dir` anchors relative paths.
pub fn parse(text: &str, file: &Path, dir: &Path, vars: &Vars) -> Result<Stack, FileErrors> {
    let raw: model::StackFile = crate::diag::parse_yaml(text, file)?;
    resolve::resolve(raw, file, dir, vars)
}

/// JSON Schema of the stack file, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::StackFile)).expect("schema serializes")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_in(dir: &Path, yaml: &str, env: &[(&str, &str)]) -> Result<Stack, FileErrors> {
        let vars = Vars {
            env: env
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            dotenv: Default::default(),
        };
        std::fs::write(dir.join("msctl.yaml"), yaml).unwrap();
        load_with(&dir.join("msctl.yaml"), vars)
    }

    /// An unreadable `.env` was read as an empty one: the stack started without its secrets.
    #[test]
    fn an_env_file_that_cannot_be_read_is_an_error_naming_it() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join(".env")).unwrap();
        let err = parse_in(dir.path(), "services:\n  a: { image: app }\n", &[])
            .unwrap_err()
            .to_string();
        assert!(err.contains(".env"), "{err}");
        assert!(err.contains("cannot read the environment file"), "{err}");
        assert!(read_dotenv(&dir.path().join("absent")).unwrap().is_empty());
    }

    #[test]
    fn dotenv_and_environment_interpolate_and_environment_wins() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join(".env"),
            "TAG=from-dotenv\nPASSWORD=s3cr#t\n",
        )
        .unwrap();
        let yaml = "services:\n  a:\n    image: app:${TAG}\n    environment:\n      PASSWORD: ${PASSWORD}\n      WHO: ${WHO:-nobody}\n";
        let stack = parse_in(dir.path(), yaml, &[("TAG", "from-env")]).unwrap();
        let a = stack.service("a").unwrap();
        assert_eq!(a.image, ImageSource::Reference("app:from-env".into()));
        assert_eq!(
            a.env["PASSWORD"], "s3cr#t",
            "a # in a value is data, not a comment"
        );
        assert_eq!(a.env["WHO"], "nobody");
    }

    #[test]
    fn file_secrets_are_mounted_read_only_and_never_inlined() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("secrets")).unwrap();
        std::fs::write(dir.path().join("secrets/pg"), "hunter2").unwrap();
        let yaml = "services:\n  db:\n    image: postgres:15\n    environment:\n      POSTGRES_PASSWORD_FILE: ./secrets/pg\n";
        let stack = parse_in(dir.path(), yaml, &[]).unwrap();
        let db = stack.service("db").unwrap();
        assert_eq!(
            db.env["POSTGRES_PASSWORD_FILE"],
            "/run/secrets/postgres_password"
        );
        assert_eq!(
            db.mounts,
            [Mount::Bind {
                source: dir.path().join("./secrets/pg"),
                target: "/run/secrets/postgres_password".into(),
                read_only: true
            }]
        );
        assert!(!format!("{db:?}").contains("hunter2"));

        let missing = "services:\n  db:\n    image: x\n    environment:\n      KEY_FILE: ./nope\n";
        let err = parse_in(dir.path(), missing, &[]).unwrap_err().to_string();
        assert!(
            err.contains("msctl.yaml:5:17: secret file `./nope` does not exist"),
            "{err}"
        );
    }

    #[test]
    fn ports_default_to_loopback_and_reject_replicas() {
        let dir = tempfile::tempdir().unwrap();
        let stack = parse_in(
            dir.path(),
            "services:\n  a:\n    image: x\n    ports: [\"5432:5432\", \"0.0.0.0:8080:80\"]\n",
            &[],
        )
        .unwrap();
        let ips: Vec<&str> = stack.services[0]
            .ports
            .iter()
            .map(|p| p.host_ip.as_str())
            .collect();
        assert_eq!(ips, ["127.0.0.1", "0.0.0.0"]);
        let err = parse_in(
            dir.path(),
            "services:\n  a:\n    image: x\n    replicas: 2\n    ports: [\"80:80\"]\n",
            &[],
        )
        .unwrap_err()
        .to_string();
        assert!(
            err.contains("2 replicas of `a` cannot share its published ports"),
            "{err}"
        );
    }

    #[test]
    fn the_bundled_stack_file_is_valid() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../msctl.yaml");
        let stack = load_with(&path, Vars::default()).unwrap();
        assert_eq!(stack.name, "shop");
        assert!(stack.service("gateway").is_some_and(|g| g.ports.len() == 1));
    }
}
