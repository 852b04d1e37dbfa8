//! Where the dashboard listens, and who may send to it.
//!
//! The pages and the OTLP receiver listen on 127.0.0.1 only. Containers cannot reach the host's
//! loopback, so the OTLP receiver also listens on the engine's host gateway (the default bridge's
//! gateway address, what `host-gateway` in `extra_hosts` resolves to) — an address every
//! container of every network can reach, so a sender there must come from the project's own
//! network (its subnet, read from the engine) or it gets 403.

use bollard::Docker;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The engine's host gateway: the default `bridge` network's gateway address. Engines that
/// chose the subnet themselves report no gateway (20.10 here): theirs is the subnet's first
/// address, as the engine assigns it.
pub async fn host_gateway(docker: &Docker) -> Option<IpAddr> {
    let bridge = docker.inspect_network("bridge", None).await.ok()?;
    let configs = bridge.ipam?.config?;
    if let Some(g) = configs
        .iter()
        .filter_map(|c| c.gateway.as_deref())
        .find_map(|g| g.parse().ok())
    {
        return Some(g);
    }
    configs
        .iter()
        .filter_map(|c| parse_cidr(c.subnet.as_deref()?))
        .find_map(|(net, _)| match net {
            IpAddr::V4(v4) => Some(IpAddr::V4(std::net::Ipv4Addr::from(u32::from(v4) + 1))),
            IpAddr::V6(_) => None,
        })
}

/// The subnets of the project's network, refreshed when a sender is in none of them (the
/// network may have been recreated by `down` and `up` since).
pub struct Allowed {
    docker: Docker,
    network: String,
    subnets: Mutex<Vec<(IpAddr, u8)>>,
    /// Senders found in no subnet, and when: asked about again after a second, so one stranger
    /// cannot make us ask the engine at every request (but a new network is seen at once).
    refused: Mutex<std::collections::HashMap<IpAddr, Instant>>,
}

impl Allowed {
    pub fn new(docker: Docker, project: &str) -> Allowed {
        Allowed {
            docker,
            network: crate::docker::network_name(project),
            subnets: Mutex::new(Vec::new()),
            refused: Mutex::new(std::collections::HashMap::new()),
        }
    }

    pub async fn permits(&self, peer: IpAddr) -> bool {
        if peer.is_loopback() {
            return true;
        }
        let known = self.subnets.lock().expect("lock").clone();
        if known.iter().any(|(net, bits)| contains(*net, *bits, peer)) {
            return true;
        }
        {
            let mut refused = self.refused.lock().expect("lock");
            refused.retain(|_, at| at.elapsed() < Duration::from_secs(1));
            if refused.contains_key(&peer) {
                return false;
            }
        }
        let fresh = subnets(&self.docker, &self.network).await;
        let ok = fresh.iter().any(|(net, bits)| contains(*net, *bits, peer));
        *self.subnets.lock().expect("lock") = fresh;
        if !ok {
            self.refused
                .lock()
                .expect("lock")
                .insert(peer, Instant::now());
        }
        ok
    }
}

async fn subnets(docker: &Docker, network: &str) -> Vec<(IpAddr, u8)> {
    let Ok(n) = docker.inspect_network(network, None).await else {
        return Vec::new();
    };
    n.ipam
        .and_then(|i| i.config)
        .unwrap_or_default()
        .into_iter()
        .filter_map(|c| c.subnet)
        .filter_map(|s| parse_cidr(&s))
        .collect()
}

pub fn parse_cidr(text: &str) -> Option<(IpAddr, u8)> {
    let (ip, bits) = text.split_once('/')?;
    Some((ip.parse().ok()?, bits.parse().ok()?))
}

pub fn contains(net: IpAddr, bits: u8, ip: IpAddr) -> bool {
    match (net, ip) {
        (IpAddr::V4(n), IpAddr::V4(i)) if bits <= 32 => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits)
            };
            u32::from(n) & mask == u32::from(i) & mask
        }
        (IpAddr::V6(n), IpAddr::V6(i)) if bits <= 128 => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits)
            };
            u128::from(n) & mask == u128::from(i) & mask
        }
        _ => false,
    }
}

/// Serves `router` on `listener` with the peer's address known to handlers; with `allowed`,
/// peers outside the project's network get 403 before any handler runs.
pub fn serve(
    listener: tokio::net::TcpListener,
    router: axum::Router,
    allowed: Option<Allowed>,
) -> tokio::task::JoinHandle<()> {
    let router = match allowed {
        Some(allowed) => {
            let allowed = std::sync::Arc::new(allowed);
            router.layer(axum::middleware::from_fn(
                move |axum::extract::ConnectInfo(peer): axum::extract::ConnectInfo<SocketAddr>,
                      request: axum::extract::Request,
                      next: axum::middleware::Next| {
                    let allowed = allowed.clone();
                    async move {
                        if allowed.permits(peer.ip()).await {
                            next.run(request).await
                        } else {
                            super::problem(
                                axum::http::StatusCode::FORBIDDEN,
                                "only the project's containers and this machine may send telemetry",
                            )
                        }
                    }
                },
            ))
        }
        None => router,
    };
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            router.into_make_service_with_connect_info::<SocketAddr>(),
        )
        .await;
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnet_membership() {
        let (net, bits) = parse_cidr("172.20.0.0/16").unwrap();
        assert!(contains(net, bits, "172.20.3.4".parse().unwrap()));
        assert!(!contains(net, bits, "172.21.0.1".parse().unwrap()));
        assert!(!contains(net, bits, "::1".parse().unwrap()));
        assert!(parse_cidr("nonsense").is_none());
    }
}
