//! From the file as written to the [`Stack`] the engine runs, collecting every problem.

use super::interpolate::{interpolate, Vars};
use super::model::{self, Condition};
use super::types::*;
use crate::diag::{did_you_mean, pos, Diagnostic, FileErrors, Pos, Spanned, SpannedMap};
use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use std::time::Duration;

const MAX_REPLICAS: u32 = 64;
const RESTART_POLICIES: [&str; 4] = ["no", "always", "unless-stopped", "on-failure"];

struct Ctx<'a> {
    vars: &'a Vars,
    dir: &'a Path,
    diags: Vec<Diagnostic>,
}

impl Ctx<'_> {
    fn err(&mut self, at: Pos, message: impl Into<String>) {
        self.diags.push(Diagnostic::new(at, message));
    }

    fn text(&mut self, s: &Spanned<String>) -> String {
        match interpolate(&s.value, self.vars) {
            Ok(v) => v,
            Err(e) => {
                self.err(pos(s), e);
                String::new()
            }
        }
    }

    fn duration(&mut self, s: &Option<Spanned<String>>, default: Duration) -> Duration {
        let Some(s) = s else { return default };
        let text = self.text(s);
        match humantime::parse_duration(&text) {
            Ok(d) => d,
            Err(e) => {
                self.diags.push(
                    Diagnostic::new(pos(s), format!("invalid duration `{text}`: {e}"))
                        .help("write a number with a unit, e.g. `500ms`, `2s`, `1m30s`"),
                );
                default
            }
        }
    }

    fn name(&mut self, what: &str, s: &Spanned<String>) {
        if !valid_name(&s.value) {
            self.diags.push(
                Diagnostic::new(pos(s), format!("invalid {what} name `{}`", s.value)).help(
                    "use lowercase letters, digits, `-` and `_`, starting with a letter or digit",
                ),
            );
        }
    }
}

pub fn valid_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_lowercase() || c.is_ascii_digit())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-' || c == '_')
        && name.len() <= 63
}

/// A project name from a directory name: lowercased, other characters turned into `-`.
fn project_name_from_dir(dir: &Path) -> String {
    let raw = dir.file_name().and_then(|n| n.to_str()).unwrap_or("msctl");
    let mut name: String = raw
        .to_ascii_lowercase()
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '_' || c == '-' {
                c
            } else {
                '-'
            }
        })
        .collect();
    name = name.trim_start_matches(['-', '_']).to_owned();
    if name.is_empty() {
        name = "msctl".into();
    }
    name
}

