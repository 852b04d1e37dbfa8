//! `msctl test contracts` on real containers: a provider whose response breaks a contract
//! fails verification, naming the interaction and the field; a provider state the provider
//! lacks is reported as missing, not as a mismatch; the results are recorded, and
//! can-i-deploy answers from them.
//!
//! The break is made in a scratch copy of the workspace (its tracked files), where
//! product-service renames `price` to `unit_price` in its product JSON. The copy builds into
//! this workspace's target directory, so only kit and product-service compile again (a few
//! dozen seconds); the package is renamed in the copy (`product-service-broken`) so that its
//! binary never overwrites the real one there.

mod support;

use std::collections::HashMap;
use std::path::Path;
use std::process::Command;

fn scratch_copy(from: &Path, to: &Path) {
    let listed = Command::new("git")
        .args(["ls-files", "-z"])
        .current_dir(from)
        .output()
        .expect("git runs");
    assert!(listed.status.success(), "git ls-files failed");
    for rel in listed.stdout.split(|b| *b == 0).filter(|s| !s.is_empty()) {
        let rel = std::str::from_utf8(rel).unwrap();
        let source = from.join(rel);
        if !source.is_file() {
            continue; // deleted in the working tree, not yet committed
        }
        let target = to.join(rel);
        std::fs::create_dir_all(target.parent().unwrap()).unwrap();
        std::fs::copy(&source, &target).unwrap();
    }
    // The copy is a repository of its own, so its results have a version.
    for args in [
        &["init", "-q"][..],
        &["add", "-A"],
        &[
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@t",
            "commit",
            "-qm",
            "scratch",
        ],
    ] {
        let ok = Command::new("git")
            .args(args)
            .current_dir(to)
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?} in the scratch copy");
    }
}

/// Replaces `from` by `to` in a file of the copy, and insists it was there.
fn edit(root: &Path, rel: &str, from: &str, to: &str) {
    let path = root.join(rel);
    let text = std::fs::read_to_string(&path).unwrap();
    assert!(text.contains(from), "{rel} no longer contains {from:?}");
    std::fs::write(&path, text.replacen(from, to, 1)).unwrap();
}

/// The scratch copy's stack: `msctl -f FILE -p PROJECT …`, building into this workspace's
/// target directory. On drop, the project and its providers' project are removed.
struct Scratch {
    file: String,
    project: String,
    env: HashMap<String, String>,
}

impl Scratch {
    fn msctl(&self, args: &[&str]) -> support::Output {
        let mut all = vec!["-f", self.file.as_str(), "-p", self.project.as_str()];
        all.extend_from_slice(args);
        support::msctl(&all, Path::new("/"), &self.env)
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = self.msctl(&["down", "--volumes"]);
        let providers = format!("{}-contracts", self.project);
        let _ = support::msctl(
            &[
                "-f",
                self.file.as_str(),
                "-p",
                &providers,
                "down",
                "--volumes",
            ],
            Path::new("/"),
            &self.env,
        );
    }
}

#[test]
fn a_renamed_response_field_fails_verification_and_a_missing_state_is_reported_as_missing() {
    let scratch = tempfile::tempdir().unwrap();
    let root = scratch.path();
    scratch_copy(&support::workspace(), root);

    // The breaking change: the product's `price` goes out as `unit_price`.
    edit(
        root,
        "services/product-service/src/store.rs",
        "    pub price: Decimal,\n    /// Units available",
        "    #[serde(rename = \"unit_price\")]\n    pub price: Decimal,\n    /// Units available",
    );
    // Its own package and binary name in the copy (see the module doc).
    edit(
        root,
        "services/product-service/Cargo.toml",
        "name = \"product-service\"\nversion",
        "name = \"product-service-broken\"\nversion",
    );
    edit(
        root,
        "services/product-service/Cargo.toml",
        "[[bin]]\nname = \"product-service\"",
        "[[bin]]\nname = \"product-service-broken\"",
    );
    edit(
        root,
        "services/order-service/Cargo.toml",
        "product-service = { path",
        "product-service = { package = \"product-service-broken\", path",
    );
    edit(
        root,
        "msctl.yaml",
        "build: { crate: product-service }",
        "build: { crate: product-service-broken }",
    );
    edit(
        root,
        "msctl.yaml",
        "test: [product-service, healthcheck]",
        "test: [product-service-broken, healthcheck]",
    );
    // A consumer asks for a state the provider never heard of (in the first interaction that
    // names "no such product": a reservation of an unknown product).
    edit(
        root,
        "contracts/pacts/order-service-product-service.json",
        "\"no such product\"",
        "\"product P was discontinued\"",
    );

    let scratch = Scratch {
        file: root.join("msctl.yaml").display().to_string(),
        project: format!("ctbreak-{}", std::process::id()),
        env: HashMap::from([(
            "CARGO_TARGET_DIR".to_owned(),
            support::workspace().join("target").display().to_string(),
        )]),
    };
    let out = scratch.msctl(&[
        "test",
        "contracts",
        "--skip-consumers",
        "--provider",
        "product-service",
    ]);
    let report = &out.stdout;
    assert_eq!(
        out.code, 1,
        "a broken contract fails with exit 1:\n{report}\n{}",
        out.stderr
    );
    let block = |title: &str| {
        report
            .split("\n\n")
            .find(|b| b.contains(&format!("✗ order-service → product-service: {title}\n")))
            .unwrap_or_else(|| panic!("no failure reported for {title:?}:\n{report}"))
            .to_owned()
    };
    // The mismatch names the interaction and the field, and shows what came instead.
    let price = block("the price of a product");
    assert!(
        price.contains("mismatch: body at $: Actual map is missing the following keys: price"),
        "{price}"
    );
    assert!(price.contains("\"unit_price\""), "{price}");
    // The changed state is reported as missing, not as a mismatch.
    let missing = block("a reservation of an unknown product");
    assert!(
        missing.contains("missing provider state \"product P was discontinued\": product-service has no such state"),
        "{missing}"
    );
    assert!(!missing.contains("mismatch:"), "{missing}");
    // The other seven interactions pass: one row, 9 interactions, 2 failed.
    let row = report
        .lines()
        .find(|l| l.starts_with("order-service "))
        .unwrap();
    assert_eq!(
        row.split_whitespace().collect::<Vec<_>>(),
        [
            "order-service",
            "product-service",
            "http",
            "9",
            "2",
            "✗",
            "FAILED"
        ]
    );

    // The failure is recorded, and can-i-deploy says no, in the broker's words.
    let answer = scratch.msctl(&["test", "contracts", "--can-i-deploy", "product-service"]);
    assert_eq!(answer.code, 1, "{}\n{}", answer.stdout, answer.stderr);
    assert!(
        answer.stdout.contains("Computer says no"),
        "{}",
        answer.stdout
    );
    assert!(
        answer.stdout.contains("failed (2 of 9 interactions)"),
        "{}",
        answer.stdout
    );
}

