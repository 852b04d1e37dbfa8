//! The export of the bundled stack and of a stack with every field, over the typed objects:
//! snapshots of what users read, and the checks an API server would make that no offline
//! validator does (selectors, references, names). The real tools' verdicts on the written
//! files are scripts/k8s-tools.sh's (CI).

use super::objects::Object;
use super::*;
use crate::images::pushed::{Pushed, PushedImage};
use crate::stack::{model, parse, Vars};
use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

#[derive(Debug)]
pub(crate) struct Exported {
    pub stack: Stack,
    pub export: Export,
}

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// `text` resolved with `vars` (never the machine's `.env`: it holds generated secrets), with
/// its secret variables masked, and exported with `opts`.
fn export_text(
    text: &str,
    dir: &Path,
    vars: &Vars,
    opts: &Options,
) -> Result<Exported, FileErrors> {
    let file = Path::new("msctl.yaml");
    let raw: model::StackFile = crate::diag::parse_yaml(text, file)?;
    let secret = secrets::variables(&raw);
    let stack = parse(text, file, dir, &secrets::masked(vars, &secret))?;
    let services: Vec<&ServiceSpec> = stack.services.iter().collect();
    let export = super::export(&stack, &services, &raw, &secret, opts)?;
    Ok(Exported { stack, export })
}

fn bundled_with(vars: &Vars, opts: &Options) -> Exported {
    let text = std::fs::read_to_string(root().join("msctl.yaml")).unwrap();
    export_text(&text, &root(), vars, opts).unwrap_or_else(|e| panic!("{e}"))
}

pub(crate) fn pushed() -> Pushed {
    let images = [
        "user-service",
        "product-service",
        "payment-service",
        "order-service",
        "notification-service",
        "gateway",
    ]
    .iter()
    .enumerate()
    .map(|(i, s)| {
        (
            s.to_string(),
            PushedImage {
                repository: format!("127.0.0.1:5000/shop/{s}"),
                tag: format!("{i:012}"),
                digest: format!("sha256:{}", format!("{i}").repeat(64)),
                image_id: format!("sha256:{}", "f".repeat(64)),
            },
        )
    })
    .collect();
    Pushed {
        registry: "127.0.0.1:5000".into(),
        project: "shop".into(),
        images,
    }
}

fn opts() -> Options {
    Options {
        registry: Some("127.0.0.1:5000".into()),
        ingress_namespace: "ingress-nginx".into(),
        pushed: Some(pushed()),
        ..Default::default()
    }
}

pub(crate) fn bundled() -> Exported {
    bundled_with(&Vars::default(), &opts())
}

