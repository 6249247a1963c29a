//! DC/OS IAM service-account login (`MesosAuthentication: iam`): a login token signed
//! with the account's RSA key (RS256 JWT) is exchanged at `login_endpoint` for an
//! authentication token, which then goes on state requests as `Authorization: token=T`.
//!
//! The reference logs in before every state request; the token here is kept until
//! shortly before it expires (read from its own `exp` claim) or until a master refuses it.

use crate::config::IamConfig;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD as BASE64URL;
use ring::rand::SystemRandom;
use ring::signature::{RSA_PKCS1_SHA256, RsaKeyPair};
use rustls_pki_types::PrivateKeyDer;
use rustls_pki_types::pem::PemObject;
use std::io::Read;
use std::sync::Mutex;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long the login JWT we sign is valid (as the reference: one hour).
const LOGIN_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);
/// A token is renewed this long before its `exp`, so that it never expires mid-fetch.
const RENEW_MARGIN: Duration = Duration::from_secs(300);
/// Reuse for a token whose expiry cannot be read (not a JWT, or no `exp`).
const UNKNOWN_EXPIRY_REUSE: Duration = Duration::from_secs(300);
/// The login reply is a small JSON object; anything bigger is refused.
const MAX_LOGIN_REPLY: u64 = 64 * 1024;

/// A service account ready to log in, with the token of its last login.
pub(crate) struct IamLogin {
    uid: String,
    key: RsaKeyPair,
    login_endpoint: String,
    rng: SystemRandom,
    cached: Mutex<Option<CachedToken>>,
}

struct CachedToken {
    token: String,
    renew_at: SystemTime,
}

/// Why an IAM login could not be made.
#[derive(Debug, thiserror::Error)]
pub enum IamError {
    #[error("IAMConfigFile: private_key is not a PEM private key: {0}")]
    KeyNotPem(String),
    #[error("IAMConfigFile: private_key is not an RSA key")]
    KeyNotRsa,
    #[error("IAMConfigFile: private_key is not a usable RSA key: {0}")]
    KeyUnusable(String),
    /// The login endpoint could not be reached, or its answer not read.
    #[error("IAM login at {endpoint}: {detail}")]
    Unreachable { endpoint: String, detail: String },
    #[error("IAM authentication failed: {endpoint} answered HTTP status {status}")]
    Status { endpoint: String, status: u16 },
    #[error("IAM authentication failed: {0} sent no token")]
    NoToken(String),
    #[error("IAM: signing the login token failed")]
    Signing,
}

impl IamLogin {
    /// Parses the account's private key (PEM, PKCS#1 or PKCS#8 RSA).
    pub(crate) fn new(config: &IamConfig) -> Result<IamLogin, IamError> {
        let der = PrivateKeyDer::from_pem_slice(config.private_key.as_bytes())
            .map_err(|e| IamError::KeyNotPem(e.to_string()))?;
        let key = match &der {
            PrivateKeyDer::Pkcs1(k) => RsaKeyPair::from_der(k.secret_pkcs1_der()),
            PrivateKeyDer::Pkcs8(k) => RsaKeyPair::from_pkcs8(k.secret_pkcs8_der()),
            _ => return Err(IamError::KeyNotRsa),
        }
        .map_err(|e| IamError::KeyUnusable(e.to_string()))?;
        Ok(IamLogin {
            uid: config.uid.clone(),
            key,
            login_endpoint: config.login_endpoint.clone(),
            rng: SystemRandom::new(),
            cached: Mutex::new(None),
        })
    }

    /// The `Authorization` header value for a state request: the cached token while it is
    /// fresh, else a new login.
    pub(crate) fn authorization(&self, agent: &ureq::Agent) -> Result<String, IamError> {
        let now = SystemTime::now();
        let mut cached = self.cached.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = cached.as_ref().filter(|c| now < c.renew_at) {
            return Ok(format!("token={}", c.token));
        }
        let token = self.login(agent)?;
        let renew_at = renew_time(&token, now);
        tracing::debug!(uid = %self.uid, "IAM login succeeded");
        let header = format!("token={token}");
        *cached = Some(CachedToken { token, renew_at });
        Ok(header)
    }

