//! `inet`, `cidr` and `macaddr`.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// PostgreSQL's address family codes on the wire (not the OS's `AF_*`).
const PGSQL_AF_INET: u8 = 2;
const PGSQL_AF_INET6: u8 = 3;

/// An `inet` or `cidr` value: an address and a prefix length. For `cidr`
/// the bits right of the prefix are zero (the server enforces it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Inet {
    pub addr: IpAddr,
    pub prefix: u8,
}

impl Inet {
    fn max_prefix(addr: &IpAddr) -> u8 {
        match addr {
            IpAddr::V4(_) => 32,
            IpAddr::V6(_) => 128,
        }
    }

    /// Parses `address[/prefix]`.
    pub fn parse(text: &str) -> Result<Inet, String> {
        let err = || format!("{text:?} is not an IP address with an optional /prefix");
        let (addr, prefix) = match text.split_once('/') {
            Some((a, p)) => (a, Some(p)),
            None => (text, None),
        };
        let addr: IpAddr = addr.parse().map_err(|_| err())?;
        let max = Inet::max_prefix(&addr);
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                p.parse::<u8>().ok().filter(|p| *p <= max).ok_or_else(err)?
            }
            Some(_) => return Err(err()),
        };
        Ok(Inet { addr, prefix })
    }

    /// Whether every bit right of the prefix is zero, as `cidr` requires.
    pub fn is_network(&self) -> bool {
        let (bits, len): (u128, u32) = match self.addr {
            IpAddr::V4(v4) => (u128::from(u32::from(v4)), 32),
            IpAddr::V6(v6) => (u128::from(v6), 128),
        };
        let host_bits = len - u32::from(self.prefix);
        host_bits == 0 || bits & ((1u128 << host_bits) - 1) == 0
    }

    /// The server's rendering: `inet` hides a full-length prefix, `cidr` never does.
    pub(crate) fn text(&self, is_cidr: bool) -> String {
        let mut out = match self.addr {
            IpAddr::V4(v4) => v4.to_string(),
            IpAddr::V6(v6) => ipv6_text(&v6),
        };
        if is_cidr || self.prefix != Inet::max_prefix(&self.addr) {
            let _ = write!(out, "/{}", self.prefix);
        }
        out
    }

    pub(crate) fn encode(&self, is_cidr: bool, out: &mut Vec<u8>) {
        match self.addr {
            IpAddr::V4(v4) => {
                out.extend_from_slice(&[PGSQL_AF_INET, self.prefix, u8::from(is_cidr), 4]);
                out.extend_from_slice(&v4.octets());
            }
            IpAddr::V6(v6) => {
                out.extend_from_slice(&[PGSQL_AF_INET6, self.prefix, u8::from(is_cidr), 16]);
                out.extend_from_slice(&v6.octets());
            }
        }
    }

    pub(crate) fn decode(bytes: &[u8]) -> Result<Inet, String> {
        let [family, prefix, _is_cidr, len, addr @ ..] = bytes else {
            return Err(format!("inet needs at least 4 bytes, got {}", bytes.len()));
        };
        if usize::from(*len) != addr.len() {
            return Err(format!(
                "inet declares {len} address bytes but carries {}",
                addr.len()
            ));
        }
        let addr = match (*family, addr.len()) {
            (PGSQL_AF_INET, 4) => IpAddr::V4(Ipv4Addr::new(addr[0], addr[1], addr[2], addr[3])),
            (PGSQL_AF_INET6, 16) => {
                let mut octets = [0u8; 16];
                octets.copy_from_slice(addr);
                IpAddr::V6(Ipv6Addr::from(octets))
            }
            (family, len) => {
                return Err(format!(
                    "invalid inet family {family} with {len} address bytes"
                ))
            }
        };
        if *prefix > Inet::max_prefix(&addr) {
            return Err(format!("inet prefix /{prefix} is too long for {addr}"));
        }
        Ok(Inet {
            addr,
            prefix: *prefix,
        })
    }
}

