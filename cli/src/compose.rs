//! `msctl export compose`: the same stack as a Compose file, for teams that need one and for
//! the benchmark. Built services point at the images msctl built, since Compose cannot run cargo.

use crate::images::tag_for;
use crate::stack::{Condition, ImageSource, Mount, Stack};
use serde_json::{json, Map, Value};

pub fn export(stack: &Stack) -> Value {
    let mut services = Map::new();
    for s in &stack.services {
        let mut svc = Map::new();
        let image = match &s.image {
            ImageSource::Reference(r) => r.clone(),
            _ => tag_for(&stack.name, &s.name),
        };
        svc.insert("image".into(), json!(image));
        if let Some(c) = &s.command {
            svc.insert("command".into(), json!(c));
        }
        if let Some(e) = &s.entrypoint {
            svc.insert("entrypoint".into(), json!(e));
        }
        if !s.env.is_empty() {
            svc.insert("environment".into(), json!(s.env));
        }
        if !s.ports.is_empty() {
            let ports: Vec<String> = s
                .ports
                .iter()
                .map(|p| {
                    format!(
                        "{}:{}:{}/{}",
                        p.host_ip, p.host_port, p.container_port, p.protocol
                    )
                })
                .collect();
            svc.insert("ports".into(), json!(ports));
        }
        if !s.mounts.is_empty() {
            let volumes: Vec<String> = s
                .mounts
                .iter()
                .map(|m| match m {
                    Mount::Volume {
                        name,
                        target,
                        read_only,
                    } => format!("{name}:{target}{}", ro(*read_only)),
                    Mount::Bind {
                        source,
                        target,
                        read_only,
                    } => {
                        format!("{}:{target}{}", source.display(), ro(*read_only))
                    }
                })
                .collect();
            svc.insert("volumes".into(), json!(volumes));
        }
        if !s.depends_on.is_empty() {
            let deps: Map<String, Value> = s
                .depends_on
                .iter()
                .map(|d| {
                    let condition = match d.condition {
                        Condition::Started => "service_started",
                        Condition::Healthy => "service_healthy",
                        Condition::Completed => "service_completed_successfully",
                    };
                    (d.service.clone(), json!({ "condition": condition }))
                })
                .collect();
            svc.insert("depends_on".into(), Value::Object(deps));
        }
        if let Some(h) = &s.healthcheck {
            svc.insert(
                "healthcheck".into(),
                // Compose before v2.20 knows no `start_interval`, and engines before API 1.44
                // ignore it: probe at the start pace throughout, or compose's `up` would wait a
                // whole `interval` for each first probe.
                json!({
                    "test": h.test,
                    "interval": go_duration(h.start_interval.unwrap_or(h.interval)),
                    "timeout": go_duration(h.timeout),
                    "retries": h.retries,
                    "start_period": go_duration(h.start_period),
                }),
            );
        }
        if s.replicas != 1 {
            svc.insert("scale".into(), json!(s.replicas));
        }
        if s.restart != "no" {
            svc.insert("restart".into(), json!(s.restart));
        }
        if !s.profiles.is_empty() {
            svc.insert("profiles".into(), json!(s.profiles));
        }
        services.insert(s.name.clone(), Value::Object(svc));
    }
    let mut doc = Map::new();
    doc.insert("services".into(), escape_dollars(Value::Object(services)));
    if !stack.volumes.is_empty() {
        let volumes: Map<String, Value> = stack
            .volumes
            .iter()
            .map(|v| (v.clone(), json!({})))
            .collect();
        doc.insert("volumes".into(), Value::Object(volumes));
    }
    Value::Object(doc)
}

/// msctl has already interpolated every value; Compose would interpolate again, so a literal
/// `$` (a `$$VAR` meant for a container's shell) must be written `$$` once more.
fn escape_dollars(value: Value) -> Value {
    match value {
        Value::String(s) => Value::String(s.replace('$', "$$")),
        Value::Array(items) => Value::Array(items.into_iter().map(escape_dollars).collect()),
        Value::Object(map) => Value::Object(
            map.into_iter()
                .map(|(k, v)| (k, escape_dollars(v)))
                .collect(),
        ),
        other => other,
    }
}

/// Compose parses durations with Go's `time.ParseDuration`, which has no spaces: `1500ms`.
fn go_duration(d: std::time::Duration) -> String {
    format!("{}ms", d.as_millis())
}

fn ro(read_only: bool) -> &'static str {
    if read_only {
        ":ro"
    } else {
        ""
    }
}

/// The Compose file as YAML text, with a header saying where it came from.
pub fn to_yaml(stack: &Stack) -> String {
    let body = serde_saphyr::to_string(&export(stack)).expect("JSON values serialize as YAML");
    format!(
        "# Generated by `msctl export compose` from {}. Use with: docker compose -p {} -f <this file> up -d\n# Services msctl builds refer to the images `msctl up` built (msctl.local/...).\n{body}",
        stack.file.display(),
        stack.name
    )
}
