//! Dependency order: which services start together, and which cycle stops a stack from starting.

use crate::stack::{Condition, ServiceSpec, Stack};
use std::collections::{BTreeSet, HashMap, HashSet};

/// A cycle among `(from, to)` edges as a path that returns to its start (`a → b → a`), if any.
pub fn find_cycle(edges: &[(String, String)]) -> Option<Vec<String>> {
    let mut adj: HashMap<&str, Vec<&str>> = HashMap::new();
    for (from, to) in edges {
        adj.entry(from).or_default().push(to);
    }
    let mut starts: Vec<&str> = adj.keys().copied().collect();
    starts.sort_unstable();
    let mut done = HashSet::new();
    for start in starts {
        let mut path = Vec::new();
        if let Some(cycle) = dfs(start, &adj, &mut path, &mut done) {
            return Some(cycle);
        }
    }
    None
}

fn dfs<'a>(
    node: &'a str,
    adj: &HashMap<&'a str, Vec<&'a str>>,
    path: &mut Vec<&'a str>,
    done: &mut HashSet<&'a str>,
) -> Option<Vec<String>> {
    if let Some(at) = path.iter().position(|n| *n == node) {
        let mut cycle: Vec<String> = path[at..].iter().map(|s| s.to_string()).collect();
        cycle.push(node.to_owned());
        return Some(cycle);
    }
    if done.contains(node) {
        return None;
    }
    path.push(node);
    for next in adj.get(node).into_iter().flatten() {
        if let Some(cycle) = dfs(next, adj, path, done) {
            return Some(cycle);
        }
    }
    path.pop();
    done.insert(node);
    None
}

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

    fn e(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn names_the_cycle() {
        let cycle = find_cycle(&e(&[("a", "b"), ("b", "c"), ("c", "a"), ("d", "a")])).unwrap();
        assert_eq!(cycle.first(), cycle.last());
        assert_eq!(cycle.len(), 4);
        assert!(find_cycle(&e(&[("a", "b"), ("b", "c"), ("a", "c")])).is_none());
    }
}
