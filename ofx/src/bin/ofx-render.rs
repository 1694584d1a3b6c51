//! `ofx-render`: renders frames with an OpenFX plugin through the headless host
//! of the `ofx` crate (see `ofx::host::cli` for the options, or run
//! `ofx-render --help`). Exits 0 on success, 1 with one sentence on stderr when
//! anything fails, 2 on usage errors and 124 when the `--timeout` watchdog fires.

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    std::process::exit(ofx::host::cli::main_with_args(&args));
}
