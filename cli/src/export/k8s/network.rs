//! How services reach each other on a cluster: a ClusterIP Service per service with a port
//! (and a headless one for a StatefulSet), the gateway's routing table as a ConfigMap, the
//! Ingress (or Gateway API HTTPRoute) in front of the gateway, and NetworkPolicies that allow
//! exactly the calls msctl knows of ([`super::facts`]) and deny the rest.

use super::facts::Edge;
use super::objects::{
    labels, meta, selector, BackendRef, HttpRoute, HttpRouteMatch, HttpRouteRule, HttpRouteSpec,
    Object, ParentRef, PathMatch,
};
use super::{Context, Doc, STACK_DIR};
use crate::stack::ServiceSpec;
use k8s_openapi::api::core::v1::{ConfigMap, Service, ServicePort, ServiceSpec as K8sServiceSpec};
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressRule,
    IngressServiceBackend, IngressSpec, NetworkPolicy, NetworkPolicyEgressRule,
    NetworkPolicyIngressRule, NetworkPolicyPeer, NetworkPolicyPort, NetworkPolicySpec,
    ServiceBackendPort,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;

/// The key of the routing table in its ConfigMap.
pub const ROUTES_KEY: &str = "routes.json";

pub fn routes_config(project: &str) -> String {
    format!("{project}-gateway-routes")
}

/// The headless Service a StatefulSet names as its `serviceName`.
pub fn headless(service: &str) -> String {
    format!("{service}-headless")
}

/// The Services of `s`: none when no port of it is known.
pub fn services(cx: &Context, s: &ServiceSpec, stateful: bool) -> Vec<Doc> {
    let ports: Vec<ServicePort> = cx
        .facts
        .ports_of(&s.name)
        .iter()
        .map(|p| ServicePort {
            name: Some(p.name.clone()),
            port: p.port.into(),
            target_port: Some(IntOrString::String(p.name.clone())),
            ..Default::default()
        })
        .collect();
    if ports.is_empty() {
        return Vec::new();
    }
    let labels = labels(&cx.project, &s.name, cx.component(s));
    let ns = cx.opts.namespace.as_deref();
    let service = |name: &str, headless: bool| Service {
        metadata: meta(name, ns, labels.clone()),
        spec: Some(K8sServiceSpec {
            type_: (!headless).then(|| "ClusterIP".to_owned()),
            cluster_ip: headless.then(|| "None".to_owned()),
            selector: Some(selector(&cx.project, &s.name)),
            ports: Some(ports.clone()),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut docs = vec![Doc::new(
        &s.name,
        "service",
        Object::Service(service(&s.name, false)),
    )];
    if stateful {
        docs.push(Doc::new(
            &s.name,
            "service-headless",
            Object::Service(service(&headless(&s.name), true)),
        ));
    }
    docs
}

/// The gateway's routing table, the Ingress in front of it, and the HTTPRoute with
/// `--gateway-api`.
pub fn gateway(cx: &mut Context, g: &ServiceSpec) -> Vec<Doc> {
    let ns = cx.opts.namespace.as_deref();
    let labels = labels(&cx.project, &g.name, "gateway");
    let mut docs = Vec::new();
    if let Some(routes) = g.env.get(crate::stack::routes::ENV) {
        docs.push(Doc::new(
            &g.name,
            "configmap-routes",
            Object::ConfigMap(ConfigMap {
                metadata: meta(&routes_config(&cx.project), ns, labels.clone()),
                data: Some(BTreeMap::from([(ROUTES_KEY.to_owned(), routes.clone())])),
                ..Default::default()
            }),
        ));
    }
    let Some(port) = g.ports.first().map(|p| i32::from(p.container_port)) else {
        return docs;
    };
    // The whole site goes to the gateway: it enforces the access rules, which per-path rules
    // here would bypass.
    docs.push(Doc::new(
        &g.name,
        "ingress",
        Object::Ingress(Ingress {
            metadata: meta(&cx.project, ns, labels.clone()),
            spec: Some(IngressSpec {
                ingress_class_name: cx.opts.ingress_class.clone(),
                rules: Some(vec![IngressRule {
                    host: cx.opts.host.clone(),
                    http: Some(HTTPIngressRuleValue {
                        paths: vec![HTTPIngressPath {
                            path: Some("/".into()),
                            path_type: "Prefix".into(),
                            backend: IngressBackend {
                                service: Some(IngressServiceBackend {
                                    name: g.name.clone(),
                                    port: Some(ServiceBackendPort {
                                        number: Some(port),
                                        ..Default::default()
                                    }),
                                }),
                                ..Default::default()
                            },
                        }],
                    }),
                }]),
                ..Default::default()
            }),
            ..Default::default()
        }),
    ));
    if let Some(parent) = &cx.opts.gateway_api {
        let (namespace, name) = match parent.split_once('/') {
            Some((ns, name)) => (Some(ns.to_owned()), name.to_owned()),
            None => (None, parent.clone()),
        };
        docs.push(Doc::new(
            &g.name,
            "httproute",
            Object::HttpRoute(HttpRoute {
                api_version: "gateway.networking.k8s.io/v1",
                kind: "HTTPRoute",
                metadata: meta(&cx.project, ns, labels),
                spec: HttpRouteSpec {
                    parent_refs: vec![ParentRef { name, namespace }],
                    hostnames: cx.opts.host.iter().cloned().collect(),
                    rules: vec![HttpRouteRule {
                        matches: vec![HttpRouteMatch {
                            path: PathMatch {
                                type_: "PathPrefix",
                                value: "/".into(),
                            },
                        }],
                        backend_refs: vec![BackendRef {
                            name: g.name.clone(),
                            port,
                        }],
                    }],
                },
            }),
        ));
    }
    docs
}

fn pods_of(cx: &Context, service: &str) -> NetworkPolicyPeer {
    NetworkPolicyPeer {
        pod_selector: Some(LabelSelector {
            match_labels: Some(selector(&cx.project, service)),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tcp(ports: &[u16]) -> Option<Vec<NetworkPolicyPort>> {
    (!ports.is_empty()).then(|| {
        ports
            .iter()
            .map(|p| NetworkPolicyPort {
                protocol: Some("TCP".into()),
                port: Some(IntOrString::Int((*p).into())),
                ..Default::default()
            })
            .collect()
    })
}

/// Every pod of the project: nothing in, nothing out, but DNS.
pub fn baseline(cx: &Context) -> Vec<Doc> {
    let ns = cx.opts.namespace.as_deref();
    let all = LabelSelector {
        match_labels: Some(BTreeMap::from([(
            "app.kubernetes.io/instance".to_owned(),
            cx.project.clone(),
        )])),
        ..Default::default()
    };
    let stack_labels = |name: &str| {
        let mut l = BTreeMap::from([
            ("app.kubernetes.io/part-of".to_owned(), cx.project.clone()),
            (
                "app.kubernetes.io/managed-by".to_owned(),
                "msctl".to_owned(),
            ),
        ]);
        l.insert("app.kubernetes.io/name".to_owned(), name.to_owned());
        l
    };
    let deny = NetworkPolicy {
        metadata: meta(
            &format!("{}-default-deny", cx.project),
            ns,
            stack_labels("default-deny"),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(all.clone()),
            policy_types: Some(vec!["Ingress".into(), "Egress".into()]),
            ..Default::default()
        }),
    };
    let dns_port = |protocol: &str| NetworkPolicyPort {
        protocol: Some(protocol.into()),
        port: Some(IntOrString::Int(53)),
        ..Default::default()
    };
    let dns = NetworkPolicy {
        metadata: meta(
            &format!("{}-allow-dns", cx.project),
            ns,
            stack_labels("allow-dns"),
        ),
        spec: Some(NetworkPolicySpec {
            pod_selector: Some(all),
            policy_types: Some(vec!["Egress".into()]),
            egress: Some(vec![NetworkPolicyEgressRule {
                to: Some(vec![NetworkPolicyPeer {
                    namespace_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            "kubernetes.io/metadata.name".to_owned(),
                            "kube-system".to_owned(),
                        )])),
                        ..Default::default()
                    }),
                    pod_selector: Some(LabelSelector {
                        match_labels: Some(BTreeMap::from([(
                            "k8s-app".to_owned(),
                            "kube-dns".to_owned(),
                        )])),
                        ..Default::default()
                    }),
                    ..Default::default()
                }]),
                ports: Some(vec![dns_port("UDP"), dns_port("TCP")]),
            }]),
            ..Default::default()
        }),
    };
    vec![
        Doc::new(
            STACK_DIR,
            "networkpolicy-default-deny",
            Object::NetworkPolicy(deny),
        ),
        Doc::new(
            STACK_DIR,
            "networkpolicy-allow-dns",
            Object::NetworkPolicy(dns),
        ),
    ]
}

