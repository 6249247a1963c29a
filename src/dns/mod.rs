//! DNS on the wire: the typed header (`header`), a bounded writer that counts what it
//! writes (`writer`), a bounded reader (`cursor`), names and numbers (`wire`), parsing
//! queries (`query`), TSIG (`tsig`). A leaf: the answers themselves are written by
//! [`crate::answer`], through the writer.
//! Nothing here allocates or panics on any input; `ids` draws message IDs from the
//! system's CSPRNG.

pub(crate) mod cursor;
pub(crate) mod header;
pub(crate) mod ids;
pub(crate) mod query;
pub(crate) mod tsig;
pub(crate) mod wire;
pub(crate) mod writer;
