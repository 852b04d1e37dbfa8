//! `msctl export k8s`: the stack as Kubernetes manifests, laid out for `kubectl apply -k`.
//!
//! Built from typed objects ([`objects`]), never from YAML text, by a pure function: the
//! command reads the files and writes the result. The parts:
//! - [`facts`]: the ports each service listens on and who calls whom;
//! - [`workload`]: a Deployment or StatefulSet per service, with probes from its healthcheck
//!   and init containers that wait for what it depends on;
//! - [`network`]: Services, the gateway's Ingress/HTTPRoute and routing table, NetworkPolicies;
//! - [`secrets`]: which variables are secret, and how a pod reads them without the manifests
//!   holding them.
//!
//! What cannot be carried over is a warning at its line of the stack file, never dropped in
//! silence (docs/kubernetes.md has the whole mapping).

pub mod facts;
pub mod input;
pub mod network;
pub mod objects;
pub mod secrets;
pub mod workload;

use crate::diag::{Diagnostic, FileErrors, Pos};
use crate::images::pushed::Pushed;
use crate::stack::{model, ImageSource, ServiceSpec, Stack};
use k8s_openapi::api::core::v1::{Namespace, Secret};
use objects::{meta, Kustomization, Object};
use secrets::SecretVar;
use std::collections::BTreeMap;
use std::path::PathBuf;

/// The folder of the objects that belong to the stack as a whole (a service name cannot start
/// with `_`).
pub const STACK_DIR: &str = "_stack";

/// What the command line chose.
#[derive(Debug, Clone, Default)]
pub struct Options {
    pub namespace: Option<String>,
    /// Where built images are pulled from (`--registry`).
    pub registry: Option<String>,
    /// The Ingress (and HTTPRoute) host.
    pub host: Option<String>,
    pub ingress_class: Option<String>,
    /// The namespace of the ingress controller, which alone may call the gateway from outside.
    pub ingress_namespace: String,
    /// `--gateway-api NAME` or `NAMESPACE/NAME`: an HTTPRoute attached to that Gateway.
    pub gateway_api: Option<String>,
    /// What `msctl push` pushed, to name built images by digest.
    pub pushed: Option<Pushed>,
    /// `--with-secrets`: the values to write into the Secrets.
    pub secret_values: Option<BTreeMap<String, String>>,
}

/// One object and where it is written: `<dir>/<file>.yaml`.
#[derive(Debug, Clone)]
pub struct Doc {
    pub dir: String,
    pub file: String,
    pub object: Object,
}

impl Doc {
    pub fn new(dir: &str, file: &str, object: Object) -> Doc {
        Doc {
            dir: dir.to_owned(),
            file: file.to_owned(),
            object,
        }
    }

    pub fn path(&self) -> String {
        format!("{}/{}.yaml", self.dir, self.file)
    }
}

/// The export: its objects, the example Secret to fill in, and what could not be carried over.
#[derive(Debug)]
pub struct Export {
    pub docs: Vec<Doc>,
    /// `secrets.example.yaml`: the Secrets to create, with placeholders (never written to the
    /// kustomization: it is for a person to fill in).
    pub secrets_example: Option<String>,
    pub namespace: Option<String>,
    pub warnings: Vec<Diagnostic>,
}

/// Everything the parts of the export share.
pub struct Context<'a> {
    pub stack: &'a Stack,
    pub raw: &'a model::StackFile,
    pub facts: facts::Facts,
    pub opts: &'a Options,
    pub project: String,
    pub warnings: Vec<Diagnostic>,
    /// Files mounted as secrets (`*_FILE`): the key in the files Secret, and the host file.
    pub secret_files: Vec<(String, PathBuf)>,
    images: BTreeMap<String, String>,
}

