//! One service as a workload: a Deployment, or a StatefulSet when it keeps data in a named
//! volume; its pod (image, command, environment, files, probes) and the init containers that
//! wait for what it depends on.

use super::objects::{labels, meta, selector, Object};
use super::secrets::{only, used_in, with_references};
use super::{Context, Doc};
use crate::diag::pos;
use crate::stack::{Condition, HealthSpec, ImageSource, Mount, ServiceSpec};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment, StatefulSet,
    StatefulSetSpec,
};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapKeySelector, ConfigMapVolumeSource, Container, ContainerPort, EnvVar,
    EnvVarSource, ExecAction, HTTPGetAction, KeyToPath, PersistentVolumeClaim,
    PersistentVolumeClaimSpec, PodSpec, PodTemplateSpec, Probe, SecretKeySelector,
    SecretVolumeSource, Volume, VolumeMount, VolumeResourceRequirements,
};
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;
use std::collections::BTreeMap;
use std::time::Duration;

/// The size each volume claim asks for (a Helm value; kustomize users patch it).
pub const STORAGE: &str = "1Gi";

/// Whether `s` runs as a StatefulSet: it keeps data in a named volume.
pub fn stateful(s: &ServiceSpec) -> bool {
    s.mounts.iter().any(|m| matches!(m, Mount::Volume { .. }))
}

