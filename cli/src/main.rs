fn main() -> std::process::ExitCode {
    msctl::cli::main()
}
