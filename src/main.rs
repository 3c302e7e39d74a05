use clap::{CommandFactory, FromArgMatches};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

fn main() {
    // clap exits with status 2 on usage errors, 0 for --help and --version.
    let matches = wsgifix::cli::Cli::command().get_matches();
    let mut cli = wsgifix::cli::Cli::from_arg_matches(&matches).unwrap_or_else(|e| e.exit());
    // wsgifix.toml fills in what the command line left at its defaults.
    let entries = match wsgifix::settings::apply(&mut cli, &matches) {
        Ok(entries) => entries,
        Err(e) => {
            eprintln!("wsgifix: error: {e}");
            std::process::exit(2);
        }
    };
    if cli.show_settings {
        print!("{}", wsgifix::settings::render(&entries));
        std::process::exit(0);
    }
    std::process::exit(wsgifix::output::run(&cli));
}
