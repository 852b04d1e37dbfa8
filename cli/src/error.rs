//! The one error type of msctl. Each variant carries what a user needs to act, and maps to an
//! exit code: 2 for input that is wrong (nothing was touched), 3 for an environment that is not
//! ready (Docker unreachable, a port taken), 1 for a failure while working, 130 for Ctrl-C.
//!
//! Errors sit below every other module: [`StandInError`], the stand-in builder's
//! (`images::standin`), is defined here for [`Error::StandIn`] to wrap.

use crate::diag::FileErrors;
use std::io;
use std::path::PathBuf;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    #[error("{0}")]
    Stack(#[from] FileErrors),

    /// Other input files (journeys) that are wrong: every problem of every file.
    #[error("{}", .0.iter().map(|e| e.to_string()).collect::<Vec<_>>().join("\n"))]
    Files(Vec<FileErrors>),

    /// Journeys ran and some failed (the report says which and why).
    #[error("{failed} of {total} journey runs failed")]
    JourneysFailed { failed: usize, total: usize },

    /// Contracts were verified and some interactions failed (the report says which and why).
    #[error("{failed} of {total} contract interactions failed verification")]
    ContractsFailed { failed: usize, total: usize },

    /// A verdict that would have rested on nothing (no pact, no interaction, no journey run):
    /// a failure, never a pass.
    #[error("{0}")]
    NothingChecked(String),

    /// The consumer tests failed, so no pact was (re)written: cargo's last lines.
    #[error("the consumer tests failed (cargo test -p contracts):\n{0}")]
    ConsumerTests(String),

    /// A load test's thresholds failed (exit 99, as k6's): the summary says which.
    #[error("thresholds failed: {}", .failed.join(", "))]
    ThresholdsFailed { failed: Vec<String> },

    /// can-i-deploy said no (the answer printed says why).
    #[error(
        "`{service}` cannot be deployed at {version}: not every contract it is part of is verified"
    )]
    CannotDeploy { service: String, version: String },

    /// Input that is wrong but is not the stack file (a service name on the command line...).
    #[error("{0}")]
    Usage(String),

    #[error("cannot reach the Docker engine at {endpoint} ({reason}); is the daemon running, and is your user allowed to use its socket (root or the `docker` group)?")]
    DockerUnreachable { endpoint: String, reason: String },

    #[error("refusing to start: {}", format_problems(.problems))]
    Preflight { problems: Vec<String> },

    /// The machine is not ready for the command, outside of `up`'s preflight.
    #[error("{0}")]
    Environment(String),

    #[error("{context}: {source}")]
    Docker {
        context: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("building `{service}` failed: {message}")]
    Build { service: String, message: String },

    #[error(transparent)]
    StandIn(#[from] StandInError),

    #[error("image `{image}` for `{service}` is not present, cannot be pulled ({reason}), and msctl knows no stand-in recipe for it")]
    ImageUnavailable {
        service: String,
        image: String,
        reason: String,
    },

    #[error("`{service}` did not become {wanted} within {timeout} (`up_timeout`): {reason}{}", format_logs(.logs))]
    NotReady {
        service: String,
        wanted: String,
        timeout: String,
        reason: String,
        logs: Vec<String>,
    },

    #[error("{context}: {source}")]
    Io {
        context: String,
        #[source]
        source: std::io::Error,
    },

    #[error("interrupted; what was done so far is kept, and running the command again continues from there")]
    Interrupted,
}

fn format_problems(problems: &[String]) -> String {
    match problems {
        [one] => one.clone(),
        many => many.iter().map(|p| format!("\n  - {p}")).collect(),
    }
}

fn format_logs(lines: &[String]) -> String {
    if lines.is_empty() {
        return String::new();
    }
    let mut out = String::from("\n--- last log lines ---");
    for l in lines {
        out.push_str("\n  ");
        out.push_str(l);
    }
    out
}

impl Error {
    pub fn exit_code(&self) -> u8 {
        match self {
            Error::Stack(_) | Error::Files(_) | Error::Usage(_) => 2,
            Error::DockerUnreachable { .. } | Error::Preflight { .. } | Error::Environment(_) => 3,
            Error::Interrupted => 130,
            Error::ThresholdsFailed { .. } => 99,
            _ => 1,
        }
    }

    /// What the error prints, one line per problem of an input file.
    pub fn lines(&self) -> Vec<String> {
        let file =
            |errors: &FileErrors| errors.each().map(|one| one.to_string()).collect::<Vec<_>>();
        match self {
            Error::Stack(errors) => file(errors),
            Error::Files(files) => files.iter().flat_map(file).collect(),
            other => vec![other.to_string()],
        }
    }

    pub fn docker(context: impl Into<String>) -> impl FnOnce(bollard::errors::Error) -> Error {
        let context = context.into();
        move |source| Error::Docker { context, source }
    }

    pub fn io(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let context = context.into();
        move |source| Error::Io { context, source }
    }
}

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// Why a stand-in could not be built. Every message is a full sentence meant for users.
#[derive(Debug, thiserror::Error)]
pub enum StandInError {
    #[error("Stand-in images can only be built on Linux (they need debootstrap, chroot and namespaces), and this is {os}.")]
    UnsupportedOs { os: &'static str },

    #[error("Building stand-in images needs root (debootstrap and chroot), but msctl is running as uid {uid}; run it as root, for example with sudo.")]
    NotRoot { uid: u32 },

    #[error("debootstrap is not installed, and msctl needs it to build stand-in images: install it with `apt-get install debootstrap` (or run scripts/bootstrap.sh).")]
    NoDebootstrap,

    #[error("`{tool}` is not installed, and msctl needs it to build stand-in images: install it with `apt-get install {package}` (or run scripts/bootstrap.sh).")]
    MissingTool {
        tool: &'static str,
        package: &'static str,
    },

    #[error("msctl cannot make a stand-in for `{image}`: {reason}.")]
    BadReference { image: String, reason: String },

    #[error("Building the stand-in for `{image}` failed: could not {action}: {source}.")]
    Io {
        image: String,
        action: String,
        #[source]
        source: io::Error,
    },

    #[error("Building the stand-in for `{image}` failed: {step} {status}. Its last lines of output were:\n{tail}\nThe whole log is in {}.", log.display())]
    StepFailed {
        image: String,
        step: String,
        status: String,
        tail: String,
        log: PathBuf,
    },

    #[error("Building the stand-in for `{image}` failed: Docker could not {action}: {source}.")]
    Docker {
        image: String,
        action: String,
        #[source]
        source: bollard::errors::Error,
    },

    #[error("The stand-in for `{image}` was built, but the image now tagged `{image}` does not carry recipe {expected}; another process may have re-tagged it meanwhile. Run the command again.")]
    Verify { image: String, expected: String },
}
