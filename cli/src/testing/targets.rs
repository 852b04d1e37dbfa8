//! Where the project's services are, for the checks that talk to them: found through Docker by
//! the project's labels (the port a container publishes on the host, else its address on the
//! project network), unless given on the command line (`--url`, `--amqp-url`).

use super::percent_encode;
use crate::docker::is_not_found;
use crate::engine;
use crate::error::Error;
use crate::stack::Stack;
use bollard::Docker;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

#[derive(Debug, Clone)]
pub struct Container {
    pub service: String,
    pub name: String,
}

pub struct Targets {
    pub project: String,
    /// The services reached by role: the gateway and the broker.
    pub roles: Roles,
    docker: Option<Docker>,
    urls: HashMap<String, String>,
    amqp_url: Option<String>,
    /// Addresses found recently: every step asks, and asking Docker each time would add its
    /// latency to every step. Short-lived, because a restarted container moves.
    found: Mutex<FoundCache>,
}

/// The services journeys and load tests reach by their role: HTTP requests go to the gateway
/// unless a step names a service, and `expect_message` listens on the broker unless it names one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Roles {
    pub gateway: String,
    pub broker: String,
}

impl Roles {
    /// The stack file's gateway and broker ([`Stack::gateway`], [`Stack::broker`]); a role no
    /// service of the file has keeps its usual name.
    pub fn of(stack: &Stack) -> Roles {
        let usual = Roles::default();
        Roles {
            gateway: stack.gateway().map_or(usual.gateway, |s| s.name.clone()),
            broker: stack.broker().map_or(usual.broker, |s| s.name.clone()),
        }
    }
}

/// The usual names (the bundled stack's), for when no stack file is at hand: `-p` for a stack
/// started elsewhere, or every address given with `--url`.
impl Default for Roles {
    fn default() -> Self {
        Roles {
            gateway: "gateway".into(),
            broker: "rabbitmq".into(),
        }
    }
}

/// What was found for (service, port), and when.
type FoundCache = HashMap<(String, Option<u16>), (Instant, Found)>;

const FOUND_TTL: Duration = Duration::from_secs(5);

impl Targets {
    pub fn new(
        project: String,
        docker: Option<Docker>,
        urls: HashMap<String, String>,
        amqp_url: Option<String>,
    ) -> Self {
        let urls = urls
            .into_iter()
            .map(|(k, v)| (k, v.trim_end_matches('/').to_owned()))
            .collect();
        Targets {
            project,
            roles: Roles::default(),
            docker,
            urls,
            amqp_url,
            found: Mutex::new(HashMap::new()),
        }
    }

    /// The gateway and the broker are `roles`' services (the usual names until told).
    pub fn with_roles(mut self, roles: Roles) -> Self {
        self.roles = roles;
        self
    }

    /// Targets from the command line: `--url SERVICE=URL` (repeatable) and `--amqp-url`.
    /// Docker is asked for the rest; when it cannot be reached and addresses were given, the
    /// stack may run elsewhere and everything is taken from the command line.
    pub async fn connect(
        project: String,
        urls: &[String],
        amqp_url: Option<String>,
    ) -> crate::error::Result<Targets> {
        let urls = parse_urls(urls)?;
        let docker = match crate::docker::connect().await {
            Ok(d) => Some(d),
            Err(_) if !urls.is_empty() => None,
            Err(e) => return Err(e),
        };
        Ok(Targets::new(project, docker, urls, amqp_url))
    }

    /// Fails when the stack is found through Docker and none of its containers runs: every
    /// check would fail, one by one, for the same reason. `what` names the checks.
    pub async fn check_up(&self, what: &str) -> crate::error::Result<()> {
        if self.docker.is_none() || !self.urls.is_empty() {
            return Ok(());
        }
        if self.containers().await.is_empty() {
            return Err(Error::Environment(format!(
                "the stack `{}` is not up (none of its containers is running): start it with `msctl up`, then run {what} again",
                self.project
            )));
        }
        Ok(())
    }

    /// The engine, when the stack is found through it (not when every address was given).
    pub fn docker(&self) -> Option<&Docker> {
        self.docker.as_ref()
    }

    /// Running containers of the project, for log lines.
    pub async fn containers(&self) -> Vec<Container> {
        let Some(docker) = &self.docker else {
            return Vec::new();
        };
        let Ok(existing) = engine::existing(docker, &self.project).await else {
            return Vec::new();
        };
        existing
            .into_iter()
            .filter(|c| c.state == "running")
            .map(|c| Container {
                service: c.service,
                name: c.name,
            })
            .collect()
    }

    /// A container's log lines since `since` (Unix seconds), each starting with Docker's
    /// RFC 3339 timestamp and a space.
    pub async fn logs_since(&self, container: &str, since: i64) -> Vec<String> {
        match &self.docker {
            Some(docker) => engine::logs::since(docker, container, since).await,
            None => Vec::new(),
        }
    }

    /// Base URL (`http://host:port`) of a service.
    pub async fn http(&self, service: &str) -> Result<String, String> {
        if let Some(url) = self.urls.get(service) {
            return Ok(url.clone());
        }
        let found = self.find(service, None).await?;
        Ok(format!("http://{}", found.address))
    }

