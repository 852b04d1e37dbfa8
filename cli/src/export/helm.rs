//! `msctl export helm`: the objects of `export k8s` as a Helm chart.
//!
//! No template is written by hand but the two of `assets/helm` (the image helper and the
//! optional Secret). Each object of the export is turned into JSON; at the places a value
//! decides (replicas, images, resources, storage, the Ingress host, the Secret's name) a
//! marker takes the field's place; every other string has its `{{`/`}}` escaped, so no value of
//! the stack can run as template code; the object is written as YAML; and each marker becomes
//! `{{ toJson EXPR }}`. JSON is YAML's flow syntax, so one rule serves numbers, strings and
//! whole mappings, with no indentation to get right. Values are typed ([`Values`]), and
//! `values.schema.json` is generated from the same type, so `--set` with a typo fails.

use super::k8s::objects::Object;
use super::k8s::{Doc, Export, HEADER};
use crate::images::pushed::Pushed;
use crate::stack::{ImageSource, ServiceSpec, Stack};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use regex::Regex;
use schemars::JsonSchema;
use serde::Serialize;
use serde_json::{json, Value};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::LazyLock;

/// The chart's `values.yaml`.
#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
#[schemars(deny_unknown_fields)]
pub struct Values {
    pub global: Global,
    pub ingress: IngressValues,
    pub network_policy: Toggle,
    pub secrets: SecretsValues,
    /// Per service, by the stack's names.
    pub services: BTreeMap<String, ServiceValues>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Global {
    /// The registry of the images msctl builds; overrides each one's `image.registry`.
    pub registry: String,
}

#[derive(Debug, Serialize, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(deny_unknown_fields)]
pub struct IngressValues {
    pub enabled: bool,
    /// The Ingress and HTTPRoute host; empty: any.
    pub host: String,
    /// `ingressClassName`; null: the cluster's default class.
    pub class_name: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct Toggle {
    pub enabled: bool,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct SecretsValues {
    /// The Secret the pods read their secret variables from.
    pub name: String,
    /// Create it from `values` (for a throwaway cluster); otherwise it must exist.
    pub create: bool,
    pub values: BTreeMap<String, String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ServiceValues {
    pub image: ImageValues,
    /// Deployments only: a StatefulSet's replicas each have a volume of their own.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 0))]
    pub replicas: Option<u32>,
    /// The container's `resources` (requests and limits), as Kubernetes spells them.
    pub resources: BTreeMap<String, BTreeMap<String, String>>,
    /// StatefulSets only: the size of each volume claim.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub storage: Option<String>,
}

#[derive(Debug, Serialize, JsonSchema)]
#[schemars(deny_unknown_fields)]
pub struct ImageValues {
    /// Built by msctl: `global.registry`, when set, replaces `registry`.
    pub built: bool,
    pub registry: String,
    pub repository: String,
    pub tag: String,
    /// `sha256:…`; when set, the image is pulled by digest and `tag` is ignored.
    pub digest: String,
}

const HELPERS: &str = include_str!("../../assets/helm/_helpers.tpl");
const SECRET: &str = include_str!("../../assets/helm/secret.yaml");

/// Every file of the chart, relative to its directory.
pub fn chart(
    stack: &Stack,
    services: &[&ServiceSpec],
    export: &Export,
    registry: Option<&str>,
    pushed: Option<&Pushed>,
) -> Vec<(PathBuf, String)> {
    let header = format!(
        "{HEADER} helm from {}: change the stack file and export again.\n",
        stack.file.display()
    );
    let values = values(stack, services, export, registry, pushed);
    let mut files = vec![
        (
            PathBuf::from("Chart.yaml"),
            format!("{header}{}", chart_yaml(stack)),
        ),
        (
            PathBuf::from("values.yaml"),
            format!("{header}{}", super::k8s::yaml(&values)),
        ),
        (PathBuf::from("values.schema.json"), schema(&values)),
        (
            PathBuf::from("templates/_helpers.tpl"),
            format!("{header}{HELPERS}"),
        ),
        (
            PathBuf::from("templates/secret.yaml"),
            format!("{header}{SECRET}"),
        ),
    ];
    for doc in &export.docs {
        if let Some(text) = template(stack, doc) {
            // Helm renders no template whose name starts with `_` (those are partials).
            let dir = doc.dir.trim_start_matches('_');
            files.push((
                PathBuf::from(format!("templates/{dir}-{}.yaml", doc.file)),
                format!("{header}{text}"),
            ));
        }
        if let Object::Deployment(d) = &doc.object {
            // Every Deployment's budget, present once its replicas are raised past one.
            let pdb = Object::PodDisruptionBudget(PodDisruptionBudget {
                metadata: d.metadata.clone(),
                spec: Some(PodDisruptionBudgetSpec {
                    max_unavailable: Some(IntOrString::Int(1)),
                    selector: d.spec.as_ref().map(|s| s.selector.clone()),
                    ..Default::default()
                }),
                ..Default::default()
            });
            let body = render(json(&pdb), &BTreeMap::new());
            files.push((
                PathBuf::from(format!("templates/{}-pdb.yaml", doc.dir)),
                format!(
                    "{header}{{{{- if gt (int {}.replicas) 1 }}}}\n{body}{{{{- end }}}}\n",
                    service_values(&doc.dir)
                ),
            ));
        }
    }
    files
}

fn chart_yaml(stack: &Stack) -> String {
    #[derive(Serialize)]
    #[serde(rename_all = "camelCase")]
    struct Chart<'a> {
        api_version: &'a str,
        name: &'a str,
        description: String,
        #[serde(rename = "type")]
        type_: &'a str,
        version: &'a str,
        app_version: &'a str,
        kube_version: &'a str,
    }
    super::k8s::yaml(&Chart {
        api_version: "v2",
        name: &stack.name,
        description: format!(
            "The {} stack, exported by msctl from {}",
            stack.name,
            stack.file.display()
        ),
        type_: "application",
        version: "0.1.0",
        app_version: "0.1.0",
        kube_version: ">=1.25.0-0",
    })
}

/// `(index .Values.services "name")`.
fn service_values(name: &str) -> String {
    format!("(index .Values.services {name:?})")
}

fn values(
    stack: &Stack,
    services: &[&ServiceSpec],
    export: &Export,
    registry: Option<&str>,
    pushed: Option<&Pushed>,
) -> Values {
    let mut out = BTreeMap::new();
    for s in services {
        let stateful = super::k8s::workload::stateful(s);
        let image = match &s.image {
            ImageSource::Reference(r) => {
                let (repository, tag, digest) = split_reference(r);
                ImageValues {
                    built: false,
                    registry: String::new(),
                    repository,
                    tag,
                    digest,
                }
            }
            _ => {
                let p = pushed
                    .zip(registry)
                    .and_then(|(p, r)| p.image(r, &stack.name, &s.name));
                ImageValues {
                    built: true,
                    registry: registry.unwrap_or("msctl.local").to_owned(),
                    repository: format!("{}/{}", stack.name, s.name),
                    tag: p.map(|p| p.tag.clone()).unwrap_or_else(|| "latest".into()),
                    digest: p.map(|p| p.digest.clone()).unwrap_or_default(),
                }
            }
        };
        out.insert(
            s.name.clone(),
            ServiceValues {
                image,
                replicas: (!stateful).then_some(s.replicas),
                resources: BTreeMap::new(),
                storage: stateful.then(|| super::k8s::workload::STORAGE.to_owned()),
            },
        );
    }
    // `--with-secrets`: the chart creates the Secret from its values.
    let secret_name = format!("{}-secrets", stack.name);
    let written = export.docs.iter().find_map(|d| match &d.object {
        Object::Secret(s) if s.metadata.name.as_deref() == Some(&secret_name) => {
            s.string_data.clone()
        }
        _ => None,
    });
    Values {
        global: Global {
            registry: String::new(),
        },
        ingress: IngressValues {
            enabled: true,
            host: String::new(),
            class_name: None,
        },
        network_policy: Toggle { enabled: true },
        secrets: SecretsValues {
            name: secret_name,
            create: written.is_some(),
            values: written.unwrap_or_default(),
        },
        services: out,
    }
}

/// `postgres:15` → (`postgres`, `15`, ``); a digest wins over a tag.
fn split_reference(r: &str) -> (String, String, String) {
    let (name, digest) = match r.split_once('@') {
        Some((n, d)) => (n, d.to_owned()),
        None => (r, String::new()),
    };
    let last = name.rsplit('/').next().unwrap_or(name);
    match last.rsplit_once(':') {
        Some((_, tag)) => (
            name[..name.len() - tag.len() - 1].to_owned(),
            tag.to_owned(),
            digest,
        ),
        None => (name.to_owned(), "latest".to_owned(), digest),
    }
}

/// The schema of [`Values`], with the services of this stack as its only services.
fn schema(values: &Values) -> String {
    let mut schema = serde_json::to_value(schemars::schema_for!(Values)).expect("schema");
    let service = schema["properties"]["services"]["additionalProperties"].clone();
    let services: serde_json::Map<String, Value> = values
        .services
        .keys()
        .map(|k| (k.clone(), service.clone()))
        .collect();
    schema["properties"]["services"] = json!({
        "type": "object",
        "properties": services,
        "additionalProperties": false,
    });
    schema["$comment"] = json!(format!(
        "{} helm: the chart's values, generated with them.",
        &HEADER[2..]
    ));
    serde_json::to_string_pretty(&schema).expect("schema serializes") + "\n"
}

fn json(o: &Object) -> Value {
    serde_json::to_value(o).expect("objects serialize")
}

/// The template of one object of the export; none for what the chart makes otherwise (the
/// namespace is Helm's, the Secret is `secret.yaml`'s, budgets are made per Deployment).
fn template(stack: &Stack, doc: &Doc) -> Option<String> {
    let mut holes = BTreeMap::new();
    let mut v = json(&doc.object);
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        meta.remove("namespace");
    }
    let svc = service_values(&doc.dir);
    let condition = match &doc.object {
        Object::Namespace(_) | Object::PodDisruptionBudget(_) => return None,
        Object::Secret(s)
            if s.metadata.name.as_deref() == Some(&format!("{}-secrets", stack.name)) =>
        {
            return None
        }
        Object::Secret(_) => None,
        Object::Deployment(_) | Object::StatefulSet(_) => {
            // A StatefulSet's replicas stay as exported: each would get a volume of its own.
            if matches!(doc.object, Object::Deployment(_)) {
                hole(
                    &mut v,
                    "/spec/replicas",
                    &mut holes,
                    format!("{svc}.replicas"),
                );
            }
            let spec = "/spec/template/spec";
            let n = v
                .pointer(&format!("{spec}/initContainers"))
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..n {
                let name = v
                    .pointer(&format!("{spec}/initContainers/{i}/name"))
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                let dep = name.strip_prefix("wait-").unwrap_or(name).to_owned();
                hole(
                    &mut v,
                    &format!("{spec}/initContainers/{i}/image"),
                    &mut holes,
                    image_expr(&dep),
                );
            }
            hole(
                &mut v,
                &format!("{spec}/containers/0/image"),
                &mut holes,
                image_expr(&doc.dir),
            );
            hole(
                &mut v,
                &format!("{spec}/containers/0/resources"),
                &mut holes,
                format!("{svc}.resources"),
            );
            let claims = v
                .pointer("/spec/volumeClaimTemplates")
                .and_then(Value::as_array)
                .map_or(0, Vec::len);
            for i in 0..claims {
                hole(
                    &mut v,
                    &format!("/spec/volumeClaimTemplates/{i}/spec/resources/requests/storage"),
                    &mut holes,
                    format!("{svc}.storage"),
                );
            }
            secret_names(&mut v, &stack.name, &mut holes);
            None
        }
        Object::Ingress(_) => {
            hole(
                &mut v,
                "/spec/ingressClassName",
                &mut holes,
                ".Values.ingress.className".into(),
            );
            // No host when empty: "" would be an invalid host to an API server.
            let host = "ternary nil .Values.ingress.host (empty .Values.ingress.host)";
            hole(&mut v, "/spec/rules/0/host", &mut holes, host.into());
            Some(".Values.ingress.enabled")
        }
        Object::HttpRoute(_) => {
            let hosts = "ternary (list) (list .Values.ingress.host) (empty .Values.ingress.host)";
            hole(&mut v, "/spec/hostnames", &mut holes, hosts.into());
            Some(".Values.ingress.enabled")
        }
        Object::NetworkPolicy(_) => Some(".Values.networkPolicy.enabled"),
        Object::Service(_) | Object::ConfigMap(_) => None,
    };
    let body = render(v, &holes);
    Some(match condition {
        Some(c) => format!("{{{{- if {c} }}}}\n{body}{{{{- end }}}}\n"),
        None => body,
    })
}

fn image_expr(service: &str) -> String {
    format!(
        "include \"msctl.image\" (dict \"image\" {}.image \"global\" .Values.global)",
        service_values(service)
    )
}

/// Each `secretKeyRef` to the stack's Secret names the Secret of the values instead.
fn secret_names(v: &mut Value, project: &str, holes: &mut BTreeMap<String, String>) {
    let ours = format!("{project}-secrets");
    match v {
        Value::Object(map) => {
            if let Some(Value::Object(r)) = map.get_mut("secretKeyRef") {
                if r.get("name").and_then(Value::as_str) == Some(&ours) {
                    let marker = format!("MSCTL_HOLE_{}_", holes.len());
                    holes.insert(marker.clone(), ".Values.secrets.name".into());
                    r.insert("name".into(), Value::String(marker));
                }
            }
            for child in map.values_mut() {
                secret_names(child, project, holes);
            }
        }
        Value::Array(items) => items
            .iter_mut()
            .for_each(|i| secret_names(i, project, holes)),
        _ => {}
    }
}

/// Puts a marker at `pointer` (creating the field in an existing object), to become `expr`.
fn hole(v: &mut Value, pointer: &str, holes: &mut BTreeMap<String, String>, expr: String) {
    let (parent, key) = pointer.rsplit_once('/').expect("a pointer with a parent");
    let Some(Value::Object(p)) = v.pointer_mut(parent) else {
        return;
    };
    let marker = format!("MSCTL_HOLE_{}_", holes.len());
    p.insert(key.to_owned(), Value::String(marker.clone()));
    holes.insert(marker, expr);
}

static DELIMITERS: LazyLock<Regex> = LazyLock::new(|| Regex::new(r"\{\{|\}\}").expect("valid"));

/// Every string with template delimiters made literal: `{{` as ``{{`{{`}}`` (a raw string: a
/// `"` would be escaped again in a double-quoted YAML string; no spaces, so a long string folded
/// by the YAML writer is never folded inside an action).
fn escape(v: &mut Value) {
    match v {
        Value::String(s) if DELIMITERS.is_match(s) => {
            *s = DELIMITERS
                .replace_all(s, |c: &regex::Captures| format!("{{{{`{}`}}}}", &c[0]))
                .into_owned();
        }
        Value::Array(items) => items.iter_mut().for_each(escape),
        Value::Object(map) => map.values_mut().for_each(escape),
        _ => {}
    }
}

/// The object as YAML with each marker replaced by its expression.
fn render(mut v: Value, holes: &BTreeMap<String, String>) -> String {
    escape(&mut v);
    let mut text = super::k8s::yaml(&v);
    // Longest first: MSCTL_HOLE_1_ is not a prefix of MSCTL_HOLE_10_ (the trailing `_`), but
    // be plain about it.
    let mut ordered: Vec<_> = holes.iter().collect();
    ordered.sort_by_key(|(m, _)| std::cmp::Reverse(m.len()));
    for (marker, expr) in ordered {
        text = text.replace(marker.as_str(), &format!("{{{{ toJson ({expr}) }}}}"));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::export::k8s::tests::{bundled, pushed, tree};

    /// The bundled stack's chart (its manifests' snapshot is export::k8s's).
    #[test]
    fn the_bundled_stacks_chart() {
        let e = bundled();
        let services: Vec<&ServiceSpec> = e.stack.services.iter().collect();
        let files = chart(
            &e.stack,
            &services,
            &e.export,
            Some("127.0.0.1:5000"),
            Some(&pushed()),
        );
        insta::assert_snapshot!(tree(&files));
    }

    #[test]
    fn references_split_into_repository_tag_and_digest() {
        let s = |r| split_reference(r);
        assert_eq!(
            s("postgres:15"),
            ("postgres".into(), "15".into(), "".into())
        );
        assert_eq!(
            s("rabbitmq"),
            ("rabbitmq".into(), "latest".into(), "".into())
        );
        assert_eq!(
            s("127.0.0.1:5000/shop/x@sha256:ab"),
            (
                "127.0.0.1:5000/shop/x".into(),
                "latest".into(),
                "sha256:ab".into()
            )
        );
        assert_eq!(
            s("reg:5000/a/b:1.2"),
            ("reg:5000/a/b".into(), "1.2".into(), "".into())
        );
    }

    #[test]
    fn template_delimiters_in_values_are_literal_and_markers_become_expressions() {
        let mut holes = BTreeMap::new();
        let mut v = json!({"spec": {"replicas": 1}, "data": {"k": "a {{ .Values.x }} b}}"}});
        hole(
            &mut v,
            "/spec/replicas",
            &mut holes,
            "(index .Values.services \"a\").replicas".into(),
        );
        let text = render(v, &holes);
        assert!(
            text.contains("{{`{{`}} .Values.x {{`}}`}} b{{`}}`}}"),
            "{text}"
        );
        assert!(
            text.contains(r#"replicas: {{ toJson ((index .Values.services "a").replicas) }}"#),
            "{text}"
        );
    }
}