/// Every file as one text, each under its path.
pub(crate) fn tree(files: &[(PathBuf, String)]) -> String {
    files
        .iter()
        .map(|(p, t)| format!("==> {} <==\n{t}", p.display()))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn the_bundled_stacks_manifests() {
    let e = bundled();
    assert!(e.export.warnings.is_empty(), "{:?}", e.export.warnings);
    insta::assert_snapshot!(tree(&e.export.files(Path::new("msctl.yaml"))));
}

/// No value of a secret variable reaches a manifest: two sets of secrets give the same files.
#[test]
fn secrets_are_never_written_into_the_manifests() {
    let vars = |v: &str| Vars {
        env: [
            "USERS_DB_PASSWORD",
            "ORDERS_DB_PASSWORD",
            "RABBITMQ_PASSWORD",
            "ADMIN_PASSWORD",
            "IDENTITY_SIGNING_KEY",
            "IDENTITY_VERIFY_KEY",
        ]
        .iter()
        .map(|k| (k.to_string(), format!("{v}-{k}")))
        .collect(),
        dotenv: Default::default(),
    };
    let files = |v: &str| {
        bundled_with(&vars(v), &opts())
            .export
            .files(Path::new("msctl.yaml"))
    };
    let (a, b) = (files("first"), files("second"));
    assert_eq!(tree(&a), tree(&b));
    let text = tree(&a);
    for default in ["users-dev-password", "shop-dev-password"] {
        // Defaults appear only as the example Secret's placeholders.
        let outside: Vec<_> = a
            .iter()
            .filter(|(p, t)| p != Path::new("secrets.example.yaml") && t.contains(default))
            .map(|(p, _)| p.clone())
            .collect();
        assert!(outside.is_empty(), "{default} in {outside:?}");
    }
    assert!(!text.contains("first-"), "a secret's value was written");
    // The URL that embeds a password reads it from the Secret by reference.
    assert!(
        text.contains("postgres://users:$(USERS_DB_PASSWORD)@users-db:5432/users"),
        "{text}"
    );
}

#[test]
fn with_secrets_the_values_go_into_a_secret_of_their_own() {
    let mut o = opts();
    o.secret_values = Some(BTreeMap::from([(
        "USERS_DB_PASSWORD".to_owned(),
        "s3cret".to_owned(),
    )]));
    let e = bundled_with(&Vars::default(), &o);
    let secret = e
        .export
        .docs
        .iter()
        .find(|d| d.object.kind() == "Secret")
        .expect("a Secret");
    let Object::Secret(s) = &secret.object else {
        unreachable!()
    };
    assert_eq!(
        s.string_data.as_ref().unwrap()["USERS_DB_PASSWORD"],
        "s3cret"
    );
    let elsewhere = e.export.docs.iter().filter(|d| d.object.kind() != "Secret");
    for d in elsewhere {
        assert!(
            !serde_json::to_string(&d.object).unwrap().contains("s3cret"),
            "{}",
            d.path()
        );
    }
}

fn policies(e: &Export) -> Vec<&k8s_openapi::api::networking::v1::NetworkPolicy> {
    e.docs
        .iter()
        .filter_map(|d| match &d.object {
            Object::NetworkPolicy(p) => Some(p),
            _ => None,
        })
        .collect()
}

fn service_of(
    sel: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
) -> Option<String> {
    sel.match_labels
        .as_ref()?
        .get("app.kubernetes.io/name")
        .cloned()
}

/// Issue #25: the policies allow exactly the calls of the bundled stack, from both ends.
#[test]
fn network_policies_allow_exactly_the_bundled_stacks_calls() {
    let e = bundled();
    let mut ingress = BTreeSet::new();
    let mut egress = BTreeSet::new();
    for p in policies(&e.export) {
        let spec = p.spec.as_ref().unwrap();
        let Some(me) = spec.pod_selector.as_ref().and_then(service_of) else {
            continue;
        };
        for rule in spec.ingress.iter().flatten() {
            for peer in rule.from.iter().flatten() {
                if let Some(from) = peer.pod_selector.as_ref().and_then(service_of) {
                    assert!(peer.namespace_selector.is_none());
                    ingress.insert((from, me.clone()));
                }
            }
        }
        for rule in spec.egress.iter().flatten() {
            for peer in rule.to.iter().flatten() {
                if let Some(to) = peer.pod_selector.as_ref().and_then(service_of) {
                    egress.insert((me.clone(), to));
                }
            }
        }
    }
    let s = |a: &str, b: &str| (a.to_owned(), b.to_owned());
    let expected = BTreeSet::from([
        s("gateway", "user-service"),
        s("gateway", "product-service"),
        s("gateway", "order-service"),
        s("gateway", "payment-service"),
        s("gateway", "notification-service"),
        s("order-service", "product-service"),
        s("order-service", "payment-service"),
        s("user-service", "users-db"),
        s("product-service", "products-db"),
        s("order-service", "orders-db"),
        s("payment-service", "payments-db"),
        s("notification-service", "notifications-db"),
        s("order-service", "rabbitmq"),
        s("notification-service", "rabbitmq"),
        s("user-service", "rabbitmq"),
        s("gateway", "rabbitmq"),
    ]);
    assert_eq!(ingress, expected, "ingress rules");
    assert_eq!(egress, expected, "egress rules");

    // Everything else is denied, DNS aside, and only the ingress controller reaches the gateway
    // from outside.
    let names: BTreeSet<&str> = policies(&e.export)
        .iter()
        .map(|p| p.metadata.name.as_deref().unwrap())
        .collect();
    assert!(
        names.contains("shop-default-deny") && names.contains("shop-allow-dns"),
        "{names:?}"
    );
    let deny = policies(&e.export)
        .into_iter()
        .find(|p| p.metadata.name.as_deref() == Some("shop-default-deny"))
        .unwrap();
    let spec = deny.spec.as_ref().unwrap();
    assert!(spec.ingress.is_none() && spec.egress.is_none());
    assert_eq!(
        spec.policy_types.as_deref(),
        Some(&["Ingress".to_owned(), "Egress".to_owned()][..])
    );
    let outside: Vec<String> = policies(&e.export)
        .iter()
        .flat_map(|p| {
            let me = p
                .spec
                .as_ref()
                .unwrap()
                .pod_selector
                .as_ref()
                .and_then(service_of);
            p.spec
                .as_ref()
                .unwrap()
                .ingress
                .iter()
                .flatten()
                .flat_map(|r| r.from.iter().flatten())
                .filter(|peer| peer.namespace_selector.is_some())
                .map(move |_| me.clone().unwrap_or_default())
        })
        .collect();
    assert_eq!(outside, vec!["gateway".to_owned()]);
}

/// A workload's pod labels and spec, its selector checked against those labels (an API server
/// refuses a selector that does not match its template).
fn template<'a>(
    d: &Doc,
    selector: &k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector,
    t: &'a k8s_openapi::api::core::v1::PodTemplateSpec,
) -> (
    &'a BTreeMap<String, String>,
    &'a k8s_openapi::api::core::v1::PodSpec,
) {
    let labels = t.metadata.as_ref().unwrap().labels.as_ref().unwrap();
    let sel = selector.match_labels.as_ref().unwrap();
    assert!(
        sel.iter().all(|(k, v)| labels.get(k) == Some(v)),
        "{}",
        d.path()
    );
    (labels, t.spec.as_ref().unwrap())
}

