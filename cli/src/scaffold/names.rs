//! What `msctl new service` checks before it writes anything: the name is a valid crate name
//! and DNS label and is free (no service, crate, directory), the route prefix is well formed and
//! nobody's, the port is free, the event names are event names. Every problem is reported at
//! once (exit 2).

use crate::stack::Stack;
use std::collections::BTreeSet;
use std::path::Path;

/// Names a new crate cannot take: the workspace's own packages and Rust's keywords (the crate
/// name is also an identifier, `use billing::…`).
const RESERVED: &[&str] = &[
    "msctl",
    "kit",
    "testkit",
    "testsvc",
    "contracts",
    "loadtests",
    "workspace-hack",
    "gateway",
    "test",
    "core",
    "std",
    "alloc",
    "proc-macro",
    "self",
    "super",
    "crate",
    "as",
    "async",
    "await",
    "break",
    "const",
    "continue",
    "dyn",
    "else",
    "enum",
    "extern",
    "false",
    "fn",
    "for",
    "if",
    "impl",
    "in",
    "let",
    "loop",
    "match",
    "mod",
    "move",
    "mut",
    "pub",
    "ref",
    "return",
    "static",
    "struct",
    "trait",
    "true",
    "type",
    "unsafe",
    "use",
    "where",
    "while",
    "abstract",
    "become",
    "box",
    "do",
    "final",
    "macro",
    "override",
    "priv",
    "try",
    "typeof",
    "unsized",
    "virtual",
    "yield",
];

/// Paths the gateway answers itself.
const GATEWAY_OWN: &[&str] = &["/health", "/metrics", "/openapi.json", "/.well-known"];

/// The longest name: container names add the project and `-db-1`, and a DNS label stops at 63.
pub const MAX_NAME: usize = 40;

