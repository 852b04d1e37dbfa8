//! The services a stack has for a role, found by what they are rather than by their names: the
//! API gateway (`gateway: true`, the service [`routes`](super::routes) hands the routing table)
//! and the message broker (a RabbitMQ image). `msctl new`, the journeys and the load tests ask
//! here.

use super::routes::ENV;
use super::types::{ImageSource, ServiceSpec, Stack};

impl Stack {
    /// The port a caller reaches `service` on for HTTP: its route's upstream URL's, or, for the
    /// gateway, its published one.
    pub fn http_port(&self, service: &str) -> Option<u16> {
        self.route_port(service).or_else(|| {
            let gateway = self.gateway().filter(|g| g.name == service)?;
            gateway.ports.first().map(|p| p.container_port)
        })
    }

    /// The port of `service`'s upstream URL in the routing table (its `routes:` block).
    pub fn route_port(&self, service: &str) -> Option<u16> {
        let url = self.routes.upstreams.get(service)?.urls.first()?;
        url.rsplit(':').next()?.parse().ok()
    }

    /// The API gateway: the service that receives the routing table.
    pub fn gateway(&self) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| s.env.contains_key(ENV))
    }

    /// The message broker: the service that runs a RabbitMQ image (`rabbitmq:3-management`,
    /// `registry:5000/team/rabbitmq@sha256:…`).
    pub fn broker(&self) -> Option<&ServiceSpec> {
        self.services.iter().find(|s| match &s.image {
            ImageSource::Reference(r) => repository_name(r) == "rabbitmq",
            _ => false,
        })
    }
}

/// The last part of an image reference's repository: no registry, path, tag or digest.
fn repository_name(reference: &str) -> &str {
    let name = reference.split('@').next().unwrap_or(reference);
    let name = name.rsplit('/').next().unwrap_or(name);
    name.split(':').next().unwrap_or(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stack::{parse, Vars};
    use std::path::Path;

    fn parse_stack(yaml: &str) -> Stack {
        let (file, dir) = (Path::new("msctl.yaml"), Path::new("/"));
        parse(yaml, file, dir, &Vars::default()).unwrap_or_else(|e| panic!("{e}"))
    }

    #[test]
    fn the_gateway_and_the_broker_are_found_by_role_whatever_their_names() {
        let yaml = "
services:
  mq: { image: 'registry:5000/team/rabbitmq:3.12@sha256:abc' }
  rabbitmq: { image: redis }
  edge: { image: gw, gateway: true }
  api:
    image: api
    routes: { port: 8080, paths: [{ prefix: /api }] }
";
        let stack = parse_stack(yaml);
        assert_eq!(stack.gateway().map(|s| s.name.as_str()), Some("edge"));
        assert_eq!(stack.broker().map(|s| s.name.as_str()), Some("mq"));

        let plain = "services:\n  api: { image: api }\n";
        let stack = parse_stack(plain);
        assert!(stack.gateway().is_none() && stack.broker().is_none());
    }

    #[test]
    fn the_bundled_stacks_gateway_and_broker_are_the_services_of_those_names() {
        let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../msctl.yaml");
        let stack = crate::stack::load_with(&path, Vars::default()).unwrap();
        assert_eq!(stack.gateway().map(|s| s.name.as_str()), Some("gateway"));
        assert_eq!(stack.broker().map(|s| s.name.as_str()), Some("rabbitmq"));
    }

    #[test]
    fn repository_names_lose_registry_path_tag_and_digest() {
        assert_eq!(repository_name("rabbitmq"), "rabbitmq");
        assert_eq!(repository_name("rabbitmq:3-management"), "rabbitmq");
        assert_eq!(repository_name("localhost:5000/rabbitmq:3"), "rabbitmq");
        assert_eq!(repository_name("bitnami/rabbitmq@sha256:0123"), "rabbitmq");
        assert_eq!(repository_name("rabbitmq-exporter:1"), "rabbitmq-exporter");
    }
}
