//! Test keys, a token signer, and an in-process JWKS server that counts its requests.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::{AsDer, Pkcs8V1Der};
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize, PublicKeyComponents};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use serde_json::{Value, json};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpListener;

/// One RSA key pair, as a Clerk instance would hold it.
pub(crate) struct TestKey {
    pair: RsaKeyPair,
    /// SPKI PEM of the public key, as Clerk shows it in `CLERK_JWT_KEY`.
    pub(crate) pem: String,
}

impl TestKey {
    fn generate() -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("generate RSA key");
        let der = pair.public_key().as_der().expect("public key DER");
        let pem = armour("PUBLIC KEY", der.as_ref());
        TestKey { pair, pem }
    }

    /// The base64 body of the SPKI PEM, on one line, without the armour.
    pub(crate) fn spki_base64(&self) -> String {
        self.pem
            .lines()
            .filter(|line| !line.starts_with("-----"))
            .collect()
    }

    /// The public key as a PKCS#1 `RSA PUBLIC KEY` PEM (`SEQUENCE { n, e }`).
    pub(crate) fn pkcs1_pem(&self) -> String {
        let c = PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key());
        let mut integers = der_integer(&c.n);
        integers.extend(der_integer(&c.e));
        let der = der_tlv(0x30, &integers);
        armour("RSA PUBLIC KEY", &der)
    }

    /// The private key, PKCS#8 DER: what must never be accepted as `CLERK_JWT_KEY`.
    pub(crate) fn private_pkcs8_der(&self) -> Vec<u8> {
        let der: Pkcs8V1Der<'static> = self.pair.as_der().expect("PKCS#8 DER");
        der.as_ref().to_vec()
    }

    /// The public key as a JWK with this `kid` and `alg`.
    pub(crate) fn jwk(&self, kid: &str, alg: &str) -> Value {
        let c = PublicKeyComponents::<Vec<u8>>::from(self.pair.public_key());
        json!({
            "use": "sig", "kty": "RSA", "kid": kid, "alg": alg,
            "n": URL_SAFE_NO_PAD.encode(&c.n), "e": URL_SAFE_NO_PAD.encode(&c.e),
        })
    }

    /// A compact JWS over `header` and `claims`, signed with the algorithm named by the
    /// header's `alg` (RS256/384/512).
    pub(crate) fn sign(&self, header: &Value, claims: &Value) -> String {
        let encoding: &'static dyn signature::RsaEncoding = match header["alg"].as_str() {
            Some("RS256") => &signature::RSA_PKCS1_SHA256,
            Some("RS384") => &signature::RSA_PKCS1_SHA384,
            Some("RS512") => &signature::RSA_PKCS1_SHA512,
            other => panic!("test signer does not do {other:?}"),
        };
        let input = signing_input(header, claims);
        let mut sig = vec![0; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(encoding, &rng, input.as_bytes(), &mut sig)
            .expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }

    /// An RS256 token with this `kid` (none when `kid` is `None`).
    pub(crate) fn token(&self, kid: Option<&str>, claims: &Value) -> String {
        let mut header = json!({"alg": "RS256", "typ": "JWT"});
        if let Some(kid) = kid {
            header["kid"] = json!(kid);
        }
        self.sign(&header, claims)
    }
}

/// A PEM block with 64-character lines and LF line ends.
pub(crate) fn armour(label: &str, der: &[u8]) -> String {
    let b64 = STANDARD.encode(der);
    let mut pem = format!("-----BEGIN {label}-----\n");
    for line in b64.as_bytes().chunks(64) {
        pem.push_str(std::str::from_utf8(line).unwrap());
        pem.push('\n');
    }
    pem.push_str(&format!("-----END {label}-----\n"));
    pem
}

fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .into_iter()
            .skip_while(|&b| b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend(bytes);
    }
    out.extend_from_slice(content);
    out
}

/// A DER INTEGER for an unsigned big-endian magnitude.
fn der_integer(magnitude: &[u8]) -> Vec<u8> {
    let trimmed: Vec<u8> = magnitude.iter().copied().skip_while(|&b| b == 0).collect();
    let mut content = Vec::with_capacity(trimmed.len() + 1);
    if trimmed.first().is_none_or(|&b| b & 0x80 != 0) {
        content.push(0);
    }
    content.extend(trimmed);
    der_tlv(0x02, &content)
}

pub(crate) fn signing_input(header: &Value, claims: &Value) -> String {
    format!(
        "{}.{}",
        URL_SAFE_NO_PAD.encode(header.to_string()),
        URL_SAFE_NO_PAD.encode(claims.to_string())
    )
}

/// Three keys generated once per test binary: RSA generation is the slow part of setup.
pub(crate) fn keys() -> &'static [TestKey; 3] {
    static KEYS: OnceLock<[TestKey; 3]> = OnceLock::new();
    KEYS.get_or_init(|| {
        [
            TestKey::generate(),
            TestKey::generate(),
            TestKey::generate(),
        ]
    })
}

