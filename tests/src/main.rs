//! The `yifei` binary, built inside the test package so that black-box tests can spawn (and
//! kill) a real server process.

fn main() -> std::process::ExitCode {
    yifei_api::cli::main()
}