impl Context<'_> {
    pub fn warn(&mut self, at: Pos, message: String) {
        self.warnings.push(Diagnostic::new(at, message));
    }

    pub fn image(&self, s: &ServiceSpec) -> String {
        self.images[&s.name].clone()
    }

    pub fn secret_name(&self) -> String {
        format!("{}-secrets", self.project)
    }

    pub fn files_secret_name(&self) -> String {
        format!("{}-files", self.project)
    }

    /// `app.kubernetes.io/component`.
    pub fn component(&self, s: &ServiceSpec) -> &'static str {
        if self.stack.gateway().is_some_and(|g| g.name == s.name) {
            "gateway"
        } else if self.stack.broker().is_some_and(|b| b.name == s.name) {
            "broker"
        } else if workload::stateful(s) {
            "database"
        } else {
            "service"
        }
    }

    pub fn at_service(&self, name: &str) -> Pos {
        facts::service_pos(self.raw, name)
    }

    pub fn at_mount(&self, service: &str, target: &str) -> Pos {
        workload::mount_pos(self.raw, service, target)
    }

    pub fn at_dependency(&self, service: &str, dep: &str) -> Pos {
        facts::raw_service(self.raw, service)
            .and_then(|s| s.depends_on.0.iter().find(|(k, _)| k.value == dep))
            .map(|(k, _)| crate::diag::pos(k))
            .unwrap_or_else(|| self.at_service(service))
    }
}

/// A Kubernetes object name (RFC 1035 label): callers find a service by it, so a stack name
/// that is not one cannot be exported.
pub fn valid_k8s_name(name: &str) -> bool {
    name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase())
        && !name.ends_with('-')
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// The manifests of `services` (the stack's, selected by profile). `secret` are the stack's
/// secret variables ([`secrets::variables`]); `stack` was resolved with them masked.
pub fn export(
    stack: &Stack,
    services: &[&ServiceSpec],
    raw: &model::StackFile,
    secret: &BTreeMap<String, SecretVar>,
    opts: &Options,
) -> Result<Export, FileErrors> {
    let mut errors = Vec::new();
    if !valid_k8s_name(&stack.name) {
        errors.push(Diagnostic::new(
            raw.name.as_ref().map(crate::diag::pos).unwrap_or_default(),
            format!("the project name `{}` is not a Kubernetes name", stack.name),
        ).help("use lowercase letters, digits and `-`, starting with a letter (or export with -p NAME)"));
    }
    for s in services {
        if !valid_k8s_name(&s.name) {
            errors.push(
                Diagnostic::new(
                    facts::service_pos(raw, &s.name),
                    format!(
                        "`{}` is not a Kubernetes name: its Service could not be called by it",
                        s.name
                    ),
                )
                .help("use lowercase letters, digits and `-`, starting with a letter, at most 63"),
            );
        }
    }
    if !errors.is_empty() {
        return Err(FileErrors {
            file: stack.file.clone(),
            diagnostics: errors,
        });
    }

    let mut warnings = Vec::new();
    let facts = facts::gather(stack, services, raw, &mut warnings);
    let mut cx = Context {
        stack,
        raw,
        facts,
        opts,
        project: stack.name.clone(),
        warnings,
        secret_files: Vec::new(),
        images: BTreeMap::new(),
    };
    for s in services {
        let image = image(&mut cx, s);
        cx.images.insert(s.name.clone(), image);
        let gateway = stack.gateway().is_some_and(|g| g.name == s.name);
        if !gateway {
            for (i, p) in s.ports.iter().enumerate() {
                let at = facts::raw_service(raw, &s.name)
                    .and_then(|r| r.ports.get(i))
                    .map(crate::diag::pos)
                    .unwrap_or_else(|| cx.at_service(&s.name));
                cx.warn(at, format!(
                    "`{}` publishes port {}: only the gateway is reachable from outside a cluster; not exported (use `kubectl port-forward`)",
                    s.name, p.container_port
                ));
            }
        }
    }

    let mut docs = Vec::new();
    let ns = opts.namespace.as_deref();
    if let Some(ns) = ns {
        docs.push(Doc::new(
            STACK_DIR,
            "namespace",
            Object::Namespace(Namespace {
                metadata: meta(
                    ns,
                    None,
                    BTreeMap::from([(
                        "app.kubernetes.io/managed-by".to_owned(),
                        "msctl".to_owned(),
                    )]),
                ),
                ..Default::default()
            }),
        ));
    }
    docs.extend(network::baseline(&cx));
    let mut per_service = Vec::new();
    for s in services {
        per_service.extend(workload::documents(&mut cx, s));
        per_service.extend(network::services(&cx, s, workload::stateful(s)));
        if stack.gateway().is_some_and(|g| g.name == s.name) {
            per_service.extend(network::gateway(&mut cx, s));
        }
        per_service.extend(network::policy(&cx, s));
    }

    let used: Vec<&String> = secret
        .keys()
        .filter(|name| {
            let m = secrets::marker(name);
            services
                .iter()
                .any(|s| s.env.values().any(|v| v.contains(&m)))
        })
        .collect();
    if let Some(values) = &opts.secret_values {
        if !used.is_empty() {
            docs.push(Doc::new(
                STACK_DIR,
                "secret",
                Object::Secret(Secret {
                    metadata: meta(&cx.secret_name(), ns, stack_labels(&cx.project)),
                    string_data: Some(
                        used.iter()
                            .map(|n| ((*n).clone(), values.get(*n).cloned().unwrap_or_default()))
                            .collect(),
                    ),
                    ..Default::default()
                }),
            ));
        }
        if !cx.secret_files.is_empty() {
            let data = cx
                .secret_files
                .iter()
                .map(|(key, path)| {
                    (
                        key.clone(),
                        std::fs::read_to_string(path).unwrap_or_default(),
                    )
                })
                .collect();
            docs.push(Doc::new(
                STACK_DIR,
                "secret-files",
                Object::Secret(Secret {
                    metadata: meta(&cx.files_secret_name(), ns, stack_labels(&cx.project)),
                    string_data: Some(data),
                    ..Default::default()
                }),
            ));
        }
    }
    let secrets_example = example(&cx, secret, &used);
    docs.extend(per_service);
    Ok(Export {
        docs,
        secrets_example,
        namespace: opts.namespace.clone(),
        warnings: cx.warnings,
    })
}

