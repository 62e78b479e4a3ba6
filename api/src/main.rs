fn main() -> std::process::ExitCode {
    yifei_api::cli::main()
}