/// IPv6 text as PostgreSQL prints it (BIND's `inet_ntop`): the longest run
/// of two or more zero groups becomes `::`, and IPv4-compatible and
/// IPv4-mapped addresses end in dotted decimal. Rust's `Display` differs on
/// the IPv4-compatible form, hence this.
fn ipv6_text(addr: &Ipv6Addr) -> String {
    let words = addr.segments();
    let mut best: Option<(usize, usize)> = None;
    let mut current: Option<(usize, usize)> = None;
    for (i, w) in words.iter().enumerate() {
        if *w == 0 {
            current = Some(match current {
                Some((start, len)) => (start, len + 1),
                None => (i, 1),
            });
            if let Some((start, len)) = current {
                if best.is_none_or(|(_, best_len)| len > best_len) {
                    best = Some((start, len));
                }
            }
        } else {
            current = None;
        }
    }
    let best = best.filter(|(_, len)| *len >= 2);
    let mut out = String::with_capacity(40);
    let mut i = 0;
    while i < 8 {
        if let Some((start, len)) = best {
            if i == start {
                out.push(':');
                i += len;
                if i == 8 {
                    out.push(':');
                }
                continue;
            }
        }
        if i != 0 {
            out.push(':');
        }
        let embeds_v4 = i == 6
            && best.is_some_and(|(start, len)| {
                start == 0 && (len == 6 || (len == 5 && words[5] == 0xffff))
            });
        if embeds_v4 {
            let o = addr.octets();
            let _ = write!(out, "{}.{}.{}.{}", o[12], o[13], o[14], o[15]);
            break;
        }
        let _ = write!(out, "{:x}", words[i]);
        i += 1;
    }
    out
}

pub(crate) fn macaddr_text(mac: &[u8; 6]) -> String {
    mac.iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(":")
}

/// Parses `08:00:2b:01:02:03` (or with `-` separators).
pub(crate) fn parse_macaddr(text: &str) -> Result<[u8; 6], String> {
    let err = || format!("{text:?} is not a MAC address (08:00:2b:01:02:03)");
    let mut out = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut out {
        let part = parts.next().ok_or_else(err)?;
        if part.len() != 2 {
            return Err(err());
        }
        *byte = u8::from_str_radix(part, 16).map_err(|_| err())?;
    }
    if parts.next().is_some() {
        return Err(err());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_matches_postgres_rendering() {
        let t = |s: &str| ipv6_text(&s.parse().unwrap());
        assert_eq!(t("::"), "::");
        assert_eq!(t("::1"), "::1");
        assert_eq!(t("2001:db8::1"), "2001:db8::1");
        assert_eq!(t("2001:db8:0:1:1:1:1:1"), "2001:db8:0:1:1:1:1:1");
        assert_eq!(t("::ffff:1.2.3.4"), "::ffff:1.2.3.4");
        assert_eq!(t("::1.2.3.4"), "::1.2.3.4");
        assert_eq!(t("1:0:0:2:0:0:0:3"), "1:0:0:2::3");
        assert_eq!(t("1::"), "1::");
    }

    #[test]
    fn inet_round_trips_and_rejects_bad_bytes() {
        let v = Inet::parse("10.1.0.0/16").unwrap();
        let mut bytes = Vec::new();
        v.encode(true, &mut bytes);
        assert_eq!(Inet::decode(&bytes).unwrap(), v);
        assert_eq!(v.text(true), "10.1.0.0/16");
        assert_eq!(Inet::parse("10.1.2.3").unwrap().text(false), "10.1.2.3");
        assert_eq!(Inet::parse("10.1.2.3").unwrap().text(true), "10.1.2.3/32");
        assert!(Inet::decode(&[2, 33, 0, 4, 1, 2, 3, 4]).is_err());
        assert!(Inet::decode(&[2, 8, 0, 16, 1, 2, 3, 4]).is_err());
        assert!(Inet::decode(&[9, 8, 0, 4, 1, 2, 3, 4]).is_err());
        assert!(Inet::parse("10.1.2.3/33").is_err());
        assert_eq!(
            parse_macaddr("08:00:2B:01:02:03").unwrap(),
            [8, 0, 0x2b, 1, 2, 3]
        );
        assert!(parse_macaddr("08:00:2b:01:02").is_err());
    }
}
