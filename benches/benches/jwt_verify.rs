//! Session-token verification against the bare `jsonwebtoken::decode` (aws_lc_rs) of the same
//! token with the same key, in the same run.
//!
//! Targets (issues 3 and 14): a first verification (no token-cache hit) at most 1.1x the bare
//! decode; a repeat verification (token-cache hit) at least 20x faster than it. Since issue 14
//! the verifier also checks the token class (`cat`, `mch_`) and reads permission masks exactly.
//!
//! `cargo bench -p clerk-sync-benches --bench jwt_verify -- --warm-up-time 1 --measurement-time 3`

use std::hint::black_box;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_lc_rs::encoding::AsDer;
use aws_lc_rs::rsa::{KeyPair as RsaKeyPair, KeySize};
use aws_lc_rs::signature::{self, KeyPair as _};
use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use clerk_sync_core::jwt::JwtVerifier;
use criterion::{Criterion, criterion_group, criterion_main};
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Value, json};

/// Distinct tokens for the cache-miss benchmark; each batch of iterations gets a fresh cache.
const FRESH_TOKENS: usize = 1_000;

struct Fixture {
    pem: String,
    pair: RsaKeyPair,
}

impl Fixture {
    fn new() -> Self {
        let pair = RsaKeyPair::generate(KeySize::Rsa2048).expect("RSA key");
        let der = pair.public_key().as_der().expect("SPKI DER");
        let b64 = STANDARD.encode(der.as_ref());
        let body: Vec<&str> = b64
            .as_bytes()
            .chunks(64)
            .map(|c| std::str::from_utf8(c).unwrap())
            .collect();
        let pem = format!(
            "-----BEGIN PUBLIC KEY-----\n{}\n-----END PUBLIC KEY-----\n",
            body.join("\n")
        );
        Fixture { pem, pair }
    }

    /// A token shaped like a real Clerk v2 session token with an active organization, with the
    /// session category in its header as Clerk now stamps it.
    fn token(&self, session: usize) -> String {
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let header = json!({
            "alg": "RS256", "typ": "JWT", "kid": "ins_2abcdefghijklmnopqrstuvwx",
            "cat": "cl_B7d4PD111AAA",
        });
        let claims = json!({
            "azp": "https://app.example.com",
            "exp": now + 86_400,
            "fea": "o:dashboard,o:billing,u:profile",
            "fva": [2, -1],
            "iat": now - 1,
            "iss": "https://clerk.example.com",
            "jti": format!("{session:020x}"),
            "nbf": now - 11,
            "o": {"id": "org_2abcdefghijklmnopqrstuvwx", "slg": "acme", "rol": "admin",
                  "per": "manage,read", "fpm": "3,2"},
            "pla": "o:pro",
            "sid": format!("sess_2abcdefghijklmnop{session:06}"),
            "sts": "active",
            "sub": "user_2abcdefghijklmnopqrstuvwx",
            "v": 2,
        });
        let input = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut sig = vec![0; self.pair.public_modulus_len()];
        let rng = aws_lc_rs::rand::SystemRandom::new();
        self.pair
            .sign(
                &signature::RSA_PKCS1_SHA256,
                &rng,
                input.as_bytes(),
                &mut sig,
            )
            .expect("sign");
        format!("{input}.{}", URL_SAFE_NO_PAD.encode(sig))
    }
}