fn stack_labels(project: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/part-of".to_owned(), project.to_owned()),
        (
            "app.kubernetes.io/managed-by".to_owned(),
            "msctl".to_owned(),
        ),
    ])
}

/// The image a pod runs: upstream images as written (stand-ins are local only), built ones from
/// the registry, by digest once `msctl push` pushed them.
fn image(cx: &mut Context, s: &ServiceSpec) -> String {
    if let ImageSource::Reference(r) = &s.image {
        return r.clone();
    }
    let at = facts::raw_service(cx.raw, &s.name)
        .and_then(|r| r.build.as_ref())
        .and_then(|b| b.krate.as_ref().or(b.dockerfile.as_ref()))
        .map(crate::diag::pos)
        .unwrap_or_else(|| cx.at_service(&s.name));
    let Some(registry) = &cx.opts.registry else {
        cx.warn(
            at,
            format!(
                "`{}` is built by msctl and no --registry was given: a cluster cannot pull {}",
                s.name,
                crate::images::tag_for(&cx.project, &s.name)
            ),
        );
        return crate::images::tag_for(&cx.project, &s.name);
    };
    let pushed = cx
        .opts
        .pushed
        .as_ref()
        .and_then(|p| p.image(registry, &cx.project, &s.name));
    match pushed {
        Some(p) => format!("{}@{}", p.repository, p.digest),
        None => {
            let reference = format!(
                "{}:latest",
                crate::images::pushed::repository(registry, &cx.project, &s.name)
            );
            cx.warn(
                at,
                format!(
                    "`{}` has not been pushed to {registry}: the manifests name {reference}",
                    s.name
                ),
            );
            reference
        }
    }
}

