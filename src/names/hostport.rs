//! `host:port` strings as Mesos writes them (IPv6 in brackets), and libprocess UPIDs
//! (`id@host:port`, docs/spec/mesos-dns-behavior.md §3.4).

use std::fmt;
use std::net::IpAddr;

/// A host as the state names it: an IP literal, or a name we never resolve (docs/spec/mesos-dns-behavior.md §10.11).
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Host {
    /// An IP address.
    Ip(IpAddr),
    /// A host name.
    Name(String),
}

impl Host {
    /// An IP when the text is one, else a name.
    pub fn parse(text: &str) -> Host {
        match parse_ip(text) {
            Some(ip) => Host::Ip(ip),
            None => Host::Name(text.to_string()),
        }
    }

    /// The IP, when it is one.
    pub fn ip(&self) -> Option<IpAddr> {
        match self {
            Host::Ip(ip) => Some(*ip),
            Host::Name(_) => None,
        }
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Host::Ip(ip) => write!(f, "{ip}"),
            Host::Name(name) => f.write_str(name),
        }
    }
}

/// Parses an IP literal; an IPv4-mapped IPv6 address counts as IPv4 (docs/spec/mesos-dns-behavior.md §3.6).
pub fn parse_ip(text: &str) -> Option<IpAddr> {
    let ip: IpAddr = text.parse().ok()?;
    Some(match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    })
}

/// Splits `host:port` or `[v6]:port` the way Go's `net.SplitHostPort` does: the host
/// comes back without brackets, the port as written (possibly empty).
pub fn split_host_port(text: &str) -> Option<(&str, &str)> {
    if let Some(rest) = text.strip_prefix('[') {
        let close = rest.find(']')?;
        let host = &rest[..close];
        let port = rest[close + 1..].strip_prefix(':')?;
        if port.contains([':', '[', ']']) {
            return None;
        }
        return Some((host, port));
    }
    let colon = text.rfind(':')?;
    let (host, port) = (&text[..colon], &text[colon + 1..]);
    if host.contains([':', '[', ']']) || port.contains(['[', ']']) {
        return None;
    }
    Some((host, port))
}

/// Parses a decimal port, 0..=65535.
pub fn parse_port(text: &str) -> Option<u16> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// Formats `ip:port` with IPv6 in brackets.
pub fn join_host_port(host: &str, port: u16) -> String {
    if host.contains(':') {
        format!("[{host}]:{port}")
    } else {
        format!("{host}:{port}")
    }
}

/// A libprocess process id: `id@host:port`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Upid {
    /// The process id, before `@`.
    pub id: String,
    /// Its host.
    pub host: Host,
    /// Its port.
    pub port: u16,
}

/// Why a text is not a UPID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UpidError {
    /// Nothing given.
    #[error("empty PID")]
    Empty,
    /// Not exactly one `@`.
    #[error("PID {0:?} must contain exactly one '@'")]
    At(String),
    /// No valid `host:port` after the `@`.
    #[error("PID {0:?} has no valid host:port after '@'")]
    Address(String),
}

impl Upid {
    /// Parses `id@host:port`.
    pub fn parse(raw: &str) -> Result<Upid, UpidError> {
        let text = raw.trim_matches(|c| c == ' ' || c == '"');
        if text.is_empty() {
            return Err(UpidError::Empty);
        }
        let mut parts = text.split('@');
        let (Some(id), Some(addr), None) = (parts.next(), parts.next(), parts.next()) else {
            return Err(UpidError::At(text.to_string()));
        };
        let (host, port) =
            split_host_port(addr).ok_or_else(|| UpidError::Address(text.to_string()))?;
        let port = parse_port(port).ok_or_else(|| UpidError::Address(text.to_string()))?;
        if host.is_empty() {
            return Err(UpidError::Address(text.to_string()));
        }
        Ok(Upid {
            id: id.to_string(),
            host: Host::parse(host),
            port,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// docs/spec/mesos-dns-behavior.md §9.9, PID rows.
    #[test]
    fn pids() {
        for raw in [
            "slave(1)@127.0.0.1:5051",
            "  slave(1)@127.0.0.1:5051  ",
            "\"slave(1)@127.0.0.1:5051\"",
            "\"  slave(1)@127.0.0.1:5051  \"",
        ] {
            let pid = Upid::parse(raw).unwrap();
            assert_eq!(pid.id, "slave(1)");
            assert_eq!(pid.host, Host::Ip("127.0.0.1".parse().unwrap()));
            assert_eq!(pid.port, 5051);
        }
        let v6 = Upid::parse("  slave(1)@[2001:db8::1]:5051  ").unwrap();
        assert_eq!(v6.host, Host::Ip("2001:db8::1".parse().unwrap()));
        assert_eq!(v6.port, 5051);
    }

    #[test]
    fn bad_pids() {
        assert_eq!(Upid::parse(""), Err(UpidError::Empty));
        assert!(matches!(Upid::parse("a@b@c:1"), Err(UpidError::At(_))));
        assert!(matches!(
            Upid::parse("master!1.2.3.4;5050"),
            Err(UpidError::At(_))
        ));
        assert!(matches!(
            Upid::parse("a@1.2.3.4"),
            Err(UpidError::Address(_))
        ));
        assert!(matches!(
            Upid::parse("a@1.2.3.4:x"),
            Err(UpidError::Address(_))
        ));
        assert!(matches!(
            Upid::parse("a@1.2.3.4:70000"),
            Err(UpidError::Address(_))
        ));
        assert!(matches!(Upid::parse("a@:5"), Err(UpidError::Address(_))));
    }

    #[test]
    fn hostnames_are_kept_not_resolved() {
        let pid = Upid::parse("slave(1)@agent-7.example:5051").unwrap();
        assert_eq!(pid.host, Host::Name("agent-7.example".into()));
    }

    #[test]
    fn split() {
        assert_eq!(split_host_port("a:1"), Some(("a", "1")));
        assert_eq!(split_host_port("[::1]:53"), Some(("::1", "53")));
        assert_eq!(split_host_port("::1"), None);
        assert_eq!(split_host_port("a"), None);
        assert_eq!(join_host_port("::1", 53), "[::1]:53");
        assert_eq!(parse_ip("::ffff:1.2.3.4"), Some("1.2.3.4".parse().unwrap()));
    }
}
