//! The stack's containers, by msctl's labels (`msctl.project`, `msctl.service`), through the
//! `docker` CLI: the faults are what an operator would do by hand.

use crate::shop::Error;
use std::process::Command;

pub struct Stack {
    pub project: String,
}

fn run(args: &[&str]) -> Result<String, Error> {
    let out = Command::new("docker").args(args).output()?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    } else {
        Err(format!(
            "docker {}: {}",
            args.join(" "),
            String::from_utf8_lossy(&out.stderr).trim()
        )
        .into())
    }
}

impl Stack {
    pub fn new(project: &str) -> Stack {
        Stack {
            project: project.to_owned(),
        }
    }

    /// The container of `service` (its first replica).
    pub fn container(&self, service: &str) -> Result<String, Error> {
        let ids = run(&[
            "ps",
            "-aq",
            "--filter",
            &format!("label=msctl.project={}", self.project),
            "--filter",
            &format!("label=msctl.service={service}"),
        ])?;
        ids.lines()
            .next()
            .map(str::to_owned)
            .ok_or_else(|| format!("no container for {service} in project {}", self.project).into())
    }

    /// SIGKILL: no graceful shutdown, in-flight work lost.
    pub fn kill(&self, service: &str) -> Result<(), Error> {
        run(&["kill", "--signal", "KILL", &self.container(service)?]).map(|_| ())
    }

    pub fn start(&self, service: &str) -> Result<(), Error> {
        run(&["start", &self.container(service)?]).map(|_| ())
    }

    pub fn restart(&self, service: &str) -> Result<(), Error> {
        run(&["restart", "--time", "10", &self.container(service)?]).map(|_| ())
    }

    /// One value from `sql`, run by psql inside `service` (a PostgreSQL container of the
    /// stack), as `user` on database `user` — the bundled stack's convention.
    pub fn psql(&self, service: &str, user: &str, sql: &str) -> Result<String, Error> {
        run(&[
            "exec",
            &self.container(service)?,
            "psql",
            "-U",
            user,
            "-d",
            user,
            "-At",
            "-c",
            sql,
        ])
    }
}