/// `secrets.example.yaml`: the Secrets the manifests read, to fill in and apply by hand.
fn example(cx: &Context, secret: &BTreeMap<String, SecretVar>, used: &[&String]) -> Option<String> {
    if used.is_empty() && cx.secret_files.is_empty() {
        return None;
    }
    let mut text = format!(
        "# The Secrets the manifests of `{}` read, which `msctl export k8s` never writes into them.\n# Fill in the values, then: kubectl apply -f secrets.example.yaml (or export --with-secrets for a throwaway cluster).\n",
        cx.project
    );
    let ns = cx.opts.namespace.as_deref();
    let mut docs = Vec::new();
    if !used.is_empty() {
        let mut data = BTreeMap::new();
        for name in used {
            let var = &secret[*name];
            let (value, why) = match (var.generated, &var.default) {
                (Some("password"), _) => (
                    "CHANGE-ME".to_owned(),
                    "a password (msctl up generates 24 letters and digits)".to_owned(),
                ),
                (Some("ed25519"), _) => (
                    "CHANGE-ME".to_owned(),
                    "an Ed25519 private key, base64 PKCS#8 (msctl up generates one into .env)"
                        .to_owned(),
                ),
                (Some(_), _) => (
                    "CHANGE-ME".to_owned(),
                    "the public half of the Ed25519 key, base64url".to_owned(),
                ),
                (None, Some(d)) => (
                    d.clone(),
                    "the stack file's default, for development only".to_owned(),
                ),
                (None, None) => (
                    "CHANGE-ME".to_owned(),
                    "no default in the stack file".to_owned(),
                ),
            };
            text.push_str(&format!("#   {name}: {why}\n"));
            data.insert((*name).clone(), value);
        }
        docs.push(Object::Secret(Secret {
            metadata: meta(&cx.secret_name(), ns, stack_labels(&cx.project)),
            string_data: Some(data),
            ..Default::default()
        }));
    }
    if !cx.secret_files.is_empty() {
        for (key, path) in &cx.secret_files {
            let shown = path
                .strip_prefix(&cx.stack.dir)
                .map(|r| format!("./{}", r.display()))
                .unwrap_or_else(|_| path.display().to_string());
            text.push_str(&format!(
                "#   {key} (in {}): the contents of {shown}\n",
                cx.files_secret_name()
            ));
        }
        docs.push(Object::Secret(Secret {
            metadata: meta(&cx.files_secret_name(), ns, stack_labels(&cx.project)),
            string_data: Some(
                cx.secret_files
                    .iter()
                    .map(|(k, _)| (k.clone(), "CHANGE-ME".to_owned()))
                    .collect(),
            ),
            ..Default::default()
        }));
    }
    text.push_str(
        &serde_saphyr::to_string_multiple_with_options(&docs, yaml_options())
            .expect("Secrets serialize"),
    );
    Some(text)
}

/// YAML as people read manifests: a long one-line value (an image by digest) stays on its line
/// rather than folded (`>-`), which is valid but reads as if it were two.
pub fn yaml<T: serde::Serialize>(value: &T) -> String {
    serde_saphyr::to_string_with_options(value, yaml_options()).expect("objects serialize")
}

fn yaml_options() -> serde_saphyr::SerializerOptions {
    let mut o = serde_saphyr::SerializerOptions::default();
    o.folded_wrap_chars = 4096;
    o
}

/// The first line of every file an export writes; a later export replaces only such files.
pub const HEADER: &str = "# Generated by msctl export";

impl Export {
    /// Every file, relative to the output directory, with its text.
    pub fn files(&self, stack_file: &std::path::Path) -> Vec<(PathBuf, String)> {
        let header = format!(
            "{HEADER} k8s from {}: change the stack file and export again.\n",
            stack_file.display()
        );
        let mut files: Vec<(PathBuf, String)> = self
            .docs
            .iter()
            .map(|d| {
                let body = yaml(&d.object);
                (PathBuf::from(d.path()), format!("{header}{body}"))
            })
            .collect();
        let kustomization = Kustomization {
            api_version: "kustomize.config.k8s.io/v1beta1",
            kind: "Kustomization",
            namespace: self.namespace.clone(),
            resources: self.docs.iter().map(Doc::path).collect(),
        };
        files.push((
            PathBuf::from("kustomization.yaml"),
            format!("{header}{}", yaml(&kustomization)),
        ));
        if let Some(example) = &self.secrets_example {
            files.push((
                PathBuf::from("secrets.example.yaml"),
                format!("{header}{example}"),
            ));
        }
        files
    }
}

#[cfg(test)]
pub(crate) mod tests;
