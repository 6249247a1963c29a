//! Naming rules shared by the configuration, the state reader and the record
//! generator: DNS labels (RFC 1123 / RFC 952) and `host:port` text.

pub mod cidr;
pub mod hostport;
pub mod labels;
pub mod reverse;