    /// Forgets the cached token (a master refused it).
    pub(crate) fn invalidate(&self) {
        *self.cached.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    /// POSTs `{"uid", "token": <RS256 JWT>}` to the login endpoint; returns its `token`.
    fn login(&self, agent: &ureq::Agent) -> Result<String, IamError> {
        let jwt = self.login_jwt(SystemTime::now())?;
        let body = serde_json::json!({ "uid": self.uid, "token": jwt }).to_string();
        let response = agent
            .post(&self.login_endpoint)
            .header("Content-Type", "application/json")
            .send(body.as_bytes())
            .map_err(|e| self.unreachable(e))?;
        let status = response.status().as_u16();
        if status != 200 {
            return Err(IamError::Status {
                endpoint: self.login_endpoint.clone(),
                status,
            });
        }
        let mut reply = Vec::new();
        response
            .into_body()
            .into_reader()
            .take(MAX_LOGIN_REPLY)
            .read_to_end(&mut reply)
            .map_err(|e| self.unreachable(e))?;
        serde_json::from_slice::<serde_json::Value>(&reply)
            .ok()
            .and_then(|v| v.get("token")?.as_str().map(str::to_string))
            .filter(|t| !t.is_empty() && t.bytes().all(|b| b.is_ascii_graphic()))
            .ok_or_else(|| IamError::NoToken(self.login_endpoint.clone()))
    }

    fn unreachable(&self, detail: impl std::fmt::Display) -> IamError {
        IamError::Unreachable {
            endpoint: self.login_endpoint.clone(),
            detail: detail.to_string(),
        }
    }

    /// The signed login token: claims `uid` and `exp` = now + one hour.
    fn login_jwt(&self, now: SystemTime) -> Result<String, IamError> {
        let exp = (now + LOGIN_TOKEN_LIFETIME)
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let header = BASE64URL.encode(br#"{"alg":"RS256","typ":"JWT"}"#);
        let claims = BASE64URL.encode(
            serde_json::json!({ "uid": self.uid, "exp": exp })
                .to_string()
                .as_bytes(),
        );
        let signing_input = format!("{header}.{claims}");
        let mut signature = vec![0; self.key.public().modulus_len()];
        self.key
            .sign(
                &RSA_PKCS1_SHA256,
                &self.rng,
                signing_input.as_bytes(),
                &mut signature,
            )
            .map_err(|_| IamError::Signing)?;
        Ok(format!("{signing_input}.{}", BASE64URL.encode(&signature)))
    }
}

/// When to log in again: `RENEW_MARGIN` before the token's `exp` (but not before half its
/// remaining life is used), or after `UNKNOWN_EXPIRY_REUSE` when it does not say.
fn renew_time(token: &str, now: SystemTime) -> SystemTime {
    // An `exp` beyond what the clock can represent counts as unreadable.
    let Some(exp) = jwt_expiry(token).and_then(|e| UNIX_EPOCH.checked_add(Duration::from_secs(e)))
    else {
        return now + UNKNOWN_EXPIRY_REUSE;
    };
    let left = exp.duration_since(now).unwrap_or_default();
    let wait = left.saturating_sub(RENEW_MARGIN).max(left / 2);
    now.checked_add(wait).unwrap_or(now + UNKNOWN_EXPIRY_REUSE)
}

/// Decodes base64url (RFC 7515 §2 writes it unpadded; trailing padding is tolerated).
fn url_decode(text: &str) -> Option<Vec<u8>> {
    BASE64URL.decode(text.trim_end_matches('=')).ok()
}

/// The `exp` claim of a JWT, read without checking its signature (it is not ours to check;
/// only the expiry matters here).
fn jwt_expiry(token: &str) -> Option<u64> {
    let mut parts = token.split('.');
    let (_, payload, _) = (parts.next()?, parts.next()?, parts.next()?);
    let claims: serde_json::Value = serde_json::from_slice(&url_decode(payload)?).ok()?;
    claims.get("exp")?.as_u64()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)] // ok: tests may panic
    use super::*;

