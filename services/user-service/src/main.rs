//! `user-service`: serves the user API; `user-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    use user_service::{startup, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, startup::run)
}
