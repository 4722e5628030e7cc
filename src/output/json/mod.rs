//! The versioned JSON document. A new version gets a module beside `v1`; `v1` never changes shape.

pub mod v1;
