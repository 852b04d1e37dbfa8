//! Dependency order: which services a command touches, and which start together. (A cycle stops
//! a stack file from loading: `stack` names it.)

use crate::stack::{Condition, ServiceSpec, Stack};
use std::collections::{BTreeSet, HashSet};

/// The services `up` should touch: the named ones (or, with none named, every service whose
/// profiles are unset or active) plus everything they depend on, transitively.
pub fn select<'a>(
    stack: &'a Stack,
    names: &[String],
    profiles: &[String],
) -> Result<Vec<&'a ServiceSpec>, String> {
    let mut wanted: Vec<&str> = Vec::new();
    if names.is_empty() {
        wanted.extend(
            stack
                .services
                .iter()
                .filter(|s| {
                    s.profiles.is_empty() || s.profiles.iter().any(|p| profiles.contains(p))
                })
                .map(|s| s.name.as_str()),
        );
    } else {
        for name in names {
            if stack.service(name).is_none() {
                let names = stack.services.iter().map(|s| s.name.as_str());
                return Err(match crate::diag::suggest(name, names) {
                    Some(close) => format!(
                        "no service named `{name}` in {} (did you mean `{close}`?)",
                        stack.file.display()
                    ),
                    None => format!("no service named `{name}` in {}", stack.file.display()),
                });
            }
            wanted.push(name);
        }
    }
    let mut selected = BTreeSet::new();
    while let Some(name) = wanted.pop() {
        if selected.insert(name) {
            if let Some(s) = stack.service(name) {
                wanted.extend(s.depends_on.iter().map(|d| d.service.as_str()));
            }
        }
    }
    Ok(stack
        .services
        .iter()
        .filter(|s| selected.contains(s.name.as_str()))
        .collect())
}

/// Groups services into levels: each level depends only on earlier ones, so a level's
/// services can start concurrently. Validation has already ruled out cycles.
pub fn levels<'a>(services: &[&'a ServiceSpec]) -> Vec<Vec<&'a ServiceSpec>> {
    let names: HashSet<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut placed: HashSet<&str> = HashSet::new();
    let mut levels = Vec::new();
    while placed.len() < services.len() {
        let level: Vec<&ServiceSpec> = services
            .iter()
            .filter(|s| !placed.contains(s.name.as_str()))
            .filter(|s| {
                s.depends_on.iter().all(|d| {
                    placed.contains(d.service.as_str()) || !names.contains(d.service.as_str())
                })
            })
            .copied()
            .collect();
        if level.is_empty() {
            break; // a cycle; validation reports it, never reached in practice
        }
        placed.extend(level.iter().map(|s| s.name.as_str()));
        levels.push(level);
    }
    levels
}

/// The strongest condition any selected dependent waits for on `service`.
pub fn required_condition(services: &[&ServiceSpec], service: &str) -> Option<Condition> {
    services
        .iter()
        .flat_map(|s| &s.depends_on)
        .filter(|d| d.service == service)
        .map(|d| d.condition)
        .max_by_key(|c| match c {
            Condition::Started => 0,
            Condition::Healthy => 1,
            Condition::Completed => 2,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    use crate::stack::{load_with, Vars};
    use std::path::Path;

    fn parse_in(dir: &Path, yaml: &str) -> Stack {
        std::fs::write(dir.join("msctl.yaml"), yaml).unwrap();
        load_with(&dir.join("msctl.yaml"), Vars::default()).unwrap()
    }

    const STACK: &str = "
services:
  db: { image: postgres:15, healthcheck: { test: [pg_isready] } }
  api:
    image: api
    depends_on: { db: { condition: healthy } }
  worker: { image: w, depends_on: [api] }
  debug: { image: d, profiles: [tools], depends_on: [api] }
";

    fn names(services: &[&ServiceSpec]) -> Vec<String> {
        services.iter().map(|s| s.name.clone()).collect()
    }

    #[test]
    fn profiles_and_named_services_select_with_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let stack = parse_in(dir.path(), STACK);
        assert_eq!(
            names(&select(&stack, &[], &[]).unwrap()),
            ["db", "api", "worker"]
        );
        assert_eq!(
            names(&select(&stack, &[], &["tools".into()]).unwrap()),
            ["db", "api", "worker", "debug"]
        );
        assert_eq!(
            names(&select(&stack, &["api".into()], &[]).unwrap()),
            ["db", "api"]
        );
        assert_eq!(
            names(&select(&stack, &["debug".into()], &[]).unwrap()),
            ["db", "api", "debug"]
        );
        let err = select(&stack, &["wroker".into()], &[]).unwrap_err();
        assert!(err.contains("did you mean `worker`"), "{err}");
    }

    #[test]
    fn levels_follow_dependencies() {
        let dir = tempfile::tempdir().unwrap();
        let stack = parse_in(dir.path(), STACK);
        let selected = select(&stack, &[], &["tools".into()]).unwrap();
        let levels: Vec<Vec<String>> = levels(&selected).iter().map(|l| names(l)).collect();
        assert_eq!(levels, [vec!["db"], vec!["api"], vec!["worker", "debug"]]);
    }
}
