//! `payment-service`: serves payments; `payment-service healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    kit::serve::main("payment-service", payment_service::DEFAULT_PORT, |_port| {
        payment_service::run()
    })
}