pub(crate) fn key_a() -> &'static TestKey {
    &keys()[0]
}
pub(crate) fn key_b() -> &'static TestKey {
    &keys()[1]
}
pub(crate) fn key_c() -> &'static TestKey {
    &keys()[2]
}

pub(crate) fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64
}

/// Claims of a typical v1 Clerk session token issued `now`, valid for 60 s.
pub(crate) fn claims_at(now: i64) -> Value {
    json!({
        "azp": "https://app.example.com",
        "exp": now + 60,
        "iat": now - 1,
        "iss": "https://clerk.example.com",
        "nbf": now - 1,
        "sid": "sess_123",
        "sub": "user_123",
    })
}

pub(crate) fn claims() -> Value {
    claims_at(now())
}

/// What the JWKS server answers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Mode {
    Serve,
    /// HTTP 503.
    Down,
    /// HTTP 200 with a body that is not a JWKS.
    Garbage,
}

struct ServerState {
    jwks: Mutex<Value>,
    mode: Mutex<Mode>,
    delay: Mutex<Duration>,
    bearer: Option<String>,
    requests: AtomicUsize,
    paths: Mutex<Vec<String>>,
}

/// A minimal HTTP/1.1 responder on 127.0.0.1 serving a JWKS.
#[derive(Clone)]
pub(crate) struct JwksServer {
    state: Arc<ServerState>,
    base: String,
}

impl JwksServer {
    /// Serves `jwks` at any path, to anyone.
    pub(crate) async fn start(jwks: Value) -> Self {
        Self::start_inner(jwks, None).await
    }

    /// Serves `jwks` only with `Authorization: Bearer <secret>`; 401 otherwise.
    pub(crate) async fn start_with_bearer(jwks: Value, secret: &str) -> Self {
        Self::start_inner(jwks, Some(format!("Bearer {secret}"))).await
    }

    async fn start_inner(jwks: Value, bearer: Option<String>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let state = Arc::new(ServerState {
            jwks: Mutex::new(jwks),
            mode: Mutex::new(Mode::Serve),
            delay: Mutex::new(Duration::ZERO),
            bearer,
            requests: AtomicUsize::new(0),
            paths: Mutex::new(Vec::new()),
        });
        let accept_state = state.clone();
        tokio::spawn(async move {
            loop {
                let Ok((stream, _)) = listener.accept().await else {
                    return;
                };
                tokio::spawn(respond(stream, accept_state.clone()));
            }
        });
        JwksServer { state, base }
    }

    /// `http://127.0.0.1:<port>`.
    pub(crate) fn base(&self) -> &str {
        &self.base
    }

    pub(crate) fn jwks_url(&self) -> String {
        format!("{}/.well-known/jwks.json", self.base)
    }

    pub(crate) fn requests(&self) -> usize {
        self.state.requests.load(Ordering::SeqCst)
    }

    pub(crate) fn paths(&self) -> Vec<String> {
        self.state.paths.lock().unwrap().clone()
    }

    pub(crate) fn set_jwks(&self, jwks: Value) {
        *self.state.jwks.lock().unwrap() = jwks;
    }

    pub(crate) fn set_mode(&self, mode: Mode) {
        *self.state.mode.lock().unwrap() = mode;
    }

    pub(crate) fn set_delay(&self, delay: Duration) {
        *self.state.delay.lock().unwrap() = delay;
    }
}

pub(crate) fn jwks(keys: &[Value]) -> Value {
    json!({ "keys": keys })
}

async fn respond(mut stream: tokio::net::TcpStream, state: Arc<ServerState>) {
    let mut buf = Vec::new();
    let mut chunk = [0u8; 1024];
    while !buf.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk).await {
            Ok(0) | Err(_) => return,
            Ok(n) => buf.extend_from_slice(&chunk[..n]),
        }
        if buf.len() > 64 * 1024 {
            return;
        }
    }
    state.requests.fetch_add(1, Ordering::SeqCst);
    let head = String::from_utf8_lossy(&buf).into_owned();
    let path = head
        .split_whitespace()
        .nth(1)
        .unwrap_or_default()
        .to_owned();
    state.paths.lock().unwrap().push(path);
    let authorization = head
        .lines()
        .filter_map(|l| l.split_once(':'))
        .find(|(name, _)| name.trim().eq_ignore_ascii_case("authorization"))
        .map(|(_, v)| v.trim().to_owned());
    let delay = *state.delay.lock().unwrap();
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let mode = *state.mode.lock().unwrap();
    let (status, body) = if state.bearer.is_some() && authorization != state.bearer {
        ("401 Unauthorized", r#"{"errors":[]}"#.to_owned())
    } else {
        match mode {
            Mode::Serve => ("200 OK", state.jwks.lock().unwrap().to_string()),
            Mode::Down => ("503 Service Unavailable", "down".to_owned()),
            Mode::Garbage => ("200 OK", "<html>not a key set</html>".to_owned()),
        }
    };
    let response = format!(
        "HTTP/1.1 {status}\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    let _ = stream.write_all(response.as_bytes()).await;
    let _ = stream.shutdown().await;
}
