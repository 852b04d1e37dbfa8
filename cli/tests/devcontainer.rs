//! The dev container (`.devcontainer/devcontainer.json`, `devcontainer/`) is valid and does what
//! the project needs.
//!
//! Two layers:
//!
//! 1. **Schema.** The config (JSONC: comments and trailing commas allowed) is validated with the
//!    `jsonschema` crate against
//!    - `cli/tests/data/devcontainer/devcontainer.schema.json`, always: msctl's own schema, written
//!      from the property reference of the Dev Container spec. No package on crates.io, PyPI or
//!      Debian ships the spec project's `devContainer.base.schema.json`, so this stands in for it;
//!    - the official `devContainer.base.schema.json` as well, when it is on this machine: the file
//!      named by `DEVCONTAINER_BASE_SCHEMA`, else `target/devcontainer-schema/` as written by
//!      `devcontainer/fetch-schema.sh` (needs internet). `DEVCONTAINER_REQUIRE_BASE_SCHEMA=1`
//!      makes its absence a failure.
//!
//!    Negative cases (a broken fixture and single-fault mutations of the real config) must be
//!    rejected by every schema in use, so a schema that accepted anything would fail here.
//! 2. **Requirements** no schema can express: rust-analyzer, docker-outside-of-docker,
//!    `LOCAL_WORKSPACE_FOLDER`, port 8000 with a label, a post-create step that builds msctl,
//!    debootstrap in the image, the cargo registry in a named volume. Each check is also shown
//!    to bite on a config that is schema-valid but breaks it.

use std::fs;
use std::path::{Path, PathBuf};

use serde_json::{json, Value};

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("cli/ has a parent")
        .to_path_buf()
}

fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data/devcontainer")
        .join(name)
}

fn config_path() -> PathBuf {
    repo_root().join(".devcontainer/devcontainer.json")
}

// ---------------------------------------------------------------------------------------------
// JSONC

/// JSON with comments (`//`, `/* */`) and trailing commas, as devcontainer.json allows, turned
/// into plain JSON. String contents (e.g. `"https://..."`) are left alone. Comments become
/// whitespace so that serde_json's line/column in errors still point into the original file.
fn strip_jsonc(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        let next = chars.get(i + 1).copied();
        match c {
            '"' => {
                out.push(c);
                i += 1;
                while i < chars.len() {
                    let s = chars[i];
                    out.push(s);
                    i += 1;
                    if s == '\\' {
                        if let Some(&escaped) = chars.get(i) {
                            out.push(escaped);
                            i += 1;
                        }
                    } else if s == '"' {
                        break;
                    }
                }
            }
            '/' if next == Some('/') => {
                while i < chars.len() && chars[i] != '\n' {
                    out.push(' ');
                    i += 1;
                }
            }
            '/' if next == Some('*') => {
                out.push_str("  ");
                i += 2;
                while i < chars.len() && !(chars[i] == '*' && chars.get(i + 1) == Some(&'/')) {
                    out.push(if chars[i] == '\n' { '\n' } else { ' ' });
                    i += 1;
                }
                assert!(i < chars.len(), "unterminated /* comment */ in JSONC");
                out.push_str("  ");
                i += 2;
            }
            _ => {
                out.push(c);
                i += 1;
            }
        }
    }
    remove_trailing_commas(&out)
}

/// Drops a `,` whose next non-whitespace character closes an object or array (outside strings).
fn remove_trailing_commas(src: &str) -> String {
    let chars: Vec<char> = src.chars().collect();
    let mut out = String::with_capacity(src.len());
    let mut in_string = false;
    let mut i = 0;
    while i < chars.len() {
        let c = chars[i];
        if in_string {
            out.push(c);
            if c == '\\' {
                if let Some(&escaped) = chars.get(i + 1) {
                    out.push(escaped);
                    i += 1;
                }
            } else if c == '"' {
                in_string = false;
            }
        } else if c == '"' {
            in_string = true;
            out.push(c);
        } else if c == ',' {
            let closes = chars[i + 1..]
                .iter()
                .find(|ch| !ch.is_whitespace())
                .is_some_and(|ch| *ch == '}' || *ch == ']');
            out.push(if closes { ' ' } else { ',' });
        } else {
            out.push(c);
        }
        i += 1;
    }
    out
}

