//! keyfix's library: the pure decision core (`diagnosis`, `key`) and its thin I/O edges
//! (`anthropic`, `input`), the commands built from them, and their output. The binary in
//! `main.rs` is the only place that prints a result or exits.

pub mod anthropic;
pub mod cli;
pub mod commands;
pub mod diagnosis;
pub mod github;
pub mod input;
pub mod key;
pub mod net;
pub mod outcome;
pub mod output;
pub mod probe;
pub mod retry;
pub mod work;
