//! `order-service`: serves orders and drives their saga; `order-service healthcheck` probes a
//! running one.

fn main() -> std::process::ExitCode {
    kit::serve::main("order-service", order_service::DEFAULT_PORT, |_port| {
        order_service::run()
    })
}