    /// Base URL of the gateway ([`Roles`]).
    pub async fn gateway(&self) -> Result<String, String> {
        self.http(&self.roles.gateway).await
    }

    /// `host:port` where a service listens on `port` (its published port, else its address on
    /// the project network).
    pub async fn address(&self, service: &str, port: u16) -> Result<String, String> {
        Ok(self.find(service, Some(port)).await?.address)
    }

    /// AMQP URL of the broker service, with the credentials the container was started with.
    pub async fn amqp(&self, service: &str) -> Result<String, String> {
        if let Some(url) = &self.amqp_url {
            return Ok(url.clone());
        }
        let found = self.find(service, Some(5672)).await?;
        let user = found.env("RABBITMQ_DEFAULT_USER").unwrap_or("guest");
        let password = found.env("RABBITMQ_DEFAULT_PASS").unwrap_or("guest");
        Ok(format!(
            "amqp://{}:{}@{}/%2f",
            percent_encode(user),
            percent_encode(password),
            found.address
        ))
    }

    async fn find(&self, service: &str, port: Option<u16>) -> Result<Found, String> {
        let key = (service.to_owned(), port);
        if let Some((at, found)) = self.found.lock().expect("lock").get(&key) {
            if at.elapsed() < FOUND_TTL {
                return Ok(found.clone());
            }
        }
        let found = self.lookup(service, port).await?;
        self.found
            .lock()
            .expect("lock")
            .insert(key, (Instant::now(), found.clone()));
        Ok(found)
    }

    async fn lookup(&self, service: &str, port: Option<u16>) -> Result<Found, String> {
        let docker = self.docker.as_ref().ok_or_else(|| {
            format!("no address for service `{service}`: give one with --url {service}=URL")
        })?;
        let containers = self.containers().await;
        let Some(container) = containers.iter().find(|c| c.service == service) else {
            return Err(format!(
                "service `{service}` of `{}` is not running (msctl ps shows what is)",
                self.project
            ));
        };
        let info = docker
            .inspect_container(&container.name, None)
            .await
            .map_err(|e| match is_not_found(&e) {
                true => format!("service `{service}` is gone"),
                false => format!(
                    "inspecting `{}`: {}",
                    container.name,
                    crate::docker::short(&e)
                ),
            })?;
        let env = info
            .config
            .as_ref()
            .and_then(|c| c.env.clone())
            .unwrap_or_default();
        let settings = info.network_settings.unwrap_or_default();
        // Which container port: the one asked for, else the one the service says it listens
        // on (PORT), else the one it exposes or publishes.
        let env_port = env
            .iter()
            .find_map(|e| e.strip_prefix("PORT="))
            .and_then(|p| p.parse::<u16>().ok());
        let mut published: Vec<(u16, u16)> = settings
            .ports
            .iter()
            .flatten()
            .filter_map(|(key, bindings)| {
                let private = key.split('/').next()?.parse::<u16>().ok()?;
                let public = bindings
                    .iter()
                    .flatten()
                    .find_map(|b| b.host_port.as_deref()?.parse::<u16>().ok())?;
                Some((private, public))
            })
            .collect();
        // Docker reports ports as a map: without an order, "the first" would be random.
        published.sort_unstable();
        let exposed = info
            .config
            .as_ref()
            .and_then(|c| c.exposed_ports.clone())
            .unwrap_or_default()
            .iter()
            .find_map(|p| p.split('/').next()?.parse::<u16>().ok());
        let wanted = port
            .or(env_port)
            .or(published.first().map(|p| p.0))
            .or(exposed);
        if let Some(public) = published
            .iter()
            .find(|(private, _)| Some(*private) == wanted)
            .map(|p| p.1)
        {
            return Ok(Found {
                address: format!("127.0.0.1:{public}"),
                env,
            });
        }
        let Some(wanted) = wanted else {
            return Err(format!(
                "service `{service}` publishes and exposes no port; give its address with --url {service}=URL"
            ));
        };
        let ip = settings
            .networks
            .iter()
            .flatten()
            .find_map(|(_, n)| n.ip_address.clone().filter(|ip| !ip.is_empty()))
            .ok_or_else(|| format!("service `{service}` has no network address"))?;
        Ok(Found {
            address: format!("{ip}:{wanted}"),
            env,
        })
    }
}

#[derive(Clone)]
struct Found {
    address: String,
    env: Vec<String>,
}

impl Found {
    fn env(&self, name: &str) -> Option<&str> {
        self.env
            .iter()
            .find_map(|e| e.strip_prefix(name)?.strip_prefix('='))
    }
}

/// `--url SERVICE=URL` values by service.
fn parse_urls(urls: &[String]) -> crate::error::Result<HashMap<String, String>> {
    urls.iter()
        .map(|u| match u.split_once('=') {
            Some((service, url)) if url.starts_with("http://") => {
                Ok((service.to_owned(), url.to_owned()))
            }
            _ => Err(Error::Usage(format!(
                "--url {u}: expected SERVICE=http://host:port (journeys speak plain HTTP to a local stack)"
            ))),
        })
        .collect()
}
