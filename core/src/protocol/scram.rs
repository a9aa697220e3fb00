//! The client side of SCRAM-SHA-256 (RFC 5802, RFC 7677) as PostgreSQL uses it.
//!
//! postgres-protocol's `ScramSha256` draws its nonce from a private RNG, but
//! this engine takes randomness as an input so that it has no platform
//! dependencies and its transcripts are reproducible; hence this small
//! reimplementation. Channel binding is not offered (gs2 header `n,,`), since
//! the engine never sees the TLS layer.

use hmac::{Hmac, KeyInit, Mac};
use sha2::{Digest, Sha256};

pub(crate) const MECHANISM: &str = "SCRAM-SHA-256";

/// 18 random bytes give a 24-character nonce, the length libpq uses.
pub(crate) const MIN_NONCE_SEED: usize = 18;

/// The iteration count drives a PBKDF2 loop the client runs before the server
/// has proved anything, so an unbounded count would let an impostor burn the
/// client's CPU. PostgreSQL defaults to 4096; this cap is the one pgjdbc and
/// postgres-protocol adopted.
const MAX_ITERATIONS: u32 = 100_000;

const GS2_HEADER: &str = "n,,";
/// `base64("n,,")`: the channel-binding attribute echoed in client-final.
const CHANNEL_BINDING: &str = "biws";

mod b64;
#[cfg(any(test, not(feature = "saslprep")))]
mod bidi;

type HmacSha256 = Hmac<Sha256>;