fn load_jsonc(path: &Path) -> Value {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("cannot read {}: {e}", path.display()));
    serde_json::from_str(&strip_jsonc(&text))
        .unwrap_or_else(|e| panic!("{} is not valid JSONC: {e}", path.display()))
}

fn config() -> Value {
    load_jsonc(&config_path())
}

// ---------------------------------------------------------------------------------------------
// Schemas

struct Schema {
    origin: String,
    validator: jsonschema::Validator,
}

impl Schema {
    fn load(path: &Path, origin: String) -> Schema {
        let text = fs::read_to_string(path)
            .unwrap_or_else(|e| panic!("cannot read schema {}: {e}", path.display()));
        let doc: Value = serde_json::from_str(&strip_jsonc(&text))
            .unwrap_or_else(|e| panic!("schema {} is not JSON: {e}", path.display()));
        if let Err(e) = jsonschema::meta::validate(&doc) {
            panic!("schema {} is not a valid JSON Schema: {e}", path.display());
        }
        let validator = jsonschema::validator_for(&doc)
            .unwrap_or_else(|e| panic!("cannot compile schema {}: {e}", path.display()));
        Schema { origin, validator }
    }

    fn errors(&self, instance: &Value) -> Vec<String> {
        self.validator
            .iter_errors(instance)
            .map(|e| format!("{e} (at `{}`)", e.instance_path()))
            .collect()
    }
}

/// The official base schema, if this machine has it (see the module docs).
fn official_schema_path() -> Option<PathBuf> {
    if let Some(path) = std::env::var_os("DEVCONTAINER_BASE_SCHEMA").filter(|p| !p.is_empty()) {
        let path = PathBuf::from(path);
        assert!(
            path.is_file(),
            "DEVCONTAINER_BASE_SCHEMA={} does not name a file; run `bash devcontainer/fetch-schema.sh` \
             (needs internet) and point it at the path it prints, or unset it",
            path.display()
        );
        return Some(path);
    }
    let default = repo_root().join("target/devcontainer-schema/devContainer.base.schema.json");
    if default.is_file() {
        return Some(default);
    }
    let required = std::env::var("DEVCONTAINER_REQUIRE_BASE_SCHEMA").is_ok_and(|v| v == "1");
    assert!(
        !required,
        "DEVCONTAINER_REQUIRE_BASE_SCHEMA=1 but the official devContainer.base.schema.json is not here: \
         run `bash devcontainer/fetch-schema.sh` (needs internet) or set DEVCONTAINER_BASE_SCHEMA"
    );
    None
}

fn schemas() -> Vec<Schema> {
    let own = data("devcontainer.schema.json");
    let mut all = vec![Schema::load(
        &own,
        format!("msctl's own schema ({})", own.display()),
    )];
    match official_schema_path() {
        Some(path) => {
            let origin = format!(
                "official devContainer.base.schema.json ({})",
                path.display()
            );
            all.push(Schema::load(&path, origin));
        }
        None => eprintln!(
            "note: official devContainer.base.schema.json not on this machine; validating with \
             msctl's own schema only (see docs/devcontainer.md)"
        ),
    }
    all
}

// ---------------------------------------------------------------------------------------------
// Requirements

/// Every shell line a lifecycle command (string, argument array or object of those) runs.
fn command_lines(command: &Value) -> Vec<String> {
    match command {
        Value::String(s) => vec![s.clone()],
        Value::Array(args) => vec![args
            .iter()
            .filter_map(Value::as_str)
            .collect::<Vec<_>>()
            .join(" ")],
        Value::Object(parallel) => parallel.values().flat_map(command_lines).collect(),
        _ => vec![],
    }
}

