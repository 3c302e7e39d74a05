//! The man page and shell completions, generated from the clap definition
//! so they can never disagree with `--help`.
//!
//! They come from a hidden `wsgifix generate` subcommand rather than a build
//! script: a build script would have to compile `cli.rs` (and the rule table
//! it reads) a second time, and its output would land in an `OUT_DIR` that
//! `cargo deb` cannot name. The generated files are committed under `dist/`
//! for the package; a test fails when they are out of date.

use std::io::{self, Write};

use clap::CommandFactory;
use clap_complete::Shell;

use crate::cli::{Cli, Generate};

/// Writes what `what` asks for to `out`.
pub fn generate(what: Generate, out: &mut dyn Write) -> io::Result<()> {
    let mut cmd = Cli::command();
    match what {
        Generate::Man => man(cmd, out),
        Generate::Completions { shell } => {
            clap_complete::generate(shell, &mut cmd, "wsgifix", out);
            Ok(())
        }
    }
}

/// The files the package ships, by path under `dist/`, and what makes them.
pub fn dist_files() -> Vec<(&'static str, Generate)> {
    vec![
        ("man/wsgifix.1", Generate::Man),
        (
            "completions/wsgifix.bash",
            Generate::Completions { shell: Shell::Bash },
        ),
        (
            "completions/_wsgifix",
            Generate::Completions { shell: Shell::Zsh },
        ),
        (
            "completions/wsgifix.fish",
            Generate::Completions { shell: Shell::Fish },
        ),
    ]
}

/// clap_mangen's sections, except two: its SUBCOMMANDS section points at
/// `wsgifix-rules(1)` pages that do not exist, and its EXTRA section refills
/// the `--help` epilogue, whose exit-status table only reads as written.
fn man(cmd: clap::Command, out: &mut dyn Write) -> io::Result<()> {
    let after = cmd
        .get_after_help()
        .map(|s| s.to_string())
        .unwrap_or_default();
    let subcommands: Vec<(String, String)> = cmd
        .get_subcommands()
        .filter(|c| !c.is_hide_set() && c.get_name() != "help")
        .map(|c| {
            let about = c.get_about().map(|s| s.to_string()).unwrap_or_default();
            (format!("wsgifix {}", c.get_name()), about)
        })
        .collect();
    let man = clap_mangen::Man::new(cmd);
    man.render_title(out)?;
    man.render_name_section(out)?;
    man.render_synopsis_section(out)?;
    man.render_description_section(out)?;
    man.render_options_section(out)?;
    if !subcommands.is_empty() {
        writeln!(out, ".SH SUBCOMMANDS")?;
        for (name, about) in subcommands {
            writeln!(
                out,
                ".TP\n\\fB{}\\fR\n{}",
                roff_escape(&name),
                roff_escape(&about)
            )?;
        }
    }
    if !after.is_empty() {
        writeln!(out, ".SH NOTES\n.nf")?;
        for line in after.lines() {
            writeln!(out, "{}", roff_escape(line))?;
        }
        writeln!(out, ".fi")?;
    }
    man.render_version_section(out)
}

/// Text as roff reads it literally: backslashes and hyphens escaped, and no
/// line starting with a control character.
fn roff_escape(s: &str) -> String {
    let body = s.replace('\\', "\\e").replace('-', "\\-");
    if body.starts_with('.') || body.starts_with('\'') {
        format!("\\&{body}")
    } else {
        body
    }
}
