//! `{{ name }}`: serves {{ route }}; `{{ name }} healthcheck` probes a running one.

fn main() -> std::process::ExitCode {
    use {{ crate }}::{startup, Config, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, Config::from_env, startup::run)
}
