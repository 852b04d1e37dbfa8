fn main() -> std::process::ExitCode {
    msctl::commands::main()
}
