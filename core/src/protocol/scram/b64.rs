//! Standard padded base64 (RFC 4648 §4), as SCRAM uses it. The `base64`
//! crate's engine is general and several KB of wasm; SCRAM only encodes a
//! nonce and a proof and decodes a salt and a verifier.

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

pub(crate) fn encode(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let mut group = [0u8; 3];
        group[..chunk.len()].copy_from_slice(chunk);
        let n = u32::from_be_bytes([0, group[0], group[1], group[2]]);
        for i in 0..4 {
            out.push(if i <= chunk.len() {
                char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63])
            } else {
                '='
            });
        }
    }
    out
}

/// `None` unless `text` is canonical: padded to a multiple of 4, no other
/// characters, and no stray bits in the last group (what the crate's
/// `STANDARD` engine accepted).
pub(crate) fn decode(text: &str) -> Option<Vec<u8>> {
    let text = text.as_bytes();
    if text.len() % 4 != 0 {
        return None;
    }
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    for (at, group) in text.chunks_exact(4).enumerate() {
        let last = (at + 1) * 4 == text.len();
        let pad = if last {
            group.iter().rev().take_while(|&&b| b == b'=').count()
        } else {
            0
        };
        if pad > 2 {
            return None;
        }
        let mut n = 0u32;
        for &c in &group[..4 - pad] {
            let sextet = ALPHABET.iter().position(|&a| a == c)?;
            n = n << 6 | sextet as u32;
        }
        n <<= 6 * pad;
        if n & ((1 << (8 * pad)) - 1) != 0 {
            return None;
        }
        out.extend_from_slice(&n.to_be_bytes()[1..4 - pad]);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use base64::engine::general_purpose::STANDARD;
    use base64::Engine;

    #[test]
    fn matches_the_base64_crate() {
        let mut inputs: Vec<String> = [
            "",
            "=",
            "==",
            "===",
            "====",
            "A",
            "AA",
            "AAA",
            "AA==",
            "AB==",
            "AAA=",
            "AAB=",
            "A===",
            "A=A=",
            "=AAA",
            "AA=A",
            "AAAA====",
            "AA==AAAA",
            "Zm9v",
            "Zm9vYg==",
            "Zm9vYmE=",
            "Zm9vYmFy",
            "Zm9v YmFy",
            "Zm9v\nYmFy",
            "Zm9-YmFy",
            "Zm9_YmFy",
            "+/+/",
            "biws",
            "é===",
        ]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
        // Every single character in every position of a padded group.
        for c in 0..=255u8 {
            let c = char::from(c);
            for template in ["AAAA", "AA==", "AAA="] {
                for at in 0..4 {
                    let mut s: Vec<char> = template.chars().collect();
                    s[at] = c;
                    inputs.push(s.into_iter().collect());
                }
            }
        }
        for input in &inputs {
            assert_eq!(
                super::decode(input),
                STANDARD.decode(input).ok(),
                "decoding {input:?}"
            );
        }
        let mut bytes = Vec::new();
        for len in 0..70u8 {
            assert_eq!(super::encode(&bytes), STANDARD.encode(&bytes));
            assert_eq!(super::decode(&STANDARD.encode(&bytes)), Some(bytes.clone()));
            bytes.push(len.wrapping_mul(37).wrapping_add(201));
        }
    }
}
