//! The `skintex` binary: argument parsing, progress display and exit codes. All work is done by the
//! `skintex` library; see `src/cli/` for the edge.

// This is the program's edge: the one place that prints to the terminal.
#![allow(clippy::print_stderr, clippy::print_stdout)]

mod cli;

fn main() -> std::process::ExitCode {
    cli::main()
}