pub fn resolve(
    raw: model::StackFile,
    file: &Path,
    dir: &Path,
    vars: &Vars,
) -> Result<Stack, FileErrors> {
    let mut cx = Ctx {
        vars,
        dir,
        diags: Vec::new(),
    };

    let name = match &raw.name {
        Some(n) => {
            let v = cx.text(n);
            cx.name("project", &Spanned::new(v.clone(), n.referenced, n.defined));
            v
        }
        None => project_name_from_dir(dir),
    };
    let workspace = match &raw.workspace {
        Some(w) => dir.join(cx.text(w)),
        None => dir.to_path_buf(),
    };

    for (vol, _) in &raw.volumes.0 {
        cx.name("volume", vol);
    }
    let volume_names: Vec<String> = raw.volumes.keys().map(str::to_owned).collect();

    if raw.services.is_empty() {
        cx.err(Pos::default(), "the stack has no services");
    }
    let mut seen = HashMap::new();
    for (svc, at, _) in raw.services.iter() {
        if let Some(first) = seen.insert(svc, at) {
            cx.err(
                at,
                format!(
                    "service `{svc}` is defined twice (first at line {})",
                    first.line
                ),
            );
        }
    }

    let service_names: Vec<&str> = raw.services.keys().collect();
    let mut services = Vec::new();
    let mut dep_positions: HashMap<(String, String), Pos> = HashMap::new();
    for (key, svc) in &raw.services.0 {
        let spec = resolve_service(
            &mut cx,
            key,
            svc,
            &service_names,
            &volume_names,
            &raw.services,
        );
        for (dep, _) in &svc.depends_on.0 {
            dep_positions.insert((key.value.clone(), dep.value.clone()), pos(dep));
        }
        services.push(spec);
    }

    let secrets = resolve_secrets(&mut cx, &raw, &volume_names);
    check_ports(&mut cx, &raw, &services);
    let routes = super::routes::apply(&raw, &mut services, &mut cx.diags);

    let edges: Vec<(String, String)> = services
        .iter()
        .flat_map(|s| {
            s.depends_on
                .iter()
                .map(|d| (s.name.clone(), d.service.clone()))
        })
        .filter(|(_, to)| service_names.contains(&to.as_str()))
        .collect();
    if let Some(cycle) = super::cycle::find_cycle(&edges) {
        let at = dep_positions
            .get(&(cycle[0].clone(), cycle[1].clone()))
            .copied()
            .unwrap_or_default();
        cx.diags.push(
            Diagnostic::new(at, format!("dependency cycle: {}", cycle.join(" → ")))
                .help("remove one of these depends_on entries"),
        );
    }

    if !cx.diags.is_empty() {
        let mut diagnostics = cx.diags;
        diagnostics.sort_by_key(|d| (d.pos.line, d.pos.column));
        diagnostics.dedup();
        return Err(FileErrors {
            file: file.to_path_buf(),
            diagnostics,
        });
    }
    Ok(Stack {
        name,
        file: file.to_path_buf(),
        dir: dir.to_path_buf(),
        workspace,
        services,
        volumes: volume_names,
        routes,
        secrets,
    })
}

