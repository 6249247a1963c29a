//! Everything read from Mesos: the state document and the address formats in it.

pub mod base64;
pub mod detect;
pub mod digest;
pub mod hostport;
pub mod iam;
pub mod ports;
pub mod source;
pub mod state;
pub mod zk;
