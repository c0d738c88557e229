//! `solec serve`.
pub mod config;
pub mod state;
