//! The stack file: loading, interpolation, validation, and the resolved model the engine uses.
//!
//! Loading is two-staged: [`model`] is the file as written (every value spanned), and
//! [`resolve`] turns it into a [`Stack`] of plain values, collecting every problem as a
//! [`Diagnostic`] with its position. Nothing here talks to Docker.

mod diag;
mod interpolate;
pub mod model;
mod resolve;
pub mod spanned;
mod types;

pub use diag::{suggest, Diagnostic, StackErrors};
pub use interpolate::{interpolate, parse_dotenv, Vars};
pub use model::Condition;
pub use types::*;

use std::path::{Path, PathBuf};

/// Default stack file name, looked up in the current directory.
pub const DEFAULT_FILE: &str = "msctl.yaml";

/// Reads, parses, interpolates and validates a stack file.
pub fn load(path: &Path) -> Result<Stack, StackErrors> {
    let vars = Vars {
        env: std::env::vars().collect(),
        dotenv: Default::default(),
    };
    load_with(path, vars)
}

/// As [`load`], with the process environment replaced by `vars.env` (tests).
pub fn load_with(path: &Path, mut vars: Vars) -> Result<Stack, StackErrors> {
    let fail = |message: String| StackErrors {
        file: path.to_path_buf(),
        diagnostics: vec![Diagnostic::new(Default::default(), message)],
    };
    let text = std::fs::read_to_string(path).map_err(|e| {
        let mut errors = fail(format!("cannot read the stack file: {e}"));
        errors.diagnostics[0].help =
            Some("run msctl where msctl.yaml is, or name the file with -f".into());
        errors
    })?;
    let abs =
        std::path::absolute(path).map_err(|e| fail(format!("cannot resolve the path: {e}")))?;
    let dir = abs
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| PathBuf::from("/"));
    if let Ok(dotenv) = std::fs::read_to_string(dir.join(".env")) {
        vars.dotenv = parse_dotenv(&dotenv);
    }
    parse(&text, path, &dir, &vars)
}

/// Parses stack file text; `dir` anchors relative paths.
pub fn parse(text: &str, file: &Path, dir: &Path, vars: &Vars) -> Result<Stack, StackErrors> {
    let options = serde_saphyr::options! { with_snippet: false };
    let raw: model::StackFile =
        serde_saphyr::from_str_with_options(text, options).map_err(|e| StackErrors {
            file: file.to_path_buf(),
            diagnostics: vec![diag::from_yaml_error(&e)],
        })?;
    resolve::resolve(raw, file, dir, vars)
}

/// JSON Schema of the stack file, for editors.
pub fn json_schema() -> serde_json::Value {
    serde_json::to_value(schemars::schema_for!(model::StackFile)).expect("schema serializes")
}