/// What an API server would refuse or get wrong, checked over the objects.
#[test]
fn objects_hold_together_as_an_api_server_would_check() {
    let reference = regex::Regex::new(r"\$\(([A-Z_][A-Z0-9_]*)\)").unwrap();
    for e in [bundled(), rich().0] {
        let docs = &e.export.docs;
        let workloads: Vec<(
            &str,
            &BTreeMap<String, String>,
            &k8s_openapi::api::core::v1::PodSpec,
        )> = docs
            .iter()
            .filter_map(|d| match &d.object {
                Object::Deployment(o) => {
                    let s = o.spec.as_ref().unwrap();
                    let (labels, pod) = template(d, &s.selector, &s.template);
                    Some((d.object.name(), labels, pod))
                }
                Object::StatefulSet(o) => {
                    let s = o.spec.as_ref().unwrap();
                    let (labels, pod) = template(d, &s.selector, &s.template);
                    let headless = docs
                        .iter()
                        .find(|h| h.object.name() == s.service_name.as_deref().unwrap());
                    let Some(Object::Service(h)) = headless.map(|h| &h.object) else {
                        panic!("{}: no headless Service", d.path())
                    };
                    assert_eq!(h.spec.as_ref().unwrap().cluster_ip.as_deref(), Some("None"));
                    let claims: BTreeSet<&str> = s
                        .volume_claim_templates
                        .iter()
                        .flatten()
                        .map(|c| c.metadata.name.as_deref().unwrap())
                        .collect();
                    for m in pod
                        .containers
                        .iter()
                        .flat_map(|c| c.volume_mounts.iter().flatten())
                    {
                        let volume = pod.volumes.iter().flatten().any(|v| v.name == m.name);
                        assert!(
                            volume || claims.contains(m.name.as_str()),
                            "{}: mount {} has no volume",
                            d.path(),
                            m.name
                        );
                    }
                    Some((d.object.name(), labels, pod))
                }
                _ => None,
            })
            .collect();
        let selects = |sel: &BTreeMap<String, String>| {
            workloads
                .iter()
                .filter(|(_, labels, _)| sel.iter().all(|(k, v)| labels.get(k) == Some(v)))
                .count()
        };
        let mut seen = BTreeSet::new();
        for d in docs {
            assert!(
                seen.insert((d.object.kind(), d.object.name().to_owned())),
                "two {} {}",
                d.object.kind(),
                d.object.name()
            );
            assert!(
                valid_k8s_name(d.object.name()) || d.object.name().contains('.'),
                "{}",
                d.object.name()
            );
            match &d.object {
                Object::Service(s) => {
                    let spec = s.spec.as_ref().unwrap();
                    assert_eq!(selects(spec.selector.as_ref().unwrap()), 1, "{}", d.path());
                    for p in spec.ports.iter().flatten() {
                        assert!(p.name.as_ref().unwrap().len() <= 15);
                    }
                }
                Object::PodDisruptionBudget(p) => {
                    let sel = p
                        .spec
                        .as_ref()
                        .unwrap()
                        .selector
                        .as_ref()
                        .unwrap()
                        .match_labels
                        .as_ref()
                        .unwrap();
                    assert_eq!(selects(sel), 1, "{}", d.path());
                }
                Object::NetworkPolicy(p) => {
                    let sel = p
                        .spec
                        .as_ref()
                        .unwrap()
                        .pod_selector
                        .as_ref()
                        .unwrap()
                        .match_labels
                        .as_ref()
                        .unwrap();
                    if sel.contains_key("app.kubernetes.io/name") {
                        assert_eq!(selects(sel), 1, "{}", d.path());
                    }
                }
                Object::Ingress(i) => {
                    let backend = i.spec.as_ref().unwrap().rules.as_ref().unwrap()[0]
                        .http
                        .as_ref()
                        .unwrap()
                        .paths[0]
                        .backend
                        .service
                        .as_ref()
                        .unwrap();
                    let service = docs
                        .iter()
                        .find(|s| s.object.kind() == "Service" && s.object.name() == backend.name);
                    let Some(Object::Service(s)) = service.map(|s| &s.object) else {
                        panic!("no Service {}", backend.name)
                    };
                    let port = backend.port.as_ref().unwrap().number.unwrap();
                    assert!(s
                        .spec
                        .as_ref()
                        .unwrap()
                        .ports
                        .iter()
                        .flatten()
                        .any(|p| p.port == port));
                }
                _ => {}
            }
        }
        let example = e.export.secrets_example.clone().unwrap_or_default();
        for (name, _, pod) in &workloads {
            for c in pod
                .containers
                .iter()
                .chain(pod.init_containers.iter().flatten())
            {
                let env = c.env.clone().unwrap_or_default();
                for (i, var) in env.iter().enumerate() {
                    // `$(X)` names an earlier entry, or Kubernetes leaves it as text.
                    for r in reference.captures_iter(var.value.as_deref().unwrap_or("")) {
                        let at = var.value.as_deref().unwrap().find(&r[0]).unwrap();
                        if at > 0 && var.value.as_deref().unwrap().as_bytes()[at - 1] == b'$' {
                            continue;
                        }
                        assert!(
                            env[..i].iter().any(|e| e.name == r[1]),
                            "{name}: {} names $({}) before it is set",
                            var.name,
                            &r[1]
                        );
                    }
                    if let Some(key) = var
                        .value_from
                        .as_ref()
                        .and_then(|f| f.secret_key_ref.as_ref())
                    {
                        assert!(
                            example.contains(&format!("{}:", key.key)),
                            "{name}: {} not in secrets.example.yaml",
                            key.key
                        );
                    }
                }
                for p in [&c.readiness_probe, &c.startup_probe].into_iter().flatten() {
                    assert!(p.period_seconds.unwrap() >= 1);
                }
                if let Some(p) = &c.startup_probe {
                    // As long as `up` would wait (120 s by default).
                    assert!(
                        p.period_seconds.unwrap() * p.failure_threshold.unwrap() >= 120,
                        "{name}"
                    );
                }
            }
        }
    }
}

