//! Is a host port free, and if not, who holds it?

use crate::stack::PortSpec;
use bollard::query_parameters::ListContainersOptions;
use bollard::Docker;
use std::net::{IpAddr, SocketAddr, TcpListener, UdpSocket};

/// `None` when the port can be bound now; otherwise who holds it, as precisely as we can tell.
pub async fn holder(docker: &Docker, port: &PortSpec) -> Option<String> {
    let ip: IpAddr = port.host_ip.parse().ok()?;
    let addr = SocketAddr::new(ip, port.host_port);
    let bound = match port.protocol.as_str() {
        "udp" => UdpSocket::bind(addr).map(drop),
        _ => TcpListener::bind(addr).map(drop),
    };
    // Only "in use" means taken. A privileged port as non-root, or an address this host does
    // not have, says nothing about the engine's side: Docker will tell if it cannot bind.
    match bound {
        Err(e) if e.kind() == std::io::ErrorKind::AddrInUse => {}
        _ => return None,
    }
    if let Some(container) = container_publishing(docker, port.host_port).await {
        return Some(format!("container `{container}`"));
    }
    Some(match process_listening(port.host_port) {
        Some((pid, name)) => format!("process `{name}` (pid {pid})"),
        None => "another process (`ss -ltnup` as root shows which)".into(),
    })
}

async fn container_publishing(docker: &Docker, port: u16) -> Option<String> {
    let list = docker
        .list_containers(Some(ListContainersOptions::default()))
        .await
        .ok()?;
    list.into_iter().find_map(|c| {
        let publishes = c
            .ports
            .iter()
            .flatten()
            .any(|p| p.public_port == Some(port));
        publishes.then(|| crate::docker::summary_name(&c))
    })
}

/// Finds the listening socket's inode in /proc/net, then the process owning that inode.
fn process_listening(port: u16) -> Option<(u32, String)> {
    let hex_port = format!(":{port:04X}");
    let mut inodes = Vec::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        let Ok(text) = std::fs::read_to_string(table) else {
            continue;
        };
        for line in text.lines().skip(1) {
            let cols: Vec<&str> = line.split_whitespace().collect();
            // local_address is column 1, state 0A is LISTEN, inode is column 9.
            if cols.len() > 9 && cols[1].ends_with(&hex_port) && cols[3] == "0A" {
                inodes.push(format!("socket:[{}]", cols[9]));
            }
        }
    }
    if inodes.is_empty() {
        return None;
    }
    for entry in std::fs::read_dir("/proc").ok()?.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(fds) = std::fs::read_dir(entry.path().join("fd")) else {
            continue;
        };
        for fd in fds.flatten() {
            if let Ok(target) = std::fs::read_link(fd.path()) {
                if inodes.iter().any(|i| target.as_os_str() == i.as_str()) {
                    let name =
                        std::fs::read_to_string(entry.path().join("comm")).unwrap_or_default();
                    return Some((pid, name.trim().to_owned()));
                }
            }
        }
    }
    None
}
