//! civitai-orch: a command-line client for the Civitai Orchestration API.
//!
//! The binary (`main.rs`) is a thin shell over this library, so that the
//! fuzz targets and property tests exercise exactly the code it runs.
//!
//! # Layers
//!
//! Modules use only modules of their own layer or of the layers below,
//! never above, and never in a circle (`make lint` checks the `use crate::`
//! lines with `tests/support/layers.py`):
//!
//! ```text
//! cmd                                  one file per command
//! output   download   api              what is printed, saved, asked for
//! http     cli                         requests and retries; argv to an action
//! config   dates    fields             settings; date parsing; --fields
//! text     error    notes    prune     leaves: escaping and secrets, the error
//!                                      type and exit codes, stderr notes, JSON
//!                                      read down to the paths a command shows
//! ```
//!
//! One command's way: `civitai-orch --json workflows --tag=a` → `cli` builds
//! the action from the option table → `config` resolves the URL and token →
//! `cmd::workflows` asks `api` for the path and walks the pages through
//! `http` → `output` writes in the chosen mode → `main` maps any error to
//! its line and exit code.

#![forbid(unsafe_code)]

pub mod api;
pub mod cli;
pub mod cmd;
pub mod config;
pub mod dates;
pub mod download;
pub mod error;
pub mod fields;
pub mod http;
pub mod notes;
pub mod output;
pub mod prune;
pub mod text;
