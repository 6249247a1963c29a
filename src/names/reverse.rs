//! Reverse-lookup names: `ReverseZones` CIDRs as `in-addr.arpa.` / `ip6.arpa.` zones, and
//! the reverse name of an address (RFC 1035 §3.5, RFC 3596 §2.5).

use super::cidr::Cidr;
use std::fmt;
use std::net::IpAddr;

/// A reverse zone: an IPv4 network on an octet boundary or an IPv6 network on a nibble
/// boundary.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReverseZone {
    /// The network (host bits zero; 8, 16, 24 or 32 bits for IPv4, a multiple of 4 for
    /// IPv6).
    pub cidr: Cidr,
}

/// Why a `ReverseZones` entry is not a reverse zone.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ReverseZoneError {
    /// Not `address/length`.
    #[error("{0:?} is not a CIDR (address/length)")]
    NotCidr(String),
    /// A length off the label boundaries.
    #[error(
        "{0:?}: the length must be 8, 16, 24 or 32 for IPv4, a multiple of 4 from 4 to 128 for IPv6"
    )]
    Boundary(String),
    /// Bits set after the prefix.
    #[error("{0:?} has bits set after the prefix")]
    HostBits(String),
}

impl ReverseZone {
    /// Parses `address/length`.
    pub fn parse(text: &str) -> Result<ReverseZone, ReverseZoneError> {
        let not_cidr = || ReverseZoneError::NotCidr(text.to_string());
        let (address, _) = text.split_once('/').ok_or_else(not_cidr)?;
        let cidr = Cidr::parse(text).map_err(|_| not_cidr())?;
        let step = if cidr.network.is_ipv4() { 8 } else { 4 };
        if cidr.prefix == 0 || cidr.prefix % step != 0 {
            return Err(ReverseZoneError::Boundary(text.to_string()));
        }
        // Cidr clears the host bits: an address that differs had some set.
        if address.trim().parse::<IpAddr>().ok() != Some(cidr.network) {
            return Err(ReverseZoneError::HostBits(text.to_string()));
        }
        Ok(ReverseZone { cidr })
    }

    /// Whether `ip` lies in the network.
    pub fn contains(&self, ip: &IpAddr) -> bool {
        self.cidr.contains(*ip)
    }

    /// The zone's apex: the network's labels reversed, `in-addr.arpa.` or `ip6.arpa.`.
    pub fn apex(&self) -> String {
        let network = self.cidr.network;
        let labels = address_labels(&network);
        let keep = match network {
            IpAddr::V4(_) => usize::from(self.cidr.prefix / 8),
            IpAddr::V6(_) => usize::from(self.cidr.prefix / 4),
        };
        let mut out = String::new();
        for label in labels[..keep].iter().rev() {
            out.push_str(label);
            out.push('.');
        }
        out.push_str(arpa(&network));
        out
    }
}

impl fmt::Display for ReverseZone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.cidr.fmt(f)
    }
}

/// The address's labels, most significant first: 4 octets, or 32 nibbles.
fn address_labels(ip: &IpAddr) -> Vec<String> {
    match ip {
        IpAddr::V4(v4) => v4.octets().iter().map(u8::to_string).collect(),
        IpAddr::V6(v6) => v6
            .octets()
            .iter()
            .flat_map(|b| [b >> 4, b & 0xF])
            .map(|n| format!("{n:x}"))
            .collect(),
    }
}

fn arpa(ip: &IpAddr) -> &'static str {
    if ip.is_ipv4() {
        "in-addr.arpa."
    } else {
        "ip6.arpa."
    }
}

/// The reverse name of `ip`: `4.3.2.1.in-addr.arpa.`, or 32 nibbles then `ip6.arpa.`.
pub fn reverse_name(ip: &IpAddr) -> String {
    let mut out = String::with_capacity(74);
    for label in address_labels(ip).iter().rev() {
        out.push_str(label);
        out.push('.');
    }
    out.push_str(arpa(ip));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_names() {
        let z = ReverseZone::parse("10.1.0.0/16").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(z.apex(), "1.10.in-addr.arpa.");
        assert!(z.contains(&"10.1.200.3".parse().unwrap_or_else(|_| unreachable!())));
        assert!(!z.contains(&"10.2.0.3".parse().unwrap_or_else(|_| unreachable!())));
        assert_eq!(
            reverse_name(&"10.1.2.3".parse().unwrap_or_else(|_| unreachable!())),
            "3.2.1.10.in-addr.arpa."
        );
        let z6 = ReverseZone::parse("2001:db8::/32").unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(z6.apex(), "8.b.d.0.1.0.0.2.ip6.arpa.");
        let name = reverse_name(&"2001:db8::1".parse().unwrap_or_else(|_| unreachable!()));
        assert!(name.starts_with("1.0.0.0.") && name.ends_with(".8.b.d.0.1.0.0.2.ip6.arpa."));
        assert_eq!(name.split('.').count(), 32 + 3);
        for bad in [
            "10.0.0.0/12",
            "10.1.0.0/8",
            "10.0.0.0",
            "x/8",
            "10.0.0.0/0",
            "::/130",
            "::/6",
        ] {
            assert!(ReverseZone::parse(bad).is_err(), "{bad}");
        }
        assert!(ReverseZone::parse("10.0.0.5/32").is_ok());
    }
}
