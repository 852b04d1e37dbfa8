//! `order-service`: serves orders and drives their saga; `order-service healthcheck` probes a
//! running one.

fn main() -> std::process::ExitCode {
    use order_service::{startup, Config, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, Config::from_env, startup::run)
}
