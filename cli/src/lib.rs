//! msctl: one binary that runs a microservice stack on the Docker Engine and proves it works.
//!
//! The layout follows the path of a command:
//!
//! - [`commands`] is the command line: one module per command, each with its arguments and an
//!   `exec` that makes one library call and prints the result; `main.rs` only calls it.
//! - [`diag`] is how every file msctl reads reports its problems: `file:line:column`, a help
//!   line, "did you mean"; values keep their positions ([`diag::Spanned`]).
//! - [`stack`] loads `msctl.yaml`: typed model, `${VAR:-default}` interpolation, `.env`/`*_FILE`
//!   secrets, and validation that reports `file:line:column` before Docker is touched.
//! - [`secrets`] generates the stack file's `secrets:` into `.env` on `up` (passwords, key
//!   pairs), once, never touching the user's lines.
//! - [`graph`] orders services into dependency levels and names cycles.
//! - [`docker`] connects to the engine (with API version negotiation) and owns the label names
//!   that mark what belongs to a project.
//! - [`images`] makes every image a stack needs exist locally: workspace crates are built with
//!   cargo and packed onto a runtime base, and images that cannot be pulled get a Debian stand-in.
//! - [`engine`] turns the stack into desired containers, compares them with what is running
//!   (config hash + image id labels), and applies the difference level by level.
//! - [`journeys`] checks and runs synthetic user journeys against a running stack.
//! - [`load`] runs journeys as load on goose: thresholds, a per-step summary.
//! - [`contracts`] runs the Pact consumer tests, verifies providers on real containers, and
//!   answers can-i-deploy.
//! - [`scaffold`] renders a new service from templates into the project (`msctl new service`).
//! - [`testing`] is what every `msctl test …` command shares: where the services are, JUnit.
//! - [`watch`] decides what a change in the workspace calls for (`up --watch`, in progress).
//! - [`export`] writes the stack in other formats (a Compose file), [`doctor`] checks the
//!   machine, and [`ui`] draws progress and tables.
//!
//! Every failure is an [`Error`], which knows its exit code.
//!
//! A new command is a module under `commands/` (its arguments and `exec`) and a variant of
//! [`commands::Command`] (or of a group's enum, like `test`'s); `tests/help.rs` then asks for a
//! snapshot of its `--help`. A new `msctl test …` kind gets its targets and JUnit from
//! [`testing`], and reports problems in its files with [`diag`].

pub mod cargo;
pub mod commands;
pub mod contracts;
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
pub mod scaffold;
pub mod secrets;
pub mod stack;
pub mod testing;
pub mod ui;
pub mod watch;

pub use error::Error;