/// A variable name as shells and `.env` files take it.
fn valid_variable(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// The `secrets:` block: variable names, volumes that exist in the file, one writer per variable.
/// Values here are taken literally (no `${…}`).
fn resolve_secrets(
    cx: &mut Ctx,
    raw: &model::StackFile,
    volume_names: &[String],
) -> Vec<SecretSpec> {
    let mut written: HashMap<String, Pos> = HashMap::new();
    let mut out = Vec::new();
    let mut claim = |cx: &mut Ctx, name: &Spanned<String>| {
        if !valid_variable(&name.value) {
            cx.diags.push(
                Diagnostic::new(pos(name), format!("invalid variable name `{}`", name.value))
                    .help("use letters, digits and `_`, not starting with a digit"),
            );
        }
        if let Some(first) = written.insert(name.value.clone(), pos(name)) {
            cx.err(
                pos(name),
                format!(
                    "secret variable `{}` is written twice (first at line {})",
                    name.value, first.line
                ),
            );
        }
    };
    for (key, secret) in &raw.secrets.0 {
        claim(cx, key);
        let kind = secret.generate.value;
        let public = match (&secret.public, kind) {
            (Some(p), model::SecretKind::Ed25519) => {
                claim(cx, p);
                Some(p.value.clone())
            }
            (Some(p), _) => {
                cx.diags.push(
                    Diagnostic::new(
                        pos(p),
                        format!(
                            "`public` is for key pairs, and `{}` is a password",
                            key.value
                        ),
                    )
                    .help("remove `public`, or write `generate: ed25519`"),
                );
                None
            }
            (None, _) => None,
        };
        let with_volume = secret.with_volume.as_ref().map(|v| {
            if !volume_names.contains(&v.value) {
                let help = did_you_mean(&v.value, volume_names.iter().map(String::as_str), || {
                    match volume_names.is_empty() {
                        true => "the stack declares no volumes".to_string(),
                        false => format!("volumes are: {}", volume_names.join(", ")),
                    }
                });
                cx.diags.push(
                    Diagnostic::new(
                        pos(v),
                        format!("volume `{}` is not declared under `volumes`", v.value),
                    )
                    .help(help),
                );
            }
            v.value.clone()
        });
        out.push(SecretSpec {
            name: key.value.clone(),
            kind,
            public,
            show: secret.show.as_ref().is_some_and(|s| s.value),
            with_volume,
        });
    }
    out
}

fn resolve_service(
    cx: &mut Ctx,
    key: &Spanned<String>,
    svc: &model::Service,
    service_names: &[&str],
    volume_names: &[String],
    all: &SpannedMap<model::Service>,
) -> ServiceSpec {
    let name = key.value.clone();
    cx.name("service", key);
    let at = pos(key);

    let image = resolve_image(cx, at, &name, svc);

    let mut env = BTreeMap::new();
    let mut mounts = Vec::new();
    for (k, kpos, v) in svc.environment.iter() {
        if k.is_empty() || k.contains('=') {
            cx.err(kpos, format!("invalid environment variable name `{k}`"));
            continue;
        }
        let value = cx.text(&Spanned::new(v.value.0.clone(), v.referenced, v.defined));
        if let Some(secret) = k
            .strip_suffix("_FILE")
            .filter(|_| value.starts_with("./") || value.starts_with("../"))
        {
            let source = cx.dir.join(&value);
            if !source.is_file() {
                cx.err(
                    pos(v),
                    format!(
                        "secret file `{value}` does not exist (looked at {})",
                        source.display()
                    ),
                );
                continue;
            }
            let target = format!("/run/secrets/{}", secret.to_ascii_lowercase());
            mounts.push(Mount::Bind {
                source,
                target: target.clone(),
                read_only: true,
            });
            env.insert(k.to_owned(), target);
        } else {
            env.insert(k.to_owned(), value);
        }
    }

    let mut ports = Vec::new();
    for p in &svc.ports {
        let text = cx.text(p);
        match parse_port(&text) {
            Ok(port) => ports.push(port),
            Err(e) => cx.diags.push(
                Diagnostic::new(pos(p), format!("invalid port `{text}`: {e}"))
                    .help("write HOST:CONTAINER or IP:HOST:CONTAINER, e.g. `8000:8000`"),
            ),
        }
    }

    for v in &svc.volumes {
        let text = cx.text(v);
        match parse_mount(&text, cx.dir) {
            Ok(Mount::Volume { name: vol, .. }) if !volume_names.contains(&vol) => {
                let help = did_you_mean(&vol, volume_names.iter().map(String::as_str), || {
                    format!("add it:\nvolumes:\n  {vol}: {{}}")
                });
                cx.diags.push(
                    Diagnostic::new(
                        pos(v),
                        format!("volume `{vol}` is not declared under `volumes`"),
                    )
                    .help(help),
                );
            }
            // The engine does not create a missing bind source; say so here, not half-way up.
            Ok(Mount::Bind { source, .. }) if !source.exists() => {
                cx.err(
                    pos(v),
                    format!("bind mount source {} does not exist", source.display()),
                );
            }
            Ok(m) => mounts.push(m),
            Err(e) => cx.diags.push(
                Diagnostic::new(pos(v), format!("invalid mount `{text}`: {e}"))
                    .help("write VOLUME:/path or ./host/path:/path, optionally with :ro"),
            ),
        }
    }

    let mut depends_on = Vec::new();
    for (dep, cond) in &svc.depends_on.0 {
        if dep.value == name {
            cx.err(pos(dep), format!("service `{name}` depends on itself"));
            continue;
        }
        match all.get(&dep.value) {
            None => {
                let help = did_you_mean(&dep.value, service_names.iter().copied(), || {
                    format!("services are: {}", service_names.join(", "))
                });
                cx.diags.push(
                    Diagnostic::new(
                        pos(dep),
                        format!("`{name}` depends on unknown service `{}`", dep.value),
                    )
                    .help(help),
                );
            }
            Some(target) if cond.value == Condition::Healthy && target.healthcheck.is_none() => {
                cx.diags.push(
                    Diagnostic::new(
                        pos(cond),
                        format!(
                            "`{name}` waits for `{}` to be healthy, but it has no healthcheck",
                            dep.value
                        ),
                    )
                    .help(format!(
                        "add a healthcheck to `{}` or use `condition: started`",
                        dep.value
                    )),
                );
            }
            Some(_) => depends_on.push(Dependency {
                service: dep.value.clone(),
                condition: cond.value,
            }),
        }
    }

    let up_timeout = cx.duration(&svc.up_timeout, Duration::from_secs(120));
    let healthcheck = svc.healthcheck.as_ref().map(|h| {
        let mut test: Vec<String> = h.test.iter().map(|t| cx.text(t)).collect();
        match test.first().map(String::as_str) {
            None => cx.err(at, format!("healthcheck of `{name}` has an empty `test`")),
            Some("CMD-SHELL") => {}
            Some("CMD") => {}
            Some(_) => test.insert(0, "CMD".into()),
        }
        let start_interval = h
            .start_interval
            .as_ref()
            .map(|_| cx.duration(&h.start_interval, Duration::from_millis(500)));
        // Failures while starting count towards `retries` only after the start period: with
        // start probes, starting may take as long as `up` waits.
        let start_period = match start_interval {
            Some(_) => cx.duration(&h.start_period, up_timeout),
            None => cx.duration(&h.start_period, Duration::ZERO),
        };
        HealthSpec {
            test,
            interval: cx.duration(&h.interval, Duration::from_secs(1)),
            timeout: cx.duration(&h.timeout, Duration::from_secs(5)),
            retries: h.retries.as_ref().map(|r| r.value).unwrap_or(60),
            start_period,
            start_interval,
        }
    });

    let replicas = match &svc.replicas {
        Some(r) if r.value > MAX_REPLICAS => {
            cx.err(pos(r), format!("replicas must be at most {MAX_REPLICAS}"));
            1
        }
        Some(r) if r.value > 1 && !ports.is_empty() => {
            cx.diags.push(
                Diagnostic::new(
                    pos(r),
                    format!(
                        "{} replicas of `{name}` cannot share its published ports",
                        r.value
                    ),
                )
                .help("publish ports from a single gateway in front of the replicas"),
            );
            r.value
        }
        Some(r) => r.value,
        None => 1,
    };

    for p in &svc.profiles {
        cx.name("profile", p);
    }
    let restart = match &svc.restart {
        Some(r) if !RESTART_POLICIES.contains(&r.value.as_str()) => {
            let help = did_you_mean(&r.value, RESTART_POLICIES.iter().copied(), || {
                format!("expected one of: {}", RESTART_POLICIES.join(", "))
            });
            cx.diags.push(
                Diagnostic::new(pos(r), format!("unknown restart policy `{}`", r.value)).help(help),
            );
            "no".into()
        }
        Some(r) => r.value.clone(),
        None => "no".into(),
    };

    let develop = resolve_develop(cx, name.as_str(), svc);
    ServiceSpec {
        develop,
        command: svc
            .command
            .as_ref()
            .map(|c| c.iter().map(|s| cx.text(s)).collect()),
        entrypoint: svc
            .entrypoint
            .as_ref()
            .map(|c| c.iter().map(|s| cx.text(s)).collect()),
        up_timeout,
        name,
        image,
        env,
        ports,
        mounts,
        depends_on,
        healthcheck,
        replicas,
        profiles: svc.profiles.iter().map(|p| p.value.clone()).collect(),
        restart,
    }
}

/// `develop.watch`. Compose's `sync` actions copy files into a running container; msctl's
/// containers run built images, so there is nothing to sync into.
fn resolve_develop(cx: &mut Ctx, name: &str, svc: &model::Service) -> Vec<WatchRule> {
    let Some(develop) = &svc.develop else {
        return Vec::new();
    };
    let mut rules = Vec::new();
    for rule in &develop.watch {
        let action = match rule.action.value.as_str() {
            "rebuild" if svc.build.is_none() => {
                cx.diags.push(
                    Diagnostic::new(
                        pos(&rule.action),
                        format!("`{name}` has no `build`, so there is nothing to rebuild"),
                    )
                    .help("use `action: restart`, or give the service a `build`"),
                );
                continue;
            }
            "rebuild" => WatchAction::Rebuild,
            "restart" => WatchAction::Restart,
            other => {
                let help = if other.starts_with("sync") {
                    "msctl's containers run built images, so there is nothing to sync into: use \
                     `rebuild` (a new image) or `restart` (a file the service mounts)"
                        .to_owned()
                } else {
                    did_you_mean(other, ["rebuild", "restart"], || {
                        "expected `rebuild` or `restart`".into()
                    })
                };
                cx.diags.push(
                    Diagnostic::new(pos(&rule.action), format!("unknown watch action `{other}`"))
                        .help(help),
                );
                continue;
            }
        };
        let path = cx.text(&rule.path);
        rules.push(WatchRule {
            path: cx.dir.join(path),
            action,
            ignore: rule.ignore.iter().map(|i| cx.text(i)).collect(),
        });
    }
    rules
}

fn resolve_image(cx: &mut Ctx, at: Pos, name: &str, svc: &model::Service) -> ImageSource {
    let fallback = ImageSource::Reference(String::new());
    match (&svc.image, &svc.build) {
        (Some(_), Some(_)) => {
            cx.diags.push(
                Diagnostic::new(at, format!("service `{name}` has both `image` and `build`"))
                    .help("keep one: `image` runs an existing image, `build` makes one"),
            );
            fallback
        }
        (None, None) => {
            cx.diags.push(Diagnostic::new(
                at,
                format!("service `{name}` needs `image` or `build`"),
            ));
            fallback
        }
        (Some(image), None) => {
            let reference = cx.text(image);
            if reference.is_empty() || reference.contains(char::is_whitespace) {
                cx.err(pos(image), format!("invalid image reference `{reference}`"));
            }
            ImageSource::Reference(reference)
        }
        (None, Some(b)) => match (&b.krate, &b.dockerfile) {
            (Some(krate), None) => {
                let krate_name = cx.text(krate);
                let bin = b
                    .bin
                    .as_ref()
                    .map(|s| cx.text(s))
                    .unwrap_or_else(|| krate_name.clone());
                let profile = b
                    .profile
                    .as_ref()
                    .map(|s| cx.text(s))
                    .unwrap_or_else(|| "dev".into());
                let base = b
                    .base
                    .as_ref()
                    .map(|s| cx.text(s))
                    .unwrap_or_else(|| "debian:bookworm-slim".into());
                ImageSource::Crate {
                    krate: krate_name,
                    bin,
                    profile,
                    base,
                }
            }
            (None, Some(dockerfile)) => {
                let context = cx.dir.join(
                    b.context
                        .as_ref()
                        .map(|c| cx.text(c))
                        .unwrap_or_else(|| ".".into()),
                );
                let dockerfile_name = cx.text(dockerfile);
                if !context.join(&dockerfile_name).is_file() {
                    cx.err(
                        pos(dockerfile),
                        format!(
                            "Dockerfile `{dockerfile_name}` not found in {}",
                            context.display()
                        ),
                    );
                }
                ImageSource::Dockerfile {
                    context,
                    dockerfile: dockerfile_name,
                }
            }
            _ => {
                cx.diags.push(Diagnostic::new(
                    at,
                    format!("`build` of `{name}` needs exactly one of `crate` and `dockerfile`"),
                ));
                fallback
            }
        },
    }
}

pub fn parse_port(text: &str) -> Result<PortSpec, String> {
    let (spec, protocol) = match text.rsplit_once('/') {
        Some((s, p @ ("tcp" | "udp"))) => (s, p),
        Some((_, p)) => return Err(format!("unknown protocol `{p}`")),
        None => (text, "tcp"),
    };
    let parts: Vec<&str> = spec.rsplitn(3, ':').collect();
    let (container, host, ip) = match parts.as_slice() {
        [c, h] => (*c, *h, "127.0.0.1"),
        [c, h, ip] => (*c, *h, ip.trim_matches(['[', ']'])),
        _ => return Err("a host port is needed: only published ports belong here".into()),
    };
    let number = |s: &str, what: &str| -> Result<u16, String> {
        match s.parse::<u16>() {
            Ok(0) | Err(_) => Err(format!("{what} port `{s}` is not a number from 1 to 65535")),
            Ok(n) => Ok(n),
        }
    };
    if ip.parse::<std::net::IpAddr>().is_err() {
        return Err(format!("`{ip}` is not an IP address"));
    }
    Ok(PortSpec {
        host_ip: ip.to_owned(),
        host_port: number(host, "host")?,
        container_port: number(container, "container")?,
        protocol: protocol.to_owned(),
    })
}

pub fn parse_mount(text: &str, dir: &Path) -> Result<Mount, String> {
    let mut parts: Vec<&str> = text.split(':').collect();
    let read_only = match parts.last() {
        Some(&"ro") if parts.len() == 3 => {
            parts.pop();
            true
        }
        Some(&"rw") if parts.len() == 3 => {
            parts.pop();
            false
        }
        _ => false,
    };
    let [source, target] = parts.as_slice() else {
        return Err("expected SOURCE:TARGET[:ro]".into());
    };
    if !target.starts_with('/') {
        return Err(format!("the container path `{target}` must be absolute"));
    }
    if source.starts_with('.') || source.starts_with('/') {
        Ok(Mount::Bind {
            source: dir.join(source),
            target: (*target).to_owned(),
            read_only,
        })
    } else if valid_name(source) {
        Ok(Mount::Volume {
            name: (*source).to_owned(),
            target: (*target).to_owned(),
            read_only,
        })
    } else {
        Err(format!(
            "`{source}` is neither a volume name nor a path starting with ./ or /"
        ))
    }
}

fn check_ports(cx: &mut Ctx, raw: &model::StackFile, services: &[ServiceSpec]) {
    let mut taken: HashMap<(u16, String), (String, String)> = HashMap::new();
    for ((_, svc), spec) in raw.services.0.iter().zip(services) {
        for (p, port) in svc.ports.iter().zip(&spec.ports) {
            let key = (port.host_port, port.protocol.clone());
            match taken.get(&key) {
                Some((other, ip))
                    if ip == &port.host_ip || ip == "0.0.0.0" || port.host_ip == "0.0.0.0" =>
                {
                    cx.err(
                        pos(p),
                        format!(
                            "host port {} is published twice (by `{other}` and `{}`)",
                            port.host_port, spec.name
                        ),
                    );
                }
                _ => {
                    taken.insert(key, (spec.name.clone(), port.host_ip.clone()));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ports() {
        assert_eq!(parse_port("8000:80").unwrap().host_ip, "127.0.0.1");
        let p = parse_port("0.0.0.0:5432:5432/tcp").unwrap();
        assert_eq!(
            (p.host_ip.as_str(), p.host_port, p.container_port),
            ("0.0.0.0", 5432, 5432)
        );
        assert!(parse_port("80").is_err());
        assert!(parse_port("70000:80").is_err());
        assert!(parse_port("8000:80/sctp").is_err());
        assert!(parse_port("nope:80:80").is_err());
    }

    #[test]
    fn mounts() {
        let dir = Path::new("/p");
        assert_eq!(
            parse_mount("data:/var/lib/x:ro", dir).unwrap(),
            Mount::Volume {
                name: "data".into(),
                target: "/var/lib/x".into(),
                read_only: true
            }
        );
        assert!(matches!(
            parse_mount("./init:/docker-entrypoint-initdb.d", dir).unwrap(),
            Mount::Bind { .. }
        ));
        assert!(parse_mount("data:relative", dir).is_err());
        assert!(parse_mount("Bad Name:/x", dir).is_err());
    }

    #[test]
    fn names() {
        assert!(valid_name("user-service_2"));
        assert!(!valid_name("User"));
        assert!(!valid_name("-x"));
        assert!(!valid_name(""));
        assert_eq!(project_name_from_dir(Path::new("/x/My Shop")), "my-shop");
    }
}
