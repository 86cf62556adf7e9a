//! Why a session token was refused, or why keys could not be obtained.

/// The `WWW-Authenticate` value adapters send with a 401 for a refused token (RFC 6750 §3.1).
pub const WWW_AUTHENTICATE_INVALID_TOKEN: &str = r#"Bearer error="invalid_token""#;

/// Why [`JwtVerifier::verify`](super::JwtVerifier::verify) refused a token, or why a verifier
/// could not be built.
///
/// Messages name the failed check only: they never contain the token, its claims or key
/// material, so they are safe to log and to return to clients.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum JwtError {
    /// The token is not three base64url parts with a JSON header and payload.
    #[error("malformed token: {0}")]
    Malformed(&'static str),
    /// The header's `alg` is not RS256, RS384 or RS512 (`none`, HS*, ES*, PS* ... are refused).
    #[error("token algorithm is not allowed")]
    DisallowedAlgorithm,
    /// The header's `alg` differs from the algorithm the key is pinned to.
    #[error("token algorithm does not match the key's algorithm")]
    AlgorithmMismatch,
    /// The header has a `typ` other than `JWT`.
    #[error("token type is not JWT")]
    InvalidType,
    /// No key with the token's `kid` (or the token has no `kid` and the key source needs one),
    /// even after the allowed refetch of the key set.
    #[error("no key matches the token's key id")]
    UnknownKey,
    /// The signature does not verify with the selected key.
    #[error("token signature is invalid")]
    BadSignature,
    /// `exp` is in the past by more than the leeway.
    #[error("token has expired")]
    Expired,
    /// `nbf` is in the future by more than the leeway.
    #[error("token is not valid yet")]
    NotYetValid,
    /// `iat` is in the future by more than the leeway.
    #[error("token was issued in the future")]
    IssuedInFuture,
    /// A required claim is absent (`exp`, `sub`, or `azp` when authorized parties are set; an
    /// empty `azp` counts as absent).
    #[error("token lacks the required `{0}` claim")]
    MissingClaim(&'static str),
    /// A claim has the wrong JSON type or shape.
    #[error("token claim `{0}` is invalid")]
    InvalidClaim(&'static str),
    /// `azp` is not one of the configured authorized parties.
    #[error("token's authorized party is not allowed")]
    UnauthorizedParty,
    /// `iss` is absent or differs from the configured issuer.
    #[error("token issuer is not the expected one")]
    InvalidIssuer,
    /// The token is validly signed by the instance but is not a session token: a JWT-template
    /// token, a machine token, or a class this library does not know. Clerk signs all of them
    /// with the same instance key, so only these markers tell them apart.
    #[error("token is not a session token: {0}")]
    TokenTypeMismatch(TokenClass),
    /// The session is `pending` and the verifier was told to reject pending sessions.
    #[error("session is pending")]
    PendingSession,
    /// The key set could not be fetched and no usable cached key exists.
    #[error("verification keys are unavailable")]
    KeySourceUnavailable(#[source] KeySourceError),
    /// The configured key (PEM) or key source (URL) is unusable.
    #[error("invalid verifier configuration: {0}")]
    InvalidConfiguration(&'static str),
}

impl JwtError {
    /// The `WWW-Authenticate` header value for the 401 an adapter sends with this error.
    pub fn www_authenticate(&self) -> &'static str {
        WWW_AUTHENTICATE_INVALID_TOKEN
    }

    /// `true` when the token itself was refused (answer 401); `false` when the server could
    /// not decide (keys unavailable, bad configuration: answer 503/500 and alert).
    pub fn is_token_error(&self) -> bool {
        !matches!(
            self,
            JwtError::KeySourceUnavailable(_) | JwtError::InvalidConfiguration(_)
        )
    }

    /// A stable, machine-readable code for logs, metrics and JSON error bodies.
    pub fn code(&self) -> &'static str {
        match self {
            JwtError::Malformed(_) => "token_malformed",
            JwtError::DisallowedAlgorithm => "algorithm_not_allowed",
            JwtError::AlgorithmMismatch => "algorithm_mismatch",
            JwtError::InvalidType => "token_type_invalid",
            JwtError::UnknownKey => "unknown_key",
            JwtError::BadSignature => "signature_invalid",
            JwtError::Expired => "token_expired",
            JwtError::NotYetValid => "token_not_yet_valid",
            JwtError::IssuedInFuture => "token_issued_in_future",
            JwtError::MissingClaim(_) => "claim_missing",
            JwtError::InvalidClaim(_) => "claim_invalid",
            JwtError::UnauthorizedParty => "unauthorized_party",
            JwtError::InvalidIssuer => "issuer_invalid",
            JwtError::TokenTypeMismatch(_) => "token_type_mismatch",
            JwtError::PendingSession => "session_pending",
            JwtError::KeySourceUnavailable(_) => "keys_unavailable",
            JwtError::InvalidConfiguration(_) => "configuration_invalid",
        }
    }
}

/// What a refused non-session token turned out to be ([`JwtError::TokenTypeMismatch`]).
///
/// Clerk marks the class of a JWT in the protected header's `cat` value, and machine tokens by
/// a `sub` starting with `mch_`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenClass {
    /// `cat` is `cl_B7d4PD222AAA`: a token minted from a JWT template. It has no session behind
    /// it and outlives the revocation of the session that minted it.
    JwtTemplate,
    /// `cat` is `cl_B7d4PD333AAA`: a machine-to-machine token.
    MachineToMachine,
    /// `cat` is present but neither the session nor the "ignore" value (including `null` and
    /// non-string values): a class this library does not know, so not a session.
    UnknownCategory,
    /// `sub` starts with `mch_`: the subject is a machine, not a user.
    MachineSubject,
}

impl std::fmt::Display for TokenClass {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            TokenClass::JwtTemplate => "JWT template token",
            TokenClass::MachineToMachine => "machine-to-machine token",
            TokenClass::UnknownCategory => "unknown token category",
            TokenClass::MachineSubject => "machine subject",
        })
    }
}

/// Why the key set (JWKS) could not be obtained.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KeySourceError {
    /// The HTTP request failed (connection, timeout, TLS, body).
    #[error("key set request failed")]
    Request(#[source] reqwest::Error),
    /// The endpoint answered with a non-success status.
    #[error("key set endpoint answered HTTP {0}")]
    Status(u16),
    /// The body is not a JWKS, or is larger than allowed.
    #[error("key set response is invalid: {0}")]
    InvalidKeySet(&'static str),
    /// The JWKS parsed but holds no RSA signing key usable here.
    #[error("key set holds no usable RSA signing key")]
    NoUsableKeys,
    /// The last fetch failed and the minimum refetch interval has not passed yet.
    #[error("key set fetch is backing off after a failure")]
    BackingOff,
}