/// `s`'s own policy: who may call it (its callers, and the ingress controller for the
/// published gateway), and whom it may call. None for a service that calls and is called by
/// nobody (the baseline denies it everything).
pub fn policy(cx: &Context, s: &ServiceSpec) -> Option<Doc> {
    let edges = &cx.facts.edges;
    let into: Vec<&Edge> = edges.iter().filter(|e| e.to == s.name).collect();
    let out: Vec<&Edge> = edges.iter().filter(|e| e.from == s.name).collect();
    let mut ingress: Vec<NetworkPolicyIngressRule> = into
        .iter()
        .map(|e| NetworkPolicyIngressRule {
            from: Some(vec![pods_of(cx, &e.from)]),
            ports: tcp(&e.ports),
        })
        .collect();
    let published = cx.stack.gateway().is_some_and(|g| g.name == s.name) && !s.ports.is_empty();
    if published {
        ingress.push(NetworkPolicyIngressRule {
            from: Some(vec![NetworkPolicyPeer {
                namespace_selector: Some(LabelSelector {
                    match_labels: Some(BTreeMap::from([(
                        "kubernetes.io/metadata.name".to_owned(),
                        cx.opts.ingress_namespace.clone(),
                    )])),
                    ..Default::default()
                }),
                ..Default::default()
            }]),
            ports: tcp(&s.ports.iter().map(|p| p.container_port).collect::<Vec<_>>()),
        });
    }
    let egress: Vec<NetworkPolicyEgressRule> = out
        .iter()
        .map(|e| NetworkPolicyEgressRule {
            to: Some(vec![pods_of(cx, &e.to)]),
            ports: tcp(&e.ports),
        })
        .collect();
    if ingress.is_empty() && egress.is_empty() {
        return None;
    }
    let mut types = Vec::new();
    if !ingress.is_empty() {
        types.push("Ingress".to_owned());
    }
    if !egress.is_empty() {
        types.push("Egress".to_owned());
    }
    let labels = labels(&cx.project, &s.name, cx.component(s));
    Some(Doc::new(
        &s.name,
        "networkpolicy",
        Object::NetworkPolicy(NetworkPolicy {
            metadata: meta(&s.name, cx.opts.namespace.as_deref(), labels),
            spec: Some(NetworkPolicySpec {
                pod_selector: Some(LabelSelector {
                    match_labels: Some(selector(&cx.project, &s.name)),
                    ..Default::default()
                }),
                policy_types: Some(types),
                ingress: Some(ingress).filter(|i| !i.is_empty()),
                egress: Some(egress).filter(|e| !e.is_empty()),
            }),
        }),
    ))
}
