//! DNS on the wire: names, headers and records, and parsing queries. A leaf: the
//! answers themselves are written by [`crate::answer`].
//! Nothing here allocates or panics on any input; `ids` draws message IDs from the
//! system's CSPRNG.

pub(crate) mod ids;
pub(crate) mod query;
pub(crate) mod tsig;
pub(crate) mod wire;
