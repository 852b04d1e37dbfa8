//! What users read when a stack file is wrong: `file:line:column`, exit code 2, and Docker
//! never contacted. DOCKER_HOST points at a socket that does not exist, so any attempt to reach
//! the engine would surface as exit code 3 instead of 2.

use std::process::Command;

fn msctl_in(dir: &std::path::Path, args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_msctl"))
        .args(args)
        .current_dir(dir)
        .env("DOCKER_HOST", "unix:///nonexistent/docker.sock")
        .env("NO_COLOR", "1")
        .env_remove("MSCTL_FILE")
        .env_remove("MSCTL_PROJECT")
        .output()
        .expect("msctl runs");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Runs `msctl up` on `yaml` and returns stderr, asserting exit code 2.
fn rejected(yaml: &str) -> String {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("msctl.yaml"), yaml).unwrap();
    let (code, _, stderr) = msctl_in(dir.path(), &["up"]);
    assert_eq!(code, 2, "expected exit 2, got {code}; stderr:\n{stderr}");
    assert!(
        !stderr.contains("Docker engine"),
        "Docker must not be contacted:\n{stderr}"
    );
    stderr
}

#[test]
fn unknown_key_suggests_the_close_one() {
    insta::assert_snapshot!(rejected("services:\n  web:\n    imgae: nginx\n"));
}

#[test]
fn unknown_top_level_key() {
    insta::assert_snapshot!(rejected("name: shop\nservice:\n  web:\n    image: x\n"));
}

#[test]
fn unknown_dependency() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: postgres:15\n  api:\n    image: api\n    depends_on: [dbb]\n"
    ));
}

#[test]
fn dependency_cycle_is_named() {
    insta::assert_snapshot!(rejected(
        "services:\n  a:\n    image: x\n    depends_on: [b]\n  b:\n    image: x\n    depends_on: [c]\n  c:\n    image: x\n    depends_on: [a]\n"
    ));
}

#[test]
fn duplicate_host_port() {
    insta::assert_snapshot!(rejected(
        "services:\n  a:\n    image: x\n    ports: [\"8080:80\"]\n  b:\n    image: x\n    ports: [\"8080:8080\"]\n"
    ));
}

#[test]
fn bad_names() {
    insta::assert_snapshot!(rejected(
        "name: My Shop\nservices:\n  Web_App:\n    image: x\n"
    ));
}

#[test]
fn bad_duration() {
    insta::assert_snapshot!(rejected(
        "services:\n  a:\n    image: x\n    healthcheck:\n      test: [true]\n      interval: 5 parsecs\n"
    ));
}

#[test]
fn bad_condition_value() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: x\n  a:\n    image: x\n    depends_on:\n      db: { condition: healty }\n"
    ));
}

#[test]
fn healthy_condition_needs_a_healthcheck() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: x\n  a:\n    image: x\n    depends_on:\n      db: { condition: healthy }\n"
    ));
}

#[test]
fn undeclared_volume_and_bad_port() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: x\n    volumes: [pgdata:/var/lib/postgresql/data]\n    ports: [\"99999:5432\"]\nvolumes:\n  pgdat: {}\n"
    ));
}

#[test]
fn required_variable_missing() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: x\n    environment:\n      PASSWORD: ${MSCTL_TEST_UNSET_VAR:?set it in .env}\n"
    ));
}

#[test]
fn yaml_syntax_error() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: \"unterminated\n    ports: []\n"
    ));
}

#[test]
fn list_where_a_string_belongs() {
    insta::assert_snapshot!(rejected("services:\n  db:\n    image: [x]\n"));
}

#[test]
fn wrong_type() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: x\n    replicas: many\n"
    ));
}

#[test]
fn missing_stack_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, _, stderr) = msctl_in(dir.path(), &["up"]);
    assert_eq!(code, 2);
    insta::assert_snapshot!(stderr);
}

#[test]
fn docker_unreachable_is_one_clear_sentence() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("msctl.yaml"),
        "services:\n  a:\n    image: x\n",
    )
    .unwrap();
    let (code, _, stderr) = msctl_in(dir.path(), &["up"]);
    assert_eq!(code, 3, "{stderr}");
    assert_eq!(stderr.trim().lines().count(), 1, "one sentence:\n{stderr}");
    insta::assert_snapshot!(stderr);
}

#[test]
fn schema_is_json_schema_of_the_stack_file() {
    let dir = tempfile::tempdir().unwrap();
    let (code, stdout, _) = msctl_in(dir.path(), &["schema"]);
    assert_eq!(code, 0);
    let schema: serde_json::Value = serde_json::from_str(&stdout).unwrap();
    assert_eq!(schema["title"], "msctl stack file");
    assert_eq!(schema["additionalProperties"], false);
    let service = &schema["$defs"]["Service"];
    assert!(service["properties"]["depends_on"].is_object());
    assert!(service["properties"]["healthcheck"].is_object());
    assert_eq!(service["additionalProperties"], false);
}

#[test]
fn bad_routes_are_named_before_the_gateway_starts() {
    insta::assert_snapshot!(rejected(
        "services:
  gw:
    image: gw
    gateway: true
  api:
    image: api
    routes:
      port: 8080
      paths:
        - prefix: /api/
        - prefix: /items
          access: everyone
          rules:
            - { methods: [get], path: /other/*, access: admin }
            - { path: /items/**/x, access: user }
  web:
    image: web
    routes:
      port: 80
      paths: [{ prefix: /items }]
"
    ));
}

#[test]
fn routes_without_a_gateway() {
    insta::assert_snapshot!(rejected(
        "services:\n  api:\n    image: api\n    routes:\n      port: 8080\n      paths: [{ prefix: /api }]\n"
    ));
}

#[test]
fn unknown_secret_kind_suggests_the_close_one() {
    insta::assert_snapshot!(rejected(
        "services:\n  web:\n    image: x\nsecrets:\n  TOKEN: { generate: pasword }\n"
    ));
}

#[test]
fn bad_secrets_are_all_named() {
    insta::assert_snapshot!(rejected(
        "services:\n  db:\n    image: postgres:15\n    volumes: [data:/var/lib/postgresql/data]\nvolumes:\n  data: {}\nsecrets:\n  ADMIN_PASSWORD: { generate: password, with_volume: dta, public: ADMIN_KEY }\n  1KEY: { generate: ed25519 }\n  SIGNING_KEY: { generate: ed25519, public: ADMIN_PASSWORD }\n"
    ));
}

/// Compose's `sync` actions have nothing to sync into here; `rebuild` needs a `build`.
#[test]
fn bad_develop_watch_rules_are_named() {
    insta::assert_snapshot!(rejected(
        "services:\n  web:\n    image: x\n    develop:\n      watch:\n        - { path: ./src, action: sync }\n        - { path: ./conf, action: rebuild }\n        - { path: ./conf, action: restrat }\n"
    ));
}