fn jwt_verify(c: &mut Criterion) {
    let fixture = Fixture::new();
    let token = fixture.token(0);
    let fresh: Vec<String> = (1..=FRESH_TOKENS).map(|i| fixture.token(i)).collect();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();

    let key = DecodingKey::from_rsa_pem(fixture.pem.as_bytes()).unwrap();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.leeway = 5;
    validation.validate_nbf = true;
    // Sanity: every contender accepts the token before anything is timed.
    jsonwebtoken::decode::<Value>(&token, &key, &validation).expect("baseline accepts");
    let uncached = JwtVerifier::from_pem(&fixture.pem)
        .unwrap()
        .without_token_cache();
    let cached = JwtVerifier::from_pem(&fixture.pem).unwrap();
    runtime.block_on(async {
        uncached.verify(&token).await.expect("verifier accepts");
        cached.verify(&token).await.expect("verifier accepts");
    });

    let mut group = c.benchmark_group("jwt_verify");
    group.bench_function("baseline_jsonwebtoken_decode", |b| {
        b.iter(|| jsonwebtoken::decode::<Value>(black_box(&token), &key, &validation).unwrap())
    });
    group.bench_function("first_verification_without_cache", |b| {
        b.to_async(&runtime)
            .iter(|| async { uncached.verify(black_box(&token)).await.unwrap() })
    });
    group.bench_function("first_verification_cache_miss", |b| {
        // Fresh tokens through a cache-enabled verifier: the miss path including hash + insert.
        b.to_async(&runtime).iter_custom(|iters| {
            let (fixture_pem, fresh) = (&fixture.pem, &fresh);
            async move {
                let mut total = Duration::ZERO;
                let mut left = iters as usize;
                while left > 0 {
                    let batch = left.min(FRESH_TOKENS);
                    let verifier = JwtVerifier::from_pem(fixture_pem).unwrap();
                    let start = Instant::now();
                    for token in &fresh[..batch] {
                        black_box(verifier.verify(black_box(token)).await.unwrap());
                    }
                    total += start.elapsed();
                    left -= batch;
                }
                total
            }
        })
    });
    group.bench_function("repeat_verification_cache_hit", |b| {
        b.to_async(&runtime)
            .iter(|| async { cached.verify(black_box(&token)).await.unwrap() })
    });
    group.bench_function("repeat_verification_cache_hit_shared", |b| {
        b.to_async(&runtime)
            .iter(|| async { cached.verify_shared(black_box(&token)).await.unwrap() })
    });
    group.finish();

    interleaved_ratios(&fixture, &token, &fresh, &key, &validation, &runtime);
}

/// The machine these run on is shared, and its load swings within seconds, so the criterion
/// figures above (measured one after another) can disagree by 2x between runs. Here every
/// contender runs in each of many short rounds, interleaved, and the medians are compared:
/// load changes hit all of them alike, so the ratios are stable.
fn interleaved_ratios(
    fixture: &Fixture,
    token: &str,
    fresh: &[String],
    key: &DecodingKey,
    validation: &Validation,
    runtime: &tokio::runtime::Runtime,
) {
    const ROUNDS: usize = 31;
    const SLOW: u32 = 200;
    const FAST: u32 = 5_000;
    let uncached = JwtVerifier::from_pem(&fixture.pem)
        .unwrap()
        .without_token_cache();
    let cached = JwtVerifier::from_pem(&fixture.pem).unwrap();
    let per_iter = |elapsed: Duration, n: u32| elapsed.as_secs_f64() * 1e6 / f64::from(n);
    let (mut base, mut first, mut miss, mut hit, mut shared) =
        (Vec::new(), Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..ROUNDS {
        let start = Instant::now();
        for _ in 0..SLOW {
            black_box(jsonwebtoken::decode::<Value>(black_box(token), key, validation).unwrap());
        }
        base.push(per_iter(start.elapsed(), SLOW));
        runtime.block_on(async {
            let start = Instant::now();
            for _ in 0..SLOW {
                black_box(uncached.verify(black_box(token)).await.unwrap());
            }
            first.push(per_iter(start.elapsed(), SLOW));
            let fresh_cache = JwtVerifier::from_pem(&fixture.pem).unwrap();
            let start = Instant::now();
            for token in &fresh[..SLOW as usize] {
                black_box(fresh_cache.verify(black_box(token)).await.unwrap());
            }
            miss.push(per_iter(start.elapsed(), SLOW));
            let start = Instant::now();
            for _ in 0..FAST {
                black_box(cached.verify(black_box(token)).await.unwrap());
            }
            hit.push(per_iter(start.elapsed(), FAST));
            let start = Instant::now();
            for _ in 0..FAST {
                black_box(cached.verify_shared(black_box(token)).await.unwrap());
            }
            shared.push(per_iter(start.elapsed(), FAST));
        });
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (base, first, miss, hit, shared) = (
        median(&mut base),
        median(&mut first),
        median(&mut miss),
        median(&mut hit),
        median(&mut shared),
    );
    println!("\ninterleaved medians over {ROUNDS} rounds (µs per verification):");
    println!("  baseline jsonwebtoken::decode      {base:8.3}");
    println!(
        "  first verification, no cache       {first:8.3}  = {:.3}x baseline (target <= 1.1x)",
        first / base
    );
    println!(
        "  first verification, cache miss     {miss:8.3}  = {:.3}x baseline (target <= 1.1x)",
        miss / base
    );
    println!(
        "  repeat verification (cache hit)    {hit:8.3}  = {:.1}x faster (target >= 20x)",
        base / hit
    );
    println!(
        "  repeat verify_shared (cache hit)   {shared:8.3}  = {:.1}x faster",
        base / shared
    );
}

criterion_group!(benches, jwt_verify);
criterion_main!(benches);
