//! `gateway`: the shop's one published port; `gateway healthcheck` probes a running one.

#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> std::process::ExitCode {
    use gateway::{startup, Config, DEFAULT_PORT, SERVICE};
    kit::serve::main(SERVICE, DEFAULT_PORT, Config::load, startup::run)
}
