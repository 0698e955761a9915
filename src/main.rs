//! The `darkhorses` binary: parse the command line, run it, exit with the code `error` decides.

fn main() -> std::process::ExitCode {
    darkhorses::app::main()
}
