//! The `ruuvistream` command-line program; see [`ruuvistream::cli`].

fn main() {
    std::process::exit(ruuvistream::cli::run(std::env::args_os()));
}
