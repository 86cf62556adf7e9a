//! One RSA verification key, parsed once and pinned to one algorithm.

use aws_lc_rs::signature::{self as sig, ParsedPublicKey, RsaPublicKeyComponents};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
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
    /// A PEM public key: SPKI (`BEGIN PUBLIC KEY`, what Clerk shows as `CLERK_JWT_KEY`) or
    /// PKCS#1 (`BEGIN RSA PUBLIC KEY`). Escaped `\n` sequences, as found in single-line
    /// environment variables, are accepted. A PEM carries no algorithm, so it is pinned to
    /// RS256, the algorithm Clerk signs session tokens with.
    pub(crate) fn from_pem(pem: &str) -> Result<Self, JwtError> {
        let pem = pem.replace("\\n", "\n");
        let mut body = String::with_capacity(pem.len());
        let mut in_block = false;
        let mut saw_end = false;
        for line in pem.lines().map(str::trim) {
            if line.starts_with("-----BEGIN ") {
                if !(line == "-----BEGIN PUBLIC KEY-----"
                    || line == "-----BEGIN RSA PUBLIC KEY-----")
                {
                    return Err(JwtError::InvalidConfiguration(
                        "PEM is not an RSA public key",
                    ));
                }
                in_block = true;
            } else if line.starts_with("-----END ") {
                saw_end = in_block;
                break;
            } else if in_block {
                body.push_str(line);
            }
        }
        if !saw_end {
            return Err(JwtError::InvalidConfiguration(
                "PEM has no public key block",
            ));
        }
        let der = STANDARD
            .decode(body.as_bytes())
            .map_err(|_| JwtError::InvalidConfiguration("PEM body is not base64"))?;
        Self::from_der(Algorithm::Rs256, &der)
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
