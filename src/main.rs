use clap::Parser;

fn main() {
    // clap exits with status 2 on usage errors, 0 for --help and --version.
    let cli = wsgifix::cli::Cli::parse();
    std::process::exit(wsgifix::output::run(&cli));
}
