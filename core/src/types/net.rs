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
        let addr = parse_ip(addr.as_bytes()).ok_or_else(err)?;
        let max = Inet::max_prefix(&addr);
        let prefix = match prefix {
            None => max,
            Some(p) if !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()) => {
                // Saturating, so a long run of digits cannot wrap into range.
                let value = p
                    .bytes()
                    .fold(0u32, |v, b| (v * 10 + u32::from(b - b'0')).min(256));
                u8::try_from(value)
                    .ok()
                    .filter(|p| *p <= max)
                    .ok_or_else(err)?
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
        let mut out = ip_text(&self.addr, true);
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
            return Err(format!(
                "inet prefix /{prefix} is too long for {}",
                ip_text(&addr, false)
            ));
        }
        Ok(Inet {
            addr,
            prefix: *prefix,
        })
    }
}

/// What `text.parse::<IpAddr>()` accepts, without linking core's address
/// parser: a dotted quad of decimal octets without leading zeros, or up to
/// eight hex groups with at most one `::` and an optional trailing dotted quad.
fn parse_ip(text: &[u8]) -> Option<IpAddr> {
    if let Some((octets, end)) = ipv4_at(text, 0) {
        return (end == text.len()).then(|| IpAddr::V4(Ipv4Addr::from(octets)));
    }
    let mut head = [0u16; 8];
    let (head_len, head_v4, end) = ipv6_groups(text, 0, &mut head);
    if head_len == 8 {
        return (end == text.len()).then(|| IpAddr::V6(Ipv6Addr::from(head)));
    }
    // A dotted quad may only end the address, and `::` stands for at least
    // one zero group.
    if head_v4 || text.get(end..end + 2) != Some(b"::") {
        return None;
    }
    let mut tail = [0u16; 7];
    let (tail_len, _, end) = ipv6_groups(text, end + 2, &mut tail[..7 - head_len]);
    head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    (end == text.len()).then(|| IpAddr::V6(Ipv6Addr::from(head)))
}

/// `:`-separated hex groups from `at`, ending early at anything else; a
/// dotted quad fills the last two when at least two are left. Returns the
/// groups read, whether a dotted quad ended them, and where reading stopped.
fn ipv6_groups(text: &[u8], mut at: usize, groups: &mut [u16]) -> (usize, bool, usize) {
    let limit = groups.len();
    for i in 0..limit {
        let start = match i {
            0 => at,
            _ if text.get(at) == Some(&b':') => at + 1,
            _ => return (i, false, at),
        };
        if i + 1 < limit {
            if let Some(([a, b, c, d], end)) = ipv4_at(text, start) {
                groups[i] = u16::from_be_bytes([a, b]);
                groups[i + 1] = u16::from_be_bytes([c, d]);
                return (i + 2, true, end);
            }
        }
        match number(text, start, 16, 4, true) {
            Some((group, end)) => {
                groups[i] = group as u16;
                at = end;
            }
            None => return (i, false, at),
        }
    }
    (limit, false, at)
}

/// A dotted quad starting at `at`, and where it ends.
fn ipv4_at(text: &[u8], mut at: usize) -> Option<([u8; 4], usize)> {
    let mut octets = [0u8; 4];
    for (i, octet) in octets.iter_mut().enumerate() {
        if i > 0 {
            if text.get(at) != Some(&b'.') {
                return None;
            }
            at += 1;
        }
        let (value, end) = number(text, at, 10, 3, false)?;
        *octet = u8::try_from(value).ok()?;
        at = end;
    }
    Some((octets, at))
}

/// The digits of `radix` from `at`: one to `max_digits` of them (more is
/// no number at all), with a leading zero only if `zero_prefix` or alone.
fn number(
    text: &[u8],
    at: usize,
    radix: u32,
    max_digits: usize,
    zero_prefix: bool,
) -> Option<(u32, usize)> {
    let mut value = 0;
    let mut end = at;
    while let Some(digit) = text.get(end).and_then(|b| char::from(*b).to_digit(radix)) {
        value = value * radix + digit;
        end += 1;
        if end - at > max_digits {
            return None;
        }
    }
    let count = end - at;
    (count > 0 && (zero_prefix || count == 1 || text[at] != b'0')).then_some((value, end))
}

/// An address as PostgreSQL prints it (`postgres`), or as Rust's `Display`
/// does. IPv6 shortens the longest run of two or more zero groups (the
/// first on ties) to `::`, and IPv4-mapped addresses end in a dotted quad;
/// PostgreSQL (BIND's `inet_ntop`) writes IPv4-compatible ones that way too.
pub(crate) fn ip_text(addr: &IpAddr, postgres: bool) -> String {
    let mut out = String::with_capacity(40);
    let words = match addr {
        IpAddr::V4(v4) => {
            push_dotted(&mut out, v4.octets());
            return out;
        }
        IpAddr::V6(v6) => v6.segments(),
    };
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
                start == 0 && ((len == 6 && postgres) || (len == 5 && words[5] == 0xffff))
            });
        if embeds_v4 {
            let ([a, b], [c, d]) = (words[6].to_be_bytes(), words[7].to_be_bytes());
            push_dotted(&mut out, [a, b, c, d]);
            break;
        }
        let word = words[i];
        let digits = (16 - word.leading_zeros()).div_ceil(4).max(1);
        for shift in (0..digits).rev() {
            out.push(char::from(
                b"0123456789abcdef"[usize::from((word >> (shift * 4)) & 0xf)],
            ));
        }
        i += 1;
    }
    out
}

