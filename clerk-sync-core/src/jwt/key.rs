//! One RSA verification key, parsed once and pinned to one algorithm.

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::engine::{DecodePaddingMode, GeneralPurpose, GeneralPurposeConfig};
use serde::Deserialize;

use super::error::JwtError;

/// The only algorithms a Clerk session token may use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Algorithm {
    Rs256,
    Rs384,
    Rs512,
}

impl Algorithm {
    /// `None` for everything else: `none`, HS*, ES*, PS*, EdDSA, and unknown names.
    pub(crate) fn from_name(name: &str) -> Option<Self> {
        match name {
            "RS256" => Some(Algorithm::Rs256),
            "RS384" => Some(Algorithm::Rs384),
            "RS512" => Some(Algorithm::Rs512),
            _ => None,
        }
    }

    // The 2048..=8192-bit variants refuse short RSA keys at verification time.
    fn params(self) -> &'static sig::RsaParameters {
        match self {
            Algorithm::Rs256 => &sig::RSA_PKCS1_2048_8192_SHA256,
            Algorithm::Rs384 => &sig::RSA_PKCS1_2048_8192_SHA384,
            Algorithm::Rs512 => &sig::RSA_PKCS1_2048_8192_SHA512,
        }
    }
}

/// A public key parsed once, so each verification skips DER/modulus parsing (the bare
/// `jsonwebtoken::decode` re-parses the key on every call).
pub(crate) struct VerificationKey {
    alg: Algorithm,
    key: ParsedPublicKey,
}

impl std::fmt::Debug for VerificationKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VerificationKey")
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

impl VerificationKey {
    /// The instance's public key as users paste it into `CLERK_JWT_KEY`, in any of these forms:
    ///
    /// - a PEM, SPKI (`BEGIN PUBLIC KEY`, what Clerk shows) or PKCS#1 (`BEGIN RSA PUBLIC KEY`),
    ///   with LF or CRLF line ends;
    /// - the same on one line, its lines joined by escaped `\n` (or `\r\n`) or by spaces;
    /// - the bare base64 body, without the armour (as Clerk's SDK accepts it too).
    ///
    /// Text around the armour is ignored. A PEM carries no algorithm, so the key is pinned to
    /// RS256, the algorithm Clerk signs session tokens with. Errors name the problem, never
    /// the text.
    pub(crate) fn from_pem(text: &str) -> Result<Self, JwtError> {
        let der = key_der(text)?;
        Self::from_der(Algorithm::Rs256, &der).map_err(|error| {
            if looks_like_private_key(&der) {
                PRIVATE_KEY
            } else {
                error
            }
        })
    }

    fn from_der(alg: Algorithm, der: &[u8]) -> Result<Self, JwtError> {
        let key = ParsedPublicKey::new(alg.params(), der)
            .map_err(|_| JwtError::InvalidConfiguration("not an RSA public key"))?;
        Ok(VerificationKey { alg, key })
    }

    /// A JWK from a key set, or `None` when it is not an RSA signing key usable here (other key
    /// types and algorithms are skipped rather than failing the whole set). A JWK without `alg`
    /// is pinned to RS256, like a PEM.
    pub(crate) fn from_jwk(jwk: &Jwk) -> Option<Self> {
        if jwk.kty != "RSA" || jwk.use_.as_deref().is_some_and(|u| u != "sig") {
            return None;
        }
        let alg = match jwk.alg.as_deref() {
            None => Algorithm::Rs256,
            Some(name) => Algorithm::from_name(name)?,
        };
        let n = URL_SAFE_NO_PAD.decode(jwk.n.as_deref()?).ok()?;
        let e = URL_SAFE_NO_PAD.decode(jwk.e.as_deref()?).ok()?;
        let key = RsaPublicKeyComponents { n: &n, e: &e }
            .to_parsed_public_key(alg.params())
            .ok()?;
        Some(VerificationKey { alg, key })
    }

    pub(crate) fn alg(&self) -> Algorithm {
        self.alg
    }

    /// `true` when `signature` is valid for `message` under this key and its algorithm.
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        self.key.verify_sig(message, signature).is_ok()
    }
}

const PRIVATE_KEY: JwtError = JwtError::InvalidConfiguration(
    "the key is a private key: give the instance's PEM public key instead",
);

const BEGIN: &str = "-----BEGIN ";
const END: &str = "-----END ";
const DASHES: &str = "-----";

