//! `product-service`: serves the catalogue; `product-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    kit::serve::main("product-service", product_service::DEFAULT_PORT, |_port| {
        product_service::run()
    })
}
