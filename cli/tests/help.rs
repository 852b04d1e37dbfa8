//! What `--help` says, for msctl and every command and subcommand: a change to a command's
//! options or wording shows up here for review. The command tree is walked, so a new command
//! gets a snapshot of its own (and fails until it is accepted).

use clap::CommandFactory;
use msctl::commands::Args;
use std::process::Command;

/// `msctl <path> --help` as users see it when piping it: no colours, clap's default width, and
/// no values from the environment (clap shows `[env: MSCTL_FILE=...]` when set).
fn help(path: &[String]) -> String {
    let out = Command::new(env!("CARGO_BIN_EXE_msctl"))
        .args(path)
        .arg("--help")
        .env_remove("MSCTL_FILE")
        .env_remove("MSCTL_PROJECT")
        .env_remove("MSCTL_AMQP_URL")
        .env("NO_COLOR", "1")
        .output()
        .expect("msctl runs");
    assert!(out.status.success(), "msctl {path:?} --help failed");
    assert!(
        out.stderr.is_empty(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).expect("help is UTF-8")
}

/// Every command path: [], [up], …, [test, journeys], [export, compose].
fn paths(cmd: &clap::Command, prefix: Vec<String>, out: &mut Vec<Vec<String>>) {
    out.push(prefix.clone());
    for sub in cmd.get_subcommands().filter(|s| s.get_name() != "help") {
        let mut path = prefix.clone();
        path.push(sub.get_name().to_owned());
        paths(sub, path, out);
    }
}

#[test]
fn every_command_has_its_help_snapshot() {
    let mut all = Vec::new();
    paths(&Args::command(), Vec::new(), &mut all);
    for path in &all {
        let name = match path.is_empty() {
            true => "msctl".to_owned(),
            false => format!("msctl_{}", path.join("_")),
        };
        insta::assert_snapshot!(name, help(path));
    }
}

/// The walk above must see the whole tree; a command it missed would go unreviewed.
#[test]
fn the_walk_covers_every_command() {
    let mut all = Vec::new();
    paths(&Args::command(), Vec::new(), &mut all);
    let names: Vec<String> = all.iter().map(|p| p.join(" ")).collect();
    for expected in [
        "",
        "up",
        "build",
        "down",
        "ps",
        "logs",
        "doctor",
        "test",
        "test journeys",
        "schema",
        "export",
        "export compose",
    ] {
        assert!(
            names.iter().any(|n| n == expected),
            "{expected:?} in {names:?}"
        );
    }
}
