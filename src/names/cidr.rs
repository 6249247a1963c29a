//! Address ranges for access lists (`TransferACL`): `address/length`, or an address alone.

use std::fmt;
use std::net::IpAddr;

/// An IPv4 or IPv6 network.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    /// The network address (host bits cleared).
    pub network: IpAddr,
    /// The prefix length.
    pub prefix: u8,
}

/// Why a text is not a CIDR.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0:?} is not an address or address/length")]
pub struct CidrError(String);

impl Cidr {
    /// Parses `address/length` or a lone address (the whole address).
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let bad = || CidrError(text.to_string());
        let (address, length) = match text.split_once('/') {
            Some((a, l)) => (a, Some(l)),
            None => (text, None),
        };
        let ip: IpAddr = address.trim().parse().map_err(|_| bad())?;
        let max = if ip.is_ipv4() { 32 } else { 128 };
        let prefix = match length {
            None => max,
            Some(l) => l
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|&p| p <= max)
                .ok_or_else(bad)?,
        };
        let network = match ip {
            IpAddr::V4(v4) => IpAddr::V4((u32::from(v4) & mask(prefix, 32) as u32).into()),
            IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & mask(prefix, 128)).into()),
        };
        Ok(Cidr { network, prefix })
    }

    /// Whether `ip` lies in the network; an IPv4-mapped IPv6 address (a dual-stack
    /// socket's view of an IPv4 client) counts as its IPv4 address.
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let m = mask(self.prefix, 32) as u32;
                u32::from(a) & m == u32::from(n)
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                u128::from(a) & mask(self.prefix, 128) == u128::from(n)
            }
            _ => false,
        }
    }
}

/// The first `prefix` of `width` bits set.
fn mask(prefix: u8, width: u32) -> u128 {
    let host = width - u32::from(prefix);
    let all = if width == 128 {
        !0u128
    } else {
        (1u128 << width) - 1
    };
    if host >= 128 {
        0
    } else {
        (all >> host) << host
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or_else(|_| unreachable!("{text}"))
    }

    #[test]
    fn ranges() {
        let lo = Cidr::parse("127.0.0.0/8").unwrap_or_else(|e| panic!("{e}"));
        assert!(lo.contains(ip("127.1.2.3")));
        assert!(lo.contains(ip("::ffff:127.0.0.1")));
        assert!(!lo.contains(ip("10.0.0.1")));
        let one = Cidr::parse("::1").unwrap_or_else(|e| panic!("{e}"));
        assert!(one.contains(ip("::1")) && !one.contains(ip("::2")));
        assert_eq!(
            Cidr::parse("10.1.2.3/16").map(|c| c.to_string()),
            Ok("10.1.0.0/16".into())
        );
        assert!(Cidr::parse("0.0.0.0/0").is_ok_and(|c| c.contains(ip("8.8.8.8"))));
        for bad in ["10.0.0.0/33", "x", "10.0.0.0/", "::/129"] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
    }
}
