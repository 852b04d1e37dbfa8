//! `notification-service`: consumes order events and serves notifications;
//! `notification-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    kit::serve::main(
        notification_service::SERVICE,
        notification_service::DEFAULT_PORT,
        |_port| notification_service::run(),
    )
}
