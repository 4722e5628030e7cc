//! One module per command: each takes its options and a [`Context`], composes what `work`
//! offers, and returns its own report with everything found and done, beside the failure that
//! stopped it if one did ([`Finished`](crate::outcome::Finished)). No command imports another;
//! nothing here prints a result or exits.

pub mod check;
pub mod probe;
pub mod repo;
pub mod rotate;
pub mod scan;
pub mod validate;

pub use crate::work::Context;
