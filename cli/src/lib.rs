//! msctl: one binary that runs a microservice stack on the Docker Engine and proves it works.
//!
//! The layout follows the path of a command:
//!
//! - [`commands`] is the command line: one module per command, each with its arguments and an
//!   `exec` that makes one library call and prints the result; `main.rs` only calls it.
//! - [`diag`] is how every file msctl reads reports its problems: `file:line:column`, a help
//!   line, "did you mean"; values keep their positions ([`diag::Spanned`]).
//! - [`stack`] loads `msctl.yaml`: typed model, `${VAR:-default}` interpolation, `.env`/`*_FILE`
//!   secrets, and validation that reports `file:line:column` before Docker is touched (a
//!   `depends_on` cycle included). It also knows the services by role: the gateway and the
//!   message broker ([`stack::Stack::gateway`], [`stack::Stack::broker`]).
//! - [`secrets`] generates the stack file's `secrets:` into `.env` on `up` (passwords, key
//!   pairs), once, never touching the user's lines.
//! - [`graph`] selects the services a command touches and orders them into dependency levels.
//! - [`docker`] connects to the engine (with API version negotiation) and owns the label names
//!   that mark what belongs to a project.
//! - [`cargo`] runs cargo: without the variables of the crate that runs msctl, and `cargo build`
//!   of service binaries with a [`cargo::Cancel`] handle that stops it.
//! - [`images`] makes every image a stack needs exist locally: workspace crates are built with
//!   [`cargo`] and packed onto a runtime base, and images that cannot be pulled get a Debian
//!   stand-in.
//! - [`engine`] turns the stack into desired containers, compares them with what is running
//!   (config hash + image id labels), and applies the difference level by level.
//! - [`journeys`] parses and checks journey files ([`journeys::parse`]) and runs them against a
//!   running stack ([`journeys::run`]).
//! - [`load`] runs journeys as load on goose: thresholds, a per-step summary, and what each
//!   service used meanwhile ([`load::sampler`]).
//! - [`contracts`] runs the Pact consumer tests, verifies providers on real containers,
//!   answers can-i-deploy, and publishes to a Pact Broker ([`contracts::pact_broker`]).
//! - [`scaffold`] renders a new service from templates into the project (`msctl new service`).
//! - [`testing`] is what every `msctl test …` command shares: where the services are (the gateway
//!   and the broker by role), JUnit.
//! - [`watch`] is `up --watch`: what a change in the workspace calls for, and the rounds that
//!   rebuild and replace exactly the services it affects.
//! - [`dashboard`] is `msctl dashboard`: an OTLP receiver, the engine's logs and scraped metrics
//!   in a SQLite file, served as pages on loopback; [`otel`] says where `up` points the
//!   services' exporters, and [`runs`] keeps the last run of each test command for it.
//! - [`export`] writes the stack in other formats (a Compose file), [`doctor`] checks the
//!   machine, and [`ui`] draws progress and tables.
//!
//! Every failure is an [`Error`], which knows its exit code.
//!
//! The layers hold: no module imports one that imports it back, however many hops away
//! (`tests/layers.rs` checks it). [`error`] and [`diag`] are at the bottom, [`commands`] on top.
//!
//! A new command is a module under `commands/` (its arguments and `exec`) and a variant of
//! [`commands::Command`] (or of a group's enum, like `test`'s); `tests/help.rs` then asks for a
//! snapshot of its `--help`. A new `msctl test …` kind gets its targets and JUnit from
//! [`testing`], and reports problems in its files with [`diag`].

pub mod cargo;
pub mod commands;
pub mod contracts;
pub mod dashboard;
pub mod diag;
pub mod docker;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod export;
pub mod graph;
pub mod images;
pub mod journeys;
pub mod load;
pub mod otel;
pub mod runs;
pub mod scaffold;
pub mod secrets;
pub mod stack;
pub mod testing;
pub mod ui;
pub mod watch;

pub use error::Error;
