//! Where a command's stack comes from: the stack file and the `-p` project name. A stack is
//! loaded again whenever `.env` changed (generated secrets), and must keep the same name.

use super::{load, load_with, valid_name, Stack, Vars};
use crate::error::{Error, Result};
use std::path::PathBuf;

/// The stack file and the project name that overrides its `name`, as the command line gave them.
#[derive(Debug, Clone)]
pub struct Source {
    pub file: PathBuf,
    pub project: Option<String>,
}

impl Source {
    /// The stack file, loaded and checked, named by `-p` when given.
    pub fn load(&self) -> Result<Stack> {
        let mut stack = load(&self.file)?;
        if let Some(project) = self.checked_project()? {
            stack.name = project;
        }
        Ok(stack)
    }

    /// As [`Source::load`], with `vars.env` in place of the process environment (`.env` is
    /// still read): `export k8s` resolves the stack with its secrets masked.
    pub fn load_with(&self, vars: Vars) -> Result<Stack> {
        let mut stack = load_with(&self.file, vars)?;
        if let Some(project) = self.checked_project()? {
            stack.name = project;
        }
        Ok(stack)
    }

    /// The project name, for commands that need no more of the stack file than that: with `-p`
    /// they work without one (a stack started elsewhere).
    pub fn project(&self) -> Result<String> {
        match self.checked_project()? {
            Some(p) => Ok(p),
            None => Ok(self.load()?.name),
        }
    }

    /// A path next to the stack file; relative paths stay relative (they are printed).
    pub fn beside(&self, rel: &str) -> PathBuf {
        match self.file.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.join(rel),
            _ => PathBuf::from(rel),
        }
    }

    /// `-p` names containers, networks and image tags, so it obeys the stack file's naming rule.
    fn checked_project(&self) -> Result<Option<String>> {
        match &self.project {
            Some(p) if !valid_name(p) => Err(Error::Usage(format!(
                "invalid project name `{p}`: use lowercase letters, digits, `-` and `_`, starting with a letter or digit"
            ))),
            other => Ok(other.clone()),
        }
    }
}
