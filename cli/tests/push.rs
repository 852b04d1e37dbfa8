//! `msctl push` against a real registry: Debian's `docker-registry` (distribution 2.8) run on
//! loopback by the test (scripts/bootstrap.sh installs it). The pushed digest is the one the
//! registry serves, a pull by that digest gives back the same image, and `export k8s` names
//! the image by it.

mod support;

use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};
use support::*;

/// A registry on 127.0.0.1 (the engine pushes to 127.0.0.0/8 over plain HTTP), its storage in
/// a temporary directory; stopped on drop.
struct Registry {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Registry {
    fn start() -> Registry {
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let config = dir.path().join("config.yml");
        std::fs::write(
            &config,
            format!(
                "version: 0.1\nlog: {{level: warn, accesslog: {{disabled: true}}}}\nstorage: {{filesystem: {{rootdirectory: {}}}}}\nhttp: {{addr: 127.0.0.1:{port}, secret: msctl-test}}\n",
                dir.path().join("data").display()
            ),
        )
        .unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(Stdio::null())
            .spawn()
            .expect("docker-registry is installed (scripts/bootstrap.sh)");
        let registry = Registry {
            child,
            port,
            _dir: dir,
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(Instant::now() < deadline, "the registry did not start");
            std::thread::sleep(Duration::from_millis(50));
        }
        registry
    }

    fn address(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// The manifest the registry serves for `repository@digest` (schema 2: distribution 2.8
    /// answers schema 1, under another digest, to a client that does not ask for 2).
    fn manifest(&self, repository: &str, digest: &str) -> serde_json::Value {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(("127.0.0.1", self.port)).unwrap();
        let request = format!(
            "GET /v2/{repository}/manifests/{digest} HTTP/1.1\r\nhost: localhost\r\naccept: application/vnd.docker.distribution.manifest.v2+json\r\nconnection: close\r\n\r\n"
        );
        s.write_all(request.as_bytes()).unwrap();
        let mut response = String::new();
        s.read_to_string(&mut response).unwrap();
        let (head, body) = response.split_once("\r\n\r\n").unwrap();
        assert!(head.starts_with("HTTP/1.1 200"), "{head}");
        let lower = head.to_ascii_lowercase();
        assert!(
            lower.contains(&format!("docker-content-digest: {digest}")),
            "{head}"
        );
        serde_json::from_str(body).unwrap()
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

const STACK: &str = r#"
workspace: {workspace}
services:
  db:
    image: postgres:15
  api:
    build: { crate: testsvc }
    depends_on: [db]
"#;

/// Removes the test's images however it ends (the build, its registry tags, the pull).
struct Images(String);

impl Drop for Images {
    fn drop(&mut self) {
        let out = Command::new("docker")
            .args(["images", "--format", "{{.Repository}} {{.ID}}"])
            .output();
        let Ok(out) = out else { return };
        let ids: Vec<String> = String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter(|l| l.split(' ').next().is_some_and(|r| r.contains(&self.0)))
            .filter_map(|l| l.split(' ').nth(1).map(str::to_owned))
            .collect();
        if !ids.is_empty() {
            let _ = Command::new("docker")
                .arg("rmi")
                .arg("-f")
                .args(&ids)
                .output();
        }
    }
}

#[tokio::test]
async fn push_records_the_registrys_digest_and_a_pull_by_it_gives_the_same_image() {
    let registry = Registry::start();
    let project = Project::new("msctl-it-push", STACK);
    let _images = Images(format!("/{}/", project.name));
    let reg = registry.address();

    // An upstream image is never pushed, stand-in or not.
    let refused = project.msctl(&["push", "--registry", &reg, "db"]);
    assert_eq!(refused.code, 2, "{}", refused.stderr);
    assert!(
        refused.stderr.contains("upstream image postgres:15"),
        "{}",
        refused.stderr
    );

    let out = project.msctl(&["push", "--registry", &reg, "--json"]).ok();
    let record = out.json();
    let api = &record["images"]["api"];
    let (repository, tag, digest, image_id) = (
        api["repository"].as_str().unwrap().to_owned(),
        api["tag"].as_str().unwrap().to_owned(),
        api["digest"].as_str().unwrap().to_owned(),
        api["image_id"].as_str().unwrap().to_owned(),
    );
    assert_eq!(repository, format!("{reg}/{}/api", project.name));
    assert!(record["images"].get("db").is_none(), "{record}");
    let saved: serde_json::Value = serde_json::from_str(
        &std::fs::read_to_string(project.dir.path().join(".msctl/pushed.json")).unwrap(),
    )
    .unwrap();
    assert_eq!(saved, record);

    // What the registry holds under that digest is this image: its config is the image id.
    let path = repository.split_once('/').unwrap().1;
    let manifest = registry.manifest(path, &digest);
    assert_eq!(
        manifest["config"]["digest"],
        image_id.as_str(),
        "{manifest}"
    );

    // Pulled by digest, after the pushed tag is gone, it is the same image.
    let docker = docker().await;
    docker
        .remove_image(
            &format!("{repository}:{tag}"),
            None::<bollard::query_parameters::RemoveImageOptions>,
            None,
        )
        .await
        .unwrap();
    use futures_util::StreamExt;
    let by_digest = format!("{repository}@{digest}");
    let mut pull = docker.create_image(
        Some(bollard::query_parameters::CreateImageOptions {
            from_image: Some(by_digest.clone()),
            ..Default::default()
        }),
        None,
        None,
    );
    while let Some(step) = pull.next().await {
        step.unwrap();
    }
    let pulled = docker.inspect_image(&by_digest).await.unwrap();
    assert_eq!(pulled.id.as_deref(), Some(image_id.as_str()));

    // The manifests name the image by that digest; the upstream image stays as written.
    let k8s = project.dir.path().join("k8s");
    let export = project
        .msctl(&[
            "export",
            "k8s",
            "--registry",
            &reg,
            "-o",
            k8s.to_str().unwrap(),
        ])
        .ok();
    assert!(
        !export.stderr.contains("has not been pushed"),
        "{}",
        export.stderr
    );
    let api_yaml = std::fs::read_to_string(k8s.join("api/deployment.yaml")).unwrap();
    assert!(
        api_yaml.contains(&format!("image: {by_digest}")),
        "{api_yaml}"
    );
    let db_yaml = std::fs::read_to_string(k8s.join("db/deployment.yaml")).unwrap();
    assert!(db_yaml.contains("image: postgres:15"), "{db_yaml}");
}
