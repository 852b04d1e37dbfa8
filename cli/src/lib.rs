//! msctl: one binary that runs a microservice stack on the Docker Engine and proves it works.
//!
//! The layout follows the path of a command:
//!
//! - [`cli`] parses arguments and dispatches; `main.rs` only maps the result to an exit code.
//! - [`stack`] loads `msctl.yaml`: typed model, `${VAR:-default}` interpolation, `.env`/`*_FILE`
//!   secrets, and validation that reports `file:line:column` before Docker is touched.
//! - [`graph`] orders services into dependency levels and names cycles.
//! - [`docker`] connects to the engine (with API version negotiation) and owns the label names
//!   that mark what belongs to a project.
//! - [`images`] makes every image a stack needs exist locally: workspace crates are built with
//!   cargo and packed onto a runtime base, and images that cannot be pulled get a Debian stand-in.
//! - [`engine`] turns the stack into desired containers, compares them with what is running
//!   (config hash + image id labels), and applies the difference level by level.
//! - [`journeys`] runs synthetic user journeys (`msctl test journeys`) against a running stack.
//! - [`doctor`], [`compose`] and [`ui`] are the edges users see.
//!
//! Every failure is an [`Error`], which knows its exit code.

pub mod cli;
pub mod compose;
pub mod docker;
pub mod doctor;
pub mod engine;
pub mod error;
pub mod graph;
pub mod images;
pub mod journeys;
pub mod stack;
pub mod ui;

pub use error::Error;
