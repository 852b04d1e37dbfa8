//! What the stack file says about the network, which a cluster needs spelled out: the ports each
//! service listens on, and who calls whom.
//!
//! Ports come from three places: a service's `routes.port` (the gateway sends HTTP there), its
//! published ports (the container side), and the URLs its callers hold in their environment
//! (`postgres://…@users-db:5432/…`): databases and brokers declare no port of their own.
//! The edges are the calls msctl knows: every `depends_on`, and the gateway to each routed
//! service. A URL to a service that is neither is reported: no policy would let it through.

use crate::diag::{Diagnostic, Pos};
use crate::stack::{model, ServiceSpec, Stack};
use regex::Regex;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::LazyLock;

/// A port a service listens on, named for what speaks on it (`postgres`, `amqp`, `http`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPort {
    pub name: String,
    pub port: u16,
}

/// A call from one service to another, and the ports it uses (empty: every port of `to`).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Edge {
    pub from: String,
    pub to: String,
    pub ports: Vec<u16>,
}

#[derive(Debug, Default)]
pub struct Facts {
    pub ports: BTreeMap<String, Vec<NamedPort>>,
    pub edges: Vec<Edge>,
}

impl Facts {
    pub fn ports_of(&self, service: &str) -> &[NamedPort] {
        self.ports.get(service).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// `scheme://[userinfo@]host:port`, as services find each other in their environment.
static URL: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"([a-z][a-z0-9+.-]*)://(?:[^@/\s]*@)?([A-Za-z0-9_.-]+):([0-9]{1,5})")
        .expect("valid")
});

/// The URLs in `s`'s environment that point at another service of `names`: (variable,
/// scheme, service, port).
fn calls<'a>(s: &'a ServiceSpec, names: &BTreeSet<&str>) -> Vec<(&'a str, String, String, u16)> {
    let mut out = Vec::new();
    for (key, value) in &s.env {
        for c in URL.captures_iter(value) {
            let host = &c[2];
            let Ok(port) = c[3].parse::<u16>() else {
                continue;
            };
            if host != s.name && names.contains(host) {
                out.push((key.as_str(), c[1].to_owned(), host.to_owned(), port));
            }
        }
    }
    out
}

pub fn gather(
    stack: &Stack,
    services: &[&ServiceSpec],
    raw: &model::StackFile,
    warnings: &mut Vec<Diagnostic>,
) -> Facts {
    let names: BTreeSet<&str> = services.iter().map(|s| s.name.as_str()).collect();
    let mut facts = Facts::default();
    let mut add = |svc: &str, name: &str, port: u16| {
        let list = facts.ports.entry(svc.to_owned()).or_default();
        if list.iter().any(|p| p.port == port) {
            return;
        }
        let mut name = port_name(name, port);
        if list.iter().any(|p| p.name == name) {
            name = port_name(&format!("{name}-{port}"), port);
        }
        list.push(NamedPort { name, port });
    };
    for s in services {
        if let Some(port) = stack.route_port(&s.name) {
            add(&s.name, "http", port);
        }
        let gateway = stack.gateway().is_some_and(|g| g.name == s.name);
        for p in s.ports.iter().filter(|p| p.protocol == "tcp") {
            add(
                &s.name,
                if gateway { "http" } else { "tcp" },
                p.container_port,
            );
        }
    }
    let urls: Vec<_> = services.iter().map(|s| calls(s, &names)).collect();
    for (_, scheme, host, port) in urls.iter().flatten() {
        add(host, scheme, *port);
    }

    let gateway = stack.gateway().map(|g| g.name.as_str());
    for (s, urls) in services.iter().zip(urls) {
        let mut targets: Vec<&str> = s
            .depends_on
            .iter()
            .map(|d| d.service.as_str())
            .filter(|d| names.contains(d))
            .collect();
        if gateway == Some(s.name.as_str()) {
            targets.extend(
                stack
                    .routes
                    .upstreams
                    .keys()
                    .map(String::as_str)
                    .filter(|u| names.contains(u)),
            );
        }
        let mut seen = BTreeSet::new();
        for to in targets {
            if !seen.insert(to) {
                continue;
            }
            let mut ports: Vec<u16> = urls
                .iter()
                .filter(|(_, _, host, _)| host == to)
                .map(|(_, _, _, p)| *p)
                .collect();
            if ports.is_empty() && gateway == Some(s.name.as_str()) {
                ports.extend(stack.http_port(to));
            }
            if ports.is_empty() {
                ports = facts.ports_of(to).iter().map(|p| p.port).collect();
            }
            ports.sort_unstable();
            ports.dedup();
            facts.edges.push(Edge {
                from: s.name.clone(),
                to: to.to_owned(),
                ports,
            });
        }
        for (key, _, host, port) in urls {
            if !seen.contains(host.as_str()) {
                warnings.push(
                    Diagnostic::new(
                        env_pos(raw, &s.name, key),
                        format!(
                            "`{}` calls `{host}:{port}` ({key}) but does not depend on it: no NetworkPolicy lets that call through",
                            s.name
                        ),
                    )
                    .help(format!("add `{host}` to the `depends_on` of `{}`", s.name)),
                );
            }
        }
    }
    facts.edges.sort();
    facts
}

/// An IANA-style port name: lowercase letters, digits and `-`, at most 15, with a letter.
fn port_name(wanted: &str, port: u16) -> String {
    let mut name: String = wanted
        .to_ascii_lowercase()
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .collect();
    name.truncate(15);
    let name = name.trim_matches('-').to_owned();
    if name.is_empty() || !name.chars().any(|c| c.is_ascii_lowercase()) || name.contains("--") {
        format!("tcp-{port}")
    } else {
        name
    }
}

/// Where `service`'s environment variable `key` is written (the service's own line when the
/// key is not there: the export of a stack resolved from this file always finds it).
pub fn env_pos(raw: &model::StackFile, service: &str, key: &str) -> Pos {
    raw.services
        .0
        .iter()
        .find(|(k, _)| k.value == service)
        .map(|(k, svc)| {
            svc.environment
                .iter()
                .find(|(name, _, _)| *name == key)
                .map(|(_, p, _)| p)
                .unwrap_or_else(|| crate::diag::pos(k))
        })
        .unwrap_or_default()
}

/// Where `service` is declared.
pub fn service_pos(raw: &model::StackFile, service: &str) -> Pos {
    raw.services
        .0
        .iter()
        .find(|(k, _)| k.value == service)
        .map(|(k, _)| crate::diag::pos(k))
        .unwrap_or_default()
}

/// The raw declaration of `service`.
pub fn raw_service<'a>(raw: &'a model::StackFile, service: &str) -> Option<&'a model::Service> {
    raw.services
        .0
        .iter()
        .find(|(k, _)| k.value == service)
        .map(|(_, s)| s)
}

#[cfg(test)]
mod tests {
    use super::port_name;

    #[test]
    fn port_names_are_short_lowercase_and_never_all_digits() {
        assert_eq!(port_name("postgres", 5432), "postgres");
        assert_eq!(port_name("HTTP", 80), "http");
        assert_eq!(port_name("postgresql+asyncpg", 5432), "postgresql-asyn");
        assert_eq!(port_name("123", 123), "tcp-123");
        assert_eq!(port_name("", 9), "tcp-9");
    }
}
