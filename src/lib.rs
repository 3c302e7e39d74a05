//! wsgifix: audit and fix Apache httpd + mod_wsgi configurations so Python C
//! extensions run safely (daemon mode, one process group per app, the main
//! interpreter).
//!
//! The pipeline, one module each: `syntax` (grammar → lossless tree),
//! `analysis` (what each app really gets), `rules` (findings and fixes),
//! `output` (diffs, reports, writing files).

pub mod analysis;
pub mod cli;
pub mod collections;
pub mod engine;
pub mod generate;
pub mod output;
pub mod rules;
pub mod server;
pub mod settings;
pub mod syntax;
pub mod writing;