/// Problems with `name` as a crate name and DNS label (empty: none).
pub fn check_name(name: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let shape = regex::Regex::new(r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$").expect("valid regex");
    if !shape.is_match(name) {
        problems.push(format!(
            "`{name}` is not a service name: use lowercase letters, digits and single `-` between them, starting with a letter (it is a crate name and a DNS name)"
        ));
    } else if name.len() > MAX_NAME {
        problems.push(format!(
            "`{name}` is {} characters long; at most {MAX_NAME} (container and database names are built from it)",
            name.len()
        ));
    }
    if RESERVED.contains(&name) || RESERVED.contains(&name.replace('-', "_").as_str()) {
        problems.push(format!(
            "`{name}` is reserved (a package of this workspace or a Rust keyword)"
        ));
    }
    problems
}

/// Problems with a route prefix on its own (`/billing`).
pub fn check_route(route: &str) -> Vec<String> {
    let shape = regex::Regex::new(r"^(/[a-z0-9][a-z0-9._-]*)+$").expect("valid regex");
    if !shape.is_match(route) {
        return vec![format!(
            "`{route}` is not a route prefix: a path like `/billing` (lowercase segments, no trailing `/`)"
        )];
    }
    GATEWAY_OWN
        .iter()
        .filter(|own| overlaps(route, own))
        .map(|own| format!("the route `{route}` overlaps the gateway's own `{own}`"))
        .collect()
}

/// Problems with an event type (`order.confirmed`).
pub fn check_event(event: &str) -> Vec<String> {
    let shape = regex::Regex::new(r"^[a-z][a-z0-9_-]*(\.[a-z][a-z0-9_-]*)+$").expect("valid regex");
    if shape.is_match(event) {
        Vec::new()
    } else {
        vec![format!(
            "`{event}` is not an event type: dotted lowercase words, like `order.confirmed`"
        )]
    }
}

/// Whether two prefixes would claim the same requests (`/a` and `/a/b` do; `/a` and `/ab` not).
pub fn overlaps(a: &str, b: &str) -> bool {
    let under = |x: &str, y: &str| x == y || x.starts_with(&format!("{y}/"));
    under(a, b) || under(b, a)
}

/// What the stack and the workspace already use.
#[derive(Debug, Default)]
pub struct Taken {
    pub services: BTreeSet<String>,
    pub crates: BTreeSet<String>,
    /// Route prefixes and exact paths of every service's `routes:`.
    pub routes: Vec<(String, String)>,
    pub ports: BTreeSet<u16>,
    pub has_broker: bool,
}

impl Taken {
    pub fn of(stack: &Stack) -> Taken {
        let mut taken = Taken {
            services: stack.services.iter().map(|s| s.name.clone()).collect(),
            crates: packages(&stack.workspace),
            ..Default::default()
        };
        for route in &stack.routes.routes {
            if let Some(p) = route.prefix.as_ref().or(route.path.as_ref()) {
                taken.routes.push((p.clone(), route.upstream.clone()));
            }
        }
        // Ports services listen on (their routes' upstreams) and publish on the host.
        for upstream in stack.routes.upstreams.values() {
            for url in &upstream.urls {
                if let Some(port) = url.rsplit(':').next().and_then(|p| p.parse().ok()) {
                    taken.ports.insert(port);
                }
            }
        }
        for s in &stack.services {
            for p in &s.ports {
                taken.ports.insert(p.container_port);
                taken.ports.insert(p.host_port);
            }
        }
        taken.has_broker = stack.broker().is_some();
        taken
    }

    /// Every problem with `options` (the route and port as they will be) in this stack.
    pub fn problems(
        &self,
        options: &super::Options,
        route: &str,
        port: u16,
        stack: &Stack,
    ) -> Vec<String> {
        let name = &options.name;
        let mut problems = check_name(name);
        problems.extend(check_route(route));
        let db_service = format!("{name}-db");
        for (what, taken_by) in [
            (name.as_str(), self.services.contains(name)),
            (
                db_service.as_str(),
                options.db && self.services.contains(&db_service),
            ),
        ] {
            if taken_by {
                problems.push(format!(
                    "the stack already has a service `{what}` ({})",
                    stack.file.display()
                ));
            }
        }
        if self.crates.contains(name) {
            problems.push(format!("the workspace already has a crate `{name}`"));
        }
        let dir = stack.dir.join("services").join(name);
        if dir.exists() {
            problems.push(format!("{} exists", dir.display()));
        }
        for (prefix, upstream) in &self.routes {
            if overlaps(route, prefix) {
                problems.push(format!(
                    "the route `{route}` overlaps `{prefix}`, which the gateway sends to {upstream}"
                ));
            }
        }
        if self.ports.contains(&port) {
            problems.push(format!("port {port} is taken by another service"));
        }
        for event in options.consumes.iter().chain(&options.publishes) {
            problems.extend(check_event(event));
        }
        let amqp = !options.consumes.is_empty() || !options.publishes.is_empty();
        if amqp && !options.db {
            problems.push(
                "--consumes and --publishes need --db postgres: the inbox that makes handling idempotent and the outbox are tables".into(),
            );
        }
        if amqp && !self.has_broker {
            problems.push(format!(
                "--consumes and --publishes need a RabbitMQ service in {}",
                stack.file.display()
            ));
        }
        if !["public", "user", "admin"].contains(&options.access.as_str()) {
            problems.push(format!(
                "--access `{}`: use public, user or admin",
                options.access
            ));
        }
        problems
    }

    /// The first port from 8006 up that no service uses.
    pub fn free_port(&self) -> u16 {
        (8006..u16::MAX)
            .find(|p| !self.ports.contains(p))
            .unwrap_or(8006)
    }
}

/// Package names of the workspace's crates (every `Cargo.toml` two levels down, `target/`
/// and hidden directories aside): enough to refuse a name cargo would refuse.
fn packages(workspace: &Path) -> BTreeSet<String> {
    let name = regex::Regex::new(r#"(?m)^name\s*=\s*"([^"]+)""#).expect("valid regex");
    let mut manifests = vec![workspace.join("Cargo.toml")];
    let dirs = |d: &Path| -> Vec<std::path::PathBuf> {
        std::fs::read_dir(d)
            .into_iter()
            .flatten()
            .flatten()
            .map(|e| e.path())
            .filter(|p| {
                p.is_dir()
                    && p.file_name().is_some_and(|n| {
                        let n = n.to_string_lossy();
                        !n.starts_with('.') && n != "target"
                    })
            })
            .collect()
    };
    for first in dirs(workspace) {
        manifests.push(first.join("Cargo.toml"));
        for second in dirs(&first) {
            manifests.push(second.join("Cargo.toml"));
        }
    }
    manifests
        .iter()
        .filter_map(|m| std::fs::read_to_string(m).ok())
        .filter_map(|text| {
            let package = text.split("[package]").nth(1)?;
            Some(name.captures(package)?[1].to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_must_be_crate_and_dns_names_and_not_reserved() {
        assert!(check_name("billing").is_empty());
        assert!(check_name("billing-v2").is_empty());
        for bad in [
            "Billing",
            "2fa",
            "billing-",
            "bil--ling",
            "bil_ling",
            "",
            "a.b",
        ] {
            assert_eq!(check_name(bad).len(), 1, "{bad}");
        }
        assert!(check_name("kit")[0].contains("reserved"));
        assert!(check_name("type")[0].contains("reserved"));
        assert!(check_name(&"a".repeat(41))[0].contains("at most 40"));
    }

    #[test]
    fn routes_are_paths_that_overlap_nothing_of_the_gateways() {
        assert!(check_route("/billing").is_empty());
        assert!(check_route("/billing/v2").is_empty());
        assert_eq!(check_route("billing").len(), 1);
        assert_eq!(check_route("/billing/").len(), 1);
        assert!(check_route("/health/billing")[0].contains("`/health`"));
        assert!(overlaps("/orders", "/orders/x"));
        assert!(!overlaps("/orders", "/ordersx"));
    }

    #[test]
    fn events_are_dotted_words() {
        assert!(check_event("order.confirmed").is_empty());
        assert!(check_event("billing.invoice_paid").is_empty());
        assert_eq!(check_event("confirmed").len(), 1);
        assert_eq!(check_event("Order.Confirmed").len(), 1);
    }
}
