//! The gateway's routing table, gathered from every service's `routes:` block (Traefik's labels
//! are the model: a service declares its own routing, and no list in the gateway names it).
//!
//! The table is the JSON the gateway reads from `GATEWAY_ROUTES` (services/gateway, docs/
//! gateway.md): one upstream per service (`http://<service>:<port>`), its paths, and the access
//! rules in file order (first match wins). msctl hands it to the service marked `gateway: true`
//! as that environment variable, so a change of routes is a change of the gateway's
//! configuration, and `up` recreates it.

use super::model;
use super::types::{Route, RoutingTable, Rule, ServiceSpec, Upstream};
use crate::diag::{pos, Diagnostic, Pos, Spanned};
use std::collections::BTreeMap;

/// The environment variable the gateway reads its routing table from.
pub const ENV: &str = "GATEWAY_ROUTES";

const ACCESS: [&str; 3] = ["public", "user", "admin"];

/// Checks every `routes:` block and `gateway:` flag of `raw`, sets `GATEWAY_ROUTES` on the
/// gateway among `services` (resolved from `raw`), and returns the table.
pub fn apply(
    raw: &model::StackFile,
    services: &mut [ServiceSpec],
    diags: &mut Vec<Diagnostic>,
) -> RoutingTable {
    let table = table(raw, diags);
    let gateways: Vec<(&Spanned<String>, Pos)> = raw
        .services
        .0
        .iter()
        .filter_map(|(name, svc)| match &svc.gateway {
            Some(flag) if flag.value => Some((name, pos(flag))),
            _ => None,
        })
        .collect();
    let routed = raw.services.0.iter().find_map(|(_, s)| s.routes.as_ref());
    match (gateways.as_slice(), routed) {
        ([], None) => {}
        ([], Some(routes)) => diags.push(
            Diagnostic::new(
                pos(&routes.port),
                "these routes have no gateway to serve them",
            )
            .help("mark the gateway service with `gateway: true`"),
        ),
        ([(name, at)], _) => {
            if table.routes.is_empty() {
                diags.push(
                    Diagnostic::new(
                        *at,
                        format!("the gateway `{}` has nothing to route", name.value),
                    )
                    .help("give the services it fronts a `routes:` block"),
                );
            }
            let Some(gateway) = services.iter_mut().find(|s| s.name == name.value) else {
                return table;
            };
            if gateway.env.contains_key(ENV) {
                diags.push(
                    Diagnostic::new(
                        *at,
                        format!("{ENV} is set by msctl from the services' routes"),
                    )
                    .help(format!(
                        "remove {ENV} from the environment of `{}`",
                        name.value
                    )),
                );
            }
            let json = serde_json::to_string(&table).expect("serializable");
            gateway.env.insert(ENV.to_owned(), json);
        }
        ([_, (name, at), ..], _) => diags.push(Diagnostic::new(
            *at,
            format!("`{}` is a second gateway; a stack has one", name.value),
        )),
    }
    table
}