/// The DER bytes of a key in one of the forms [`VerificationKey::from_pem`] accepts.
fn key_der(text: &str) -> Result<Vec<u8>, JwtError> {
    // Single-line environment variables often hold the PEM with escaped line breaks; a
    // backslash never occurs in PEM or base64 text, so this cannot damage a key.
    let text = text.replace("\\r", "\n").replace("\\n", "\n");
    let body = match text.find(BEGIN) {
        Some(start) => armoured_body(&text[start + BEGIN.len()..])?,
        None if text.contains(END) => {
            return Err(JwtError::InvalidConfiguration("PEM has no BEGIN line"));
        }
        // Quotes a `.env` file or a shell left around the value are not part of the key.
        None => text.trim().trim_matches(|c| c == '"' || c == '\''),
    };
    // PEM lines may have been joined with spaces, or split with CRLF.
    let body: String = body.split_ascii_whitespace().collect();
    if body.is_empty() {
        return Err(JwtError::InvalidConfiguration("key is empty"));
    }
    LENIENT_STANDARD
        .decode(body.as_bytes())
        .or_else(|_| LENIENT_URL_SAFE.decode(body.as_bytes()))
        .map_err(|_| JwtError::InvalidConfiguration("key is neither PEM nor base64"))
}

/// The text between the armour lines, given the text right after `-----BEGIN `. The armour
/// need not sit on lines of its own: a PEM pasted on one line has it joined by spaces.
fn armoured_body(after_begin: &str) -> Result<&str, JwtError> {
    let (label, rest) = after_begin
        .split_once(DASHES)
        .ok_or(JwtError::InvalidConfiguration(
            "PEM BEGIN line is incomplete",
        ))?;
    match label {
        "PUBLIC KEY" | "RSA PUBLIC KEY" => {}
        _ if label.contains("PRIVATE") => return Err(PRIVATE_KEY),
        _ => {
            return Err(JwtError::InvalidConfiguration(
                "PEM is not an RSA public key",
            ));
        }
    }
    let (body, after_end) = rest
        .split_once(END)
        .ok_or(JwtError::InvalidConfiguration("PEM has no END line"))?;
    if after_end
        .strip_prefix(label)
        .is_none_or(|tail| !tail.starts_with(DASHES))
    {
        return Err(JwtError::InvalidConfiguration(
            "PEM END line does not match its BEGIN line",
        ));
    }
    Ok(body)
}

/// Padding is often lost when a key is copied by hand; it carries no information.
const LENIENT: GeneralPurposeConfig =
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent);
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(&alphabet::STANDARD, LENIENT);
const LENIENT_URL_SAFE: GeneralPurpose = GeneralPurpose::new(&alphabet::URL_SAFE, LENIENT);

/// `true` for DER that starts like a private key: a SEQUENCE whose first member is the
/// small version INTEGER of PKCS#8 (0 or 1) or PKCS#1 `RSAPrivateKey` (0). Public keys start
/// with an algorithm SEQUENCE (SPKI) or the modulus (PKCS#1), so they never match. Only used
/// to make the error message say what went wrong.
fn looks_like_private_key(der: &[u8]) -> bool {
    let [0x30, first_len, rest @ ..] = der else {
        return false;
    };
    // The SEQUENCE length: short form, or long form with 1..=4 length bytes.
    let skip = match *first_len {
        0..=0x7f => 0,
        0x81..=0x84 => usize::from(first_len - 0x80),
        _ => return false,
    };
    matches!(rest.get(skip..), Some([0x02, 0x01, 0x00 | 0x01, ..]))
}

/// The JWK fields needed to build an RSA verification key.
#[derive(Debug, Deserialize)]
pub(crate) struct Jwk {
    pub(crate) kty: String,
    #[serde(default)]
    pub(crate) kid: Option<String>,
    #[serde(default)]
    pub(crate) alg: Option<String>,
    #[serde(default, rename = "use")]
    pub(crate) use_: Option<String>,
    #[serde(default)]
    pub(crate) n: Option<String>,
    #[serde(default)]
    pub(crate) e: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_key_sniffing() {
        // PKCS#8 `PrivateKeyInfo` and PKCS#1 `RSAPrivateKey` both open with version 0.
        assert!(looks_like_private_key(&[
            0x30, 0x82, 0x04, 0xbe, 0x02, 0x01, 0x00, 0x30
        ]));
        assert!(looks_like_private_key(&[
            0x30, 0x81, 0x90, 0x02, 0x01, 0x01
        ]));
        assert!(looks_like_private_key(&[0x30, 0x10, 0x02, 0x01, 0x00]));
        // SPKI opens with the algorithm SEQUENCE, PKCS#1 public keys with the long modulus.
        assert!(!looks_like_private_key(&[
            0x30, 0x82, 0x01, 0x22, 0x30, 0x0d
        ]));
        assert!(!looks_like_private_key(&[
            0x30, 0x82, 0x01, 0x0a, 0x02, 0x82, 0x01, 0x01
        ]));
        assert!(!looks_like_private_key(&[0x30]));
        assert!(!looks_like_private_key(&[]));
        assert!(!looks_like_private_key(&[
            0x30, 0x85, 0, 0, 0, 0, 0, 0x02, 0x01, 0x00
        ]));
    }
}
