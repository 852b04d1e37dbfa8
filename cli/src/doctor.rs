//! `msctl doctor`: what is installed, what is reachable, what `up` would build.

use crate::images::{self, standin, Availability};
use crate::stack::{ImageSource, Stack};
use serde::Serialize;

#[derive(Debug, Serialize)]
pub struct Check {
    pub check: String,
    pub ok: bool,
    pub detail: String,
}

fn check(check: &str, ok: bool, detail: impl Into<String>) -> Check {
    Check {
        check: check.into(),
        ok,
        detail: detail.into(),
    }
}

pub async fn run(stack: Result<&Stack, String>) -> Vec<Check> {
    let mut checks = vec![check("msctl", true, env!("CARGO_PKG_VERSION"))];
    let cargo = std::process::Command::new("cargo")
        .arg("--version")
        .output();
    checks.push(match cargo {
        Ok(out) if out.status.success() => {
            check("cargo", true, String::from_utf8_lossy(&out.stdout).trim())
        }
        _ => check(
            "cargo",
            false,
            "not found: install Rust with rustup (needed for `build.crate` services)",
        ),
    });
    checks.push(match standin::can_build() {
        Ok(()) => check(
            "stand-in images",
            true,
            "debootstrap present, running as root",
        ),
        Err(e) => check("stand-in images", false, e.to_string()),
    });
    let docker = match crate::docker::connect().await {
        Ok(docker) => {
            let version = docker.version().await.ok();
            let detail = version
                .map(|v| {
                    format!(
                        "engine {} (API {}) at {}",
                        v.version.unwrap_or_default(),
                        v.api_version.unwrap_or_default(),
                        crate::docker::endpoint()
                    )
                })
                .unwrap_or_default();
            checks.push(check("docker", true, detail));
            Some(docker)
        }
        Err(e) => {
            checks.push(check("docker", false, e.to_string()));
            None
        }
    };
    let stack = match stack {
        Ok(stack) => {
            checks.push(check(
                "stack file",
                true,
                format!(
                    "{}: project `{}`, {} services",
                    stack.file.display(),
                    stack.name,
                    stack.services.len()
                ),
            ));
            stack
        }
        Err(e) => {
            checks.push(check("stack file", false, e));
            return checks;
        }
    };
    let Some(docker) = docker else { return checks };
    for s in &stack.services {
        let name = format!("image of {}", s.name);
        checks.push(match &s.image {
            ImageSource::Reference(r) => match images::availability(&docker, r).await {
                Availability::Present(id) => check(
                    &name,
                    true,
                    format!("{r} present ({})", crate::engine::plan::short_id(&id)),
                ),
                Availability::StandIn(recipe) => check(
                    &name,
                    true,
                    format!(
                        "{r} missing: would build a stand-in ({})",
                        recipe.describe()
                    ),
                ),
                Availability::PullOnly => check(
                    &name,
                    false,
                    format!("{r} missing, no stand-in recipe: needs a registry"),
                ),
            },
            ImageSource::Crate { krate, base, .. } => {
                check(&name, true, format!("built from crate `{krate}` on {base}"))
            }
            ImageSource::Dockerfile {
                context,
                dockerfile,
            } => check(
                &name,
                true,
                format!("built from {}/{dockerfile}", context.display()),
            ),
        });
    }
    checks
}

pub fn render(checks: &[Check]) -> String {
    let rows: Vec<Vec<String>> = checks
        .iter()
        .map(|c| {
            vec![
                if c.ok { "ok".into() } else { "PROBLEM".into() },
                c.check.clone(),
                c.detail.clone(),
            ]
        })
        .collect();
    crate::ui::table(&["", "CHECK", "DETAIL"], &rows)
}