const RICH: &str = r#"
name: rich
services:
  db:
    image: postgres:15
    environment: { POSTGRES_PASSWORD: "${DB_PASSWORD:-dev}" }
    ports: ["5432:5432"]
    volumes: [data:/var/lib/postgresql/data]
    healthcheck: { test: [CMD-SHELL, "pg_isready -h 127.0.0.1"], interval: 2s }
  web:
    build: { dockerfile: Dockerfile }
    replicas: 3
    command: [serve, "--greeting=$$(date)"]
    environment:
      DB_URL: "postgres://app:${DB_PASSWORD:-dev}@db:5432/app"
      CACHE_URL: "redis://cache:6379"
      TOKEN_FILE: ./token.txt
    volumes: [./conf/app.toml:/etc/app.toml:ro, ./static:/srv/static]
    depends_on:
      db: { condition: healthy }
      job: { condition: completed }
  job: { image: "debian:bookworm", restart: "no" }
  cache: { image: redis:7 }
volumes: { data: {} }
"#;

fn rich() -> (Exported, tempfile::TempDir) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("conf")).unwrap();
    std::fs::create_dir_all(dir.path().join("static")).unwrap();
    std::fs::write(
        dir.path().join("conf/app.toml"),
        "greeting = \"{{ hi }}\"\n",
    )
    .unwrap();
    std::fs::write(dir.path().join("token.txt"), "t0ken\n").unwrap();
    std::fs::write(dir.path().join("Dockerfile"), "FROM debian:bookworm-slim\n").unwrap();
    let e = export_text(
        RICH,
        dir.path(),
        &Vars::default(),
        &Options {
            ingress_namespace: "ingress-nginx".into(),
            ..Default::default()
        },
    )
    .unwrap_or_else(|e| panic!("{e}"));
    (e, dir)
}

