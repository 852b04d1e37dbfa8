//! `product-service`: serves the catalogue; `product-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    use product_service::{startup, Config, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, Config::from_env, startup::run)
}
