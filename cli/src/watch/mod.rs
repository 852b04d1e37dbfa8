//! `msctl up --watch` (issue #16, in progress): what a change in the workspace calls for.
//!
//! Built so far, the decisions, tested without Docker:
//! - [`workspace`] reads the crate graph (`cargo metadata`);
//! - [`ignore`] tells noise (build output, `.git`, editors' temporary files) from changes;
//! - [`affected`] maps changed paths to the services to rebuild or restart, or to a whole `up`
//!   when the stack file changed.
//!
//! Not built yet: the watcher itself (notify), the rounds (one build for all affected crates,
//! health-gated replace, one more round for saves during a build), the rolling replace, and
//! the command's flag. The design: docs/design/watch.md.

pub mod affected;
pub mod ignore;
pub mod workspace;
