//! The consumer tests: `cargo test -p contracts` in the workspace. They drive each consumer's
//! real client code against Pact's mock server and write `contracts/pacts/`.

use crate::error::{Error, Result};
use std::path::Path;

/// The package that holds the consumer tests, by convention.
pub const PACKAGE: &str = "contracts";

/// Runs the consumer tests; on failure, the error carries the end of cargo's output.
pub fn run(workspace: &Path) -> Result<()> {
    if !workspace.join(PACKAGE).join("Cargo.toml").is_file() {
        return Err(Error::Usage(format!(
            "no consumer tests: {} has no `{PACKAGE}/` package (use --skip-consumers to verify the pacts in contracts/pacts as they are)",
            workspace.display()
        )));
    }
    let output = crate::cargo::command()
        .args(["test", "-p", PACKAGE, "--quiet"])
        .current_dir(workspace)
        // The consumer tests write the pacts from scratch (Pact merges into existing files
        // otherwise, and a removed interaction would stay).
        .env("PACT_OVERWRITE", "true")
        .env("PACT_DO_NOT_TRACK", "true")
        .output()
        .map_err(Error::io("running cargo test -p contracts"))?;
    if output.status.success() {
        return Ok(());
    }
    let text = String::from_utf8_lossy(&output.stdout).to_string()
        + &String::from_utf8_lossy(&output.stderr);
    let tail: Vec<&str> = text.lines().rev().take(40).collect();
    Err(Error::ConsumerTests(
        tail.into_iter().rev().collect::<Vec<_>>().join("\n"),
    ))
}
