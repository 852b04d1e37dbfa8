//! `notification-service`: consumes order events and serves notifications;
//! `notification-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    use notification_service::{startup, Config, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, Config::from_env, startup::run)
}