/// The workload of `s`, its PodDisruptionBudget when it has several replicas, and the
/// ConfigMap of the files it mounts.
pub fn documents(cx: &mut Context, s: &ServiceSpec) -> Vec<Doc> {
    let component = cx.component(s);
    let labels = labels(&cx.project, &s.name, component);
    let mut docs = Vec::new();
    let mut files = BTreeMap::new();
    let pod = pod(cx, s, &labels, &mut files);
    let select = LabelSelector {
        match_labels: Some(selector(&cx.project, &s.name)),
        ..Default::default()
    };
    let ns = cx.opts.namespace.as_deref();
    let replicas = Some(s.replicas as i32);
    if stateful(s) {
        if s.replicas > 1 {
            cx.warn(
                cx.at_service(&s.name),
                format!(
                    "`{}` has {} replicas and a volume: on a cluster each replica gets a volume of its own, where msctl's replicas share one",
                    s.name, s.replicas
                ),
            );
        }
        let claims = s
            .mounts
            .iter()
            .filter_map(|m| match m {
                Mount::Volume { name, .. } => Some(claim(name)),
                _ => None,
            })
            .collect();
        docs.push(Doc::new(
            &s.name,
            "statefulset",
            Object::StatefulSet(StatefulSet {
                metadata: meta(&s.name, ns, labels.clone()),
                spec: Some(StatefulSetSpec {
                    replicas,
                    selector: select.clone(),
                    service_name: Some(super::network::headless(&s.name)),
                    template: pod,
                    volume_claim_templates: Some(claims),
                    ..Default::default()
                }),
                ..Default::default()
            }),
        ));
    } else {
        docs.push(Doc::new(
            &s.name,
            "deployment",
            Object::Deployment(Deployment {
                metadata: meta(&s.name, ns, labels.clone()),
                spec: Some(DeploymentSpec {
                    replicas,
                    selector: select.clone(),
                    // As msctl's own replace: the new pod is ready before an old one goes.
                    strategy: Some(DeploymentStrategy {
                        type_: Some("RollingUpdate".into()),
                        rolling_update: Some(RollingUpdateDeployment {
                            max_unavailable: Some(IntOrString::Int(0)),
                            max_surge: Some(IntOrString::Int(1)),
                        }),
                    }),
                    template: pod,
                    ..Default::default()
                }),
                ..Default::default()
            }),
        ));
        if s.replicas > 1 {
            docs.push(Doc::new(
                &s.name,
                "pdb",
                Object::PodDisruptionBudget(PodDisruptionBudget {
                    metadata: meta(&s.name, ns, labels.clone()),
                    spec: Some(PodDisruptionBudgetSpec {
                        max_unavailable: Some(IntOrString::Int(1)),
                        selector: Some(select),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
            ));
        }
    }
    if !files.is_empty() {
        docs.push(Doc::new(
            &s.name,
            "configmap",
            Object::ConfigMap(ConfigMap {
                metadata: meta(&files_config(&s.name), ns, labels),
                data: Some(files),
                ..Default::default()
            }),
        ));
    }
    docs
}

/// The ConfigMap of the files service `name` mounts.
fn files_config(name: &str) -> String {
    format!("{name}-files")
}

/// A volume name of the stack as a Kubernetes name (`_` is not allowed there).
pub fn k8s_name(name: &str) -> String {
    name.replace('_', "-")
}

fn claim(volume: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: ObjectMeta {
            name: Some(k8s_name(volume)),
            ..Default::default()
        },
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".into()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_owned(),
                    Quantity(STORAGE.into()),
                )])),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn pod(
    cx: &mut Context,
    s: &ServiceSpec,
    labels: &BTreeMap<String, String>,
    files: &mut BTreeMap<String, String>,
) -> PodTemplateSpec {
    let (volumes, mounts) = volumes(cx, s, files);
    let env = env(cx, s);
    let container = Container {
        name: s.name.clone(),
        image: Some(cx.image(s)),
        command: s.entrypoint.as_ref().map(|v| escaped(v)),
        args: s.command.as_ref().map(|v| escaped(v)),
        env: Some(env).filter(|e| !e.is_empty()),
        ports: Some(
            cx.facts
                .ports_of(&s.name)
                .iter()
                .map(|p| ContainerPort {
                    name: Some(p.name.clone()),
                    container_port: p.port.into(),
                    ..Default::default()
                })
                .collect::<Vec<_>>(),
        )
        .filter(|p| !p.is_empty()),
        volume_mounts: Some(mounts).filter(|m| !m.is_empty()),
        readiness_probe: s.healthcheck.as_ref().map(|h| readiness(cx, s, h)),
        startup_probe: s.healthcheck.as_ref().map(|h| startup(cx, s, h)),
        ..Default::default()
    };
    let init: Vec<Container> = s
        .depends_on
        .iter()
        .filter_map(|d| match d.condition {
            Condition::Healthy => cx.stack.service(&d.service).and_then(|dep| wait_for(cx, dep)),
            Condition::Started => None,
            Condition::Completed => {
                let at = cx.at_dependency(&s.name, &d.service);
                cx.warn(
                    at,
                    format!(
                        "`{}` waits for `{}` to complete: a cluster runs that as a Job, which an init container cannot wait for; not exported",
                        s.name, d.service
                    ),
                );
                None
            }
        })
        .collect();
    let mut annotations = BTreeMap::new();
    if let Some(routes) = s.env.get(crate::stack::routes::ENV) {
        // A routes change is a change of the gateway's configuration: roll it, as `up`
        // recreates it.
        annotations.insert("msctl.dev/routes-hash".to_owned(), short_hash(routes));
    }
    PodTemplateSpec {
        metadata: Some(ObjectMeta {
            labels: Some(labels.clone()),
            annotations: Some(annotations).filter(|a| !a.is_empty()),
            ..Default::default()
        }),
        spec: Some(PodSpec {
            init_containers: Some(init).filter(|i| !i.is_empty()),
            containers: vec![container],
            volumes: Some(volumes).filter(|v| !v.is_empty()),
            ..Default::default()
        }),
    }
}

fn short_hash(text: &str) -> String {
    use sha2::{Digest, Sha256};
    hex::encode(&Sha256::digest(text.as_bytes())[..8])
}

fn escaped(v: &[String]) -> Vec<String> {
    v.iter().map(|a| super::secrets::escape(a)).collect()
}

/// The environment: secret variables from the Secret (first, so that later values can name
/// them as `$(VAR)`), the routing table from its ConfigMap, everything else as written.
fn env(cx: &mut Context, s: &ServiceSpec) -> Vec<EnvVar> {
    let secret = cx.secret_name();
    let from_secret = |name: &str, key: &str| EnvVar {
        name: name.to_owned(),
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: secret.clone(),
                key: key.to_owned(),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mut first = Vec::new();
    let mut rest = Vec::new();
    for (key, value) in &s.env {
        if key == crate::stack::routes::ENV {
            rest.push(EnvVar {
                name: key.clone(),
                value_from: Some(EnvVarSource {
                    config_map_key_ref: Some(ConfigMapKeySelector {
                        name: super::network::routes_config(&cx.project),
                        key: super::network::ROUTES_KEY.into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            });
        } else if let Some(var) = only(value) {
            first.push(from_secret(key, &var));
        } else {
            for var in used_in(value) {
                // The variable under its own name, unless the service uses that name for
                // something else.
                let taken = s
                    .env
                    .get(&var)
                    .is_some_and(|v| only(v).as_deref() != Some(&var));
                if taken {
                    let at = super::facts::env_pos(cx.raw, &s.name, key);
                    cx.warn(
                        at,
                        format!("`{key}` embeds the secret `${{{var}}}`, and `{var}` is also a variable of `{}` with another value: `$({var})` reads that one", s.name),
                    );
                }
                if !s.env.contains_key(&var) && !first.iter().any(|e: &EnvVar| e.name == var) {
                    first.push(from_secret(&var, &var));
                }
            }
            rest.push(EnvVar {
                name: key.clone(),
                value: Some(with_references(value)),
                ..Default::default()
            });
        }
    }
    first.extend(rest);
    first
}

fn volumes(
    cx: &mut Context,
    s: &ServiceSpec,
    files: &mut BTreeMap<String, String>,
) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = Vec::new();
    let mut mounts = Vec::new();
    for m in &s.mounts {
        match m {
            Mount::Volume {
                name,
                target,
                read_only,
            } => mounts.push(VolumeMount {
                name: k8s_name(name),
                mount_path: target.clone(),
                read_only: read_only.then_some(true),
                ..Default::default()
            }),
            Mount::Bind {
                source,
                target,
                read_only: _,
            } => {
                let secret_file = s
                    .env
                    .iter()
                    .any(|(k, v)| k.ends_with("_FILE") && v == target);
                let key = file_key(target);
                let volume = format!("file-{}", volumes.len());
                if secret_file {
                    cx.secret_files.push((key.clone(), source.clone()));
                    volumes.push(Volume {
                        name: volume.clone(),
                        secret: Some(SecretVolumeSource {
                            secret_name: Some(cx.files_secret_name()),
                            items: only_key(&key),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                } else if source.is_file() {
                    match std::fs::read_to_string(source) {
                        Ok(text) if text.len() <= 1 << 20 => {
                            files.insert(key.clone(), text);
                        }
                        _ => {
                            cx.warn(
                                cx.at_mount(&s.name, target),
                                format!(
                                    "{} is not a UTF-8 text file of at most 1 MiB: a ConfigMap cannot carry it; not exported",
                                    relative(cx, source)
                                ),
                            );
                            continue;
                        }
                    }
                    volumes.push(Volume {
                        name: volume.clone(),
                        config_map: Some(ConfigMapVolumeSource {
                            name: files_config(&s.name),
                            items: only_key(&key),
                            ..Default::default()
                        }),
                        ..Default::default()
                    });
                } else {
                    cx.warn(
                        cx.at_mount(&s.name, target),
                        format!(
                            "`{}` mounts the host directory {}: a cluster's nodes do not have it; not exported",
                            s.name,
                            relative(cx, source)
                        ),
                    );
                    continue;
                }
                mounts.push(VolumeMount {
                    name: volume,
                    mount_path: target.clone(),
                    sub_path: Some(key),
                    read_only: Some(true),
                    ..Default::default()
                });
            }
        }
    }
    (volumes, mounts)
}

/// A volume's items: the one key of a Secret or ConfigMap, as a file of the same name (mounted
/// with `subPath`, so the other keys do not hide the directory it lands in).
fn only_key(key: &str) -> Option<Vec<KeyToPath>> {
    Some(vec![KeyToPath {
        key: key.to_owned(),
        path: key.to_owned(),
        ..Default::default()
    }])
}

/// A host path as the stack file would name it (relative to it when inside its directory).
fn relative(cx: &Context, path: &std::path::Path) -> String {
    match path.strip_prefix(&cx.stack.dir) {
        Ok(rel) => format!("./{}", rel.display()),
        Err(_) => path.display().to_string(),
    }
}

/// A ConfigMap or Secret key for the file mounted at `target`: its name, in the characters
/// keys allow.
fn file_key(target: &str) -> String {
    let base = target.rsplit('/').next().unwrap_or(target);
    let key: String = base
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-._".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if key.is_empty() {
        "file".into()
    } else {
        key
    }
}

/// Whole seconds, at least one (probes count in seconds).
fn seconds(d: Duration) -> i32 {
    (d.as_millis().div_ceil(1000) as i32).max(1)
}

/// The probe's action: kit's readiness endpoint over HTTP for a built service whose check is
/// its own `healthcheck` subcommand (no process per probe), else the check itself.
fn action(cx: &Context, s: &ServiceSpec, h: &HealthSpec) -> Probe {
    if let Some(port) = kit_check(cx, s, h) {
        return Probe {
            http_get: Some(HTTPGetAction {
                path: Some("/health/ready".into()),
                port: IntOrString::Int(port.into()),
                ..Default::default()
            }),
            ..Default::default()
        };
    }
    Probe {
        exec: Some(ExecAction {
            command: Some(escaped(&exec(&h.test))),
        }),
        ..Default::default()
    }
}

/// The port of a built service whose healthcheck is `[<bin>, healthcheck]` (kit's contract).
fn kit_check(cx: &Context, s: &ServiceSpec, h: &HealthSpec) -> Option<u16> {
    let ImageSource::Crate { bin, .. } = &s.image else {
        return None;
    };
    let ours =
        h.test.len() == 3 && h.test[0] == "CMD" && &h.test[1] == bin && h.test[2] == "healthcheck";
    ours.then(|| cx.stack.http_port(&s.name)).flatten()
}

/// Docker's `["CMD", a…]` / `["CMD-SHELL", s]` as an exec command.
fn exec(test: &[String]) -> Vec<String> {
    match test.first().map(String::as_str) {
        Some("CMD-SHELL") => vec!["/bin/sh".into(), "-c".into(), test[1..].join(" ")],
        Some("CMD") => test[1..].to_vec(),
        _ => test.to_vec(),
    }
}

fn readiness(cx: &Context, s: &ServiceSpec, h: &HealthSpec) -> Probe {
    Probe {
        period_seconds: Some(seconds(h.interval)),
        timeout_seconds: Some(seconds(h.timeout)),
        failure_threshold: Some(h.retries.max(1) as i32),
        ..action(cx, s, h)
    }
}

/// The stack's start pace, for as long as `up` would wait.
fn startup(cx: &Context, s: &ServiceSpec, h: &HealthSpec) -> Probe {
    let period = seconds(h.start_interval.unwrap_or(h.interval));
    let budget = h.start_period.max(s.up_timeout);
    Probe {
        period_seconds: Some(period),
        timeout_seconds: Some(seconds(h.timeout)),
        failure_threshold: Some(((seconds(budget) + period - 1) / period).max(1)),
        ..action(cx, s, h)
    }
}

/// An init container that waits until `dep` passes its own healthcheck, run from its own
/// image against its Service. A ClusterIP routes only to ready pods, so this also waits for
/// the dependency's readiness probe.
fn wait_for(cx: &Context, dep: &ServiceSpec) -> Option<Container> {
    let h = dep.healthcheck.as_ref()?;
    let say = format!("echo waiting for {}; sleep 1", dep.name);
    let remote = |a: &String| {
        a.replace("127.0.0.1", &dep.name)
            .replace("localhost", &dep.name)
    };
    let (command, env) = if let Some(port) = kit_check(cx, dep, h) {
        let env = vec![
            plain("HEALTHCHECK_HOST", &dep.name),
            plain("PORT", &port.to_string()),
        ];
        let mut c = vec![
            "sh".into(),
            "-c".into(),
            format!("until \"$@\"; do {say}; done"),
            "wait".into(),
        ];
        c.extend(h.test[1..].iter().cloned());
        (c, Some(env))
    } else if h.test.first().map(String::as_str) == Some("CMD-SHELL") {
        let check = remote(&h.test[1..].join(" "));
        (
            vec![
                "sh".into(),
                "-c".into(),
                format!("until sh -c \"$1\"; do {say}; done"),
                "wait".into(),
                check,
            ],
            None,
        )
    } else {
        let mut c = vec![
            "sh".into(),
            "-c".into(),
            format!("until \"$@\"; do {say}; done"),
            "wait".into(),
        ];
        c.extend(exec(&h.test).iter().map(remote));
        (c, None)
    };
    Some(Container {
        name: format!("wait-{}", dep.name),
        image: Some(cx.image(dep)),
        command: Some(escaped(&command)),
        env,
        ..Default::default()
    })
}

fn plain(name: &str, value: &str) -> EnvVar {
    EnvVar {
        name: name.into(),
        value: Some(value.into()),
        ..Default::default()
    }
}

/// Where in the stack file `service` mounts `target`.
pub fn mount_pos(
    raw: &crate::stack::model::StackFile,
    service: &str,
    target: &str,
) -> crate::diag::Pos {
    super::facts::raw_service(raw, service)
        .and_then(|svc| {
            svc.volumes
                .iter()
                .find(|v| v.value.split(':').nth(1) == Some(target))
                .map(pos)
        })
        .unwrap_or_else(|| super::facts::service_pos(raw, service))
}
