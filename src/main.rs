use clap::{CommandFactory, FromArgMatches};

#[global_allocator]
static ALLOCATOR: tikv_jemallocator::Jemalloc = tikv_jemallocator::Jemalloc;

/// jemalloc's start-up options (its `malloc_conf`, under the crate's
/// `_rjem_` prefix). Freed pages are kept for 10 s by default; a big file's
/// tree vectors (MBs each, grown by doubling, copied once by a fix) would then
/// all count in the peak. Allocations from 1 MiB come from jemalloc's own
/// arena for big ones, which gives pages back as soon as they are freed:
/// a 10 MB file's peak falls from 60 to 42 MB. Small files never get there.
#[export_name = "_rjem_malloc_conf"]
static JEMALLOC_OPTIONS: &[u8; 27] = b"oversize_threshold:1048576\0";

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
