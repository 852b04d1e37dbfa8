//! `msctl new service`: what it writes (insta snapshots of every rendered file for two option
//! sets), what it refuses (exit 2, nothing written), and that a failure half-way leaves the
//! tree as it was. Fast: a throw-away project with the repository's stack file, no build.
//! (The generated service built, tested and run in the stack: scripts/new-service-e2e.sh.)

mod support;

use std::collections::{BTreeMap, HashMap};
use std::path::Path;
use support::{msctl, workspace, Output};

/// A project like this repository as far as `new service` looks: its stack file, workspace
/// manifest and README (the templates are the embedded ones).
fn project() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    for f in ["msctl.yaml", "Cargo.toml", "README.md"] {
        std::fs::copy(workspace().join(f), dir.path().join(f)).unwrap();
    }
    std::fs::create_dir_all(dir.path().join("docs/api")).unwrap();
    dir
}

/// Every file under `dir` with its bytes: the tree, to compare before and after.
fn tree(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap().flatten() {
            let p = e.path();
            let rel = p.strip_prefix(dir).unwrap().display().to_string();
            if p.is_dir() {
                out.insert(format!("{rel}/"), Vec::new());
                stack.push(p);
            } else {
                out.insert(rel, std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn new_service(dir: &Path, args: &[&str]) -> Output {
    let mut all = vec!["new", "service"];
    all.extend_from_slice(args);
    msctl(&all, dir, &HashMap::new())
}

#[test]
fn invalid_names_and_options_exit_2_and_write_nothing() {
    let dir = project();
    std::fs::create_dir_all(dir.path().join("services/taken-dir")).unwrap();
    let before = tree(dir.path());
    let cases: &[(&[&str], &str)] = &[
        (&["Billing"], "is not a service name"),
        (&["bil_ling"], "is not a service name"),
        (&["kit"], "reserved"),
        (&["order-service"], "already has a service `order-service`"),
        (&["taken-dir"], "taken-dir exists"),
        (
            &["billing", "--route", "/orders/billing"],
            "overlaps `/orders`",
        ),
        (&["billing", "--route", "billing"], "is not a route prefix"),
        (&["billing", "--route", "/health"], "the gateway's own"),
        (&["billing", "--port", "8003"], "port 8003 is taken"),
        (
            &["billing", "--consumes", "confirmed"],
            "is not an event type",
        ),
        (
            &["billing", "--db", "none", "--consumes", "order.confirmed"],
            "need --db postgres",
        ),
    ];
    for (args, expected) in cases {
        let out = new_service(dir.path(), args);
        assert_eq!(out.code, 2, "{args:?}: {}{}", out.stdout, out.stderr);
        assert!(
            out.stderr.contains(expected),
            "{args:?}: expected {expected:?} in:\n{}",
            out.stderr
        );
        assert_eq!(tree(dir.path()), before, "{args:?} wrote something");
    }
    // Every problem at once, not the first only.
    let out = new_service(
        dir.path(),
        &["gateway", "--route", "/users", "--port", "8001"],
    );
    assert_eq!(out.code, 2);
    for expected in ["reserved", "overlaps `/users`", "port 8001 is taken"] {
        assert!(out.stderr.contains(expected), "{expected}: {}", out.stderr);
    }
}

#[test]
fn dry_run_lists_every_file_and_the_stack_change_and_writes_nothing() {
    let dir = project();
    let before = tree(dir.path());
    let out = new_service(dir.path(), &["billing", "--dry-run", "--json"]).ok();
    assert_eq!(tree(dir.path()), before);
    let json = out.json();
    assert_eq!(json["dry_run"], true);
    let files: Vec<&str> = json["plan"]["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f.as_str().unwrap())
        .collect();
    for expected in [
        "services/billing/Cargo.toml",
        "services/billing/src/main.rs",
        "scenarios/billing-crud.yaml",
        "loadtests/billing.yaml",
        "docs/api/billing.md",
        "contracts/tests/billing_consumer.rs",
    ] {
        assert!(files.contains(&expected), "{expected} missing: {files:?}");
    }
    assert_eq!(
        json["plan"]["stack_services"],
        serde_json::json!(["billing-db", "billing"])
    );
    assert_eq!(json["plan"]["port"], 8006);
}

#[test]
fn a_new_service_is_written_its_stack_block_appended_and_the_user_s_text_kept() {
    let dir = project();
    let stack_before = std::fs::read_to_string(dir.path().join("msctl.yaml")).unwrap();
    let out = new_service(dir.path(), &["billing", "--consumes", "order.confirmed"]).ok();
    assert!(
        out.stdout.contains("msctl test journeys billing-crud"),
        "{}",
        out.stdout
    );
    assert!(dir.path().join("services/billing/src/main.rs").is_file());
    // Appended as text: every line of the stack file is still there, in order.
    let stack_after = std::fs::read_to_string(dir.path().join("msctl.yaml")).unwrap();
    let mut rest = stack_after.lines();
    for line in stack_before.lines() {
        assert!(rest.any(|l| l == line), "lost or moved: {line:?}");
    }
    // The README's table of services has its row, with its port and page.
    let readme = std::fs::read_to_string(dir.path().join("README.md")).unwrap();
    assert!(
        readme.contains("| `billing` | 8006 |") && readme.contains("](docs/api/billing.md) |"),
        "{readme}"
    );
    // The gateway routes to it, as the stack file now says.
    let routes = msctl(&["routes", "--json"], dir.path(), &HashMap::new())
        .ok()
        .json();
    assert!(
        routes.to_string().contains("http://billing:8006"),
        "{routes:#}"
    );
    // A second run refuses: the service exists now.
    let again = new_service(dir.path(), &["billing"]);
    assert_eq!(again.code, 2, "{}", again.stderr);
}

#[test]
fn a_failure_half_way_leaves_the_tree_as_it_was() {
    let dir = project();
    // docs/api is a file: writing docs/api/billing.md fails after earlier files were created.
    std::fs::remove_dir(dir.path().join("docs/api")).unwrap();
    std::fs::write(dir.path().join("docs/api"), "in the way\n").unwrap();
    let before = tree(dir.path());
    let out = new_service(dir.path(), &["billing"]);
    assert_ne!(out.code, 0, "{}", out.stdout);
    assert!(out.stderr.contains("docs/api/billing.md"), "{}", out.stderr);
    assert_eq!(tree(dir.path()), before);
}

#[test]
fn rendered_files_billing_with_postgres_consuming_order_confirmed() {
    snapshot(
        "billing",
        &msctl::scaffold::Options {
            name: "billing".into(),
            db: true,
            consumes: vec!["order.confirmed".into()],
            publishes: vec![],
            route: None,
            access: "user".into(),
            port: None,
        },
    );
}

#[test]
fn rendered_files_ledger_admin_only_publishing_ledger_created() {
    snapshot(
        "ledger",
        &msctl::scaffold::Options {
            name: "ledger".into(),
            db: true,
            consumes: vec![],
            publishes: vec!["ledger.created".into()],
            route: Some("/ledger".into()),
            access: "admin".into(),
            port: Some(8010),
        },
    );
}

/// Every rendered file and the stack file's new block, in one snapshot per option set.
fn snapshot(name: &str, options: &msctl::scaffold::Options) {
    let dir = project();
    let stack = msctl::stack::load(&dir.path().join("msctl.yaml")).unwrap();
    let plan = msctl::scaffold::plan(options, &stack, "20261201000000").unwrap();
    let mut all = String::new();
    for (path, text) in &plan.files {
        all.push_str(&format!("===== {path}\n{text}"));
    }
    for (file, after) in &plan.edits {
        let before = std::fs::read_to_string(file).unwrap();
        let name = file.file_name().unwrap().to_string_lossy();
        all.push_str(&format!("===== {name} (added lines)\n"));
        // The old file is a subsequence of the new one: what is not matched, in order, was added.
        let mut old = before.lines().peekable();
        for line in after.lines() {
            if old.peek() == Some(&line) {
                old.next();
            } else {
                all.push_str(line);
                all.push('\n');
            }
        }
    }
    insta::assert_snapshot!(format!("rendered_{name}"), all);
}

#[test]
fn a_project_s_own_templates_override_the_embedded_ones_file_by_file() {
    let dir = project();
    let own = dir.path().join("templates/service/docs/api");
    std::fs::create_dir_all(&own).unwrap();
    std::fs::write(own.join("__name__.md"), "# {{ title }}: our own page\n").unwrap();
    let stack = msctl::stack::load(&dir.path().join("msctl.yaml")).unwrap();
    let options = msctl::scaffold::Options {
        name: "billing".into(),
        db: true,
        consumes: vec![],
        publishes: vec![],
        route: None,
        access: "user".into(),
        port: None,
    };
    let plan = msctl::scaffold::plan(&options, &stack, "20261201000000").unwrap();
    let file = |path: &str| {
        plan.files
            .iter()
            .find(|(p, _)| p == path)
            .map(|(_, text)| text.clone())
            .unwrap_or_else(|| panic!("{path} not rendered"))
    };
    assert_eq!(file("docs/api/billing.md"), "# Billing: our own page\n");
    // The files the project does not override still come from the binary.
    assert!(file("services/billing/src/main.rs").contains("kit::serve::main"));
}