const STACK: &str =
    "name: ctinput\nservices:\n  product-service:\n    image: debian:bookworm-slim\n";

/// A pact file with one HTTP interaction between `consumer` and `provider`.
fn pact(consumer: &str, provider: &str) -> String {
    format!(
        r#"{{"consumer": {{"name": "{consumer}"}}, "provider": {{"name": "{provider}"}},
            "interactions": [{{"type": "Synchronous/HTTP", "description": "x", "request": {{"method": "GET", "path": "/"}}, "response": {{"status": 200}}}}]}}"#
    )
}

/// Checked before Docker is touched: a pact that does not parse is named with its line and
/// column, every broken file at once, exit 2.
#[test]
fn a_pact_file_that_does_not_parse_exits_2_naming_file_line_and_column() {
    let p = support::Project::new("ctinput", STACK);
    p.file("contracts/pacts/broken.json", "{\n  \"consumer\": ,\n}\n");
    p.file(
        "contracts/pacts/empty.json",
        r#"{"consumer": {"name": "a"}, "provider": {"name": "b"}, "interactions": []}"#,
    );
    let out = p.msctl(&["test", "contracts", "--skip-consumers"]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("contracts/pacts/broken.json:2:15: not a pact file"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("contracts/pacts/empty.json"),
        "{}",
        out.stderr
    );
}

#[test]
fn an_unknown_provider_name_exits_2_with_a_suggestion() {
    let p = support::Project::new("ctinput", STACK);
    p.file(
        "contracts/pacts/order-service-product-service.json",
        &pact("order-service", "product-service"),
    );
    let out = p.msctl(&[
        "test",
        "contracts",
        "--skip-consumers",
        "--provider",
        "product-servic",
    ]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr.contains("did you mean `product-service`?"),
        "{}",
        out.stderr
    );
}

const TWO_PROVIDERS: &str = "name: ctinput\nservices:\n  product-service:\n    image: debian:bookworm-slim\n  user-service:\n    image: debian:bookworm-slim\n";

/// With no pact at all, `msctl test contracts` said "passed" (exit 0) after starting every
/// service of the stack: a verification of nothing is a failure, and nothing is started.
#[tokio::test(flavor = "multi_thread")]
async fn no_pact_files_is_a_failure_that_says_why_and_starts_nothing() {
    let docker = support::docker().await;
    for with_folder in [true, false] {
        let p = support::Project::new("ctinput", TWO_PROVIDERS);
        if with_folder {
            std::fs::create_dir_all(p.dir.path().join("contracts/pacts")).unwrap();
        }
        let out = p.msctl(&["test", "contracts", "--skip-consumers"]);
        assert_eq!(out.code, 1, "{}\n{}", out.stdout, out.stderr);
        assert!(
            out.stderr
                .contains("no pact files in contracts/pacts: nothing to verify"),
            "{}",
            out.stderr
        );
        assert!(!out.stdout.contains("passed"), "{}", out.stdout);
        let providers = format!("{}-contracts", p.name);
        assert_eq!(support::labelled(&docker, &providers).await, (0, 0, 0));
    }
}

/// `--consumer X --provider Y` for a pair that shares no pact passed, verifying nothing.
#[test]
fn a_pair_without_a_pact_exits_2_naming_the_pairs_that_exist() {
    let p = support::Project::new("ctinput", TWO_PROVIDERS);
    p.file(
        "contracts/pacts/order-service-product-service.json",
        &pact("order-service", "product-service"),
    );
    p.file(
        "contracts/pacts/gateway-user-service.json",
        &pact("gateway", "user-service"),
    );
    let out = p.msctl(&[
        "test",
        "contracts",
        "--skip-consumers",
        "--consumer",
        "order-service",
        "--provider",
        "user-service",
    ]);
    assert_eq!(out.code, 2, "{}\n{}", out.stdout, out.stderr);
    assert!(
        out.stderr
            .contains("no pact between order-service and user-service"),
        "{}",
        out.stderr
    );
    assert!(
        out.stderr.contains("gateway → user-service")
            && out.stderr.contains("order-service → product-service"),
        "{}",
        out.stderr
    );
}
