//! Helpers shared by integration tests. Each test binary uses only part of
//! them, so unused items are expected.
#![allow(dead_code)]

pub mod apache;
pub mod cli;
pub mod corpus;
pub mod engine;
pub mod random_config;
pub mod servers;
