//! `secrets:` against the real engine: `with_volume` asks whether the project's volume exists.
//! Cheap: one labelled volume created and removed through the API, no container, no image
//! (well under a second). And the commands that must not generate, on a fresh directory.

mod support;

use bollard::models::VolumeCreateRequest;
use std::collections::HashMap;
use support::*;

const STACK: &str = "
services:
  db:
    image: postgres:15
    volumes: [data:/var/lib/postgresql/data]
    environment:
      PASSWORD: ${MSCTL_IT_PASSWORD:-default-password-1}
volumes:
  data: {}
secrets:
  MSCTL_IT_PASSWORD: { generate: password, show: true, with_volume: data }
  MSCTL_IT_KEY: { generate: ed25519, public: MSCTL_IT_PUBLIC }
";

fn dotenv(p: &Project) -> HashMap<String, String> {
    std::fs::read_to_string(p.dir.path().join(".env"))
        .map(|t| msctl::stack::parse_dotenv(&t))
        .unwrap_or_default()
}

fn load(p: &Project) -> msctl::stack::Stack {
    let mut stack = msctl::stack::load(&p.dir.path().join("msctl.yaml")).unwrap();
    stack.name = p.name.clone();
    stack
}

#[tokio::test(flavor = "multi_thread")]
async fn with_volume_generates_only_while_the_volume_does_not_exist() {
    let docker = docker().await;

    // The volume exists (a stack that ran before): its data keeps its password.
    let p = Project::new("msctl-it-secrets", STACK);
    let volume = format!("{}_data", p.name);
    docker
        .create_volume(VolumeCreateRequest {
            name: Some(volume.clone()),
            labels: Some(HashMap::from([(
                "msctl.project".to_string(),
                p.name.clone(),
            )])),
            ..Default::default()
        })
        .await
        .unwrap();
    let out = msctl::secrets::ensure(&docker, &load(&p), false)
        .await
        .unwrap();
    assert_eq!(out.written, ["MSCTL_IT_KEY", "MSCTL_IT_PUBLIC"]);
    assert!(
        out.notes[0].contains(&format!(
            "MSCTL_IT_PASSWORD is not set, and volume {volume} exists"
        )),
        "{:?}",
        out.notes
    );
    assert!(!dotenv(&p).contains_key("MSCTL_IT_PASSWORD"));
    // The stack, read again, has the default and the new key.
    let stack = load(&p);
    assert_eq!(
        stack.service("db").unwrap().env["PASSWORD"],
        "default-password-1"
    );

    // Without the volume (a fresh stack): generated, shown once, and what the stack gets.
    p.msctl(&["down", "--volumes"]).ok();
    assert_eq!(labelled(&docker, &p.name).await, (0, 0, 0));
    let out = msctl::secrets::ensure(&docker, &load(&p), false)
        .await
        .unwrap();
    assert_eq!(out.written, ["MSCTL_IT_PASSWORD"], "the key pair is kept");
    let password = dotenv(&p)["MSCTL_IT_PASSWORD"].clone();
    assert_eq!(password.len(), 24);
    assert!(out.notes[0].contains(&format!("generated MSCTL_IT_PASSWORD={password}")));
    assert_eq!(load(&p).service("db").unwrap().env["PASSWORD"], password);
    let again = msctl::secrets::ensure(&docker, &load(&p), false)
        .await
        .unwrap();
    assert!(again.written.is_empty() && again.notes.is_empty());
}

/// Only `up` generates: reading the stack (export, routes, the plan) leaves the directory alone.
#[test]
fn commands_other_than_up_generate_nothing() {
    let p = Project::new("msctl-it-nosecrets", STACK);
    p.msctl(&["export", "compose", "-o", "compose.yaml"]).ok();
    let plan = p.msctl(&["up", "--plan"]);
    assert!(
        plan.stderr.contains(
            "msctl: `up` would generate MSCTL_IT_PASSWORD, MSCTL_IT_KEY, MSCTL_IT_PUBLIC into .env"
        ) && !plan.stderr.contains("msctl: generated"),
        "{}\n{}",
        plan.stdout,
        plan.stderr
    );
    p.msctl(&["ps"]);
    assert!(!p.dir.path().join(".env").exists());
}
