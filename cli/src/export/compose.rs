//! `msctl export compose`: the same stack as a Compose file, for teams that need one and for
//! the benchmark. Built services point at the images msctl built, since Compose cannot run cargo.

use crate::images::tag_for;
use crate::stack::{Condition, ImageSource, Mount, ServiceSpec, Stack};
use serde::{Serialize, Serializer};
use std::collections::BTreeMap;

/// The Compose file: the parts of the Compose specification msctl's stacks use.
#[derive(Debug, Serialize)]
pub struct ComposeFile {
    pub services: Ordered<Service>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub volumes: Ordered<BTreeMap<String, String>>,
}

#[derive(Debug, Serialize)]
pub struct Service {
    pub image: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub command: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub entrypoint: Option<Vec<String>>,
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub environment: BTreeMap<String, String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ports: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub volumes: Vec<String>,
    #[serde(skip_serializing_if = "Ordered::is_empty")]
    pub depends_on: Ordered<DependsOn>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<Healthcheck>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub restart: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub profiles: Vec<String>,
}

#[derive(Debug, Serialize)]
pub struct DependsOn {
    pub condition: &'static str,
}

#[derive(Debug, Serialize)]
pub struct Healthcheck {
    pub test: Vec<String>,
    pub interval: String,
    pub timeout: String,
    pub retries: u32,
    pub start_period: String,
}

/// A mapping in the order it was built (services as the stack file lists them).
#[derive(Debug)]
pub struct Ordered<V>(pub Vec<(String, V)>);

impl<V> Ordered<V> {
    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl<V: Serialize> Serialize for Ordered<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.0.iter().map(|(k, v)| (k, v)))
    }
}

pub fn export(stack: &Stack) -> ComposeFile {
    ComposeFile {
        services: Ordered(
            stack
                .services
                .iter()
                .map(|s| (s.name.clone(), service(stack, s)))
                .collect(),
        ),
        volumes: Ordered(
            stack
                .volumes
                .iter()
                .map(|v| (v.clone(), BTreeMap::new()))
                .collect(),
        ),
    }
}

fn service(stack: &Stack, s: &ServiceSpec) -> Service {
    let image = match &s.image {
        ImageSource::Reference(r) => r.clone(),
        _ => tag_for(&stack.name, &s.name),
    };
    let all = |v: &[String]| v.iter().map(|s| esc(s)).collect::<Vec<_>>();
    Service {
        image: esc(&image),
        command: s.command.as_deref().map(all),
        entrypoint: s.entrypoint.as_deref().map(all),
        environment: s.env.iter().map(|(k, v)| (k.clone(), esc(v))).collect(),
        ports: s
            .ports
            .iter()
            .map(|p| {
                esc(&format!(
                    "{}:{}:{}/{}",
                    p.host_ip, p.host_port, p.container_port, p.protocol
                ))
            })
            .collect(),
        volumes: s
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
                } => format!("{}:{target}{}", source.display(), ro(*read_only)),
            })
            .map(|v| esc(&v))
            .collect(),
        depends_on: Ordered(
            s.depends_on
                .iter()
                .map(|d| {
                    let condition = match d.condition {
                        Condition::Started => "service_started",
                        Condition::Healthy => "service_healthy",
                        Condition::Completed => "service_completed_successfully",
                    };
                    (d.service.clone(), DependsOn { condition })
                })
                .collect(),
        ),
        // Compose before v2.20 knows no `start_interval`, and engines before API 1.44 ignore
        // it: probe at the start pace throughout, or compose's `up` would wait a whole
        // `interval` for each first probe.
        healthcheck: s.healthcheck.as_ref().map(|h| Healthcheck {
            test: all(&h.test),
            interval: go_duration(h.start_interval.unwrap_or(h.interval)),
            timeout: go_duration(h.timeout),
            retries: h.retries,
            start_period: go_duration(h.start_period),
        }),
        scale: (s.replicas != 1).then_some(s.replicas),
        restart: (s.restart != "no").then(|| esc(&s.restart)),
        profiles: all(&s.profiles),
    }
}

/// msctl has already interpolated every value; Compose would interpolate again, so a literal
/// `$` (a `$$VAR` meant for a container's shell) must be written `$$` once more.
fn esc(s: &str) -> String {
    s.replace('$', "$$")
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
    let body = serde_saphyr::to_string(&export(stack)).expect("the Compose file serializes");
    format!(
        "# Generated by `msctl export compose` from {}. Use with: docker compose -p {} -f <this file> up -d\n# Services msctl builds refer to the images `msctl up` built (msctl.local/...).\n{body}",
        stack.file.display(),
        stack.name
    )
}

#[cfg(test)]
mod tests {
    use crate::stack::{parse, Vars};
    use std::path::Path;

    /// Every field the export writes, in Compose's spelling and the stack file's order, with
    /// `$` escaped once more for Compose's own interpolation.
    #[test]
    fn every_field_in_compose_form() {
        let text = r#"
name: rich
services:
  db:
    image: postgres:15
    command: [postgres, -c, "log_line_prefix=$$x"]
    entrypoint: [docker-entrypoint.sh]
    environment: { B: "two $$HOME", A: one }
    ports: ["5432:5432", "0.0.0.0:8081:80/udp"]
    volumes: [data:/var/lib/x, other:/o:ro]
    healthcheck:
      test: [CMD-SHELL, "pg_isready $$USER"]
      interval: 10s
      timeout: 3s
      start_period: 1500ms
      retries: 3
    restart: unless-stopped
  web:
    image: web
    replicas: 3
    profiles: [tools, x]
    depends_on:
      db: { condition: healthy }
      job: { condition: completed }
    healthcheck: { test: [CMD, "true"], interval: 2s, start_interval: 100ms }
  job: { image: "debian:bookworm", restart: "no" }
volumes: { data: {}, other: {} }
"#;
        let stack = parse(
            text,
            Path::new("msctl.yaml"),
            Path::new("/"),
            &Vars::default(),
        )
        .unwrap_or_else(|e| panic!("{e}"));
        insta::assert_snapshot!(super::to_yaml(&stack));
    }
}