    /// Both PEM forms load, and the login JWT verifies against the key's public half.
    #[test]
    fn login_jwt_is_rs256_signed() {
        use ring::signature::{RSA_PKCS1_2048_8192_SHA256, UnparsedPublicKey};
        for pem in [
            include_str!("../../tests/data/iam-key-pkcs8.pem"),
            include_str!("../../tests/data/iam-other-key-pkcs1.pem"),
        ] {
            let login = IamLogin::new(&IamConfig {
                uid: "dns-svc".into(),
                private_key: pem.into(),
                login_endpoint: "http://127.0.0.1:1/login".into(),
            })
            .unwrap();
            let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
            let jwt = login.login_jwt(now).unwrap();
            let (signed, signature) = jwt.rsplit_once('.').unwrap();
            UnparsedPublicKey::new(&RSA_PKCS1_2048_8192_SHA256, login.key.public().as_ref())
                .verify(signed.as_bytes(), &url_decode(signature).unwrap())
                .unwrap();
            let (header, claims) = signed.split_once('.').unwrap();
            assert_eq!(
                url_decode(header).unwrap(),
                br#"{"alg":"RS256","typ":"JWT"}"#
            );
            let claims: serde_json::Value =
                serde_json::from_slice(&url_decode(claims).unwrap()).unwrap();
            assert_eq!(claims["uid"], "dns-svc");
            assert_eq!(claims["exp"], 1_700_003_600);
        }
    }

    #[test]
    fn unusable_keys_are_refused() {
        for key in [
            "",
            "not a key",
            "-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n",
        ] {
            let config = IamConfig {
                uid: "u".into(),
                private_key: key.into(),
                login_endpoint: "http://127.0.0.1:1/login".into(),
            };
            assert!(IamLogin::new(&config).is_err(), "{key:?}");
        }
    }

    proptest::proptest! {
        /// Whatever token a login endpoint sends, reading its expiry neither panics nor
        /// schedules the renewal in the past.
        #[test]
        fn any_token_gets_a_renewal_time(token in ".*", exp in proptest::num::u64::ANY) {
            let now = SystemTime::now();
            proptest::prop_assert!(renew_time(&token, now) >= now);
            let jwt = format!("h.{}.s", BASE64URL.encode(format!(r#"{{"exp":{exp}}}"#).as_bytes()));
            proptest::prop_assert!(renew_time(&jwt, now) >= now);
        }
    }

    #[test]
    fn renewal_follows_the_token_expiry() {
        let now = UNIX_EPOCH + Duration::from_secs(1_000_000);
        let token = |exp: u64| {
            format!(
                "x.{}.y",
                BASE64URL.encode(format!(r#"{{"uid":"u","exp":{exp}}}"#).as_bytes())
            )
        };
        // Five days left: renewed five minutes before the end.
        let five_days = 5 * 86_400;
        assert_eq!(
            renew_time(&token(1_000_000 + five_days), now),
            now + Duration::from_secs(five_days - 300)
        );
        // Two minutes left: renewed after half of them.
        assert_eq!(
            renew_time(&token(1_000_120), now),
            now + Duration::from_secs(60)
        );
        // Already expired, or unreadable.
        assert_eq!(renew_time(&token(999_000), now), now);
        assert_eq!(renew_time("opaque", now), now + UNKNOWN_EXPIRY_REUSE);
        // A hostile expiry does not overflow the clock.
        let far = renew_time(&token(u64::MAX), now);
        assert!(far >= now);
    }
}
