//! Cycles among dependencies, named as a path (`a → b → a`): the stack file's `depends_on`
//! must have none.

use std::collections::{HashMap, HashSet};

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
