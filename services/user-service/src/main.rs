//! `user-service`: serves the user API; `user-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    use user_service::{startup, Config, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, Config::from_env, startup::run)
}
