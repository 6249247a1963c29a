//! The DNS listeners: pinned UDP workers and one TCP thread, all answering from the
//! shared snapshot.

mod dispatch;
pub(crate) mod tcp;
pub(crate) mod udp;
