//! Shared by the integration tests: run the real `msctl` binary on a throw-away project, and
//! look at the real engine with bollard. Every project is removed on drop, even on failure.
#![allow(dead_code)]

use bollard::query_parameters::{ListContainersOptions, ListNetworksOptions, ListVolumesOptions};
use bollard::Docker;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

pub fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

#[allow(unused_imports)] // not every test binary publishes a port
pub use testkit::free_port;

pub struct Output {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Output {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|e| panic!("not JSON ({e}):\n{}", self.stdout))
    }
    #[track_caller]
    pub fn ok(self) -> Output {
        assert_eq!(
            self.code, 0,
            "msctl failed:\n{}\n{}",
            self.stdout, self.stderr
        );
        self
    }
}

/// The real msctl binary, run in `dir` with `args` and `env`: no colours, and no stack file
/// from the environment.
pub fn msctl(args: &[&str], dir: &Path, env: &HashMap<String, String>) -> Output {
    let out = Command::new(env!("CARGO_BIN_EXE_msctl"))
        .args(args)
        .current_dir(dir)
        .envs(env)
        .env("NO_COLOR", "1")
        .env_remove("MSCTL_FILE")
        .output()
        .expect("msctl runs");
    Output {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

pub struct Project {
    pub name: String,
    pub dir: tempfile::TempDir,
    pub env: HashMap<String, String>,
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

impl Project {
    /// A project named `<prefix>-<pid>-<n>` whose stack file is `yaml` (with `{workspace}`
    /// replaced), in a fresh directory.
    pub fn new(prefix: &str, yaml: &str) -> Project {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("{prefix}-{}-{n}", std::process::id());
        let dir = tempfile::tempdir().unwrap();
        let yaml = yaml.replace("{workspace}", &workspace().display().to_string());
        std::fs::write(dir.path().join("msctl.yaml"), yaml).unwrap();
        Project {
            name,
            dir,
            env: HashMap::new(),
        }
    }

    pub fn file(&self, rel: &str, content: &str) {
        let path = self.dir.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(path, content).unwrap();
    }

    pub fn msctl(&self, args: &[&str]) -> Output {
        let mut all = vec!["-p", self.name.as_str()];
        all.extend_from_slice(args);
        msctl(&all, self.dir.path(), &self.env)
    }
}

impl Drop for Project {
    fn drop(&mut self) {
        let _ = self.msctl(&["down", "--volumes"]);
    }
}

pub async fn docker() -> Docker {
    Docker::connect_with_defaults()
        .unwrap()
        .negotiate_version()
        .await
        .unwrap()
}

fn label(project: &str) -> HashMap<String, Vec<String>> {
    HashMap::from([(
        "label".to_string(),
        vec![format!("msctl.project={project}")],
    )])
}

/// (containers, networks, volumes) carrying the project's label.
pub async fn labelled(docker: &Docker, project: &str) -> (usize, usize, usize) {
    let containers = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(label(project)),
            ..Default::default()
        }))
        .await
        .unwrap();
    let networks = docker
        .list_networks(Some(ListNetworksOptions {
            filters: Some(label(project)),
        }))
        .await
        .unwrap();
    let volumes = docker
        .list_volumes(Some(ListVolumesOptions {
            filters: Some(label(project)),
        }))
        .await
        .unwrap();
    (
        containers.len(),
        networks.len(),
        volumes.volumes.unwrap_or_default().len(),
    )
}

/// Container name → (id, StartedAt) for the project.
pub async fn identities(docker: &Docker, project: &str) -> HashMap<String, (String, String)> {
    let list = docker
        .list_containers(Some(ListContainersOptions {
            all: true,
            filters: Some(label(project)),
            ..Default::default()
        }))
        .await
        .unwrap();
    let mut out = HashMap::new();
    for c in list {
        let id = c.id.unwrap();
        // Listed, then gone (an interrupted `up` may leave the engine finishing a request).
        let Ok(info) = docker.inspect_container(&id, None).await else {
            continue;
        };
        let name = info.name.unwrap().trim_start_matches('/').to_owned();
        out.insert(
            name,
            (id, info.state.unwrap().started_at.unwrap_or_default()),
        );
    }
    out
}

/// A plain HTTP/1.1 GET on loopback; returns the body.
pub fn http_get(port: u16, path: &str) -> String {
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    // One write: `write!` on a socket is a syscall per piece, and a server that answers after
    // its first read would see only `GET `.
    let request = format!("GET {path} HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n");
    stream.write_all(request.as_bytes()).unwrap();
    let mut response = String::new();
    stream.read_to_string(&mut response).unwrap();
    response
        .split_once("\r\n\r\n")
        .map(|(_, b)| b.to_owned())
        .unwrap_or_default()
}