/// Why a SCRAM-SHA-256 exchange was abandoned.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScramError {
    #[error("nonce seed has {len} bytes; at least {min} random bytes are required")]
    NonceSeedTooShort { len: usize, min: usize },
    #[error("malformed server-first-message: {reason}")]
    MalformedServerFirst { reason: &'static str },
    #[error("server nonce does not extend the client nonce")]
    NonceMismatch,
    #[error("server asked for {iterations} iterations; keel accepts 1 to {max}")]
    IterationCount { iterations: u32, max: u32 },
    #[error("malformed server-final-message: {reason}")]
    MalformedServerFinal { reason: &'static str },
    #[error("server ended the exchange with error `{0}`")]
    ServerRejected(String),
    #[error("server signature does not match: the server does not know the password")]
    SignatureMismatch,
    #[error("server reported success before proving it knows the password")]
    Incomplete,
    /// HMAC-SHA-256 accepts keys of every length, so this is never produced;
    /// it exists so that the library has no panicking path.
    #[error("HMAC rejected its key")]
    HmacKey,
}

/// Derives the client nonce from caller-supplied random bytes. Base64 keeps
/// every character printable and free of `,`, as the RFC requires.
pub(crate) fn nonce_from_seed(seed: &[u8]) -> Result<String, ScramError> {
    if seed.len() < MIN_NONCE_SEED {
        return Err(ScramError::NonceSeedTooShort {
            len: seed.len(),
            min: MIN_NONCE_SEED,
        });
    }
    Ok(b64::encode(seed))
}

/// The exchange after client-first-message was sent.
pub(crate) struct ScramClient {
    nonce: String,
    password: Vec<u8>,
    client_first_bare: String,
}

/// The exchange after client-final-message was sent: all that is left is to
/// check the server's proof.
pub(crate) struct ServerSignature {
    expected: [u8; 32],
}

impl ScramClient {
    /// PostgreSQL ignores the SCRAM user name in favour of the startup
    /// user, so the engine passes `""` as libpq does; the parameter exists so
    /// the RFC test vectors can be reproduced.
    pub(crate) fn new(username: &str, password: &str, nonce: String) -> Self {
        let client_first_bare = format!("n={},r={nonce}", escape_username(username));
        ScramClient {
            nonce,
            password: normalize_password(password),
            client_first_bare,
        }
    }

    pub(crate) fn client_first(&self) -> String {
        format!("{GS2_HEADER}{}", self.client_first_bare)
    }

    /// Consumes server-first-message and returns client-final-message.
    pub(crate) fn handle_server_first(
        self,
        server_first: &[u8],
    ) -> Result<(ServerSignature, String), ScramError> {
        let malformed = |reason| ScramError::MalformedServerFirst { reason };
        let text = std::str::from_utf8(server_first).map_err(|_| malformed("not UTF-8"))?;
        let mut attributes = text.split(',');
        let first = attributes.next().unwrap_or_default();
        if first.starts_with("m=") {
            return Err(malformed("mandatory extensions are not supported"));
        }
        let server_nonce = first
            .strip_prefix("r=")
            .ok_or(malformed("expected the nonce attribute `r=` first"))?;
        let salt = attributes
            .next()
            .and_then(|a| a.strip_prefix("s="))
            .ok_or(malformed("expected the salt attribute `s=` second"))?;
        let iterations = attributes
            .next()
            .and_then(|a| a.strip_prefix("i="))
            .ok_or(malformed("expected the iteration attribute `i=` third"))?;

        if server_nonce.len() <= self.nonce.len()
            || !server_nonce.starts_with(&self.nonce)
            || !server_nonce.bytes().all(|b| (0x21..=0x7e).contains(&b))
        {
            return Err(ScramError::NonceMismatch);
        }
        let salt = b64::decode(salt).ok_or(malformed("salt is not base64"))?;
        let iterations: u32 = iterations
            .parse()
            .map_err(|_| malformed("iteration count is not a number"))?;
        if !(1..=MAX_ITERATIONS).contains(&iterations) {
            return Err(ScramError::IterationCount {
                iterations,
                max: MAX_ITERATIONS,
            });
        }

        let salted_password = hi(&self.password, &salt, iterations)?;
        let client_key = hmac(&salted_password, &[b"Client Key"])?;
        let stored_key: [u8; 32] = Sha256::digest(client_key).into();
        let client_final_without_proof = format!("c={CHANNEL_BINDING},r={server_nonce}");
        let auth_message = format!(
            "{},{text},{client_final_without_proof}",
            self.client_first_bare
        );
        let client_signature = hmac(&stored_key, &[auth_message.as_bytes()])?;
        let mut proof = client_key;
        for (p, s) in proof.iter_mut().zip(client_signature) {
            *p ^= s;
        }
        let server_key = hmac(&salted_password, &[b"Server Key"])?;
        let expected = hmac(&server_key, &[auth_message.as_bytes()])?;

        let client_final = format!("{client_final_without_proof},p={}", b64::encode(&proof));
        Ok((ServerSignature { expected }, client_final))
    }
}

impl ServerSignature {
    pub(crate) fn verify(&self, server_final: &[u8]) -> Result<(), ScramError> {
        let malformed = |reason| ScramError::MalformedServerFinal { reason };
        let text = std::str::from_utf8(server_final).map_err(|_| malformed("not UTF-8"))?;
        let first = text.split(',').next().unwrap_or_default();
        if let Some(error) = first.strip_prefix("e=") {
            return Err(ScramError::ServerRejected(error.to_owned()));
        }
        let signature = first
            .strip_prefix("v=")
            .ok_or(malformed("expected the verifier attribute `v=`"))?;
        let signature = b64::decode(signature).ok_or(malformed("verifier is not base64"))?;
        if constant_time_eq(&signature, &self.expected) {
            Ok(())
        } else {
            Err(ScramError::SignatureMismatch)
        }
    }
}

/// SASLprep the password as libpq does, falling back to the raw bytes: a
/// PostgreSQL password need not be a valid SASL string, and the server makes
/// the same fallback when it stores the verifier.
fn normalize_password(password: &str) -> Vec<u8> {
    #[cfg(feature = "saslprep")]
    let prepared = stringprep::saslprep(password).ok().map(|p| p.into_owned());
    #[cfg(not(feature = "saslprep"))]
    let prepared = match NFKC.get() {
        Some(nfkc) => saslprep_with(password, *nfkc),
        None if is_prepared_ascii(password) => Some(password.to_owned()),
        None => None,
    };
    prepared.map_or_else(|| password.as_bytes().to_vec(), String::into_bytes)
}

/// The NFKC normalisation SASLprep uses, when a build leaves out the
/// `saslprep` feature: its Unicode normalisation tables are most of what
/// SASLprep costs, and a JavaScript host already has them
/// (`String.prototype.normalize`).
#[cfg(not(feature = "saslprep"))]
static NFKC: std::sync::OnceLock<fn(&str) -> String> = std::sync::OnceLock::new();

/// Supplies NFKC normalisation to SASLprep in a build without the
/// `saslprep` feature; the first call wins. Without it such a build prepares
/// only ASCII passwords and uses any other password as it is, which the
/// server accepts only if SASLprep leaves it unchanged. With the feature this
/// does nothing: Rust's own tables are used.
pub fn set_nfkc(nfkc: fn(&str) -> String) {
    #[cfg(not(feature = "saslprep"))]
    let _ = NFKC.set(nfkc);
    #[cfg(feature = "saslprep")]
    let _ = nfkc;
}

#[cfg(any(test, not(feature = "saslprep")))]
fn is_prepared_ascii(s: &str) -> bool {
    s.chars()
        .all(|c| c.is_ascii() && !stringprep::tables::ascii_control_character(c))
}

/// RFC 4013 SASLprep step by step as `stringprep::saslprep` does it, with
/// the NFKC step supplied by the caller; `None` where SASLprep fails.
#[cfg(any(test, not(feature = "saslprep")))]
fn saslprep_with(s: &str, nfkc: fn(&str) -> String) -> Option<String> {
    use stringprep::tables;
    if is_prepared_ascii(s) {
        return Some(s.to_owned());
    }
    // 2.1 Mapping.
    let mapped: String = s
        .chars()
        .map(|c| {
            if tables::non_ascii_space_character(c) {
                ' '
            } else {
                c
            }
        })
        .filter(|&c| !tables::commonly_mapped_to_nothing(c))
        .collect();
    // 2.2 Normalisation.
    let normalized = nfkc(&mapped);
    // 2.3 Prohibited output, 2.5 unassigned code points.
    let prohibited = |c: char| {
        tables::non_ascii_space_character(c)
            || tables::ascii_control_character(c)
            || tables::non_ascii_control_character(c)
            || tables::private_use(c)
            || tables::non_character_code_point(c)
            || tables::surrogate_code(c)
            || tables::inappropriate_for_plain_text(c)
            || tables::inappropriate_for_canonical_representation(c)
            || tables::change_display_properties_or_deprecated(c)
            || tables::tagging_character(c)
            || tables::unassigned_code_point(c)
    };
    if normalized.chars().any(prohibited) {
        return None;
    }
    // 2.4 Bidirectional text (RFC 3454 section 6): with any RandALCat
    // character, no LCat character, and RandALCat first and last.
    if normalized.contains(bidi::r_or_al) {
        let first = normalized.chars().next().is_some_and(bidi::r_or_al);
        let last = normalized.chars().next_back().is_some_and(bidi::r_or_al);
        if normalized.contains(bidi::l) || !first || !last {
            return None;
        }
    }
    Some(normalized)
}

fn escape_username(username: &str) -> String {
    username.replace('=', "=3D").replace(',', "=2C")
}

fn hmac(key: &[u8], parts: &[&[u8]]) -> Result<[u8; 32], ScramError> {
    let mut mac = HmacSha256::new_from_slice(key).map_err(|_| ScramError::HmacKey)?;
    for part in parts {
        mac.update(part);
    }
    Ok(mac.finalize().into_bytes().into())
}

/// PBKDF2-HMAC-SHA-256 with a single output block (RFC 5802's `Hi`).
fn hi(password: &[u8], salt: &[u8], iterations: u32) -> Result<[u8; 32], ScramError> {
    let mut previous = hmac(password, &[salt, &[0, 0, 0, 1]])?;
    let mut result = previous;
    for _ in 1..iterations {
        previous = hmac(password, &[&previous])?;
        for (r, p) in result.iter_mut().zip(previous) {
            *r ^= p;
        }
    }
    Ok(result)
}

/// Comparing in constant time keeps a forged signature from being found a
/// byte at a time by timing the client.
fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    // RFC 7677, section 3.
    const NONCE: &str = "rOprNGfwEbeRWgbNEkqO";
    const SERVER_FIRST: &str =
        "r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096";
    const CLIENT_FINAL: &str = "c=biws,r=rOprNGfwEbeRWgbNEkqO%hvYDpWUa2RaTCAfuxFIlj)hNlF$k0,p=dHzbZapWIk4jUhN+Ute9ytag9zjfMHgsqmmiz7AndVQ=";
    const SERVER_FINAL: &str = "v=6rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";

    fn rfc_client() -> ScramClient {
        ScramClient::new("user", "pencil", NONCE.to_owned())
    }

    #[test]
    fn rfc7677_vector() {
        let client = rfc_client();
        assert_eq!(client.client_first(), "n,,n=user,r=rOprNGfwEbeRWgbNEkqO");
        let (signature, client_final) =
            client.handle_server_first(SERVER_FIRST.as_bytes()).unwrap();
        assert_eq!(client_final, CLIENT_FINAL);
        signature.verify(SERVER_FINAL.as_bytes()).unwrap();
    }

    #[test]
    fn rejects_wrong_server_signature() {
        let (signature, _) = rfc_client()
            .handle_server_first(SERVER_FIRST.as_bytes())
            .unwrap();
        let forged = "v=7rriTRBi23WpRR/wtup+mMhUZUn/dB5nLTJRsjl95G4=";
        assert_eq!(
            signature.verify(forged.as_bytes()),
            Err(ScramError::SignatureMismatch)
        );
        assert_eq!(
            signature.verify(b"e=invalid-proof"),
            Err(ScramError::ServerRejected("invalid-proof".into()))
        );
        assert!(matches!(
            signature.verify(b"v=***"),
            Err(ScramError::MalformedServerFinal { .. })
        ));
    }

    #[test]
    fn rejects_bad_server_first() {
        type Check = fn(&ScramError) -> bool;
        let cases: &[(&str, Check)] = &[
            ("r=someoneelse,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096", |e| {
                matches!(e, ScramError::NonceMismatch)
            }),
            (
                "r=rOprNGfwEbeRWgbNEkqO,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                |e| matches!(e, ScramError::NonceMismatch),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=0",
                |e| matches!(e, ScramError::IterationCount { iterations: 0, .. }),
            ),
            (
                "r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4000000000",
                |e| matches!(e, ScramError::IterationCount { .. }),
            ),
            ("r=rOprNGfwEbeRWgbNEkqOxyz,s=!!,i=4096", |e| {
                matches!(e, ScramError::MalformedServerFirst { .. })
            }),
            (
                "m=ext,r=rOprNGfwEbeRWgbNEkqOxyz,s=W22ZaJ0SNY7soEsUEjb6gQ==,i=4096",
                |e| matches!(e, ScramError::MalformedServerFirst { .. }),
            ),
            ("r=rOprNGfwEbeRWgbNEkqOxyz", |e| {
                matches!(e, ScramError::MalformedServerFirst { .. })
            }),
            ("", |e| matches!(e, ScramError::MalformedServerFirst { .. })),
        ];
        for (input, check) in cases {
            let error = rfc_client()
                .handle_server_first(input.as_bytes())
                .err()
                .unwrap_or_else(|| panic!("{input:?} was accepted"));
            assert!(check(&error), "{input:?} gave {error:?}");
        }
        assert!(rfc_client().handle_server_first(&[0xff, 0xfe]).is_err());
    }

    #[test]
    fn nonce_seed_must_be_long_enough() {
        assert!(matches!(
            nonce_from_seed(&[0; 17]),
            Err(ScramError::NonceSeedTooShort { len: 17, min: 18 })
        ));
        let nonce = nonce_from_seed(&[0xfb; 18]).unwrap();
        assert_eq!(nonce.len(), 24);
        assert!(!nonce.contains(','));
    }

    #[test]
    fn escapes_username_and_preps_password() {
        // A build without the `saslprep` feature needs the NFKC a host supplies.
        set_nfkc(rust_nfkc);
        let client = ScramClient::new("a=b,c", "pass\u{00A0}word", "n".into());
        assert_eq!(client.client_first(), "n,,n=a=3Db=2Cc,r=n");
        assert_eq!(client.password, b"pass word");
        let raw = ScramClient::new("", "bad\u{0007}", "n".into());
        assert_eq!(raw.password, "bad\u{0007}".as_bytes());
    }

    fn rust_nfkc(s: &str) -> String {
        use unicode_normalization::UnicodeNormalization;
        s.nfkc().collect()
    }

    /// The SASLprep a build without the `saslprep` feature runs (with the
    /// host's NFKC) must agree with the stringprep crate's, or a wasm client
    /// and the server would derive different keys from the same password.
    #[test]
    fn saslprep_with_a_supplied_nfkc_matches_stringprep() {
        let samples = [
            "",
            "plain",
            "pass\u{00A0}word",
            "caf\u{00E9}",
            "cafe\u{0301}",
            "soft\u{00AD}hyphen",
            "\u{FB01}ligature\u{2168}",
            "\u{FF21}\u{FF22}",
            "\u{212B}",
            "bad\u{0007}",
            "\u{E000}private",
            "smile\u{1F600}",
            "\u{0301}starts combining",
            "\u{05D0}\u{05D1}",
            "\u{05D0}a\u{05D1}",
            "\u{05D0}1",
            "\u{0627}\u{0644}\u{0661}\u{0627}",
            "\u{2028}",
            "\u{200B}zero\u{FEFF}width",
            "\u{1D400}",
        ];
        for s in samples {
            let expected = stringprep::saslprep(s).ok().map(|p| p.into_owned());
            assert_eq!(saslprep_with(s, rust_nfkc), expected, "{s:?}");
        }
        for c in (0..0x11_0000u32).step_by(3).filter_map(char::from_u32) {
            for s in [
                format!("{c}"),
                format!("a{c}b"),
                format!("\u{05D0}{c}\u{05D1}"),
            ] {
                let expected = stringprep::saslprep(&s).ok().map(|p| p.into_owned());
                assert_eq!(saslprep_with(&s, rust_nfkc), expected, "{s:?}");
            }
        }
    }
}