fn builds_msctl(line: &str) -> bool {
    let line = line.split('#').next().unwrap_or("");
    line.split("&&").chain(line.split(';')).any(|part| {
        let words: Vec<&str> = part.split_whitespace().collect();
        let cargo_build = words
            .windows(2)
            .any(|w| w[0].ends_with("cargo") && w[1] == "build");
        let package = words
            .windows(2)
            .any(|w| (w[0] == "-p" || w[0] == "--package") && w[1] == "msctl")
            || words.contains(&"--package=msctl")
            || words.contains(&"-pmsctl");
        cargo_build && package
    })
}

/// Scripts under the repository that a command line runs (`bash devcontainer/x.sh`, `./x.sh`).
fn scripts_run_by(line: &str, root: &Path) -> Vec<PathBuf> {
    line.split_whitespace()
        .map(|w| w.trim_start_matches("./"))
        .filter(|w| w.ends_with(".sh"))
        .map(|w| root.join(w))
        .collect()
}

/// What the config misses of the project's requirements; empty when it meets all of them.
/// `root` is the repository the config belongs to (for the Dockerfile and post-create script).
fn requirement_problems(config: &Value, root: &Path) -> Vec<String> {
    let mut problems = Vec::new();

    let extensions: Vec<String> = config
        .pointer("/customizations/vscode/extensions")
        .and_then(Value::as_array)
        .map(|a| {
            a.iter()
                .filter_map(Value::as_str)
                .map(|s| s.split('@').next().unwrap_or(s).to_ascii_lowercase())
                .collect()
        })
        .unwrap_or_default();
    if !extensions.iter().any(|e| e == "rust-lang.rust-analyzer") {
        problems.push(
            "customizations.vscode.extensions does not install rust-lang.rust-analyzer".to_string(),
        );
    }

    const DOOD: &str = "ghcr.io/devcontainers/features/docker-outside-of-docker";
    let has_dood = config
        .get("features")
        .and_then(Value::as_object)
        .is_some_and(|f| {
            f.keys().any(|k| {
                k.strip_prefix(DOOD)
                    .and_then(|rest| rest.strip_prefix(":1"))
                    .is_some_and(|v| v.is_empty() || v.starts_with('.'))
            })
        });
    if !has_dood {
        problems.push(format!("features does not include {DOOD}:1"));
    }

    let lwf_set = ["containerEnv", "remoteEnv"].iter().any(|env| {
        config
            .pointer(&format!("/{env}/LOCAL_WORKSPACE_FOLDER"))
            .and_then(Value::as_str)
            == Some("${localWorkspaceFolder}")
    });
    if !lwf_set {
        problems.push(
            "neither containerEnv nor remoteEnv sets LOCAL_WORKSPACE_FOLDER to ${localWorkspaceFolder}"
                .to_string(),
        );
    }

    let forwards_8000 = config
        .get("forwardPorts")
        .and_then(Value::as_array)
        .is_some_and(|ports| {
            ports.iter().any(|p| {
                p.as_u64() == Some(8000)
                    || p.as_str()
                        .is_some_and(|s| s.rsplit(':').next() == Some("8000"))
            })
        });
    if !forwards_8000 {
        problems.push("forwardPorts does not forward the gateway port 8000".to_string());
    }
    let label = config
        .pointer("/portsAttributes/8000/label")
        .and_then(Value::as_str)
        .unwrap_or("");
    if label.trim().is_empty() {
        problems.push("portsAttributes.8000 has no label".to_string());
    }

    match config.get("postCreateCommand") {
        None => problems.push("no postCreateCommand".to_string()),
        Some(command) => {
            let lines = command_lines(command);
            let direct = lines.iter().any(|l| builds_msctl(l));
            let mut via_script = false;
            for script in lines.iter().flat_map(|l| scripts_run_by(l, root)) {
                match fs::read_to_string(&script) {
                    Ok(text) => via_script |= text.lines().any(builds_msctl),
                    Err(e) => problems.push(format!(
                        "postCreateCommand runs {}, which cannot be read: {e}",
                        script.display()
                    )),
                }
            }
            if !direct && !via_script {
                problems.push(
                    "postCreateCommand neither runs `cargo build -p msctl` nor a script that does"
                        .to_string(),
                );
            }
        }
    }

    let dockerfile = config
        .pointer("/build/dockerfile")
        .and_then(Value::as_str)
        .map(|d| root.join(".devcontainer").join(d));
    match dockerfile {
        None => problems.push(
            "no build.dockerfile: the image must add debootstrap to the Rust base".to_string(),
        ),
        Some(path) => match fs::read_to_string(&path) {
            Err(e) => problems.push(format!("build.dockerfile {}: {e}", path.display())),
            Ok(text) => {
                let code: Vec<&str> = text
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.starts_with('#'))
                    .collect();
                if !code
                    .iter()
                    .any(|l| l.starts_with("FROM mcr.microsoft.com/devcontainers/rust:"))
                {
                    problems.push(format!(
                        "{} is not based on mcr.microsoft.com/devcontainers/rust",
                        path.display()
                    ));
                }
                if !code
                    .iter()
                    .any(|l| l.split_whitespace().any(|w| w == "debootstrap"))
                {
                    problems.push(format!("{} does not install debootstrap", path.display()));
                }
            }
        },
    }

    let registry_volume = config
        .get("mounts")
        .and_then(Value::as_array)
        .is_some_and(|mounts| {
            mounts.iter().any(|m| match m {
                Value::Object(o) => {
                    o.get("type").and_then(Value::as_str) == Some("volume")
                        && o.get("target").and_then(Value::as_str)
                            == Some("/usr/local/cargo/registry")
                }
                Value::String(s) => {
                    s.contains("type=volume") && s.contains("target=/usr/local/cargo/registry")
                }
                _ => false,
            })
        });
    if !registry_volume {
        problems.push(
            "the cargo registry (/usr/local/cargo/registry) is not a named volume".to_string(),
        );
    }

    problems
}