/// The routing table of `raw`'s `routes:` blocks, every problem added to `diags`.
pub fn table(raw: &model::StackFile, diags: &mut Vec<Diagnostic>) -> RoutingTable {
    let mut table = RoutingTable::default();
    let mut seen: BTreeMap<String, Pos> = BTreeMap::new();
    for (name, svc) in &raw.services.0 {
        let Some(routes) = &svc.routes else { continue };
        if routes.port.value == 0 {
            diags.push(Diagnostic::new(
                pos(&routes.port),
                "port must be from 1 to 65535",
            ));
        }
        if routes.paths.is_empty() {
            diags.push(Diagnostic::new(
                pos(&routes.port),
                "`paths` is empty: route at least one path",
            ));
        }
        table.upstreams.insert(
            name.value.clone(),
            Upstream {
                urls: vec![format!("http://{}:{}", name.value, routes.port.value)],
            },
        );
        for p in &routes.paths {
            let (literal, prefix) = match (&p.prefix, &p.path) {
                (Some(l), None) => (l, true),
                (None, Some(l)) => (l, false),
                (Some(l), Some(_)) => {
                    diags.push(Diagnostic::new(pos(l), "give `prefix` or `path`, not both"));
                    continue;
                }
                (None, None) => {
                    let at = p
                        .rules
                        .first()
                        .map(|r| pos(&r.path))
                        .unwrap_or(pos(&routes.port));
                    diags.push(Diagnostic::new(at, "a route needs a `prefix` or a `path`"));
                    continue;
                }
            };
            let at = pos(literal);
            if let Err(why) = literal_path(&literal.value) {
                diags.push(Diagnostic::new(at, format!("`{}` {why}", literal.value)));
                continue;
            }
            if let Some(first) = seen.insert(literal.value.clone(), at) {
                diags.push(Diagnostic::new(
                    at,
                    format!(
                        "`{}` is routed twice (first at line {})",
                        literal.value, first.line
                    ),
                ));
            }
            table.routes.push(Route {
                prefix: prefix.then(|| literal.value.clone()),
                path: (!prefix).then(|| literal.value.clone()),
                upstream: name.value.clone(),
            });
            for rule in &p.rules {
                let inside = rule.path.value == literal.value
                    || (prefix && rule.path.value.starts_with(&format!("{}/", literal.value)));
                if !inside {
                    diags.push(Diagnostic::new(
                        pos(&rule.path),
                        format!(
                            "`{}` is outside this route (`{}`)",
                            rule.path.value, literal.value
                        ),
                    ));
                } else if let Err(why) = pattern(&rule.path.value) {
                    diags.push(Diagnostic::new(
                        pos(&rule.path),
                        format!("`{}` {why}", rule.path.value),
                    ));
                }
                for m in &rule.methods {
                    if m.value.is_empty() || !m.value.bytes().all(|b| b.is_ascii_uppercase()) {
                        diags.push(Diagnostic::new(
                            pos(m),
                            format!("`{}` is not an upper-case HTTP method", m.value),
                        ));
                    }
                }
                access(&rule.access, diags);
                table.access.push(Rule {
                    methods: rule.methods.iter().map(|m| m.value.clone()).collect(),
                    path: rule.path.value.clone(),
                    access: rule.access.value.clone(),
                });
            }
            if let Some(level) = &p.access {
                access(level, diags);
                let mut paths = vec![literal.value.clone()];
                if prefix {
                    paths.push(format!("{}/**", literal.value));
                }
                table.access.extend(paths.into_iter().map(|path| Rule {
                    methods: Vec::new(),
                    path,
                    access: level.value.clone(),
                }));
            }
        }
    }
    table
}

fn access(level: &Spanned<String>, diags: &mut Vec<Diagnostic>) {
    if !ACCESS.contains(&level.value.as_str()) {
        diags.push(
            Diagnostic::new(pos(level), format!("unknown access `{}`", level.value))
                .help("use `public` (no token), `user` (a valid token) or `admin`"),
        );
    }
}

/// A routed path: `/x` or `/x/y`, literal, no trailing `/`.
fn literal_path(p: &str) -> Result<(), &'static str> {
    if !p.starts_with('/') || p.len() < 2 || p.ends_with('/') {
        Err("must start with `/` and not end with `/` (and not be `/`)")
    } else if p.contains(['{', '}', '*', '?', '#']) {
        Err("must be a literal path (no `{}`, `*`, `?` or `#`)")
    } else {
        Ok(())
    }
}

/// An access rule's path: literal segments, `*` for one segment, a final `**`.
fn pattern(p: &str) -> Result<(), &'static str> {
    let Some(rest) = p.strip_prefix('/') else {
        return Err("must start with `/`");
    };
    let segments: Vec<&str> = rest.split('/').collect();
    for (i, s) in segments.iter().enumerate() {
        let last = i + 1 == segments.len();
        match *s {
            "**" if !last => return Err("may use `**` only as its last segment"),
            "*" | "**" => {}
            s if s.contains('*') => return Err("may use `*` only as a whole segment"),
            _ => {}
        }
    }
    Ok(())
}