/// What cannot be carried over is said at its line, never dropped in silence.
#[test]
fn what_cannot_be_mapped_is_a_warning_at_its_line() {
    let (e, _dir) = rich();
    let text: Vec<String> = e
        .export
        .warnings
        .iter()
        .map(|w| format!("{}:{}: {}", w.pos.line, w.pos.column, w.message))
        .collect();
    insta::assert_snapshot!(text.join("\n"));
    let files = tree(&e.export.files(Path::new("msctl.yaml")));
    // A PDB for the replicated Deployment, a ConfigMap for the file, the token as a Secret.
    assert!(files.contains("==> web/pdb.yaml <=="), "{files}");
    assert!(files.contains("==> web/configmap.yaml <=="), "{files}");
    assert!(files.contains("secretName: rich-files"), "{files}");
    assert!(
        !files.contains("t0ken"),
        "a secret file's contents were exported"
    );
    // Kubernetes would expand `$(date)`: it is escaped.
    assert!(files.contains("--greeting=$$(date)"), "{files}");
}

#[test]
fn names_that_kubernetes_refuses_are_errors_at_their_line() {
    let text = "services:\n  ok: { image: a }\n  bad_name: { image: b }\n";
    let err = export_text(text, Path::new("/"), &Vars::default(), &Options::default()).unwrap_err();
    let shown = err.to_string();
    assert!(
        shown.starts_with("msctl.yaml:3:3: `bad_name` is not a Kubernetes name"),
        "{shown}"
    );
}

#[test]
fn the_gateway_api_route_attaches_to_the_named_gateway() {
    let mut o = opts();
    o.gateway_api = Some("infra/public".into());
    o.host = Some("shop.example".into());
    let e = bundled_with(&Vars::default(), &o);
    let route = e.export.docs.iter().find_map(|d| match &d.object {
        Object::HttpRoute(r) => Some(r),
        _ => None,
    });
    let r = route.expect("an HTTPRoute");
    let v = serde_json::to_value(r).unwrap();
    assert_eq!(v["apiVersion"], "gateway.networking.k8s.io/v1");
    assert_eq!(
        v["spec"]["parentRefs"],
        serde_json::json!([{"name": "public", "namespace": "infra"}])
    );
    assert_eq!(v["spec"]["hostnames"], serde_json::json!(["shop.example"]));
    assert_eq!(
        v["spec"]["rules"][0]["matches"][0]["path"],
        serde_json::json!({"type": "PathPrefix", "value": "/"})
    );
    assert_eq!(
        v["spec"]["rules"][0]["backendRefs"],
        serde_json::json!([{"name": "gateway", "port": 8000}])
    );
}