// ---------------------------------------------------------------------------------------------
// Tests: the real config

#[test]
fn devcontainer_json_is_valid_against_every_schema() {
    let config = config();
    for schema in schemas() {
        let errors = schema.errors(&config);
        assert!(
            errors.is_empty(),
            "{} is invalid against {}:\n  {}",
            config_path().display(),
            schema.origin,
            errors.join("\n  ")
        );
        eprintln!("ok: valid against {}", schema.origin);
    }
}

#[test]
fn devcontainer_json_meets_the_project_requirements() {
    let problems = requirement_problems(&config(), &repo_root());
    assert!(
        problems.is_empty(),
        "{} misses requirements:\n  {}",
        config_path().display(),
        problems.join("\n  ")
    );
}

#[test]
fn post_create_script_and_dockerfile_are_in_place() {
    let root = repo_root();
    let script = root.join("devcontainer/post-create.sh");
    let text = fs::read_to_string(&script).expect("devcontainer/post-create.sh exists");
    assert!(text.starts_with("#!"), "post-create.sh has a shebang");
    assert!(
        text.lines().any(builds_msctl),
        "post-create.sh runs cargo build -p msctl"
    );
    let status = std::process::Command::new("bash")
        .arg("-n")
        .arg(&script)
        .status()
        .expect("bash runs");
    assert!(status.success(), "post-create.sh is valid bash (bash -n)");
    assert!(root.join("devcontainer/Dockerfile").is_file());
}

// ---------------------------------------------------------------------------------------------
// Tests: the checks bite

