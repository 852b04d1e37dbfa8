//! `user-service`: serves the user API; `user-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    kit::serve::main(
        "user-service",
        user_service::DEFAULT_PORT,
        |port| async move {
            let config = user_service::Config::from_env()?;
            user_service::run(config, port).await
        },
    )
}
