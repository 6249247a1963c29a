//! DNS on the wire: parsing queries and writing answers from a [`crate::snapshot::Snapshot`].
//! Nothing here allocates or panics on any input.

pub mod answer;
pub mod query;
pub mod wire;