#[test]
fn broken_fixture_is_rejected_by_every_schema_and_by_the_requirements() {
    let broken = load_jsonc(&data("broken.devcontainer.json"));
    for schema in schemas() {
        let errors = schema.errors(&broken);
        assert!(
            !errors.is_empty(),
            "{} accepted the deliberately broken fixture",
            schema.origin
        );
        eprintln!(
            "ok: {} rejects the broken fixture:\n  {}",
            schema.origin,
            errors.join("\n  ")
        );
    }
    let problems = requirement_problems(&broken, &repo_root());
    for expected in [
        "rust-lang.rust-analyzer",
        "docker-outside-of-docker",
        "LOCAL_WORKSPACE_FOLDER",
        "8000",
        "postCreateCommand",
    ] {
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "requirement checks did not flag {expected:?} in the broken fixture; got {problems:#?}"
        );
    }
}

type Mutation = (&'static str, fn(&mut Value));

fn obj(v: &mut Value) -> &mut serde_json::Map<String, Value> {
    v.as_object_mut().expect("devcontainer.json is an object")
}

/// One fault each, every one against the spec (and so against the official schema too).
const SCHEMA_FAULTS: &[Mutation] = &[
    ("misspelt top-level property", |c| {
        let v = obj(c).remove("postCreateCommand").unwrap();
        obj(c).insert("postCreateComand".into(), v);
    }),
    ("port that is neither a number nor host:port", |c| {
        c["forwardPorts"] = json!(["eight thousand"]);
    }),
    ("port above 65535", |c| c["forwardPorts"] = json!([80000])),
    ("lifecycle command that is a number", |c| {
        c["postCreateCommand"] = json!(42)
    }),
    ("no image, build or dockerComposeFile", |c| {
        obj(c).remove("build");
    }),
    ("both image and build", |c| {
        c["image"] = json!("mcr.microsoft.com/devcontainers/rust:1-bookworm")
    }),
    ("build without dockerfile", |c| {
        obj(&mut c["build"]).remove("dockerfile");
    }),
    ("mount of an unknown type", |c| {
        c["mounts"] = json!([{ "type": "tmpfs", "target": "/tmp/x" }])
    }),
    ("unknown onAutoForward action", |c| {
        c["portsAttributes"]["8000"]["onAutoForward"] = json!("shout")
    }),
    ("memory requirement that is not a size", |c| {
        c["hostRequirements"]["memory"] = json!("lots")
    }),
    ("containerEnv value that is not a string", |c| {
        c["containerEnv"]["LOCAL_WORKSPACE_FOLDER"] = json!(1)
    }),
    ("init that is not a boolean", |c| c["init"] = json!("yes")),
];

#[test]
fn every_schema_rejects_each_single_fault() {
    let good = config();
    for schema in schemas() {
        assert!(
            schema.errors(&good).is_empty(),
            "{} rejects the real config",
            schema.origin
        );
        for (fault, mutate) in SCHEMA_FAULTS {
            let mut bad = good.clone();
            mutate(&mut bad);
            assert!(
                !schema.errors(&bad).is_empty(),
                "{} accepted a devcontainer.json with a {fault}",
                schema.origin
            );
        }
    }
}

/// A fault, a word the complaint about it must contain, and the edit that makes it.
type RequirementFault = (&'static str, &'static str, fn(&mut Value));

/// Schema-valid configs that break one project requirement each.
const REQUIREMENT_FAULTS: &[RequirementFault] = &[
    ("no rust-analyzer", "rust-analyzer", |c| {
        c["customizations"]["vscode"]["extensions"] = json!(["tamasfe.even-better-toml"])
    }),
    (
        "no docker-outside-of-docker",
        "docker-outside-of-docker",
        |c| c["features"] = json!({ "ghcr.io/devcontainers/features/docker-in-docker:2": {} }),
    ),
    (
        "docker-outside-of-docker of another major",
        "docker-outside-of-docker",
        |c| {
            c["features"] =
                json!({ "ghcr.io/devcontainers/features/docker-outside-of-docker:10": {} })
        },
    ),
    ("no LOCAL_WORKSPACE_FOLDER", "LOCAL_WORKSPACE_FOLDER", |c| {
        obj(&mut c["containerEnv"]).remove("LOCAL_WORKSPACE_FOLDER");
        obj(&mut c["remoteEnv"]).remove("LOCAL_WORKSPACE_FOLDER");
    }),
    (
        "LOCAL_WORKSPACE_FOLDER set to the container path",
        "LOCAL_WORKSPACE_FOLDER",
        |c| {
            c["containerEnv"]["LOCAL_WORKSPACE_FOLDER"] = json!("${containerWorkspaceFolder}");
            c["remoteEnv"]["LOCAL_WORKSPACE_FOLDER"] = json!("${containerWorkspaceFolder}");
        },
    ),
    ("gateway port not forwarded", "8000", |c| {
        c["forwardPorts"] = json!([8080])
    }),
    ("gateway port without a label", "8000", |c| {
        obj(&mut c["portsAttributes"]["8000"]).remove("label");
    }),
    (
        "post-create builds something else",
        "postCreateCommand",
        |c| c["postCreateCommand"] = json!("cargo build -p testsvc"),
    ),
    ("post-create only checks", "postCreateCommand", |c| {
        c["postCreateCommand"] = json!(["cargo", "check", "-p", "msctl"])
    }),
    ("no Dockerfile with debootstrap", "debootstrap", |c| {
        obj(c).remove("build");
        c["image"] = json!("mcr.microsoft.com/devcontainers/rust:1-bookworm");
    }),
    ("cargo registry not in a volume", "cargo registry", |c| {
        c["mounts"] = json!([])
    }),
];

#[test]
fn requirement_checks_reject_each_single_fault() {
    let good = config();
    let root = repo_root();
    let schemas = schemas();
    for (fault, expected, mutate) in REQUIREMENT_FAULTS {
        let mut bad = good.clone();
        mutate(&mut bad);
        for schema in &schemas {
            let errors = schema.errors(&bad);
            assert!(
                errors.is_empty(),
                "fixture for {fault:?} should be schema-valid for {}: {errors:?}",
                schema.origin
            );
        }
        let problems = requirement_problems(&bad, &root);
        assert!(
            problems.iter().any(|p| p.contains(expected)),
            "requirement checks missed: {fault} (wanted a complaint mentioning {expected:?}, got {problems:#?})"
        );
    }
}

#[test]
fn post_create_may_build_directly_or_through_a_script() {
    let root = repo_root();
    let mut c = config();
    for command in [
        json!("cargo build -p msctl"),
        json!("cargo fetch && cargo build --package msctl"),
        json!(["cargo", "build", "-p", "msctl"]),
        json!({ "build": "cargo build -p msctl", "other": "echo hi" }),
        json!("bash devcontainer/post-create.sh"),
    ] {
        c["postCreateCommand"] = command.clone();
        let problems = requirement_problems(&c, &root);
        assert!(
            problems.is_empty(),
            "{command} was not accepted: {problems:?}"
        );
    }
    c["postCreateCommand"] = json!("bash devcontainer/no-such-script.sh");
    let problems = requirement_problems(&c, &root);
    assert!(
        problems.iter().any(|p| p.contains("no-such-script.sh")),
        "a missing post-create script is reported: {problems:?}"
    );
}

// ---------------------------------------------------------------------------------------------
// Tests: JSONC handling

#[test]
fn jsonc_comments_and_trailing_commas_are_stripped_but_strings_kept() {
    let src = r#"// head
{
  "url": "https://example.invalid/a//b", /* block
  comment */ "star": "/* not a comment */",
  "quote": "a \"// still\" string", // tail
  "list": [1, 2, ],
  "trailing": { "x": "," , },
}
"#;
    let value: Value = serde_json::from_str(&strip_jsonc(src)).expect("stripped JSONC parses");
    assert_eq!(
        value,
        json!({
            "url": "https://example.invalid/a//b",
            "star": "/* not a comment */",
            "quote": "a \"// still\" string",
            "list": [1, 2],
            "trailing": { "x": "," },
        })
    );
}