fn push_dotted(out: &mut String, octets: [u8; 4]) {
    let [a, b, c, d] = octets;
    let _ = write!(out, "{a}.{b}.{c}.{d}");
}

pub(crate) fn macaddr_text(mac: &[u8; 6]) -> String {
    let mut out = String::with_capacity(17);
    for (i, b) in mac.iter().enumerate() {
        if i > 0 {
            out.push(':');
        }
        super::text::push_hex(&mut out, std::slice::from_ref(b));
    }
    out
}

/// Two hex digits (either case) as one byte. Unlike `u8::from_str_radix`,
/// which it replaces to keep that generic parser out of the wasm module, it
/// refuses a leading `+` (`+f`), as PostgreSQL does.
pub(crate) fn hex_byte(high: u8, low: u8) -> Option<u8> {
    let digit = |b: u8| char::from(b).to_digit(16).map(|d| d as u8);
    Some(digit(high)? << 4 | digit(low)?)
}

/// Parses `08:00:2b:01:02:03` (or with `-` separators).
pub(crate) fn parse_macaddr(text: &str) -> Result<[u8; 6], String> {
    let err = || format!("{text:?} is not a MAC address (08:00:2b:01:02:03)");
    let mut out = [0u8; 6];
    let mut parts = text.split([':', '-']);
    for byte in &mut out {
        let part = parts.next().ok_or_else(err)?;
        *byte = match part.as_bytes() {
            [high, low] => hex_byte(*high, *low).ok_or_else(err)?,
            _ => return Err(err()),
        };
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
    fn hex_byte_reads_hex_pairs_only() {
        for high in 0..=255u8 {
            for low in 0..=255u8 {
                let expected = std::str::from_utf8(&[high, low])
                    .ok()
                    .filter(|s| !s.starts_with('+'))
                    .and_then(|s| u8::from_str_radix(s, 16).ok());
                assert_eq!(hex_byte(high, low), expected, "{high} {low}");
            }
        }
        assert!(parse_macaddr("+f:00:00:00:00:00").is_err());
    }

    #[test]
    fn ipv6_matches_postgres_rendering() {
        let t = |s: &str| ip_text(&s.parse().unwrap(), true);
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

    #[test]
    fn addresses_parse_and_print_as_core_does() {
        let mut cases: Vec<String> = [
            "",
            "::",
            ":::",
            "::1",
            "1::",
            "1:2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7::",
            "::2:3:4:5:6:7:8",
            "1:2:3:4:5:6:7:8::",
            "1:2:3:4:5:6:7:8:9",
            "1::2::3",
            ":1::",
            "1:::2",
            "12345::",
            "0000:00:0::0",
            "FFFF:abcd::",
            "::ffff:1.2.3.4",
            "::1.2.3.4",
            "1.2.3.4::",
            "1:2:3:4:5:6:1.2.3.4",
            "1:2:3:4:5:6:7:1.2.3.4",
            "1:2:3:4:5::1.2.3.4",
            "::1.2.3",
            "::1.2.3.4.5",
            "::01.2.3.4",
            "0.0.0.0",
            "255.255.255.255",
            "256.1.1.1",
            "01.1.1.1",
            "1.1.1.1.",
            ".1.1.1",
            "1..1.1",
            "1.1.1.1111",
            "0001.1.1.1",
            "+1.1.1.1",
            "1.1.1.-1",
            "1.2.3.4 ",
            "١.2.3.4",
            "::g",
            "::ffff:0.0.0.0",
            "1:0:0:2:0:0:0:3",
            "0:0:1:0:0:1:0:0",
            "2001:db8::1",
        ]
        .map(String::from)
        .into();
        let alphabet = b"0123456789abcdefABCDEF:::::....";
        let mut x = 0x2545_f491_4f6c_dd1du64;
        for _ in 0..100_000 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let len = (x % 24) as usize;
            let mut y = x;
            cases.push(
                (0..len)
                    .map(|_| {
                        y = y.rotate_left(5) ^ 0x9e37_79b9;
                        char::from(alphabet[(y % alphabet.len() as u64) as usize])
                    })
                    .collect(),
            );
            let v6 = Ipv6Addr::from(u128::from(x) << (x % 64) | u128::from(x & 0xffff));
            let v4 = Ipv4Addr::from((x >> 16) as u32);
            for valid in [v6.to_string(), v4.to_string(), format!("::ffff:{v4}")] {
                // One character replaced, dropped or doubled.
                let mut bytes = valid.clone().into_bytes();
                let at = (y % bytes.len() as u64) as usize;
                match x % 3 {
                    0 => bytes[at] = alphabet[(x >> 8) as usize % alphabet.len()],
                    1 => drop(bytes.remove(at)),
                    _ => bytes.insert(at, bytes[at]),
                }
                cases.push(valid);
                cases.extend(String::from_utf8(bytes));
            }
        }
        for case in &cases {
            let parsed = parse_ip(case.as_bytes());
            assert_eq!(parsed, case.parse::<IpAddr>().ok(), "{case:?}");
            if let Some(addr) = parsed {
                assert_eq!(ip_text(&addr, false), addr.to_string(), "{case:?}");
            }
        }
    }
}
