//! The Kubernetes objects an export writes, typed: k8s-openapi's for the built-in kinds, and
//! a small struct of our own for the Gateway API's HTTPRoute (a CRD, which k8s-openapi does not
//! have; the `gateway-api` crate would bring kube and serde_yaml).

use k8s_openapi::api::apps::v1::{Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Secret, Service};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;
use std::collections::BTreeMap;

/// One document of the export. Untagged: each type writes its own `apiVersion` and `kind`.
#[derive(Debug, Clone, Serialize)]
#[serde(untagged)]
pub enum Object {
    Namespace(Namespace),
    Deployment(Deployment),
    StatefulSet(StatefulSet),
    Service(Service),
    ConfigMap(ConfigMap),
    Secret(Secret),
    NetworkPolicy(NetworkPolicy),
    Ingress(Ingress),
    PodDisruptionBudget(PodDisruptionBudget),
    HttpRoute(HttpRoute),
}

impl Object {
    pub fn kind(&self) -> &'static str {
        use k8s_openapi::Resource;
        match self {
            Object::Namespace(_) => Namespace::KIND,
            Object::Deployment(_) => Deployment::KIND,
            Object::StatefulSet(_) => StatefulSet::KIND,
            Object::Service(_) => Service::KIND,
            Object::ConfigMap(_) => ConfigMap::KIND,
            Object::Secret(_) => Secret::KIND,
            Object::NetworkPolicy(_) => NetworkPolicy::KIND,
            Object::Ingress(_) => Ingress::KIND,
            Object::PodDisruptionBudget(_) => PodDisruptionBudget::KIND,
            Object::HttpRoute(_) => "HTTPRoute",
        }
    }

    pub fn metadata(&self) -> &ObjectMeta {
        match self {
            Object::Namespace(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::StatefulSet(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
            Object::HttpRoute(o) => &o.metadata,
        }
    }

    pub fn name(&self) -> &str {
        self.metadata().name.as_deref().unwrap_or_default()
    }
}

/// `gateway.networking.k8s.io/v1` HTTPRoute: the fields an export sets.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRoute {
    pub api_version: &'static str,
    pub kind: &'static str,
    pub metadata: ObjectMeta,
    pub spec: HttpRouteSpec,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteSpec {
    pub parent_refs: Vec<ParentRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub hostnames: Vec<String>,
    pub rules: Vec<HttpRouteRule>,
}

#[derive(Debug, Clone, Serialize)]
pub struct ParentRef {
    pub name: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct HttpRouteRule {
    pub matches: Vec<HttpRouteMatch>,
    pub backend_refs: Vec<BackendRef>,
}

#[derive(Debug, Clone, Serialize)]
pub struct HttpRouteMatch {
    pub path: PathMatch,
}

#[derive(Debug, Clone, Serialize)]
pub struct PathMatch {
    #[serde(rename = "type")]
    pub type_: &'static str,
    pub value: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct BackendRef {
    pub name: String,
    pub port: i32,
}

/// `kustomization.yaml` (kustomize's own kind, not an API object).
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Kustomization {
    pub api_version: &'static str,
    pub kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    pub resources: Vec<String>,
}

/// The labels every object of service `name` carries; the first two are its selector.
pub fn labels(project: &str, name: &str, component: &str) -> BTreeMap<String, String> {
    let mut l = selector(project, name);
    l.insert("app.kubernetes.io/part-of".into(), project.into());
    l.insert("app.kubernetes.io/component".into(), component.into());
    l.insert("app.kubernetes.io/managed-by".into(), "msctl".into());
    l
}

/// What selects service `name`'s pods; never changed by an upgrade (selectors are immutable).
pub fn selector(project: &str, name: &str) -> BTreeMap<String, String> {
    BTreeMap::from([
        ("app.kubernetes.io/name".to_owned(), name.to_owned()),
        ("app.kubernetes.io/instance".to_owned(), project.to_owned()),
    ])
}

/// Metadata of an object named `name` with `labels`, in `namespace` when one is given.
pub fn meta(name: &str, namespace: Option<&str>, labels: BTreeMap<String, String>) -> ObjectMeta {
    ObjectMeta {
        name: Some(name.to_owned()),
        namespace: namespace.map(str::to_owned),
        labels: Some(labels),
        ..Default::default()
    }
}
